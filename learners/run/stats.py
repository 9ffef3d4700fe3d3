"""Statistics over seeds that compare.py and sweep.py share: bootstrap intervals and the IQM.

    mean, low, high = bootstrap_ci([0.91, 0.88, 0.95])      # mean over seeds, 95% percentile bootstrap
    center, low, high = iqm_ci([0.91, 0.88, 0.95, 0.6, 0.93])  # interquartile mean, as rliable's
    grid, mean, low, high = mean_band([(steps, values), ...])  # seeds' curves on one grid, with a band

Seeds are resampled with replacement (rliable's stratified bootstrap with one task, Agarwal et al.
2021); every function takes a ``seed`` so a table reads the same on every run.
"""

from __future__ import annotations

import math

import numpy as np

REPS = 10_000  # bootstrap resamples for a figure of a table
CURVE_REPS = 1_000  # for each point of a curve
GRID = 200  # points per resampled curve


def bootstrap_ci(values, level: float = 0.95, samples: int = REPS, seed: int = 0) -> tuple[float, float, float]:
    """Mean over seeds and its percentile-bootstrap interval (resampling seeds); nan where not defined
    (no finite value; a single seed has no interval). Non-finite values are left out."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if len(v) == 1:
        return float(v[0]), math.nan, math.nan
    means = v[np.random.default_rng(seed).integers(0, len(v), (samples, len(v)))].mean(1)
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(v.mean()), float(low), float(high)


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean along the last axis: the mean of the middle half, a quarter cut from each
    end (scipy.stats.trim_mean(x, 0.25), as rliable's IQM)."""
    x = np.sort(scores, axis=-1)
    n = x.shape[-1]
    cut = int(0.25 * n)
    return x[..., cut:n - cut].mean(axis=-1)


def iqm_ci(scores, reps: int = REPS, seed: int = 0) -> tuple[float, float, float]:
    """IQM of the seeds' scores and its 95% percentile-bootstrap interval (seeds resampled with
    replacement: rliable's stratified bootstrap with one task)."""
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = iqm(scores[rng.integers(0, len(scores), (reps, len(scores)))])
    low, high = np.percentile(boots, [2.5, 97.5])
    return float(iqm(scores)), float(low), float(high)


def mean_band(curves: list[tuple[np.ndarray, np.ndarray]], seed: int = 0):
    """Seeds' curves (x, y) resampled onto the x range all of them cover: (grid, mean, low, high),
    the band a 95% bootstrap interval of the mean."""
    lo, hi = max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves)
    grid = np.linspace(lo, hi, GRID) if hi > lo else np.array([lo])
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    mean = ys.mean(axis=0)
    if len(ys) < 2:
        return grid, mean, mean, mean
    rng = np.random.default_rng(seed)
    boots = ys[rng.integers(0, len(ys), (CURVE_REPS, len(ys)))].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5], axis=0)
    return grid, mean, low, high


def trailing_mean(history: list[np.ndarray], k: int) -> np.ndarray:
    """(N,) mean of the last k logged (N,) arrays, per lifetime, ignoring points without a value
    (nan where a lifetime has none)."""
    block = np.stack(history[-k:])
    ok = np.isfinite(block)
    return np.where(ok.any(0), np.where(ok, block, 0).sum(0) / np.maximum(ok.sum(0), 1), np.nan)
