"""Definition 7's mixture (``synthetic.planted_icl``) against its definitions.

The family reduces every curve to the likelihood ratio ``L = planted / null`` of the visible
observations (module docstring). The oracle here does *not* use that reduction: on the same
datasets it computes every support's likelihood by brute force (``itertools.combinations``
and plain Gaussian densities, in NumPy) and evaluates each quantity from its definition, a
sum over all ``C(s, k) + 1`` answer tokens, as a stratified mean under
``M = (planted + null) / 2``. The two are different unbiased estimators of the same number on
the same samples, so they must agree within a few standard errors; the ends of the index set
(the answer visible, nothing visible) are exact.
"""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest

import localize
from localize.continuous import EstimateConfig
from localize.errors import LocalizeError
from synthetic import build
from synthetic.planted import _sample_null, _sample_planted, detection_curve
from synthetic.planted_icl import PlantedICL, planted_icl

S, K, SIGMA2, N = 6, 2, 0.5, 8
CONFIG = EstimateConfig(samples=3000, seed=0)
Z = 5.0


@pytest.fixture(scope="module")
def model() -> PlantedICL:
    return planted_icl(S, K, SIGMA2, N)


def _rows(model):
    lw = model.log_weights
    masks = model.subpopulations()
    row = lambda m: np.asarray(localize.posterior.log_set_weights(lw, m))  # noqa: E731
    return {"signal": row(masks["signal"]), "null": row(masks["null"]),
            "all": row(np.ones(model.n_components, dtype=bool))}


def _oracle_ratios(key, half):
    """Per-support likelihood ratios ``L_S`` of every prefix, by brute force.

    Returns ``(lp, lq)``: ``(N + 1, half, C(s, k))`` arrays of ``L_S = p^S / null`` for the
    planted and the null datasets that :mod:`synthetic.planted_icl` draws from ``key``.
    """
    k_p, k_q = jax.random.split(key)
    reg = planted_icl(S, K, SIGMA2, N).regression
    Xp, yp, _ = (np.asarray(a) for a in _sample_planted(k_p, reg, half))
    Xq, yq = (np.asarray(a) for a in _sample_null(k_q, reg, half))
    supports = list(itertools.combinations(range(S), K))

    def ratios(X, y):
        out = np.ones((N + 1, X.shape[0], len(supports)))
        for j, sup in enumerate(supports):
            mean = X[:, :, list(sup)].sum(axis=2)
            log_p = -0.5 * (y - mean) ** 2 / SIGMA2 - 0.5 * math.log(2 * math.pi * SIGMA2)
            log_q = -0.5 * y**2 / (K + SIGMA2) - 0.5 * math.log(2 * math.pi * (K + SIGMA2))
            cum = np.concatenate([np.zeros((X.shape[0], 1)), np.cumsum(log_p - log_q, 1)], 1)
            out[:, :, j] = np.exp(cum.T)
        return out

    return ratios(Xp, yp), ratios(Xq, yq)


def _stratified(hp, hq):
    half = hp.shape[1]
    value = 0.5 * (hp.mean(1) + hq.mean(1))
    se = 0.5 * np.sqrt((hp.var(1, ddof=1) + hq.var(1, ddof=1)) / half)
    return value, se


def test_curves_match_the_definitions_on_the_same_datasets(model):
    key = jax.random.key(7)
    half = CONFIG.samples // 2
    lp, lq = _oracle_ratios(key, half)
    m = lp.shape[2]
    times = np.arange(N + 3, dtype=np.float64)
    n = model.visible(times)
    rows = _rows(model)
    alpha = {"signal": 1.0, "null": 0.0, "all": 0.5}

    def densities(ls):
        # Densities relative to the null of the visible prefix: component by component.
        L = ls.mean(axis=2)
        return L, {"signal": L, "null": np.ones_like(L), "all": 0.5 * L + 0.5}

    for a_name, b_name in (("signal", "all"), ("signal", "null"), ("all", "null")):
        a, b = alpha[a_name], alpha[b_name]
        # TV(p_t^A, p_t^B) = E_M |f_A - f_B| / (f_P + f_Q) from the densities.
        est = model.tv_curve(key, times, rows[a_name], rows[b_name], CONFIG)
        hs = []
        for ls in (lp, lq):
            L, f = densities(ls[n])
            hs.append(np.abs(f[a_name] - f[b_name]) / ((L + 1) / 2) / 2)
        want, se = _stratified(*hs)
        want[0], se[0] = abs(a - b), 0.0  # the answer is visible at t = 0
        assert np.all(np.abs(est.value - want) <= Z * (est.se + se) + 1e-12), (a_name, b_name)
        # The forward-reverse TV, summed over all C(s, k) + 1 answer tokens.
        est = model.fr_tv_curve(key, times, rows[a_name], rows[b_name], CONFIG)
        hs = []
        for ls in (lp, lq):
            L, f = densities(ls[n])
            pA = f[a_name]
            post_s = ls[n] / (m * (L + 1))[..., None]  # pi(S | prefix) for each support
            post_null = 1.0 / (L + 1)
            signal_terms = np.abs(pA[..., None] * post_s - (b / m) * ls[n]).sum(axis=2)
            null_term = np.abs(pA * post_null - (1 - b))
            hs.append(0.5 * (signal_terms + null_term) / ((L + 1) / 2))
        want, se = _stratified(*hs)
        want[0], se[0] = abs(a - b), 0.0
        assert np.all(np.abs(est.value - want) <= Z * (est.se + se) + 1e-12), (a_name, b_name)


def test_exact_ends_and_the_detection_curve(model):
    key = jax.random.key(3)
    rows = _rows(model)
    times = np.arange(N + 3, dtype=np.float64)
    tv = model.tv_curve(key, times, rows["signal"], rows["all"], CONFIG)
    # Answer visible: the answer token tells signal from NULL; nothing visible: no difference.
    assert tv.value[0] == pytest.approx(0.5, abs=1e-12) and tv.se[0] == 0.0
    assert tv.value[-1] == pytest.approx(0.0, abs=1e-12)
    fr = model.fr_tv_curve(key, times, rows["signal"], rows["signal"], CONFIG)
    assert fr.value[0] == pytest.approx(0.0, abs=1e-12)
    assert fr.value[-1] == pytest.approx(0.5, abs=1e-12)
    # theory.md 3.5: TV(p_t^signal, p_t^Theta) = 1/2 TV(planted, null) on the visible prefix.
    sep = model.tv_curve(key, times, rows["signal"], rows["null"], CONFIG)
    np.testing.assert_allclose(tv.value[1:], 0.5 * sep.value[1:], atol=1e-12)
    _, curve, se = detection_curve(jax.random.key(11), model.regression, CONFIG.samples)
    n = model.visible(times[1:])
    assert np.all(np.abs(sep.value[1:] - curve[n]) <= Z * (sep.se[1:] + se[n]) + 1e-12)
    # The log-overlap is 1 - TV, computed in log space.
    np.testing.assert_allclose(np.exp(sep.log_overlap[1:]), 1 - sep.value[1:], atol=1e-12)


def test_window_report_by_name_and_theorem2(model):
    rep = localize.window_report(model, "signal", "all", 0.2, np.arange(N + 3.0),
                                 estimate=CONFIG)
    assert rep.method["tv_init_target"] == "monte-carlo"
    assert rep.s_init == list(range(model.n_supports))
    assert rep.W == 0.0 and rep.theorem2_holds in (True, None)
    after = localize.window_report(model, "signal", "signal", 0.2, np.arange(N + 3.0),
                                   estimate=CONFIG)
    assert after.W == pytest.approx(1.0, abs=1e-12) and after.theorem2_holds in (True, None)
    assert rep.model["family"] == "planted_icl" and rep.model["n_supports"] == math.comb(S, K)
    label = localize.forward_reverse_label_law(model, np.arange(3.0),
                                               model.subpopulations()["signal"], config=CONFIG)
    np.testing.assert_allclose(label.value.sum(axis=1), 1.0, atol=1e-12)


def test_registry_config_and_bad_input(model):
    built = build("planted_icl", s=S, k=K, sigma2=SIGMA2, N=N)
    assert built.regression == model.regression
    rows = _rows(model)
    some = np.full(model.n_components, -np.inf)
    some[:2] = math.log(0.5)
    with pytest.raises(LocalizeError, match="log_a"):
        model.tv_curve(jax.random.key(0), np.arange(2.0), some, rows["all"], CONFIG)
    with pytest.raises(LocalizeError, match="process.kind"):
        build("planted_icl", s=S, k=K, sigma2=SIGMA2, N=N, process="random_masking")
    with pytest.raises(LocalizeError, match="k"):
        planted_icl(4, 5, 0.5, 3)
    with pytest.raises(LocalizeError, match="sigma2"):
        planted_icl(4, 2, 0.0, 3)
    with pytest.raises(LocalizeError, match="max_supports"):
        planted_icl(60, 5, 0.5, 3)
    with pytest.raises(LocalizeError, match="s_init"):
        localize.window_report(model, "planted", "all", 0.1, [0, 1], estimate=CONFIG)


def test_planted_regression_is_the_sequence_without_the_answer():
    bare = build("planted_regression", s=S, k=K, sigma2=SIGMA2, N=N)
    assert bare.family == "planted_regression" and bare.process.length == N
    rows = _rows(bare)
    key = jax.random.key(5)
    times = np.arange(N + 1.0)
    sep = bare.tv_curve(key, times, rows["signal"], rows["null"], CONFIG)
    # The detection curve itself, read from n = N down to 0 visible observations, on the
    # same datasets as planted_icl's (same key): its values at t >= 2 shifted by two.
    full = planted_icl(S, K, SIGMA2, N)
    sep_icl = full.tv_curve(key, np.arange(N + 3.0), rows["signal"], rows["null"], CONFIG)
    np.testing.assert_allclose(sep.value, sep_icl.value[2:], atol=1e-12)
    assert sep.value[-1] == pytest.approx(0.0, abs=1e-12) and sep.value[0] < 1.0

