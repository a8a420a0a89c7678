"""The tail probabilities behind every score, against scipy's exact ones (scipy is a test-only
dependency: the product computes the tails with numpy alone to start fast)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from workbench.detect import scoring


def log10_gap(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|log10 difference| where the exact tail is between 1e-1 and 1e-250 (where scores live)."""
    a = -np.log10(np.clip(approx, 1e-300, 1))
    e = -np.log10(np.clip(exact, 1e-300, 1))
    keep = (e > 1) & (e < 250)
    assert keep.sum() > 100
    return np.abs(a - e)[keep]


def test_poisson_tail_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    mu = rng.uniform(0.01, 1e5, 20_000) * rng.choice([1e-3, 1e-1, 1], 20_000)
    k = np.floor(mu * rng.uniform(0.5, 20, 20_000)) + rng.integers(0, 5, 20_000)
    gap = log10_gap(scoring.poisson_tail(k, mu), stats.poisson.sf(k - 1, np.maximum(mu, 1e-6)))
    assert gap.max() < 0.2 and np.median(gap) < 0.01


def test_negative_binomial_tail_matches_scipy_and_errs_calm() -> None:
    rng = np.random.default_rng(8)
    mu = rng.uniform(1, 1e5, 20_000)
    var = mu * (1 + rng.uniform(0.1, 1e3, 20_000))
    k = np.floor(mu * rng.uniform(0.5, 30, 20_000))
    n, p = mu * mu / (var - mu), mu / var
    approx, exact = scoring.count_tail(k, mu, var), stats.nbinom.sf(k - 1, n, p)
    usual = n >= 0.5
    assert log10_gap(approx[usual], exact[usual]).max() < 0.3
    # Histories hundreds of times more variable than their mean: less surprise, never more.
    wild = ~usual & (exact < 0.1)
    assert np.all(-np.log10(approx[wild]) <= -np.log10(exact[wild]) + 0.05)


def test_binomial_tail_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    n = np.floor(rng.uniform(10, 1e6, 20_000))
    p = rng.uniform(1e-4, 0.3, 20_000)
    k = np.floor(n * np.minimum(p * rng.uniform(0.5, 30, 20_000), 1))
    assert log10_gap(scoring.rate_tail(k, n, p), stats.binom.sf(k - 1, n, p)).max() < 0.2


def test_the_shared_map_and_caps() -> None:
    assert scoring.score_from_surprise([3, 6, 10]).round().tolist() == [40, 65, 85]
    assert scoring.ratio_cap([2.0])[0] < 40  # twice the expectation is never more than low
    assert scoring.bounded([99.0])[0] == scoring.SINGLE_SIGNAL_CAP
    assert scoring.count_tail([5], [10], [10])[0] == 1.0  # below the mean: no surprise
