"""The ``gaussian_mixture`` family's primitives and the Gaussian channels they are seen through.

Oracles share no code with the JAX path: SciPy's ``multivariate_normal`` for every density,
NumPy matrix inverses for the Gaussian conjugacy of the posterior, ``scipy.integrate.quad``
for a one-dimensional posterior, and a span reduction built here from an SVD. Samplers are
held to their exact moments within several standard errors, with fixed keys (so nothing
flakes): the forward-reverse identity ``(X', Y) ~ (X, Y)`` for ``X' = sample_posterior(Y)``
is the test of exact posterior sampling (theory.md §1.2, §3.1).
"""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import logsumexp
from scipy.stats import multivariate_normal as mvn
from scipy.stats import norm as normal

import localize  # noqa: F401  (float64)
from localize.channels import OU, VE, SLChannel, make_channel
from localize.errors import LocalizeError
from synthetic.gaussian_mixture import (
    GaussianMixture,
    gaussian_mixture,
    hierarchy_means,
    random_means,
    two_symmetric_means,
)
from synthetic.registry import build

N_SE = 5.0  # several standard errors: with fixed keys, a pass is a pass for good
N_SAMPLES = 40_000

MEANS2 = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.5]])
WEIGHTS3 = np.array([0.2, 0.5, 0.3])
COVS2 = np.array([[[1.0, 0.3], [0.3, 0.5]],
                  [[0.4, -0.1], [-0.1, 1.5]],
                  [[2.0, 0.9], [0.9, 0.8]]])
VARS3 = np.array([0.5, 1.0, 2.0])


def _covariances(model: GaussianMixture, extra: float = 0.0) -> np.ndarray:
    """``(K, d, d)`` covariances ``S_k + extra I``, from the constructor's inputs' structure."""
    k, d = model.means.shape
    if model.cov_kind == "full":
        q, lam = np.asarray(model.evecs), np.asarray(model.evals)
        cov = np.einsum("kde,ke,kfe->kdf", q, lam, q)
    else:
        cov = np.asarray(model.variances)[:, None, None] * np.eye(d)[None]
    return cov + extra * np.eye(d)[None]


def _scipy_logpdf(y, means, covs):
    """``(n, K)`` log-densities of ``N(means[k], covs[k])`` at the rows of ``y`` (SciPy)."""
    return np.stack([mvn(means[k], covs[k]).logpdf(y) for k in range(len(means))], axis=-1) \
        .reshape(len(y), len(means))


def _models(process="ou"):
    """One model per covariance structure (d = 2, K = 3)."""
    return {
        "shared": gaussian_mixture(MEANS2, WEIGHTS3, variance=0.7, process=process),
        "isotropic": gaussian_mixture(MEANS2, WEIGHTS3, variances=VARS3, process=process),
        "full": gaussian_mixture(MEANS2, WEIGHTS3, covariances=COVS2, process=process),
    }


def assert_moments(x, mean, cov, what=""):
    """Sample mean and covariance of the rows of ``x`` within ``N_SE`` Gaussian standard errors."""
    n = x.shape[0]
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(x.mean(0) - mean), N_SE * sd / math.sqrt(n),
                                 err_msg=f"{what} mean")
    # Var of the sample covariance (i, j) of a Gaussian: (S_ii S_jj + S_ij^2) / n.
    se = np.sqrt((np.outer(sd**2, sd**2) + cov**2) / n)
    np.testing.assert_array_less(np.abs(np.cov(x, rowvar=False).reshape(cov.shape) - cov),
                                 N_SE * se, err_msg=f"{what} covariance")


def assert_paired_mean_zero(diffs, what=""):
    """Each column of paired differences has mean 0 within ``N_SE`` standard errors."""
    diffs = diffs.reshape(diffs.shape[0], -1)
    se = diffs.std(axis=0, ddof=1) / math.sqrt(diffs.shape[0])
    np.testing.assert_array_less(np.abs(diffs.mean(0)), N_SE * se + 1e-12, err_msg=what)


# ---------------------------------------------------------------------------------------
# channels (localize/channels.py)

TIMES = np.array([0.0, 0.05, 0.3, 1.0, 2.5, 7.0])


def test_channel_coefficients():
    for t in TIMES:
        e = math.exp(-t)
        np.testing.assert_allclose(OU().scale(t), e, rtol=1e-15)
        np.testing.assert_allclose(OU().noise_var(t), 1 - e**2, rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(OU().ve_var(t), math.exp(2 * t) - 1, rtol=1e-14, atol=0)
        assert float(VE().scale(t)) == 1.0
        assert float(VE().noise_var(t)) == float(VE().ve_var(t)) == t
        if t > 0:
            # Montanari's theta = 1 / t: y = theta X + W(theta), Var W(theta) = theta.
            np.testing.assert_allclose(SLChannel().scale(t), 1 / t, rtol=1e-15)
            np.testing.assert_allclose(SLChannel().noise_var(t), 1 / t, rtol=1e-15)
            assert float(SLChannel().ve_var(t)) == t
        for proc in (OU(), VE(), SLChannel()):
            if t == 0 and proc.kind == "channel":
                continue
            # v = sigma^2 / a^2, the noise variance of the normalised observation Y / a.
            np.testing.assert_allclose(proc.ve_var(t), proc.noise_var(t) / proc.scale(t) ** 2,
                                       rtol=1e-13, atol=1e-300)
    # Small t: expm1 keeps full relative precision where exp(2t) - 1 would not.
    np.testing.assert_allclose(OU().ve_var(1e-12), 2e-12, rtol=1e-11)
    assert make_channel("ou") == OU() and make_channel("channel") == SLChannel()


@pytest.mark.parametrize("kind", ["ou", "ve", "channel"])
def test_component_law_on_the_raw_and_normalised_scales(kind):
    """A component ``N(m, S)`` becomes ``N(a m, a^2 S + sigma^2 I)``, i.e. ``N(m, S + v I)``.

    For OU that is ``N(e^{-t} m, e^{-2t} S + (1 - e^{-2t}) I)`` (theory.md §1.2); for the
    channel ``N(theta m, theta^2 S + theta I)`` with ``theta = 1 / t``; for VE ``N(m, S + t I)``.
    """
    model = _models(kind)["full"]
    cov = _covariances(model)
    ys = np.random.default_rng(1).normal(scale=2.0, size=(7, 2))
    d = 2
    for t in (0.2, 1.0, 3.0):
        a, s2, v = (float(f(t)) for f in (model.process.scale, model.process.noise_var,
                                          model.process.ve_var))
        if kind == "ou":
            assert (a, s2) == pytest.approx((math.exp(-t), 1 - math.exp(-2 * t)), rel=1e-14)
        raw = _scipy_logpdf(ys, a * MEANS2, a**2 * cov + s2 * np.eye(d))
        # Y = a Y~, so log p_Y(y) = log p_Y~(y / a) - d log a.
        got = np.asarray(model.log_noised(t, ys / a)) - d * math.log(a)
        np.testing.assert_allclose(got, raw, rtol=1e-12, atol=1e-12)
        normalised = _scipy_logpdf(ys, MEANS2, cov + v * np.eye(d))
        np.testing.assert_allclose(model.log_noised(t, ys), normalised, rtol=1e-12, atol=1e-12)


def test_channel_and_ve_give_the_same_posteriors_and_ou_is_a_time_change():
    ys = np.random.default_rng(2).normal(scale=3.0, size=(9, 2))
    for cov in ("shared", "isotropic", "full"):
        ve, ch, ou = (_models(k)[cov] for k in ("ve", "channel", "ou"))
        for t in (0.1, 1.0, 4.0):
            np.testing.assert_array_equal(ch.log_posterior_weights(t, ys),
                                          ve.log_posterior_weights(t, ys))
            np.testing.assert_array_equal(ch.log_noised(t, ys), ve.log_noised(t, ys))
            # OU at t carries the information of VE at v = e^{2t} - 1.
            np.testing.assert_allclose(ou.log_posterior_weights(t, ys),
                                       ve.log_posterior_weights(math.expm1(2 * t), ys),
                                       rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------
# densities against SciPy


@pytest.mark.parametrize("cov_kind", ["shared", "isotropic", "full"])
def test_log_clean_and_log_noised_against_scipy(cov_kind):
    model = _models("ou")[cov_kind]
    assert model.cov_kind == cov_kind
    cov = _covariances(model)
    np.testing.assert_allclose(cov, {"shared": 0.7 * np.eye(2)[None].repeat(3, 0),
                                     "isotropic": VARS3[:, None, None] * np.eye(2),
                                     "full": COVS2}[cov_kind], rtol=1e-13, atol=1e-15)
    ys = np.random.default_rng(3).normal(scale=3.0, size=(11, 2))
    np.testing.assert_allclose(model.log_clean(ys), _scipy_logpdf(ys, MEANS2, cov),
                               rtol=1e-12, atol=1e-12)
    for t in TIMES:
        want = _scipy_logpdf(ys, MEANS2, cov + math.expm1(2 * t) * np.eye(2))
        np.testing.assert_allclose(model.log_noised(t, ys), want, rtol=1e-12, atol=1e-12)
        post = want + np.log(WEIGHTS3)
        np.testing.assert_allclose(model.log_posterior_weights(t, ys),
                                   post - logsumexp(post, axis=1, keepdims=True),
                                   rtol=1e-11, atol=1e-12)


def test_high_dimensional_densities_against_scipy():
    # d > 32 takes the matrix-product path for the squared distances.
    rng = np.random.default_rng(4)
    means = rng.normal(scale=2.0, size=(3, 40))
    ys = means[[0, 1, 2, 0]] + rng.normal(size=(4, 40))
    for kw, covs in (({"variance": 0.8}, 0.8 * np.eye(40)[None].repeat(3, 0)),
                     ({"variances": VARS3}, VARS3[:, None, None] * np.eye(40))):
        model = gaussian_mixture(means, process="ve", **kw)
        for t in (0.0, 0.5):
            np.testing.assert_allclose(model.log_noised(t, ys),
                                       _scipy_logpdf(ys, means, covs + t * np.eye(40)),
                                       rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------------------------------
# samplers: moments with fixed keys


@pytest.mark.parametrize("cov_kind", ["isotropic", "full"])
def test_sample_clean_noised_forward_moments(cov_kind):
    model = _models("ou")[cov_kind]
    t = 0.4
    v = math.expm1(2 * t)
    labels = np.arange(N_SAMPLES) % 3
    k_clean, k_noised, k_fwd = jax.random.split(jax.random.key(10), 3)
    x = np.asarray(model.sample_clean(k_clean, labels))
    y = np.asarray(model.sample_noised(k_noised, t, labels))
    y_fwd = np.asarray(model.sample_forward(k_fwd, t, x))
    for k in range(3):
        cov = _covariances(model)[k]
        assert_moments(x[labels == k], MEANS2[k], cov, f"clean {k}")
        assert_moments(y[labels == k], MEANS2[k], cov + v * np.eye(2), f"noised {k}")
        assert_moments(y_fwd[labels == k], MEANS2[k], cov + v * np.eye(2), f"forward {k}")
    # Given X = x, Y~_t = x + sqrt(v) Z whatever x is.
    assert_moments(y_fwd - x, np.zeros(2), v * np.eye(2), "forward noise")


def _mixture_moments(model):
    w = np.exp(np.asarray(model.log_weights))
    m = np.asarray(model.means)
    mean = w @ m
    second = np.einsum("k,kde->de", w, _covariances(model) + np.einsum("kd,ke->kde", m, m))
    return mean, second - np.outer(mean, mean)


@pytest.mark.parametrize("cov_kind", ["isotropic", "full"])
def test_sample_posterior_is_exact_forward_reverse(cov_kind):
    """``X ~ p``, ``Y~ = forward(X)``, ``X' = posterior(Y~)``: ``(X', Y~) ~ (X, Y~)``.

    Marginally ``X' ~ p`` (mean, covariance, label frequencies); jointly with ``Y~``, paired
    statistics ``f(X', Y~) - f(X, Y~)`` have mean 0: a sampler that ignored ``y`` and drew
    from the prior would pass the first check and fail the second.
    """
    model = _models("ou")[cov_kind]
    t = 0.35
    k_lab, k_x, k_y, k_post = jax.random.split(jax.random.key(20), 4)
    labels = jax.random.categorical(k_lab, model.log_weights, shape=(N_SAMPLES,))
    x = model.sample_clean(k_x, labels)
    y = model.sample_forward(k_y, t, x)
    xp = model.sample_posterior(k_post, t, y)
    x, y, xp = (np.asarray(a) for a in (x, y, xp))

    mean, cov = _mixture_moments(model)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(xp.mean(0) - mean), N_SE * sd / math.sqrt(N_SAMPLES))
    centred = xp - mean
    prods = (centred[:, :, None] * centred[:, None, :]).reshape(N_SAMPLES, -1)
    se = prods.std(0, ddof=1) / math.sqrt(N_SAMPLES)
    np.testing.assert_array_less(np.abs(prods.mean(0) - cov.ravel()), N_SE * se)

    # Label frequencies: E_{X ~ p}[pi(theta | X)] = w_theta for the clean label posterior.
    pi_xp = np.exp(np.asarray(model.log_posterior_weights(0.0, xp)))
    se = pi_xp.std(0, ddof=1) / math.sqrt(N_SAMPLES)
    np.testing.assert_array_less(np.abs(pi_xp.mean(0) - WEIGHTS3), N_SE * se)

    pi_x = np.exp(np.asarray(model.log_posterior_weights(0.0, x)))
    pi_y = np.exp(np.asarray(model.log_posterior_weights(t, y)))
    cross = lambda a, b: (a[:, :, None] * b[:, None, :]).reshape(N_SAMPLES, -1)  # noqa: E731
    assert_paired_mean_zero(xp - x, "E[X]")
    assert_paired_mean_zero(cross(xp, y) - cross(x, y), "E[X Y^T]")
    assert_paired_mean_zero(cross(xp, xp) - cross(x, x), "E[X X^T]")
    assert_paired_mean_zero(cross(pi_xp, pi_y) - cross(pi_x, pi_y), "E[pi(X) pi_t(Y)]")


def test_sample_posterior_at_one_observation_full_covariance():
    # Conjugacy by NumPy inverses (no eigendecomposition): theta | y from SciPy's densities,
    # then X | theta, y ~ N(m + S (S + vI)^{-1} (y - m), S - S (S + vI)^{-1} S).
    model = _models("ve")["full"]
    t, y = 0.8, np.array([1.0, 0.7])
    log_post = np.log(WEIGHTS3) + _scipy_logpdf(y[None], MEANS2, COVS2 + t * np.eye(2))[0]
    pi = np.exp(log_post - logsumexp(log_post))
    np.testing.assert_allclose(np.exp(model.log_posterior_weights(t, y[None]))[0], pi,
                               rtol=1e-12)
    gain = [s @ np.linalg.inv(s + t * np.eye(2)) for s in COVS2]
    means = np.array([m + g @ (y - m) for m, g in zip(MEANS2, gain, strict=True)])
    covs = np.array([s - g @ s for s, g in zip(COVS2, gain, strict=True)])
    mean = pi @ means
    cov = np.einsum("k,kde->de", pi, covs + np.einsum("kd,ke->kde", means, means)) \
        - np.outer(mean, mean)
    xs = np.asarray(model.sample_posterior(jax.random.key(30), t,
                                           np.broadcast_to(y, (N_SAMPLES, 2))))
    centred = xs - mean
    prods = (centred[:, :, None] * centred[:, None, :]).reshape(N_SAMPLES, -1)
    np.testing.assert_array_less(np.abs(centred.mean(0)),
                                 N_SE * np.sqrt(np.diag(cov) / N_SAMPLES))
    np.testing.assert_array_less(np.abs(prods.mean(0) - cov.ravel()),
                                 N_SE * prods.std(0, ddof=1) / math.sqrt(N_SAMPLES))


def test_posterior_mean_against_quadrature_in_one_dimension():
    means, variances, w = np.array([[-2.0], [0.5], [3.0]]), VARS3, WEIGHTS3
    model = gaussian_mixture(means, w, variances=variances, process="ou")
    t, y = 0.3, 1.1
    v = math.expm1(2 * t)

    def joint(x):  # p(x) N(y; x, v)
        return np.sum(w * normal.pdf(x, means[:, 0], np.sqrt(variances))) \
            * normal.pdf(y, x, math.sqrt(v))

    moments = [quad(lambda x, j=j: x**j * joint(x), -np.inf, np.inf, epsabs=0,
                    epsrel=1e-13, limit=200)[0] for j in range(3)]
    z, mean = moments[0], moments[1] / moments[0]
    var = moments[2] / z - mean**2
    # p_t(y) = sum_theta w_theta N(y; m_theta, s_theta^2 + v), from the model's log_noised.
    log_pt = logsumexp(np.log(w) + np.asarray(model.log_noised(t, np.array([[y]])))[0])
    np.testing.assert_allclose(math.exp(log_pt), z, rtol=1e-10)
    pi = np.exp(np.asarray(model.log_posterior_weights(t, np.array([[y]])))[0])
    shrink = variances / (variances + v)
    formula = pi @ (means[:, 0] + shrink * (y - means[:, 0]))
    np.testing.assert_allclose(formula, mean, rtol=1e-10)
    xs = np.asarray(model.sample_posterior(jax.random.key(31), t,
                                           np.full((N_SAMPLES, 1), y)))[:, 0]
    assert abs(xs.mean() - mean) < N_SE * math.sqrt(var / N_SAMPLES)
    fourth = np.mean((xs - mean) ** 4)
    assert abs(xs.var() - var) < N_SE * math.sqrt((fourth - var**2) / N_SAMPLES)


# ---------------------------------------------------------------------------------------
# span reduction


def _svd_projection(means, rank):
    """An orthonormal basis of the affine span of the means, built here (not by the family)."""
    centre = means.mean(axis=0)
    _, s, vt = np.linalg.svd(means - centre, full_matrices=False)
    assert s[rank - 1] > 1e-8 * s[0] and (rank == len(s) or s[rank] < 1e-10 * s[0])
    return lambda x: (np.asarray(x) - centre) @ vt[:rank].T


def _pairwise(m):
    return np.linalg.norm(m[:, None] - m[None], axis=-1)


@pytest.mark.parametrize("process", ["ou", "ve"])
def test_span_reduction_preserves_ratios_and_posteriors(process):
    d, k = 50, 3
    rng = np.random.default_rng(5)
    means = rng.normal(scale=2.0, size=(k, d)) + 4.0
    model = gaussian_mixture(means, [0.25, 0.35, 0.4], variance=0.7, process=process)
    red = model.reduced()
    assert red.dim == 2 and red.ambient_dim == d and red.cov_kind == "shared"
    assert red.means.shape == (k, 2) and red.n_components == k
    np.testing.assert_array_equal(red.log_weights, model.log_weights)
    red_means = np.asarray(red.means)
    np.testing.assert_allclose(_pairwise(red_means), _pairwise(means), rtol=1e-12)

    # The reduced basis equals ours up to an orthogonal map Q (fitted on the means, checked).
    proj = _svd_projection(means, 2)
    q = np.linalg.lstsq(proj(means), red_means, rcond=None)[0]
    np.testing.assert_allclose(q.T @ q, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(proj(means) @ q, red_means, atol=1e-12)

    labels = np.arange(12) % k
    for i, t in enumerate((0.0, 0.3, 1.0, 3.0)):
        ys = np.concatenate([
            np.asarray(model.sample_noised(jax.random.key(40 + i), t, labels)),
            rng.normal(scale=5.0, size=(4, d)),
        ])
        ys_red = proj(ys) @ q
        full, small = np.asarray(model.log_noised(t, ys)), np.asarray(red.log_noised(t, ys_red))
        np.testing.assert_allclose(full - full[:, :1], small - small[:, :1], rtol=0, atol=1e-10)
        np.testing.assert_allclose(model.log_posterior_weights(t, ys),
                                   red.log_posterior_weights(t, ys_red), rtol=0, atol=1e-10)


def test_reduction_rank_and_when_it_does_not_apply():
    d = 20
    u = np.random.default_rng(6).normal(size=d)
    collinear = np.stack([u, 2 * u, -0.5 * u]) + 1.0
    red = gaussian_mixture(collinear, variance=2.0).reduced()
    assert red.dim == 1
    np.testing.assert_allclose(_pairwise(np.asarray(red.means)), _pairwise(collinear),
                               rtol=1e-12)
    iso = gaussian_mixture(collinear, variances=[1.0, 2.0, 3.0])
    assert not iso.reducible and iso.reduced() is iso
    small = gaussian_mixture([[0.0], [1.0]])
    assert small.reduced() is small  # already on its span


# ---------------------------------------------------------------------------------------
# constructors of the paper's examples


def test_two_symmetric_means():
    for norm, dim in ((10.0, 1), (10.0, 7), (1e3, 64), (0.3, 1000)):
        m = two_symmetric_means(norm, dim)
        assert m.shape == (2, dim)
        np.testing.assert_array_equal(m[0], -m[1])
        assert math.isclose(np.linalg.norm(m[0]), norm, rel_tol=1e-15)
        assert np.all(m[0] == m[0][0])  # spread over every axis
    model = build("gaussian_mixture", means_from="two_symmetric", norm=10.0, dim=5)
    assert model.means.shape == (2, 5) and model.reduced().dim == 1


def test_random_means_are_deterministic_for_a_seed():
    a = random_means(jax.random.key(5), 4, 7)
    np.testing.assert_array_equal(a, random_means(jax.random.key(5), 4, 7))
    assert a.shape == (4, 7) and not np.array_equal(a, random_means(jax.random.key(6), 4, 7))
    built = build("gaussian_mixture", means_from="random", components=4, dim=7, seed=5)
    np.testing.assert_array_equal(built.means, a)


def test_hierarchy_means_leaf_count_and_distances_by_level():
    branching, scales = (2, 3, 2), (100.0, 10.0, 1.0)
    m = hierarchy_means(jax.random.key(8), 16, branching, scales)
    assert m.shape == (math.prod(branching), 16)
    np.testing.assert_array_equal(m, hierarchy_means(jax.random.key(8), 16, branching, scales))
    paths = list(itertools.product(*(range(b) for b in branching)))  # lexicographic order
    by_level = {level: [] for level in range(len(branching))}
    for i, j in itertools.combinations(range(len(paths)), 2):
        level = next(lv for lv in range(len(branching)) if paths[i][lv] != paths[j][lv])
        by_level[level].append(np.linalg.norm(m[i] - m[j]))
    # Siblings (differ at the last level) closer than cousins, cousins closer than the rest.
    assert max(by_level[2]) < min(by_level[1]) and max(by_level[1]) < min(by_level[0])
    # Siblings differ by two independent offsets of norm 1: at most 2 apart.
    assert max(by_level[2]) <= 2.0 + 1e-12
    built = build("gaussian_mixture", means_from="hierarchy", dim=16, seed=8,
                  branching=list(branching), scales=list(scales))
    np.testing.assert_array_equal(built.means, m)


# ---------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("kwargs, name", [
    ({"means": MEANS2[:2], "covariances": [[[1.0, 0.0], [0.0, -1.0]], np.eye(2)]},
     "model.covariances[0]"),
    ({"means": MEANS2[:2], "covariances": [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]},
     "model.covariances[1]"),
    ({"means": MEANS2[:2], "covariances": [[[1.0, 0.5], [0.0, 1.0]], np.eye(2)]},
     "model.covariances[0]"),
    ({"means": MEANS2[:2], "covariances": [np.eye(3), np.eye(3)]}, "model.covariances"),
    ({"means": [[0.0, 0.0], [1.0]]}, "model.means"),
    ({"means": [0.0, 1.0]}, "model.means"),
    ({"means": [[0.0, float("nan")], [1.0, 1.0]]}, "model.means"),
    ({"means": [[0.0, float("inf")], [1.0, 1.0]]}, "model.means"),
    ({"means": MEANS2, "variance": 0.0}, "model.variance"),
    ({"means": MEANS2, "variance": -1.0}, "model.variance"),
    ({"means": MEANS2, "variances": [1.0, -1.0, 1.0]}, "model.variances"),
    ({"means": MEANS2, "variances": [1.0, 1.0]}, "model.variances"),
    ({"means": MEANS2, "weights": [0.5, 0.3, 0.3]}, "model.weights"),
    ({"means": MEANS2, "weights": [0.5, 0.5]}, "model.weights"),
    ({"means": MEANS2, "weights": [1.2, -0.1, -0.1]}, "model.weights"),
    ({"means": MEANS2, "variance": 1.0, "variances": [1.0, 1.0, 1.0]}, "model.variances"),
    ({"means": MEANS2, "variances": VARS3, "covariances": COVS2}, "model.covariances"),
    ({"means": MEANS2, "process": "heat"}, "process.kind"),
])
def test_constructor_rejects_bad_input(kwargs, name):
    with pytest.raises(LocalizeError) as err:
        gaussian_mixture(**kwargs)
    assert isinstance(err.value, ValueError)
    assert str(err.value).startswith(f"{name}:"), str(err.value)


@pytest.mark.parametrize("params, name", [
    ({"means_from": "bogus", "dim": 2}, "model.means_from"),
    ({"means_from": "two_symmetric", "dim": 3}, "model.norm"),
    ({"means_from": "two_symmetric", "norm": 3.0}, "model.dim"),
    ({"means_from": "random", "dim": 3, "seed": 0}, "model.components"),
    ({"means_from": "random", "components": 3, "dim": 3}, "model.seed"),
    ({"means_from": "hierarchy", "seed": 0}, "model.dim"),
    ({"means_from": "hierarchy", "dim": 3, "seed": 0, "scales": [1.0, 2.0]}, "model.scales"),
    ({"means_from": "hierarchy", "dim": 3, "seed": 0, "branching": [1, 2, 2]},
     "model.branching"),
    ({"means_from": "two_symmetric", "norm": -1.0, "dim": 3}, "model.norm"),
    ({"means_from": "two_symmetric", "norm": 1.0, "dim": 0}, "model.dim"),
    ({"means_from": "random", "components": 3, "dim": 3, "seed": -1}, "model.seed"),
    ({}, "model.means"),
    ({"means": MEANS2, "means_from": "random"}, "model.means"),
    ({"means": MEANS2, "colour": "red"}, "model.colour"),
])
def test_build_rejects_bad_parameters(params, name):
    with pytest.raises(LocalizeError) as err:
        build("gaussian_mixture", **params)
    assert str(err.value).startswith(f"{name}:"), str(err.value)


@pytest.mark.parametrize("params, name", [
    ({"scales": 5}, "model.scales"),
    ({"branching": 3}, "model.branching"),
    ({"scales": ["x", 1.0, 1.0]}, "model.scales"),
])
def test_build_rejects_malformed_hierarchy_parameters(params, name):
    with pytest.raises(LocalizeError) as err:
        build("gaussian_mixture", means_from="hierarchy", dim=3, seed=0, **params)
    assert str(err.value).startswith(f"{name}:"), str(err.value)


def test_times_are_validated():
    for kind in ("ou", "ve", "channel"):
        model = gaussian_mixture(MEANS2, process=kind)
        for times in ([-1.0], [0.0, float("nan")], [1.0, 0.5], [], [[0.0]]):
            with pytest.raises(LocalizeError, match="^times:"):
                model.process.validate_times(times)
        np.testing.assert_array_equal(model.process.validate_times([0, 1.5]), [0.0, 1.5])
    with pytest.raises(LocalizeError, match="^times:"):
        OU().validate_times([1.0, 400.0])  # past OU_MAX_TIME, where e^{2t} overflows


# ---------------------------------------------------------------------------------------
# extreme separation: finite everywhere


@pytest.mark.parametrize("dim", [8, 64])
def test_extreme_separation_stays_finite(dim):
    model = gaussian_mixture(two_symmetric_means(1e3, dim), variance=1e-6, process="ou")
    mu = np.asarray(model.means)[0]
    labels = np.array([0, 1, 0, 1])
    for i, t in enumerate((0.0, 1e-6, 0.5, 3.0, 7.0, 12.0, 40.0)):
        ys = np.concatenate([np.asarray(model.sample_noised(jax.random.key(50 + i), t, labels)),
                             np.stack([0 * mu, 2 * mu, -3 * mu, mu + 1e-3])])
        ln = np.asarray(model.log_noised(t, ys))
        lp = np.asarray(model.log_posterior_weights(t, ys))
        assert np.all(np.isfinite(ln)) and np.all(np.isfinite(lp)), t
        np.testing.assert_allclose(logsumexp(lp, axis=1), 0.0, atol=1e-12)
        xs = np.asarray(model.sample_posterior(jax.random.key(60 + i), t, ys))
        assert np.all(np.isfinite(xs))
        if t <= 0.5:
            # Each sample is certain of its component: log-posterior 0 for its own label.
            np.testing.assert_allclose(lp[np.arange(4), labels], 0.0, atol=1e-12)
    # Midway at t = 0 the posterior is exactly even.
    np.testing.assert_allclose(model.log_posterior_weights(0.0, np.zeros((1, dim))),
                               [[-math.log(2), -math.log(2)]], rtol=1e-15)


def test_high_dimensional_posterior_far_from_the_origin():
    # Two means 1e3 from the origin and 2e-3 apart, variance 1e-6: the log-likelihood ratio is
    # O(1), but ||y||^2 / s^2 ~ 1e12 and its rounding (~1e-4) lands in the posterior.
    d = 64
    rng = np.random.default_rng(7)
    base = rng.normal(size=d)
    base *= 1e3 / np.linalg.norm(base)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    means = np.stack([base + 1e-3 * u, base - 1e-3 * u])
    model = gaussian_mixture(means, variance=1e-6, process="ve")
    ys = means[0] + 1e-3 * rng.normal(size=(5, d))
    ll = -0.5 * np.sum((ys[:, None, :] - means[None]) ** 2, axis=-1) / 1e-6
    want = ll - logsumexp(ll, axis=1, keepdims=True)
    np.testing.assert_allclose(model.log_posterior_weights(0.0, ys), want, rtol=0, atol=1e-8)
