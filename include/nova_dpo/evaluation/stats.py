"""Standard errors shared by the gen_qa metrics and the judge statistics."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nova_dpo.evaluation.names import DEFAULT_RESAMPLES, DEFAULT_SEED


def mean_stderr(values: Sequence[float] | np.ndarray) -> float:
    """Standard error of the mean: sample standard deviation (n - 1) over sqrt(n), as lighteval reports it.

    One value or none carries no spread, so the result is 0.0 rather than a division by zero.
    """
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return 0.0
    return float(np.std(array, ddof=1) / math.sqrt(array.size))


def bootstrap_indices(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """A ``(resamples, n)`` matrix of row indices drawn with replacement, reproducible for a seed.

    Paired statistics draw the same matrix for both systems, so callers share it instead of re-drawing.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if n == 0:
        return np.zeros((resamples, 0), dtype=np.int64)
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_stderr(
    rows: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> float:
    """Bootstrap standard error of a statistic that is not a plain mean (corpus BLEU, an F1).

    :param rows: one row per example (a 1-d array or a 2-d table of per-example counts).
    :param statistic: maps the per-resample column sums, shape ``(resamples, *rows.shape[1:])``, to one value
        per resample; every statistic here is a function of summed counts, which keeps this vectorized.
    :returns: the standard deviation (n - 1) of the resampled statistic; 0.0 with fewer than two rows.
        Resamples where the statistic is undefined (NaN, e.g. an F1 with no positive drawn) are skipped.
    """
    if resamples < 2:
        raise ValueError(f"a bootstrap standard error needs at least 2 resamples, got {resamples}")
    rows = np.asarray(rows)
    if rows.shape[0] < 2:
        return 0.0
    sums = rows[bootstrap_indices(rows.shape[0], resamples, seed)].sum(axis=1)
    values = np.asarray(statistic(sums), dtype=float)
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if values.size >= 2 else 0.0
