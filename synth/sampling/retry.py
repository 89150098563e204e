"""Retrying the streams of a batch that failed: the handwriting writer and the text-to-speech
reader both sample a batch, check each stream (a stalled or skipping window, a blown budget), and
sample the failed ones again with a fresh seed."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

#: Seeds of successive attempts are this far apart (a prime), so no two attempts share one.
ATTEMPT_SEED_STRIDE = 7919


def sample_with_retries(n_items: int, sample: Callable[[list[int], int], Sequence[Any]], *, seed: int,
                        max_retries: int) -> tuple[list[Any], Counter]:
    """Sample items 0 .. n_items - 1 with ``sample(indices, seed)`` (one result per index, each
    with ``failure`` (None when fine) and ``attempts``), retrying the failed ones up to
    ``max_retries`` times. Returns the last result of each item and a count of failures by kind."""
    results: list[Any] = [None] * n_items
    failures: Counter = Counter()
    pending = list(range(n_items))
    for attempt in range(max_retries + 1):
        still = []
        for i, result in zip(pending, sample(pending, seed + ATTEMPT_SEED_STRIDE * attempt)):
            result.attempts = attempt + 1
            results[i] = result
            if result.failure is not None:
                failures[result.failure] += 1
                still.append(i)
        pending = still
        if not pending:
            break
    return results, failures
