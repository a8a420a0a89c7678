"""How surprising an observation is, and how surprise becomes a score: one place, one scale.

Every detector states its evidence as a tail probability p under the entity's own profile and
turns it into a surprise s = -log10(p). The map from s to a score is shared, so a score means
the same thing for every detector: s = 3 (1 in 1,000) is about 40 (medium), s = 6 about 65
(high), s = 10 about 85 (critical). Effect size caps the score too, so that at millions of calls
a 5% bump that is "significant" stays calm (see reference notes on baselines).

All functions take and return numpy arrays (or Polars series) so detectors stay vectorised.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# (surprise, score) knots of the shared map; linear in between, flat beyond the last.
SURPRISE_KNOTS = (0.0, 1.0, 3.0, 6.0, 10.0, 20.0)
SCORE_KNOTS = (0.0, 15.0, 40.0, 65.0, 85.0, 95.0)
# (observed / expected, highest score allowed) knots: 2x cannot be more than low, 3x medium.
RATIO_KNOTS = (1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
RATIO_CAPS = (0.0, 20.0, 35.0, 45.0, 60.0, 78.0, 84.0)
# One detector alone stays below critical: critical needs independent signals (corroboration).
SINGLE_SIGNAL_CAP = 84.0
# Thin history (fewer comparable days than this) caps at low: it never silences.
THIN_HISTORY_DAYS = 7
THIN_HISTORY_CAP = 39.0
# Below this a finding is noise (a rotating cloud address, a routine seen many times): not reported.
REPORT_FLOOR = 30.0
TINY = 1e-300


def _array(values: object) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).fill_null(0.0).to_numpy()
    return np.asarray(values, dtype=float)


def surprise(p: object) -> np.ndarray:
    """-log10 of a tail probability (0 for p >= 1)."""
    return -np.log10(np.clip(_array(p), TINY, 1.0))


def score_from_surprise(s: object) -> np.ndarray:
    """The shared map from surprise to a 0-100 score."""
    return np.interp(_array(s), SURPRISE_KNOTS, SCORE_KNOTS)


def ratio_cap(ratio: object) -> np.ndarray:
    """The highest score an observation RATIO times its expectation may reach."""
    return np.interp(_array(ratio), RATIO_KNOTS, RATIO_CAPS)


def _upper_tail(
    observed: np.ndarray, above: np.ndarray, rate: np.ndarray, theta: np.ndarray, var: np.ndarray
) -> np.ndarray:
    """P(X >= k) from a saddlepoint (Bahadur-Rao) approximation: exp(-rate) over
    (1 - e^-theta) * sqrt(2 pi var) where k is above the mean, else 1. Within a few percent of
    the exact tail where it matters (tested against scipy), and numpy alone: scipy.stats costs
    more than a second of start-up, longer than a whole scan."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_p = -rate - np.log1p(-np.exp(-theta)) - 0.5 * np.log(2 * np.pi * var)
        p = np.exp(log_p)
    p = np.where(above & np.isfinite(p), p, 1.0)
    return np.clip(np.where(observed <= 0, 1.0, p), 0.0, 1.0)


def poisson_tail(events: object, expected: object) -> np.ndarray:
    """P(X >= events) for a Poisson count with this mean."""
    k = np.floor(_array(events))
    mu = np.maximum(_array(expected), 1e-6)
    above = k > mu
    ks = np.where(above, k, mu + 1)
    rate = ks * np.log(ks / mu) - ks + mu
    return _upper_tail(k, above, rate, np.log(ks / mu), ks)


def count_tail(observed: object, expected: object, variance: object) -> np.ndarray:
    """P(X >= observed) for a count with this mean and variance: negative binomial where the
    history is overdispersed (integrations are), Poisson where it is not."""
    k = np.floor(_array(observed))
    mu = np.maximum(_array(expected), 0.5)
    var = np.maximum(_array(variance), mu)
    over = var > mu * 1.05
    # NB(n, p) with mean mu and variance var: n = mu^2 / (var - mu), p = mu / var; its cumulant
    # generating function gives the saddlepoint in closed form.
    n = mu * mu / np.maximum(var - mu, 1e-9)
    q = 1 - mu / var
    above = k > mu
    ks = np.where(above, k, mu + 1)
    theta = np.log(ks / ((n + ks) * np.maximum(q, 1e-12)))
    rate = theta * ks - n * np.log((1 - q) * (n + ks) / n)
    nb = _upper_tail(k, above & (theta > 0), rate, theta, ks * (n + ks) / n)
    return np.where(over, nb, poisson_tail(k, mu))


def rate_tail(events: object, trials: object, base_rate: object) -> np.ndarray:
    """P(X >= events) in TRIALS draws at BASE_RATE: how surprising an error share is."""
    n = np.maximum(np.floor(_array(trials)), 1)
    k = np.minimum(np.floor(_array(events)), n)
    p = np.clip(_array(base_rate), 1e-9, 1 - 1e-9)
    share = np.clip(k / n, 1e-12, 1 - 1e-12)
    above = share > p
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = k * np.log(share / p) + (n - k) * np.log((1 - share) / (1 - p))
        theta = np.log(share * (1 - p) / (p * (1 - share)))
    tail = _upper_tail(k, above, rate, theta, n * share * (1 - share))
    # Every draw an event: the exact tail is p^n.
    return np.where((k >= n) & above, np.exp(n * np.log(p)), tail)


def smoothed_rate(events: object, trials: object) -> np.ndarray:
    """(events + 1) / (trials + 2): a Beta(1, 1) prior keeps a rate of 0 from being certain."""
    return (_array(events) + 1.0) / (_array(trials) + 2.0)


def history_cap(history_days: object) -> np.ndarray:
    """Thin history caps a score at low; enough history caps nothing below 100."""
    return np.where(_array(history_days) < THIN_HISTORY_DAYS, THIN_HISTORY_CAP, 100.0)


def bounded(score: object, *caps: object) -> np.ndarray:
    """The score under every cap, and under the single-signal cap."""
    result = _array(score)
    for cap in caps:
        result = np.minimum(result, _array(cap))
    return np.clip(np.minimum(result, SINGLE_SIGNAL_CAP), 0.0, 100.0)
