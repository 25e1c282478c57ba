"""The critical-tokens family ([LKC25] Example 4) against oracles that share no code with it.

* **Raw tokens.** At ``T = 5`` every sequence of ``{0,1,2,3}^5`` is enumerated: tokens 0, 1
  are refusal words and 2, 3 compliance words, with random content laws shared by both modes
  (depending on the position and the previous token), and the path of states is scored by a
  token-by-token state machine (hazards, not the family's closed forms). The curves of the
  window report are then those of ``tests/oracle.py`` with dense prefix kernels.
* **Paths.** At ``n = 13`` response tokens every string of ``{R, C}^13`` is scored by the same
  state machines, the paths of positive probability are kept and observed through dense
  prefix kernels: the reduction's merging of recovery positions is checked where many occur.
* **Closed forms at real lengths.** ``1 - TV(p_t^harmful, p_t^safe)`` written out by hand,
  the thresholds of Definition 4 against them and against the paper's window
  ``[T - T' - k, T - T']``, identical prefix laws on the shared tokens, and the window gone
  after fine-tuning while Theorem 2 still holds.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import localize
from localize import cli
from localize.config import load_config
from localize.errors import LocalizeError
from localize.report import _curves_chunk
from synthetic.critical_tokens import CriticalTokens, critical_tokens
from synthetic.registry import build, families_info

TOL = 1e-12
FIELDS = localize.WindowCurves._fields
SETS = (([0], [0, 1]), ([0], [0]), ([1], [0, 1]), ([1], [1]))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "critical_tokens.toml"


# --------------------------------------------------------------------------------------
# brute-force oracles (NumPy only)


def start_law(k, rho, profile=None):
    """``P_h(a = j)`` for ``j = 1..k``: constant hazard ``1 - rho^(1/k)`` by default."""
    if profile is None:
        c = rho ** (1.0 / k)
        return np.array([c ** (j - 1) * (1.0 - c) for j in range(1, k + 1)])
    p = np.asarray(profile, dtype=np.float64)
    return (1.0 - rho) * p / p.sum()


def harmful_path(states, start, rho):
    """Probability of a string of states under the harmful mode, one token at a time."""
    k, prob, complying = len(start), 1.0, False
    for i, s in enumerate(states, 1):
        if complying:
            if s == "R":
                return 0.0
            continue
        left = rho + start[i - 1:].sum() if i <= k else rho
        hazard = start[i - 1] / left if i <= k and left > 0 else 0.0
        prob *= hazard if s == "C" else 1.0 - hazard
        complying = s == "C"
    return prob


def slipped_path(states, slip, h):
    """Probability of a string of states under a safe answer that slips, then recovers."""
    k, prob, phase = len(slip), 1.0, "refusing"
    for i, s in enumerate(states, 1):
        if phase == "refusing":
            left = slip[i - 1:].sum() if i <= k else 0.0
            if left <= 0:
                return 0.0
            hazard = slip[i - 1] / left
            prob *= hazard if s == "C" else 1.0 - hazard
            phase = "complying" if s == "C" else "refusing"
        elif phase == "complying":
            prob *= h if s == "R" else 1.0 - h
            phase = "recovered" if s == "R" else "complying"
        elif s == "C":
            return 0.0
    return prob


def path_pmfs(paths, p):
    """``(2, len(paths))`` laws of state strings under harmful and safe."""
    start = start_law(p["critical"], p["overlap"], p.get("profile"))
    slip = start / start.sum()
    sigma, h = p.get("corrections", 0.0), p.get("recovery", 0.0)
    out = np.zeros((2, len(paths)))
    for i, s in enumerate(paths):
        out[0, i] = harmful_path(s, start, p["overlap"])
        out[1, i] = (1 - sigma) * float(set(s) <= {"R"}) + sigma * slipped_path(s, slip, h)
    return out


def raw_case(p, seed=0):
    """Every sequence of ``{0,1,2,3}^T`` with its law under both modes."""
    a, length, shared = 4, p["length"], p["shared"]
    rng = np.random.default_rng(seed)
    prompt = rng.dirichlet(np.ones(a), size=(length, a))
    refuse = rng.dirichlet(np.ones(2), size=(length, a))
    comply = rng.dirichlet(np.ones(2), size=(length, a))
    xs = oracle.outcomes(a, length)
    content = np.ones(len(xs))
    for idx, x in enumerate(xs):
        prev = 0
        for i, v in enumerate(x):
            if i < shared:
                content[idx] *= prompt[i, prev, v]
            else:
                content[idx] *= refuse[i, prev, v] if v < 2 else comply[i, prev, v - 2]
            prev = v
    states = ["".join("R" if v < 2 else "C" for v in x[shared:]) for x in xs]
    cache = dict(zip(sorted(set(states)), path_pmfs(sorted(set(states)), p).T, strict=True))
    pmfs = np.stack([cache[s] for s in states], axis=1) * content[None]
    kernels = [oracle.prefix_kernel(a, length, t) for t in range(length + 1)]
    return pmfs, kernels


def paths_case(p):
    """The paths of positive probability among all of ``{R, C}^n``, with prefix kernels."""
    n = p["length"] - p["shared"]
    every = ["".join(s) for s in itertools.product("RC", repeat=n)]
    pm = path_pmfs(every, p)
    keep = pm.sum(axis=0) > 0
    paths = [s for s, k in zip(every, keep, strict=True) if k]
    kernels = []
    for t in range(p["length"] + 1):
        visible = min(max(p["length"] - t - p["shared"], 0), n)
        prefixes = sorted({s[:visible] for s in paths})
        col = {y: i for i, y in enumerate(prefixes)}
        k = np.zeros((len(paths), len(prefixes)))
        for i, s in enumerate(paths):
            k[i, col[s[:visible]]] = 1.0
        kernels.append(k)
    return pm[:, keep], kernels


def assert_curves_match(model, pmfs, kernels, p, sets=SETS):
    times = list(range(p["length"] + 1))
    w = [p.get("weights", (0.5, 0.5))[0], p.get("weights", (0.5, 0.5))[1]]
    np.testing.assert_allclose(pmfs.sum(axis=1), 1.0, atol=1e-12)
    for s_init, s_target in sets:
        got = localize.window_curves(model, s_init, s_target, times)
        want = oracle.curves(w, pmfs, kernels, s_init, s_target)
        for name in FIELDS:
            if want[name] is None:
                continue
            a = np.asarray(getattr(got, name))
            b = np.asarray(want[name])
            where = f"{p} {s_init}->{s_target} {name}"
            if name.startswith("log_"):
                np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), err_msg=where)
                fin = np.isfinite(b)
                np.testing.assert_allclose(np.exp(a[fin]), np.exp(b[fin]), rtol=1e-10,
                                           atol=TOL, err_msg=where)
            else:
                np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=where)


# --------------------------------------------------------------------------------------
# the reduction against the oracles

RAW_CASES = [
    (dict(length=5, shared=1, critical=2, overlap=0.2, weights=(0.3, 0.7)), SETS),
    (dict(length=5, shared=0, critical=2, overlap=0.1, weights=(0.6, 0.4), corrections=0.5,
          recovery=0.3), SETS),
    (dict(length=5, shared=2, critical=2, overlap=0.0, weights=(0.5, 0.5), profile=[0.0, 1.0],
          corrections=1.0, recovery=1.0), SETS[:2]),
]


@pytest.mark.parametrize("p,sets", RAW_CASES, ids=["base", "fine-tuned", "extremes"])
def test_reduction_matches_raw_token_enumeration(p, sets):
    model = critical_tokens(**p)
    pmfs, kernels = raw_case(p)
    assert_curves_match(model, pmfs, kernels, p, sets)


def test_reduction_matches_path_enumeration_with_many_recovery_positions():
    p = dict(length=17, shared=4, critical=4, overlap=0.05, weights=(0.4, 0.6),
             corrections=0.6, recovery=0.15)
    pmfs, kernels = paths_case(p)
    assert_curves_match(critical_tokens(**p), pmfs, kernels, p)


# One compilation (T = 17, k = 4) for every example; the response has 10 to 13 tokens.
@settings(max_examples=min(settings().max_examples, 15))
@given(shared=st.integers(4, 7), rho=st.floats(0, 0.9), sigma=st.floats(0, 1),
       h=st.floats(0, 1), w=st.floats(0.05, 0.95),
       profile=st.one_of(st.none(), st.lists(st.sampled_from([0.0, 0.5, 2.0]), min_size=4,
                                             max_size=4).filter(lambda v: sum(v) > 0)))
def test_reduction_matches_paths_on_random_parameters(shared, rho, sigma, h, w, profile):
    p = dict(length=17, shared=shared, critical=4, overlap=rho, weights=(w, 1 - w),
             profile=profile, corrections=sigma, recovery=h)
    pmfs, kernels = paths_case(p)
    assert_curves_match(critical_tokens(**p), pmfs, kernels, p, sets=SETS[:2])


# --------------------------------------------------------------------------------------
# closed forms and the paper's window at real lengths


def overlap_closed_form(p, visible):
    """``1 - TV(p_t^harmful, p_t^safe)`` with ``visible`` response tokens, written out."""
    k, rho = p["critical"], p["overlap"]
    start = start_law(k, rho, p.get("profile"))
    sigma, h = p.get("corrections", 0.0), p.get("recovery", 0.0)
    out = []
    for m in visible:
        seen = np.arange(1, k + 1) <= m
        h_none = rho + start[~seen].sum()
        s_none = (1 - sigma) + sigma * start[~seen].sum() / (1 - rho)
        j = np.arange(1, k + 1)[seen]
        s_comply = sigma * start[seen] / (1 - rho) * (1 - h) ** (m - j)
        out.append(min(h_none, s_none) + np.minimum(start[seen], s_comply).sum())
    return np.asarray(out)


def exact_window(p, eps):
    """The report's ``(T^C_after, T^C_before)`` for the harmful mode on every time of I."""
    model = critical_tokens(**p)
    times = np.arange(p["length"] + 1)
    r = localize.window_report(model, [0], [0, 1], eps, times)
    return r, times


BIG = dict(length=1000, shared=200, critical=5)


@pytest.mark.parametrize("extra,eps", [
    (dict(overlap=1e-3, weights=(0.5, 0.5)), 0.05),
    (dict(overlap=1e-4, weights=(0.2, 0.8)), 0.02),
    (dict(overlap=0.0, weights=(0.3, 0.7), profile=[0, 0, 0, 0, 1]), 0.1),
    (dict(overlap=0.0, weights=(0.3, 0.7), profile=[1, 0, 0, 0, 0]), 0.1),
])
def test_exact_window_inside_the_papers_window(extra, eps):
    p = {**BIG, **extra}
    r, times = exact_window(p, eps)
    length, shared, k = p["length"], p["shared"], p["critical"]
    visible = np.clip(length - shared - times, 0, length - shared)
    # The whole separation curve against its closed form, and TV(p^h, p) = w_s TV(p^h, p^s).
    want = overlap_closed_form(p, visible)
    np.testing.assert_allclose(np.exp(r.log_overlap_init_rest), want, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(r.tv_init_target, p["weights"][1] * (1 - want), atol=TOL)
    # Forward-reverse: a harmful answer still refusing after l tokens (probability S) is
    # continued by the safe mode w.p. pi(safe | R^l), and then differs from the harmful
    # continuation by 1 - rho / S: TV(p^{h,t}, p^h) = (S - rho) w_s / (w_h S + w_s).
    w_h, w_s = p["weights"]
    s_l = want  # with no fine-tuning the overlap is P_h(no compliance among l tokens)
    np.testing.assert_allclose(r.fr_tv_init, (s_l - p["overlap"]) * w_s / (w_h * s_l + w_s),
                               rtol=1e-12, atol=TOL)
    # Definition 4 from the closed form, then the paper's window around it.
    after = times[want <= eps**2].max()
    before = times[p["weights"][1] * (1 - want) <= eps].min()
    assert (r.T_after_C, r.T_before_C) == (after, before)
    assert length - shared - k <= r.T_after_C <= r.T_before_C <= length - shared
    assert r.theorem2_holds is True


def test_exact_window_equals_the_papers_window_for_a_constant_hazard():
    # rho = 1e-3 over k = 5 tokens: 1 - TV = rho^(l/5) first drops below eps^2 at l = 5,
    # and TV(p^h, p) = (1 - rho^(1/5)) / 2 > eps from the first critical token on.
    p = {**BIG, "overlap": 1e-3, "weights": (0.5, 0.5)}
    r, _ = exact_window(p, 0.05)
    assert (r.T_after_C, r.T_before_C) == (795.0, 800.0)


@pytest.mark.parametrize("fine", [dict(), dict(corrections=0.5, recovery=0.01)])
def test_identical_prefix_laws_on_the_shared_tokens(fine):
    p = {**BIG, "overlap": 1e-3, **fine}
    r, times = exact_window(p, 0.05)
    tv = np.asarray(r.tv_init_rest)
    shared_only = times >= p["length"] - p["shared"]
    assert np.all(tv[shared_only] == 0.0)
    # ... and differ from the first critical token on.
    assert np.all(tv[~shared_only] > 0)
    # Before the split a resample is a fresh draw: TV(p^{h,t}, p) = 0 exactly.
    assert np.all(np.asarray(r.fr_tv_full)[shared_only] <= TOL)


def test_fine_tuning_on_corrections_removes_the_window():
    base = {**BIG, "overlap": 1e-3, "weights": (0.5, 0.5)}
    eps = 0.05
    before, times = exact_window(base, eps)
    tuned = {**base, "corrections": 0.5, "recovery": 0.002}
    after, _ = exact_window(tuned, eps)
    visible = np.clip(base["length"] - base["shared"] - times, 0, None)
    np.testing.assert_allclose(np.exp(after.log_overlap_init_rest),
                               overlap_closed_form(tuned, visible), rtol=1e-12)
    assert before.T_after_C == base["length"] - base["shared"] - base["critical"]
    # Late corrections keep the overlap above eps (so above eps^2) at every time.
    assert after.T_after_C is None
    assert np.exp(min(after.log_overlap_init_rest)) > eps
    # The resample that keeps k harmful tokens is no longer harmful for sure.
    at = list(times).index(before.T_after_C)
    one = localize.window_report(critical_tokens(**tuned), [0], [0], eps, times)
    one_before = localize.window_report(critical_tokens(**base), [0], [0], eps, times)
    assert one.label_mass_target[at] < 0.7 < 0.99 < one_before.label_mass_target[at]
    # Theorem 2 still holds: on [T_end, T] towards Theta, vacuously towards {harmful}, and
    # the sharp form (A) at every time.
    assert after.theorem2_holds is True
    assert one.theorem2_holds is None
    assert np.all(np.asarray(one.fr_tv_target) <= np.asarray(one.exit_mass_target) + TOL)


def test_faster_recovery_pushes_the_window_deep_into_the_answer():
    p = {**BIG, "overlap": 1e-3, "corrections": 0.5, "recovery": 0.05}
    r, _ = exact_window(p, 0.05)
    k_end = p["length"] - p["shared"] - p["critical"]
    assert r.T_after_C is not None and r.T_after_C < k_end - 50
    assert r.theorem2_holds is True


def test_shapes_do_not_depend_on_length_and_same_shapes_do_not_recompile():
    huge = critical_tokens(10**9, 10**6, 5, 0.01, corrections=0.3, recovery=1e-7)
    times = jnp.asarray([0.0, 5.0, 10**9 - 10**6 - 2.0, 10**9])
    clean, noised = jax.jit(jax.vmap(lambda m, t: tuple(m.view(t)), (None, 0)))(huge, times)
    assert clean.shape == (4, 2, 12) and noised.shape == (4, 2, 7)
    np.testing.assert_allclose(np.exp(np.asarray(clean)).sum(-1), 1, atol=1e-12)
    np.testing.assert_allclose(np.exp(np.asarray(noised)).sum(-1), 1, atol=1e-12)
    # The shapes of the example config (T = 400, k = 5, its 21 times): the CLI test below
    # reuses this compilation.
    cfg = load_config(EXAMPLE)
    localize.window_curves(build(cfg.family, **cfg.model_params), [0], [0, 1], cfg.times)
    size = _curves_chunk._cache_size()
    other = critical_tokens(400, 7, 5, 0.2, weights=(0.1, 0.9), corrections=0.2, recovery=0.5)
    localize.window_curves(other, [0], [0, 1], cfg.times)
    assert _curves_chunk._cache_size() == size


# --------------------------------------------------------------------------------------
# interface: validation, registry, config


@pytest.mark.parametrize("kwargs,param", [
    (dict(length=0), "model.length"),
    (dict(length=10.5), "model.length"),
    (dict(shared=10), "model.shared"),
    (dict(shared=-1), "model.shared"),
    (dict(critical=0), "model.critical"),
    (dict(shared=8, critical=3), "model.critical"),
    (dict(overlap=1.0), "model.overlap"),
    (dict(overlap=-0.1), "model.overlap"),
    (dict(overlap=float("nan")), "model.overlap"),
    (dict(overlap="0.1"), "model.overlap"),
    (dict(weights=[0.2, 0.3, 0.5]), "model.weights"),
    (dict(weights=[0.2, 0.3]), "model.weights"),
    (dict(profile=[1.0, 2.0]), "model.profile"),
    (dict(profile=[0.0, 0.0, 0.0]), "model.profile"),
    (dict(profile=[1.0, -1.0, 1.0]), "model.profile"),
    (dict(corrections=1.5), "model.corrections"),
    (dict(recovery=-1e-9), "model.recovery"),
    (dict(process="random_masking"), "process.kind"),
    (dict(process=localize.RandomMasking(10)), "process.kind"),
    (dict(process=localize.Truncation(11)), "process.length"),
    (dict(order=[0, 1]), "process.order"),
])
def test_bad_input_names_the_parameter(kwargs, param):
    args = {"length": 10, "shared": 2, "critical": 3, "overlap": 0.1, **kwargs}
    with pytest.raises(LocalizeError, match=param.replace(".", r"\.")):
        critical_tokens(**args)


def test_registry_lists_documented_parameters_and_builds():
    info = {f["name"]: f for f in families_info()}["critical_tokens"]
    assert info["processes"] == ["truncation"]
    assert set(info["required"]) == {"length", "shared", "critical", "overlap"}
    assert {"weights", "profile", "corrections", "recovery"} <= set(info["params"])
    assert all(len(v) > 20 for v in info["params"].values())
    model = build("critical_tokens", length=50, shared=5, critical=3, overlap=0.01)
    assert isinstance(model, CriticalTokens)
    assert model.describe()["overlap"] == 0.01 and model.describe()["corrections"] == 0.0
    with pytest.raises(LocalizeError, match="model.depth"):
        build("critical_tokens", length=50, shared=5, critical=3, overlap=0.01, depth=2)
    with pytest.raises(LocalizeError, match="model.overlap"):
        build("critical_tokens", length=50, shared=5, critical=3)


def test_example_config_reproduces_the_papers_window(capsys):
    code = cli.main(["window", str(EXAMPLE), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    r = json.loads(out)
    m = r["model"]
    paper = (m["length"] - m["shared"] - m["critical"], m["length"] - m["shared"])
    assert paper[0] <= r["T_after_C"] <= r["T_before_C"] <= paper[1]
    assert r["theorem2_holds"] is True
    assert math.isclose(m["overlap"], 1e-3)


# --------------------------------------------------------------------------------------
# the claims of proofs_check (their instances share the shapes T = 1000, k = 5 of BIG)


def test_claims_hold_and_fail_when_the_statement_is_wrong(monkeypatch):
    from proofs_check import critical_tokens as claims

    ex4, tuned = claims.example4(None), claims.example4_finetune(None)
    assert ex4.holds and tuned.holds, (ex4.detail, tuned.detail)
    json.dumps(ex4.to_json())
    windows = ex4.detail["windows"]
    assert {w["convention"] for w in windows} == {"definition4", "paper"}
    assert any(w["equal"] for w in windows) and not all(w["equal"] for w in windows)
    # The convention matters: eps^2 < rho <= eps has a window in the paper's only.
    assert all(s["exact_T_after_C"] is None for s in ex4.detail["assumption_fails"])
    # A window one token narrower than the paper's is not contained in the exact one ...
    monkeypatch.setattr(claims, "paper_window", lambda t, s, k: (t - s - k + 1, t - s - 1))
    assert not claims.example4(None).holds
    # ... and fast corrections leave a (deep) window, so "no window at any t" fails there.
    monkeypatch.setattr(claims, "FINETUNE", (("jailbreak", 0.5, 0.05, True),))
    assert not claims.example4_finetune(None).holds
