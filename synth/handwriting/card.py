"""The model card of a handwriting synthesis checkpoint trained on IAM-OnDB, from its corpus
manifest, training record and measurements (``metrics.json``)."""
from __future__ import annotations

GRAVES_NLL_PER_LINE = -1096.9  # Graves 2013, table 3: synthesis network, IAM-OnDB-t2 validation set


def _failure_rows(metrics: dict) -> str:
    rows = []
    for f in metrics.get("failures", []):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(f["failed_attempts_by_kind"].items())) or "none"
        rows.append(f"| {f['bias']} | {f['lines']} | {f['lines_retried']} ({100 * f['first_attempt_failure_rate']:.1f}%) "
                    f"| {kinds} | {f['lines_failed_after_retries']} |")
    return "\n".join(rows) or "| (not measured yet) | | | | |"


def _legibility_rows(metrics: dict, styles: list[dict]) -> str:
    ocr = metrics.get("legibility", {})
    names = {f"style{s['id']}_bias1": f"style {s['id']} ({s['name']}), bias 1" for s in styles}
    rows = []
    for key, value in ocr.items():
        label = {"real_heldout_lines": "real held-out lines (the OCR's own floor on human handwriting)",
                 "printed_text": "the same sentences in print (the OCR's floor)"}.get(key)
        if label is None and key.startswith("unprimed_bias"):
            label = f"unprimed, bias {key[len('unprimed_bias'):]}"
        rows.append(f"| {label or names.get(key, key)} | {value['lines']} | {value['cer']:.3f} |")
    return "\n".join(rows) or "| (not measured yet) | | |"


def model_card(model: dict, record: dict, train, metrics: dict, manifest: dict, batch: int,
               styles: list[dict] | None = None, note: str = "") -> str:
    """model: the network's config as a dict; train: the run's TrainConfig; note: anything about
    this run the figures do not say."""
    test = metrics.get("heldout_test", {})
    speed = metrics.get("speed", {})
    b1 = speed.get("batch1", {})
    splits = manifest.get("splits", {})
    stats = manifest.get("statistics", {})
    left_out = manifest.get("left_out", {})
    styles = styles or []
    return f"""# handwriting: Graves's synthesis network trained on IAM-OnDB

Handwriting synthesis network of Graves 2013 (section 5): {model['n_layers']} stacked LSTM layers of
{model['hidden_size']} units with skip connections, a soft window of K = {model['n_window']} Gaussians over the
one-hot characters, and an M = {model['n_mixtures']} component bivariate Gaussian mixture with a Bernoulli
end-of-stroke output (the paper: 3 x 400, K = 10, M = 20; smaller here so that one CPU thread trains it).

## Licence: non-commercial research use only
Trained on the **IAM On-Line Handwriting Database** (IAM-OnDB): M. Liwicki and H. Bunke, "IAM-OnDB -
an On-Line English Sentence Database Acquired from Handwritten Text on a Whiteboard", ICDAR 2005.
The database may be used for non-commercial research purposes only, and this model, trained on
it, inherits those terms. The bundled styles are lines of held-out IAM-OnDB writers.

## Data
- {sum(s.get('lines', 0) for s in splits.values())} transcribed lines (CSR sections of the ascii files), split by writer
  (writers.tsv; by form where the writer is unknown): train {splits.get('train', {}).get('lines')} lines
  ({splits.get('train', {}).get('writers')} writers or forms), valid {splits.get('valid', {}).get('lines')}
  ({splits.get('valid', {}).get('writers')}), test {splits.get('test', {}).get('lines')} ({splits.get('test', {}).get('writers')}):
  no test writer was seen in training.
- Cleaning (Graves 2013, section 4.1; sjvasquez/handwriting-synthesis): repeated points dropped,
  strokes split at outlier jumps, the baseline's slope turned level, each line scaled to a
  5-95 percentile height of {stats.get('line_height')}, strokes resampled every {stats.get('point_spacing')} line heights
  along the pen path ({stats.get('points_per_char', 0):.2f} points per character on average); transcriptions
  joined as written ("Mr . Foot" -> "Mr. Foot"). Left out: {', '.join(f'{v} {k}' for k, v in left_out.items())}.
- Vocabulary (every character seen at least {manifest.get('data', {}).get('min_char_count')} times in training lines):
  `{manifest.get('alphabet', model.get('alphabet'))}`; others are refused by name.
- Offsets normalised by their standard deviation {stats.get('offset_std')} (stored in config.json).

## Training
- Step {record.get('step', 0)} of {train.steps} (the weights kept are those with the lowest held-out NLL on the
  validation writers), batch {batch} lines of similar length, AdamW (lr {train.learning_rate}, warm-up
  {train.warmup_steps}, cosine), EMA {train.ema_decay}, the paper's derivative clipping (output [-100, 100], LSTM
  [-10, 10]) plus a global norm of {train.grad_clip}; wall time {record.get('wall_seconds', 'n/a')} s, 1 CPU thread.
  Valid loss {record.get('valid_loss', 'n/a')} nats per point.

## Held-out measurements (test writers, step {metrics.get('step', 'n/a')})
| lines | writers | points | NLL nats / line | NLL nats / point | SSE / point |
|---|---|---|---|---|---|
| {test.get('lines', 'n/a')} | {test.get('writers', 'n/a')} | {test.get('points', 'n/a')} | {test.get('nll_per_line', 'n/a')} | {test.get('nll_per_point', 'n/a')} | {test.get('sse_per_point', 'n/a')} |

Graves (2013) reports {GRAVES_NLL_PER_LINE} nats per line for his synthesis network. **Not the same
measurement**: his figure is on the IAM-OnDB-t2 validation set (not distributed here), on raw
digitiser points normalised differently; ours is on other held-out writers, on lines resampled
to fewer points. A density of continuous offsets depends on their units and count, so the two
numbers cannot be ranked against each other.

Legibility: EasyOCR (English, offline weights) reads lines rendered 48 px high; character error
rate (jiwer, case-folded) over sentences that are not IAM-OnDB text, written freely:

| setting | lines | character error rate |
|---|---|---|
{_legibility_rows(metrics, styles)}

Failures over sampled test texts (a line fails when the window stalls, skips a character or the
step budget runs out; it is then resampled with another seed, up to 3 times):

| bias | lines | lines retried (first attempt failed) | failed attempts by kind | failed after retries |
|---|---|---|---|---|
{_failure_rows(metrics)}

Speed, 40-character line, batch 1, 1 thread (median of 5): unprimed
{b1.get('unprimed', {}).get('median_seconds', 'n/a')} s, primed {b1.get('primed', {}).get('median_seconds', 'n/a')} s; batch 16:
{speed.get('batch16_lines_per_second', 'n/a')} lines per second, on {speed.get('machine', 'n/a')} (load average
{speed.get('load_average_1min', 'n/a')}).

## Styles
{len(styles)} held-out writers, each a line of their own with its text (Graves 2013, section 5.5):
{', '.join(s['name'] for s in styles) or '(not chosen yet)'}. See `samples/styles.png`.

{note}
## Reproduce
`python recipes/handwriting.py --stage all train.steps={train.steps}` then `--stage bundle`.
"""
