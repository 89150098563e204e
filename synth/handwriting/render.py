"""Ink out: SVG (smooth curves), PNG (rendered from the SVG by cairo), animated GIF of the pen,
JSON strokes; and pictures of the attention window and of the mixture density of a line."""
from __future__ import annotations

import io
import json
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from synth.checkpoint import atomic_write
from synth.errors import InputError
from synth.handwriting.ink import Ink

FORMATS = (".svg", ".png", ".gif", ".json")


def _layout(lines: list[Ink], line_height: float, margin: float) -> tuple[list[Ink], float, float]:
    """Stack lines top to bottom (each shifted to its own row); return them with the page size."""
    placed, y, width = [], margin, 0.0
    for ink in lines:
        x0, y0, x1, y1 = ink.bounds()
        shifted = ink.transformed(shift=(margin - x0, y - y0))
        placed.append(shifted)
        width = max(width, x1 - x0)
        y += max(line_height, y1 - y0) + 0.35 * line_height
    return placed, width + 2 * margin, y - 0.35 * line_height + margin


def _fit(lines: list[Ink], height_px: float) -> tuple[list[Ink], float, float]:
    """Lines scaled so one line (capital height about 1) is ``height_px`` pixels, laid out on a page."""
    scaled = [ink.transformed(scale=height_px) for ink in lines]
    return _layout(scaled, line_height=1.3 * height_px, margin=0.5 * height_px)


def smooth_path(points: np.ndarray) -> str:
    """SVG path data through the points as quadratic Bezier pieces joined at segment midpoints
    (the points are the control points): smooth, and exact at the stroke's two ends."""
    p = np.asarray(points)
    if len(p) == 1:
        return f"M{p[0, 0]:.2f},{p[0, 1]:.2f} l0.01,0"
    if len(p) == 2:
        return f"M{p[0, 0]:.2f},{p[0, 1]:.2f} L{p[1, 0]:.2f},{p[1, 1]:.2f}"
    mid = (p[1:] + p[:-1]) / 2
    parts = [f"M{p[0, 0]:.2f},{p[0, 1]:.2f}", f"L{mid[0, 0]:.2f},{mid[0, 1]:.2f}"]
    for control, end in zip(p[1:-1], mid[1:]):
        parts.append(f"Q{control[0]:.2f},{control[1]:.2f} {end[0]:.2f},{end[1]:.2f}")
    parts.append(f"L{p[-1, 0]:.2f},{p[-1, 1]:.2f}")
    return " ".join(parts)


def to_svg(lines: list[Ink], *, height_px: float = 40.0, stroke_width: float = 2.0, colour: str = "#1a237e",
           background: str | None = "white") -> str:
    placed, width, height = _fit(lines, height_px)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.2f} {height:.2f}">']
    if background:
        out.append(f'<rect width="100%" height="100%" fill="{escape(background)}"/>')
    out.append(f'<g fill="none" stroke="{escape(colour)}" stroke-width="{stroke_width}" '
               'stroke-linecap="round" stroke-linejoin="round">')
    for ink in placed:
        out.append(f"<title>{escape(ink.text)}</title>" if len(placed) == 1 else f"<!-- {escape(ink.text).replace('--', '- -')} -->")
        out.extend(f'<path d="{smooth_path(stroke)}"/>' for stroke in ink.strokes)
    out.append("</g></svg>")
    return "\n".join(out)


def to_png(lines: list[Ink], **kwargs) -> bytes:
    import cairosvg

    return cairosvg.svg2png(bytestring=to_svg(lines, **kwargs).encode())


def to_gif(lines: list[Ink], *, height_px: float = 40.0, stroke_width: float = 2.0, colour: str = "#1a237e",
           points_per_frame: int = 4, frame_ms: int = 40) -> bytes:
    """An animated GIF of the pen writing the lines, point by point."""
    from PIL import Image, ImageDraw

    placed, width, height = _fit(lines, height_px)
    size = (int(np.ceil(width)), int(np.ceil(height)))
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    frames, drawn = [], 0
    for ink in placed:
        for stroke in ink.strokes:
            for i in range(len(stroke)):
                a, b = stroke[max(0, i - 1)], stroke[i]
                draw.line([tuple(a), tuple(b)], fill=colour, width=max(1, round(stroke_width)), joint="curve")
                drawn += 1
                if drawn % points_per_frame == 0:
                    frames.append(canvas.copy())
    frames.append(canvas.copy())
    frames = [f.quantize(colors=16) for f in frames]
    buffer = io.BytesIO()
    durations = [frame_ms] * (len(frames) - 1) + [1500]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buffer.getvalue()


def to_json(lines: list[Ink]) -> str:
    return json.dumps({"lines": [{"text": ink.text, "strokes": [np.round(s, 4).tolist() for s in ink.strokes]}
                                 for ink in lines]})


def write_ink(path: str | Path, lines: list[Ink], **kwargs) -> Path:
    """Write lines of ink as .svg, .png, .gif or .json (by the file's extension)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        data = to_svg(lines, **kwargs).encode()
    elif suffix == ".png":
        data = to_png(lines, **kwargs)
    elif suffix == ".gif":
        data = to_gif(lines, **kwargs)
    elif suffix == ".json":
        data = to_json(lines).encode()
    else:
        raise InputError(f"{path}: unknown output format {suffix!r}; allowed: {', '.join(FORMATS)}")
    atomic_write(path, data)
    return path


def attention_figure(path: str | Path, phi: np.ndarray, text: str, ink: Ink | None = None) -> Path:
    """The soft window over time (Graves 2013, figure 12): phi (T, U) as an image, characters on the
    vertical axis, pen steps on the horizontal; the written line above it when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phi = np.asarray(phi)
    width = max(6.0, phi.shape[0] / 40)
    heights = [2.0 + 0.05 * len(text)]
    if ink is not None:
        x0, y0, x1, y1 = ink.bounds()
        heights.insert(0, max(0.6, 1.2 * width * (y1 - y0) / max(x1 - x0, 1e-6)))  # the line at its own aspect
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    if ink is not None:
        ax = axes[0, 0]
        for stroke in ink.strokes:
            ax.plot(stroke[:, 0], stroke[:, 1], color="#1a237e", linewidth=1.2)
        ax.invert_yaxis()
        ax.set_aspect("equal")
        ax.axis("off")
    ax = axes[-1, 0]
    ax.imshow(phi.T, aspect="auto", origin="upper", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(len(text)))
    ax.set_yticklabels([c if c != " " else "\u2423" for c in text], fontsize=6)
    ax.set_xlabel("pen step")
    ax.set_title("attention window phi(t, u)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def density_figure(path: str | Path, ink: Ink, means: np.ndarray, sigmas: np.ndarray, weights: np.ndarray,
                   rhos: np.ndarray, resolution: int = 600) -> Path:
    """The predicted mixture density of each next pen position, summed over the line (Graves 2013,
    figure 10). means, sigmas (T, M, 2) in ink coordinates (absolute positions), weights, rhos (T, M)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0, y0, x1, y1 = ink.bounds()
    pad = 0.1 * max(y1 - y0, 1e-3)
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    nx = resolution
    ny = max(8, int(resolution * height / width))
    gx, gy = np.meshgrid(np.linspace(x0 - pad, x1 + pad, nx), np.linspace(y0 - pad, y1 + pad, ny))
    density = np.zeros_like(gx)
    for t in range(len(means)):
        for m in np.flatnonzero(weights[t] > 1e-3):
            (mx, my), (sx, sy), r = means[t, m], sigmas[t, m], rhos[t, m]
            zx, zy = (gx - mx) / sx, (gy - my) / sy
            near = (np.abs(zx) < 5) & (np.abs(zy) < 5)
            if not near.any():
                continue
            z = zx[near] ** 2 + zy[near] ** 2 - 2 * r * zx[near] * zy[near]
            density[near] += weights[t, m] * np.exp(-z / (2 * (1 - r * r))) / (2 * np.pi * sx * sy * np.sqrt(1 - r * r))
    fig, ax = plt.subplots(figsize=(10, 10 * height / width + 0.6))
    ax.imshow(np.log1p(density), extent=(x0 - pad, x1 + pad, y1 + pad, y0 - pad), cmap="magma")
    ax.set_title("mixture density of the next pen position (log scale)")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
