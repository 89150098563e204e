"""The model card of a handwriting synthesis checkpoint, from its training record and measurements."""
from __future__ import annotations


def _failure_rows(metrics: dict) -> str:
    rows = []
    for f in metrics.get("failures", []):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(f["failed_attempts_by_kind"].items())) or "none"
        rows.append(f"| {f['bias']} | {f['lines']} | {f['lines_retried']} ({100 * f['first_attempt_failure_rate']:.1f}%) "
                    f"| {kinds} | {f['lines_failed_after_retries']} |")
    return "\n".join(rows) or "| (not measured yet) | | | | |"


def model_card(model: dict, record: dict, train, metrics: dict, manifest: dict, batch: int) -> str:
    """train: the run's TrainConfig."""
    steps = train.steps
    test = metrics.get("heldout_test", {})
    speed = metrics.get("speed", {})
    b1 = speed.get("batch1", {})
    splits = manifest.get("splits", {})
    stats = manifest.get("statistics", {})
    return f"""# handwriting: Graves's synthesis network, small, trained on synthetic ink

Handwriting synthesis network of Graves 2013 (section 5): {model['n_layers']} stacked LSTM layers of
{model['hidden_size']} units with skip connections, a soft window of K = {model['n_window']} Gaussians over the
one-hot characters, and an M = {model['n_mixtures']} component bivariate Gaussian mixture with a Bernoulli
end-of-stroke output. Smaller than the paper's 3 x 400 so that it trains on a CPU.

## Data: synthetic, not human handwriting
- **The training ink is synthetic.** No real online handwriting (IAM-OnDB and the like) can be had
  offline here, so the corpus is pen paths of single-line Hershey fonts (faces scripts, cursive,
  futural, rowmans from the PyPI package Hershey-Fonts), laid out as lines and augmented: slant,
  scale, baseline drift, smooth wobble, jitter, letter spacing, varying pen speed, strokes joined
  where a pen would not lift. Four styles (ids 0-3: flowing, upright, print, narrow), not hundreds
  of writers. Hershey fonts: Dr. A. V. Hershey, U.S. National Bureau of Standards; free use with
  acknowledgement of the origin.
- Text: {sum(s.get('lines', 0) for s in splits.values())} distinct lines (8-28 characters) from a small English sentence
  grammar (recipes' own word lists), split by a hash of the text: train {splits.get('train', {}).get('lines')},
  valid {splits.get('valid', {}).get('lines')}, test {splits.get('test', {}).get('lines')} lines.
- Offsets normalised by their standard deviation {stats.get('offset_std')} (stored in config.json);
  {stats.get('points_per_char', 0):.2f} pen points per character on average.

## Training
- {record.get('step', 0)} of {steps} steps, batch {batch}, AdamW (lr {train.learning_rate}, warm-up {train.warmup_steps},
  cosine), EMA of the weights ({train.ema_decay}; the bundled weights are the EMA), gradient clipping as in the
  paper (output derivatives to [-100, 100], LSTM derivatives to [-10, 10]) plus a global norm of
  {train.grad_clip}; wall time {record.get('wall_seconds', 'n/a')} s on an AMD EPYC VM with 2 CPU cores shared with other
  jobs (1 thread, nice 10), no GPU. Valid loss {record.get('valid_loss', 'n/a')} nats per point.

## Held-out measurements (test split{', step ' + str(metrics.get('step')) if metrics.get('step') else ''})
Not comparable with the paper's IAM-OnDB numbers: a different, synthetic corpus, and offsets in
this corpus's normalised units.

| lines | points | NLL nats / line | NLL nats / point | SSE / point |
|---|---|---|---|---|
| {test.get('lines', 'n/a')} | {test.get('points', 'n/a')} | {test.get('nll_per_line', 'n/a')} | {test.get('nll_per_point', 'n/a')} | {test.get('sse_per_point', 'n/a')} |

Failures over sampled test lines (a line fails when the window stalls, skips a character or the
step budget runs out; it is then resampled with another seed, up to 3 times):

| bias | lines | lines retried (first attempt failed) | failed attempts by kind | failed after retries |
|---|---|---|---|---|
{_failure_rows(metrics)}

Speed, 40-character line, batch 1, 1 thread on the shared 2-core CPU (median of 5):
unprimed {b1.get('unprimed', {}).get('median_seconds', 'n/a')} s, primed with a bundled style
{b1.get('primed', {}).get('median_seconds', 'n/a')} s; batch 16: {speed.get('batch16_lines_per_second', 'n/a')} lines per second
(1-minute load average while measuring: {speed.get('load_average_1min', 'n/a')} on 2 cores, other jobs running).

## Quality, honestly
See `samples/styles.png` (one line in each bundled style, bias 1) and `samples/attention.png`.
A small network trained for about an hour and a half on a shared CPU: it writes in the fonts'
manner but far from perfectly; letters can be malformed, and lines fail at the rate above.
Priming takes the style of the primer only as far as four training styles allow.

## Reproduce
`python recipes/handwriting.py --stage all train.steps={steps}` (data, train, bundle, evaluate, samples).
"""
