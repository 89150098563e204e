"""Your own hand in the browser: a canvas that records real pen strokes (mouse, finger or pen,
through Pointer Events, with every coalesced sample and its time), and turns them into the strokes
JSON that ``synth write --style FILE.json`` reads:

  {"text": "", "strokes": [[[x, y, t], ...], ...]}      x right, y down (CSS pixels), t in ms

The page keeps it in a text field (``STROKES_ELEMENT_ID``) that the app reads as an ordinary
input; the service sends it through ``synth.handwriting.styles.strokes_primer``, the one gate
that a strokes file given to the command also passes. Nothing here imports Gradio: the app
(Gradio 6) mounts it as

  gr.HTML(canvas_html(), js_on_load=CANVAS_JS)                 # or canvas_page() standalone
  strokes = gr.Textbox(elem_id=STROKES_ELEMENT_ID, visible="hidden")
"""
from __future__ import annotations

#: The text field (a <textarea> or <input>) the canvas writes its strokes JSON into.
STROKES_ELEMENT_ID = "hand-strokes"

CANVAS_CSS = """
.hand-canvas-box { display: flex; flex-direction: column; gap: 6px; }
.hand-canvas { width: 100%; max-width: 900px; height: 160px; border: 1px solid #9e9e9e; border-radius: 6px;
  background: repeating-linear-gradient(white 0, white 109px, #c5cae9 110px, white 111px, white 160px);
  touch-action: none; cursor: crosshair; }
.hand-canvas-buttons button { margin-right: 6px; }
"""


def canvas_html(width: int = 900, height: int = 160) -> str:
    """The canvas with Clear and Undo buttons (no script: ``CANVAS_JS`` attaches to it)."""
    return (f'<div class="hand-canvas-box"><style>{CANVAS_CSS}</style>'
            f'<canvas class="hand-canvas" id="hand-canvas" width="{width}" height="{height}" '
            'aria-label="write one line here with the mouse, a finger or a pen"></canvas>'
            '<div class="hand-canvas-buttons"><button type="button" id="hand-canvas-clear">Clear</button>'
            '<button type="button" id="hand-canvas-undo">Undo stroke</button>'
            '<span id="hand-canvas-count"></span></div></div>')


#: Runs with ``element`` bound to a node that holds ``canvas_html()`` (Gradio's ``js_on_load``
#: binds it; ``canvas_page`` binds it to document.body).
CANVAS_JS = r"""
(() => {
  const canvas = element.querySelector('#hand-canvas');
  if (!canvas || canvas.dataset.ready) return;
  canvas.dataset.ready = '1';
  const ctx = canvas.getContext('2d');
  const strokes = [];  // [[[x, y, t], ...], ...] in CSS pixels, t in ms since the first point
  let current = null, t0 = null;
  const field = () => {
    const box = document.getElementById('__ID__');
    return box && (box.matches('textarea, input') ? box : box.querySelector('textarea, input'));
  };
  const publish = () => {
    const f = field();
    const count = strokes.reduce((n, s) => n + s.length, 0);
    element.querySelector('#hand-canvas-count').textContent = count ? ` ${strokes.length} strokes, ${count} points` : '';
    if (!f) return;
    f.value = strokes.length ? JSON.stringify({text: '', strokes: strokes}) : '';
    f.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const scale = () => {
    const r = canvas.getBoundingClientRect();
    return [canvas.width / r.width, canvas.height / r.height, r];
  };
  const redraw = () => {
    const [sx, sy] = scale();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2.5 * sx; ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.strokeStyle = '#1a237e';
    for (const s of strokes) {
      ctx.beginPath();
      s.forEach(([x, y], i) => i ? ctx.lineTo(x * sx, y * sy) : ctx.moveTo(x * sx, y * sy));
      if (s.length === 1) ctx.lineTo(s[0][0] * sx + 0.5, s[0][1] * sy);
      ctx.stroke();
    }
  };
  const add = (e) => {
    const [, , r] = scale();
    if (t0 === null) t0 = e.timeStamp;
    current.push([+(e.clientX - r.left).toFixed(2), +(e.clientY - r.top).toFixed(2), +(e.timeStamp - t0).toFixed(1)]);
  };
  canvas.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = [];
    strokes.push(current);
    add(e);
    redraw();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!current) return;
    // every sample the device delivered since the last frame, not just one per frame
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    (events.length ? events : [e]).forEach(add);
    redraw();
  });
  const end = () => { if (current) { current = null; publish(); } };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  element.querySelector('#hand-canvas-clear').addEventListener('click', () => { strokes.length = 0; t0 = null; redraw(); publish(); });
  element.querySelector('#hand-canvas-undo').addEventListener('click', () => { strokes.pop(); redraw(); publish(); });
})();
""".replace("__ID__", STROKES_ELEMENT_ID)


def canvas_page(title: str = "Write one line") -> str:
    """A self-contained HTML page: the canvas, the strokes field (visible) and the script."""
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title></head><body>{canvas_html()}"
            f"<textarea id='{STROKES_ELEMENT_ID}' rows='4' cols='100'></textarea>"
            f"<script>const element = document.body;{CANVAS_JS}</script></body></html>")
