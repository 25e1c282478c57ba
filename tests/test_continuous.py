"""Monte Carlo curves of continuous models and their window report.

The estimators of :mod:`localize.estimate` are held against oracles that share no code with
them: closed forms for two 1-D Gaussians ``N(+-a, 1)`` (``TV = 2 Phi(a/s) - 1``,
``BC = exp(-a^2 / (2 s^2))`` with ``s^2 = 1 + v(t)``), ``scipy.integrate.quad`` for the label
mass and a nested ``quad`` for the forward-reverse TV. Keys are fixed; tolerances are five
standard errors (plus the reported bias bound for the forward-reverse TV).
"""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.special import log_ndtr
from scipy.stats import norm

import localize
import synthetic
from localize import cli, estimate
from localize.config import parse_config
from localize.continuous import ContinuousModel, EstimateConfig
from synthetic.gaussian_mixture import GaussianMixture, gaussian_mixture

KEY = jax.random.key(7)
CONFIG = EstimateConfig(samples=8000, inner_samples=16, seed=0)
A, B = jnp.array([0.0, -jnp.inf]), jnp.array([-jnp.inf, 0.0])
HALF = jnp.log(jnp.array([0.5, 0.5]))
Z = 5.0  # standard errors allowed between an estimate and its oracle
HIERARCHY = [[10.0], [9.0], [-10.0]]  # a fine split {0} | {1} inside a coarse {0, 1} | {2}
REPORT_CONFIG = EstimateConfig(samples=4000, inner_samples=8, seed=3)


@dataclasses.dataclass(frozen=True)
class MonteCarloOnly(GaussianMixture):
    """A Gaussian mixture that takes the generic Monte Carlo path for every curve."""

    tv_curve = ContinuousModel.tv_curve
    bc_curve = ContinuousModel.bc_curve
    label_mass_curve = ContinuousModel.label_mass_curve
    fr_tv_curve = ContinuousModel.fr_tv_curve
    fr_label_law = ContinuousModel.fr_label_law


jax.tree_util.register_dataclass(
    MonteCarloOnly, data_fields=["means", "log_w", "variances", "evals", "evecs", "ambient_dim"],
    meta_fields=["proc", "cov_kind"])


def mc_only(*args, **kwargs) -> MonteCarloOnly:
    m = gaussian_mixture(*args, **kwargs)
    return MonteCarloOnly(**{f.name: getattr(m, f.name) for f in dataclasses.fields(m)})


def two_gaussians(a):
    """``N(+-a, 1)`` under VE; given as full covariances, so the family's own hooks take the
    Monte Carlo path too (the command-line test below shares these compilations)."""
    return gaussian_mixture([[a], [-a]], covariances=[[[1.0]], [[1.0]]], process="ve")


def within(est, exact, extra=0.0):
    err = np.abs(np.asarray(est) - exact)
    return err, err <= extra + 1e-12


# ---------------------------------------------------------------- estimators vs oracles


def test_tv_overlap_and_bc_of_two_gaussians():
    a, ts = 1.0, np.array([0.0, 0.5, 2.0])
    s = np.sqrt(1.0 + ts)
    tv = estimate.mc_tv(KEY, two_gaussians(a), ts, A, B, CONFIG)
    assert tv.method == "monte-carlo" and tv.value.shape == (3,)
    assert np.all(tv.se > 0) and np.all(tv.bias == 0) and np.all(tv.error == 0)
    err, ok = within(tv.value, 2 * norm.cdf(a / s) - 1, Z * tv.se)
    assert ok.all(), (err, tv.se)
    err, ok = within(tv.log_overlap, np.log(2) + log_ndtr(-a / s), Z * tv.log_overlap_se)
    assert ok.all(), (err, tv.log_overlap_se)
    bc = estimate.mc_bc(KEY, two_gaussians(a), ts, A, B, CONFIG)
    err, ok = within(bc.value, np.exp(-a**2 / (2 * s**2)), Z * bc.se)
    assert ok.all(), (err, bc.se)
    # The same sets give zero exactly.
    same = estimate.mc_tv(KEY, two_gaussians(a), ts, A, A, CONFIG)
    assert np.all(same.value == 0) and np.all(same.se == 0)
    assert np.allclose(same.log_overlap, 0.0, atol=1e-12)


def test_log_overlap_when_tv_is_within_rounding_of_one():
    # 1 - TV = 2 Phi(-a) = 1e-100: TV is 1 in double precision, the log-overlap is not.
    a = 21.3
    exact = math.log(2) + log_ndtr(-a)
    assert -100.5 < exact / math.log(10) < -99.5
    est = estimate.mc_tv(KEY, two_gaussians(a), np.array([0.0]), A, B, CONFIG)
    assert est.value[0] == 1.0
    assert np.isfinite(est.log_overlap[0]) and 0 < est.log_overlap_se[0] < 1
    assert abs(est.log_overlap[0] - exact) <= Z * est.log_overlap_se[0], \
        (est.log_overlap[0], exact, est.log_overlap_se[0])


def _label_mass_oracle(a, t):
    s2 = 1.0 + t
    # pi_t(+ | y) = sigmoid(2 a y / s^2) for y ~ N(a, s^2).
    f = lambda y: norm.pdf(y, a, math.sqrt(s2)) * 0.5 * (1 + math.tanh(a * y / s2))  # noqa: E731
    return integrate.quad(f, -np.inf, np.inf)[0]


def test_label_mass_and_label_law():
    a, ts = 1.0, np.array([0.0, 0.5, 2.0])
    model = two_gaussians(a)
    mass = estimate.mc_label_mass(KEY, model, ts, A, np.array([True, False]), CONFIG)
    exact = np.array([_label_mass_oracle(a, t) for t in ts])
    err, ok = within(mass.value, exact, Z * mass.se)
    assert ok.all(), (err, mass.se)
    law = estimate.mc_label_law(KEY, model, ts, A, CONFIG)
    assert law.value.shape == law.se.shape == (3, 2)
    np.testing.assert_allclose(law.value.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # The same key gives the same draws: the law's first column is the mass.
    np.testing.assert_allclose(law.value[:, 0], mass.value, rtol=0, atol=1e-12)


def test_forward_reverse_label_law_dispatches_to_the_hook():
    model = mc_only(HIERARCHY, process="ou")
    mask = np.array([True, False, False])
    got = localize.forward_reverse_label_law(model, 0.5, mask, key=KEY, config=REPORT_CONFIG)
    assert isinstance(got, localize.Estimate) and got.value.shape == got.se.shape == (3,)
    law = model.fr_label_law(KEY, np.array([0.25, 0.5]), np.array([0.0, -np.inf, -np.inf]),
                             REPORT_CONFIG)
    np.testing.assert_allclose(got.value, law.value[1], rtol=0, atol=1e-12)
    vector = localize.forward_reverse_label_law(model, [0.25, 0.5], mask, key=KEY,
                                                config=REPORT_CONFIG)
    assert vector.value.shape == (2, 3)


def _fr_tv_oracle(a, t, cmp):
    """``TV(p^{A,t}, p^B)`` for ``A = {+}`` by nested quadrature (theory.md §1.4).

    The forward-reverse density is ``p(x) g(x)`` with ``g(x) = E[p_t^A / p_t (x + sqrt(t) G)]``
    (``G ~ N(0, 1)``, Gauss-Hermite inside), integrated against ``cmp`` by ``quad`` outside.
    """
    s = math.sqrt(1.0 + t)
    p = lambda x: 0.5 * norm.pdf(x, a) + 0.5 * norm.pdf(x, -a)  # noqa: E731
    ratio = lambda y: 1.0 + np.tanh(a * y / s**2)  # noqa: E731  p_t^A / p_t
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    weights = weights / weights.sum()

    def g(x):
        return float(np.sum(weights * ratio(x + math.sqrt(t) * nodes)))

    return 0.5 * integrate.quad(lambda x: abs(p(x) * g(x) - cmp(x)), -a - 9, a + 9,
                                points=[0.0], limit=200)[0]


def test_forward_reverse_tv_against_nested_quadrature():
    a, ts = 1.0, np.array([0.0, 0.3, 1.0])
    model = two_gaussians(a)
    for log_cmp, cmp in ((A, lambda x: norm.pdf(x, a)),
                         (HALF, lambda x: 0.5 * norm.pdf(x, a) + 0.5 * norm.pdf(x, -a))):
        est = estimate.mc_fr_tv(KEY, model, ts, A, log_cmp, CONFIG)
        exact = np.array([_fr_tv_oracle(a, t, cmp) for t in ts])
        # At t = 0 nothing is resampled: no inner noise, no bias.
        assert est.bias[0] == 0 and np.all(est.bias[1:] > 0)
        # E[value] lies in [truth, truth + bias] (the inner mean is inside |.|).
        assert np.all(est.value <= exact + est.bias + Z * est.se + 1e-12), (est.value, exact)
        assert np.all(est.value >= exact - Z * est.se - 1e-12), (est.value, exact, est.se)


# ---------------------------------------------------------------- shapes, keys, errors


def test_no_recompilation_for_another_number_of_times():
    model = two_gaussians(1.0)
    calls = [(estimate._divergence_chunk, lambda ts: estimate.mc_tv(KEY, model, ts, A, B,
                                                                    CONFIG)),
             (estimate._label_chunk, lambda ts: estimate.mc_label_law(KEY, model, ts, A,
                                                                      CONFIG)),
             (estimate._fr_chunk, lambda ts: estimate.mc_fr_tv(KEY, model, ts, A, B, CONFIG))]
    for jitted, run in calls:
        run(np.array([0.0, 1.0, 2.0]))
        before = jitted._cache_size()
        run(np.linspace(0.0, 3.0, 11))
        run(np.array([0.25]))
        assert jitted._cache_size() == before


def test_common_random_numbers_make_curves_independent_of_the_other_times():
    model = two_gaussians(1.0)
    whole = estimate.mc_tv(KEY, model, np.linspace(0.0, 2.0, 9), A, B, CONFIG)
    alone = estimate.mc_tv(KEY, model, np.array([0.75]), A, B, CONFIG)
    np.testing.assert_allclose(alone.value, whole.value[3], rtol=0, atol=1e-13)
    # TV is non-increasing in t (data processing); the common draws keep the estimate so.
    assert np.all(np.diff(whole.value) < 0)
    other = estimate.mc_tv(jax.random.key(8), model, np.array([0.75]), A, B, CONFIG)
    assert other.value[0] != alone.value[0]


def test_bad_input_raises():
    model = two_gaussians(1.0)
    with pytest.raises(localize.LocalizeError, match="times"):
        estimate.mc_tv(KEY, model, np.array([-1.0]), A, B, CONFIG)
    with pytest.raises(localize.LocalizeError, match="log_a"):
        estimate.mc_tv(KEY, model, np.array([0.0]), jnp.zeros(3), B, CONFIG)
    with pytest.raises(localize.LocalizeError, match="mask_b"):
        estimate.mc_label_mass(KEY, model, np.array([0.0]), A, np.array([1, 0]), CONFIG)
    with pytest.raises(localize.LocalizeError, match="config"):
        estimate.mc_tv(KEY, model, np.array([0.0]), A, B, {"samples": 10})
    with pytest.raises(localize.LocalizeError, match="estimate.samples"):
        EstimateConfig(samples=1)


# ---------------------------------------------------------------- the window report




def test_continuous_window_report_end_to_end():
    model = mc_only(HIERARCHY, process="ou")
    times = np.linspace(0.0, 3.0, 13)
    rep = localize.window_report(model, [0], [0, 1], 0.1, times, estimate=REPORT_CONFIG)
    j = rep.to_json()
    json.dumps(j, allow_nan=False)
    assert j["estimate"] == {"samples": 4000, "inner_samples": 8, "seed": 3}
    assert set(j["method"].values()) == {"monte-carlo"}
    for name in localize.report.CURVES:
        assert len(j[name]) == len(j[f"{name}_se"]) == times.size, name
        assert all(se >= 0 for se in j[f"{name}_se"]), name
    for name in localize.report.FR_CURVES:
        assert len(j[f"{name}_bias"]) == times.size and min(j[f"{name}_bias"]) >= 0
    # The window of the fine split: ||10 - 9|| e^{-t} <= ~0.5 from t ~ 0.68; the coarse
    # split stays separated (overlap <= eps^2) up to t ~ 1.33 (theory.md §3.1).
    for name, lo, hi in (("T_end", 0.55, 0.8), ("T_start", 1.2, 1.45)):
        t, (a, b) = j[name], j[f"{name}_interval"]
        assert a <= t <= b and lo <= a and b <= hi, (name, t, a, b)
        assert b - a < 0.2 and t not in times  # refined between grid times
    assert j["T_before_C"] == j["T_end"] and j["T_before_C_interval"] == j["T_end_interval"]
    assert j["T_after_C"] is None and j["T_after_C_interval"] is None
    assert j["theorem2_holds"] is True and j["theorem2_margin"] > 0
    text = rep.to_text()
    assert "±" in text and "monte-carlo" in text and "T_end = " in text


def test_continuous_report_with_empty_complement():
    model = mc_only(HIERARCHY, process="ou")
    times = np.linspace(0.0, 6.0, 13)
    rep = localize.window_report(model, [2], [0, 1, 2], 0.1, times, estimate=REPORT_CONFIG)
    assert rep.tv_target_rest is None and rep.tv_target_rest_se is None
    assert rep.method["tv_target_rest"] is None and rep.bc_target_rest is None
    assert rep.exit_mass_target is None and rep.exit_mass_target_se is None
    assert rep.T_start == 6.0 and rep.T_start_interval == [6.0, 6.0]
    # {2} = N(-10) stays separated from N(10), N(9) up to t ~ 1.33, as in the fine split.
    lo, hi = rep.T_after_C_interval
    assert 1.2 <= lo <= rep.T_after_C <= hi <= 1.45
    # The separation condition is vacuous, so T_before_C is T_end: TV(p_t^{2}, p_t) <= 0.1
    # needs 9.75 e^{-t} <= 0.19 (2/3 of a two-point TV).
    assert rep.T_before_C == rep.T_end and 3.7 <= rep.T_end <= 4.2
    assert rep.W == 0.0
    json.dumps(rep.to_json(), allow_nan=False)


@dataclasses.dataclass(frozen=True)
class ClosedFormSeparation(MonteCarloOnly):
    """Two components ``N(+-mu, 1)`` under OU with closed-form TV and BC, the rest sampled.

    In the normalised scale the components are ``N(+-mu, 1 + v(t))``, so for two different
    single components ``TV = 2 Phi(mu / s) - 1`` and ``BC = exp(-mu^2 / (2 s^2))``.
    """

    def _z(self, ts, log_a, log_b):
        mu = abs(float(self.means[0, 0] - self.means[1, 0])) / 2
        same = int(np.argmax(log_a)) == int(np.argmax(log_b))
        return np.zeros(len(ts)) if same else mu / np.sqrt(np.exp(2 * np.asarray(ts)))

    def tv_curve(self, key, ts, log_a, log_b, config):
        z, zeros = self._z(ts, log_a, log_b), np.zeros(len(ts))
        return localize.Estimate(2 * norm.cdf(z) - 1, zeros, "closed-form", zeros, zeros,
                                 np.log(2) + log_ndtr(-z), zeros)

    def bc_curve(self, key, ts, log_a, log_b, config):
        z, zeros = self._z(ts, log_a, log_b), np.zeros(len(ts))
        return localize.Estimate(np.exp(-z**2 / 2), zeros, "closed-form", zeros, zeros)


jax.tree_util.register_dataclass(
    ClosedFormSeparation, data_fields=["means", "log_w", "variances", "evals", "evecs"],
    meta_fields=["proc", "cov_kind", "ambient_dim"])


def test_thresholds_of_exact_curves_are_refined_to_a_tight_bracket():
    m = gaussian_mixture([[4.0], [-4.0]], process="ou")
    model = ClosedFormSeparation(**{f.name: getattr(m, f.name) for f in dataclasses.fields(m)})
    eps = 0.1
    rep = localize.window_report(model, [0], [0], eps, np.linspace(0.0, 2.0, 9),
                                 estimate=REPORT_CONFIG)
    # Overlap 2 Phi(-4 e^{-t}) <= eps^2 exactly up to t* = log(4 / q), q = -Phi^{-1}(eps^2/2).
    t_star = math.log(4.0 / -norm.ppf(eps**2 / 2))
    for name in ("T_start", "T_after_C"):
        lo, hi = getattr(rep, f"{name}_interval")
        assert lo <= getattr(rep, name) <= hi and lo <= t_star <= hi and hi - lo < 1e-9, name
    assert rep.method["tv_target_rest"] == "closed-form"
    assert rep.method["fr_tv_target"] == "monte-carlo"
    assert rep.T_end == 0.0 and rep.T_end_interval == [0.0, 0.0] and rep.T_before_C == 0.0
    assert rep.tv_target_rest_se == [0.0] * 9
    assert rep.theorem2_holds is True
    json.dumps(rep.to_json(), allow_nan=False)


# ---------------------------------------------------------------- config and command line


GAUSSIAN = {
    "model": {"family": "gaussian_mixture", "means": [[1.0], [-1.0]],
              "covariances": [[[1.0]], [[1.0]]]},
    "process": {"kind": "ve"},
    "experiment": {"s_init": [0], "s_target": [0, 1], "eps": 0.2, "times": [0.0, 0.5, 1.0]},
    "estimate": {"samples": CONFIG.samples, "inner_samples": CONFIG.inner_samples, "seed": 1},
}


def _toml(doc):
    def value(v):
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    return "\n".join(f"[{t}]\n" + "\n".join(f"{k} = {value(v)}" for k, v in body.items())
                     for t, body in doc.items()) + "\n"


def test_estimate_table_is_parsed():
    cfg = parse_config(GAUSSIAN)
    assert cfg.estimate == dataclasses.replace(CONFIG, seed=1)
    partial = dict(GAUSSIAN, estimate={"samples": 50})
    assert parse_config(partial).estimate == EstimateConfig(samples=50)
    assert parse_config({k: v for k, v in GAUSSIAN.items() if k != "estimate"}).estimate is None
    families = {f["name"]: {"params": list(f["params"]), "required": f["required"]}
                for f in synthetic.families_info()}
    # Optional parameters may be left out of [model].
    assert parse_config(GAUSSIAN, families=families).family == "gaussian_mixture"


def test_cli_runs_a_gaussian_config_with_estimate(tmp_path, capsys):
    path = tmp_path / "g.toml"
    path.write_text(_toml(GAUSSIAN))
    code = cli.main(["window", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    j = json.loads(out)
    assert j["estimate"] == GAUSSIAN["estimate"]
    assert j["method"]["tv_init_target"] == "monte-carlo"
    assert j["model"]["family"] == "gaussian_mixture"


@pytest.mark.parametrize("table, key, value", [
    ("estimate", "samples", 1),
    ("estimate", "samples", 1.5),
    ("estimate", "inner_samples", -3),
    ("estimate", "seed", -1),
    ("estimate", "bogus", 3),
    ("experiment", "times", [-1.0, 0.0]),
])
def test_cli_rejects_bad_estimate_values(tmp_path, capsys, table, key, value):
    doc = json.loads(json.dumps(GAUSSIAN))
    doc[table][key] = value
    path = tmp_path / "bad.toml"
    path.write_text(_toml(doc))
    code = cli.main(["window", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert f"{table}.{key}" in lines[0], lines[0]
