"""Planted sparse regression ([LKC25] Theorem 5): the exact likelihood ratio and its curves.

The oracle is a brute-force NumPy likelihood: every support from ``itertools.combinations``
and the Gaussian density of every observation, with no sufficient statistics, no unranking
and no chunks.
"""

import itertools
import math

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import localize  # noqa: F401  (float64 before any array is made)
from localize.errors import LocalizeError
from synthetic import planted
from synthetic.planted import PlantedRegression


def _log_normal(y, mean, var):
    return -0.5 * (y - mean) ** 2 / var - 0.5 * np.log(2.0 * np.pi * var)


def brute_log_lr(X, y, k, sigma2):
    """``log planted(y | X) - log null(y | X)`` of one dataset, support by support."""
    s = X.shape[1]
    logs = []
    for support in itertools.combinations(range(s), k):
        theta = np.zeros(s)
        theta[list(support)] = 1.0
        logs.append(np.sum(_log_normal(y, X @ theta, sigma2)))
    logs = np.array(logs)
    top = logs.max()
    log_planted = top + np.log(np.mean(np.exp(logs - top)))
    return log_planted - np.sum(_log_normal(y, 0.0, k + sigma2))


SMALL = PlantedRegression(6, 2, 0.5, 5, chunk=4)


def _data(seed, model, n_datasets):
    """Half planted, half null, so both tails of the ratio are exercised (NumPy draws, so
    the exact tests do not compile the samplers)."""
    rng = np.random.default_rng(seed)
    s, k, n = model.s, model.k, model.N
    X = rng.standard_normal((n_datasets, n, s))
    theta = np.zeros((n_datasets, s))
    for row in theta:
        row[rng.choice(s, size=k, replace=False)] = 1.0
    planted_y = np.einsum("dns,ds->dn", X, theta) + math.sqrt(model.sigma2) * rng.standard_normal(
        (n_datasets, n))
    null_y = math.sqrt(k + model.sigma2) * rng.standard_normal((n_datasets, n))
    y = np.where(np.arange(n_datasets)[:, None] < n_datasets // 2, planted_y, null_y)
    return X, y


@pytest.mark.parametrize("s, k", [(6, 2), (5, 1), (5, 5), (7, 3)])
def test_log_lr_matches_brute_force(s, k):
    model = PlantedRegression(s, k, 0.7, 4, chunk=4)
    X, y = _data(10 * s + k, model, 6)
    ours = np.asarray(planted.log_likelihood_ratio(model, X, y))
    theirs = np.array([brute_log_lr(X[i], y[i], k, 0.7) for i in range(6)])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    # One dataset on its own gives the same number as inside the batch.
    single = float(planted.log_likelihood_ratio(model, X[2], y[2]))
    assert single == pytest.approx(theirs[2], rel=1e-10, abs=1e-10)


def test_chunk_size_does_not_change_the_numbers():
    X, y = _data(3, SMALL, 8)
    ref = np.asarray(planted.log_likelihood_ratio(SMALL, X, y))  # chunk 4, C(6, 2) = 15
    for chunk in (1, 15, 64):
        model = PlantedRegression(6, 2, 0.5, 5, chunk=chunk)
        np.testing.assert_allclose(planted.log_likelihood_ratio(model, X, y), ref,
                                   rtol=1e-12, atol=1e-12)


@given(st.permutations(range(6)), st.permutations(range(5)))
def test_symmetric_in_support_labels_and_observation_order(cols, rows):
    # The prior is uniform over supports, so relabelling coordinates permutes the supports
    # and leaves the average unchanged; observations are i.i.d., so their order is free.
    X, y = _data(5, SMALL, 4)
    ref = np.asarray(planted.log_likelihood_ratio(SMALL, X, y))
    moved = planted.log_likelihood_ratio(SMALL, X[:, rows][:, :, cols], y[:, rows])
    np.testing.assert_allclose(moved, ref, rtol=1e-11, atol=1e-11)


def test_likelihood_ratio_has_mean_one_under_the_null():
    model = PlantedRegression(6, 2, 2.0, 3, chunk=8)
    X, y = planted.sample_null(jax.random.key(7), model, 20_000)
    lr = np.exp(np.asarray(planted.log_likelihood_ratio(model, X, y)))
    se = lr.std(ddof=1) / math.sqrt(lr.size)
    assert se < 0.05
    assert abs(lr.mean() - 1.0) < 4.0 * se


def test_second_call_does_not_compile():
    X, y = _data(11, SMALL, 4)
    planted.log_likelihood_ratio(SMALL, X, y)
    before = planted._log_lr_batch._cache_size()
    planted.log_likelihood_ratio(PlantedRegression(6, 2, 0.5, 5, chunk=4), X + 1.0, y)
    assert planted._log_lr_batch._cache_size() == before


def test_detection_curve_and_posterior_overlap():
    model = PlantedRegression(6, 2, 0.25, 8, chunk=8)
    n, tv, se = planted.detection_curve(jax.random.key(0), model, 400)
    assert n.tolist() == list(range(9))
    assert tv[0] == pytest.approx(0.0, abs=1e-12) and se[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all((tv >= 0.0) & (tv <= 1.0)) and np.all(se[1:] > 0.0)
    # TV grows with n (data processing); common random numbers keep the noise small.
    assert np.all(np.diff(tv) > -3.0 * se[1:])
    assert tv[-1] > 0.8
    # The other (unbounded) form, TV = E_null (LR - 1)_+, on fresh null data at n = N.
    X, y = planted.sample_null(jax.random.key(9), model, 4000)
    excess = np.maximum(np.exp(np.asarray(planted.log_likelihood_ratio(model, X, y))) - 1, 0)
    other_se = excess.std(ddof=1) / math.sqrt(excess.size)
    assert abs(excess.mean() - tv[-1]) < 4.0 * math.hypot(se[-1], other_se)

    n, overlap, o_se = planted.posterior_overlap(jax.random.key(1), model, 200)
    # No data: the posterior is the prior, theta_hat = k/s everywhere.
    assert overlap[0] == pytest.approx(model.k / model.s, rel=1e-12)
    assert np.all((overlap >= 0.0) & (overlap <= 1.0 + 1e-12))
    assert overlap[-1] > overlap[0] + 10.0 * o_se[-1]


def test_n_star():
    assert planted.n_star(100, 5, 0.1) == pytest.approx(
        2 * 5 * math.log(20) / math.log(51), rel=1e-14)
    # At high noise it is computed with log1p (no cancellation).
    assert planted.n_star(4, 2, 1e20) == pytest.approx(2 * 2 * math.log(2) * 1e20 / 2,
                                                       rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        (dict(s=5, k=6, sigma2=1.0, N=3), "k"),
        (dict(s=5, k=0, sigma2=1.0, N=3), "k"),
        (dict(s=5, k=2, sigma2=0.0, N=3), "sigma2"),
        (dict(s=5, k=2, sigma2=-1.0, N=3), "sigma2"),
        (dict(s=5, k=2, sigma2=float("nan"), N=3), "sigma2"),
        (dict(s=5, k=2, sigma2=1.0, N=-1), "N"),
        (dict(s=5, k=2, sigma2=1.0, N=3, chunk=0), "chunk"),
        (dict(s=5, k=2.0, sigma2=1.0, N=3), "k"),
        (dict(s=0, k=1, sigma2=1.0, N=3), "s"),
    ],
)
def test_bad_parameters(kwargs, param):
    with pytest.raises(LocalizeError, match=rf"^{param}:"):
        PlantedRegression(**kwargs)


def test_support_limit_says_what_and_how():
    with pytest.raises(LocalizeError) as info:
        PlantedRegression(100, 5, 1.0, 10)
    message = str(info.value)
    assert "max_supports = 1000000" in message and f"{math.comb(100, 5)}" in message
    assert "pass max_supports >=" in message
    assert PlantedRegression(100, 5, 1.0, 10, max_supports=10**8).n_supports == math.comb(100, 5)
    with pytest.raises(LocalizeError, match="max_supports"):
        PlantedRegression(6, 2, 1.0, 3, max_supports=10)


def test_bad_data_and_counts():
    X, y = _data(2, SMALL, 4)
    with pytest.raises(LocalizeError, match="^X:"):
        planted.log_likelihood_ratio(SMALL, X[..., :5], y)
    with pytest.raises(LocalizeError, match="^y:"):
        planted.log_likelihood_ratio(SMALL, X, y[:, :4])
    with pytest.raises(LocalizeError, match="finite"):
        planted.log_likelihood_ratio(SMALL, X, np.where(y > 0, np.nan, y))
    with pytest.raises(LocalizeError, match="^n_datasets:"):
        planted.detection_curve(jax.random.key(0), SMALL, 5)
    with pytest.raises(LocalizeError, match="^n_datasets:"):
        planted.sample_planted(jax.random.key(0), SMALL, 0)
