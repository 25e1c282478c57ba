"""The in-context-learning family ([LKC25] Examples 6 and 11, Corollary 3).

The references share no code with the JAX path of :mod:`synthetic.icl`:

* a brute-force NumPy oracle that enumerates every token sequence ``[x_1, y_1, o, ...]``,
  maps it to its prefix at each truncation time with a dense 0/1 kernel, and hands the
  explicit laws to :mod:`tests.oracle` (``oracle.window``), so the count reduction is held
  against the definition on sequences;
* a sequential oracle of the sampler that mixes in the alternative kernel (App. C.2.4):
  user queries, and answers from the model conditioned on a set, with the model's posterior
  read off prefix probabilities summed over sequences;
* the closed forms of Example 11 (tensorization of the Bhattacharyya coefficient).

A hypothesis property runs the brute-force comparison on random instances of one shape (one
compilation); the claims of :mod:`proofs_check.icl` run at sizes that reuse the compilations
of the other tests, and must fail when their inputs are corrupted.
"""

from __future__ import annotations

import itertools
import json
import math

import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import localize
from localize.errors import LocalizeError
from synthetic import icl as ic
from synthetic.registry import build, families_info

TOL = 1e-12
RNG = np.random.default_rng(20250611)


def _random_answers(k, n_x, n_y, zeros=True):
    a = RNG.dirichlet(np.ones(n_y), size=(k, n_x))
    if zeros:
        # A deterministic task on one query: prefixes of probability 0 under some tasks.
        a[0, 0] = np.eye(n_y)[0]
    return a


# Three tasks on 2 queries x 2 answers (one deterministic row), N = 3 (64 sequences).
CASE_A = dict(weights=[0.5, 0.3, 0.2], answers=_random_answers(3, 2, 2), query=[0.6, 0.4],
              n_examples=3)
# Two tasks on 3 queries x 2 answers, N = 2 (36 sequences).
CASE_B = dict(weights=[0.35, 0.65], answers=_random_answers(2, 3, 2, zeros=False),
              query=[0.2, 0.5, 0.3], n_examples=2)


# --------------------------------------------------------------------------------------
# brute-force oracle on token sequences (NumPy and itertools only)


def sequences(n_x, n_y, n):
    """Every sequence as its free tokens ``(x_1, y_1, ..., x_N, y_N)``, lexicographic."""
    pairs = list(itertools.product(range(n_x), range(n_y)))
    return [sum(s, ()) for s in itertools.product(pairs, repeat=n)]


def tokens(free):
    """The full token sequence with delimiters."""
    out = []
    for i in range(0, len(free), 2):
        out += [("x", free[i]), ("y", free[i + 1]), "o"]
    return tuple(out)


def component_pmfs(query_laws, answers, seqs):
    """``(K, S)``: ``prod_i q^theta(x_i) p^theta(y_i | x_i)`` on every sequence."""
    k = len(answers)
    out = np.ones((k, len(seqs)))
    for s, free in enumerate(seqs):
        for th in range(k):
            for i in range(0, len(free), 2):
                out[th, s] *= query_laws[th][free[i]] * answers[th][free[i]][free[i + 1]]
    return out


def prefix_kernels(seqs, times):
    """Dense ``K_t(prefix | sequence)`` for truncation of the last ``t`` tokens."""
    kernels = []
    for t in times:
        heads = [tokens(f)[: len(tokens(f)) - t] for f in seqs]
        ids = {h: i for i, h in enumerate(dict.fromkeys(heads))}
        k = np.zeros((len(seqs), len(ids)))
        for s, h in enumerate(heads):
            k[s, ids[h]] = 1.0
        kernels.append(k)
    return kernels


def prefix_probs(pmf, seqs):
    """``P(free tokens start with h)`` for every prefix ``h`` of free tokens."""
    out = {}
    for p, free in zip(pmf, seqs, strict=True):
        for j in range(len(free) + 1):
            out[free[:j]] = out.get(free[:j], 0.0) + p
    return out


def sampler_law(weights, query_laws, answers, subset, alt_query, seqs, switch=None):
    """``p^{S,alt}`` by its definition, one step at a time; with ``switch = j`` the steps
    from free token ``j`` on use the whole mixture (the forward-reverse experiment)."""
    pmfs = component_pmfs(query_laws, answers, seqs)
    probs = [prefix_probs(p, seqs) for p in pmfs]
    k = len(weights)
    out = np.ones(len(seqs))
    for s, free in enumerate(seqs):
        for j in range(len(free)):
            if alt_query is not None and j % 2 == 0:
                out[s] *= alt_query[free[j]]
                continue
            use = range(k) if (switch is not None and j >= switch) else subset
            num = sum(weights[th] * probs[th].get(free[: j + 1], 0.0) for th in use)
            den = sum(weights[th] * probs[th].get(free[:j], 0.0) for th in use)
            out[s] *= num / den if den > 0 else 0.0
    return out


def free_visible(t, n):
    ell = 3 * n - t
    return 2 * (ell // 3) + min(ell % 3, 2)


def prefix_tv(p, q, seqs, t, n):
    """TV between the laws of the first ``3N - t`` tokens of two sequence laws."""
    vis = free_visible(t, n)
    a, b = {}, {}
    for pi, qi, free in zip(p, q, seqs, strict=True):
        a[free[:vis]] = a.get(free[:vis], 0.0) + pi
        b[free[:vis]] = b.get(free[:vis], 0.0) + qi
    return 0.5 * sum(abs(a[h] - b[h]) for h in a)


def shared(query, k):
    return [list(query)] * k


def _report_vs_oracle(case, s_init, s_target, eps, alt_query=None):
    model = ic.icl(**case, alt_query=alt_query)
    n = case["n_examples"]
    times = list(range(3 * n + 1))
    got = localize.window_report(model, s_init, s_target, eps, times).to_json()
    a = np.asarray(case["answers"])
    q = case["query"] if alt_query is None else alt_query
    seqs = sequences(a.shape[1], a.shape[2], n)
    pmfs = component_pmfs(shared(q, len(a)), a, seqs)
    want = oracle.window(case["weights"], pmfs, prefix_kernels(seqs, times), times, s_init,
                         s_target, eps)
    return model, got, want, seqs


# --------------------------------------------------------------------------------------
# the count reduction against brute force


@pytest.mark.parametrize("case, s_init, s_target, eps", [
    (CASE_A, [0], [0, 1], 0.2),
    (CASE_B, [1], [1], 0.3),
], ids=["K3_2x2_N3", "K2_3x2_N2"])
def test_window_report_matches_brute_force(case, s_init, s_target, eps):
    model, got, want, _ = _report_vs_oracle(case, s_init, s_target, eps)
    _assert_report_matches(got, want)
    assert got["model"]["family"] == "icl"
    json.dumps(got)
    if s_init == s_target:
        # Two exact paths of the package: the learner's error after N - 1 examples on count
        # tables is Theorem 2's left side at t = 2 (regenerate y_N only).
        err = ic.learner_error(model, s_init)
        assert got["fr_tv_init"][2] == pytest.approx(err[case["n_examples"] - 1], abs=TOL)


@settings(max_examples=min(20, settings().max_examples))
@given(seed=st.integers(0, 2**32 - 1), alt=st.booleans())
def test_random_instances_match_brute_force(seed, alt):
    # Three tasks on 2 x 2 cells, N = 3 (the shape of CASE_A: one compilation), random
    # kernels with zeros, weights, query laws, nested sets and eps; with or without a
    # user's query law.
    rng = np.random.default_rng(seed)
    a = rng.dirichlet(np.full(2, 0.5), size=(3, 2))
    a = np.where(a < 0.1, 0.0, a)
    a /= a.sum(axis=-1, keepdims=True)
    case = dict(weights=rng.dirichlet(np.ones(3)), answers=a, query=rng.dirichlet(np.ones(2)),
                n_examples=3)
    target = sorted(rng.choice(3, size=rng.integers(1, 4), replace=False).tolist())
    init = sorted(rng.choice(target, size=rng.integers(1, len(target) + 1),
                             replace=False).tolist())
    alt_query = rng.dirichlet(np.ones(2)) if alt else None
    _, got, want, _ = _report_vs_oracle(case, init, target, float(rng.uniform(0.05, 0.6)),
                                        alt_query=alt_query)
    _assert_report_matches(got, want)


def _assert_report_matches(got, want):
    for name in localize.WindowCurves._fields:
        if want[name] is None:
            assert got[name] is None, name
            continue
        a, b = np.asarray(got[name]), np.asarray(want[name])
        if name.startswith("log_"):
            fin = np.isfinite(b) & (b > -700)
            np.testing.assert_allclose(a[fin], b[fin], atol=1e-10, err_msg=name)
            assert np.all(a[~fin] < -700), name
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=name)
    for name in ("T_start", "T_end", "T_before_C", "T_after_C", "theorem2_holds"):
        assert got[name] == want[name], name
    assert got["W"] == pytest.approx(want["W"], rel=1e-14)


def test_prefix_curves_and_learner_error_match_brute_force():
    a, w, q = np.asarray(CASE_A["answers"]), CASE_A["weights"], CASE_A["query"]
    model = ic.icl(w, a, 3, query=q)
    curves = ic.prefix_curves(model, [0])
    for n in range(4):
        # The model with N = n + 1 truncated at t = 2: n examples and the query x_{n+1}.
        seqs = sequences(2, 2, n + 1)
        pmfs = component_pmfs(shared(q, 3), a, seqs)
        k2, = prefix_kernels(seqs, [2])
        fr = oracle.forward_reverse(w, pmfs, [0], k2)
        assert curves["learner_error"][n] == pytest.approx(
            oracle.tv(fr, oracle.mixture(w, pmfs, [0])), abs=TOL)
        # n visible pairs: the prefix laws at t = 3 in the same model.
        k3, = prefix_kernels(seqs, [3 * (n + 1) - 3 * n])
        p_s, p_r = (oracle.push(oracle.mixture(w, pmfs, s), k3) for s in ([0], [1, 2]))
        p_all = oracle.push(oracle.mixture(w, pmfs), k3)
        post = oracle.label_posterior(w, pmfs @ k3)
        assert curves["tv_rest"][n] == pytest.approx(oracle.tv(p_s, p_r), abs=TOL)
        assert curves["bc_rest"][n] == pytest.approx(oracle.bc(p_s, p_r), abs=TOL)
        assert curves["tv_full"][n] == pytest.approx(oracle.tv(p_s, p_all), abs=TOL)
        assert curves["exit_mass"][n] == pytest.approx(p_s @ post[1:].sum(axis=0), abs=TOL)
        assert np.exp(curves["log_overlap_rest"][n]) == pytest.approx(
            oracle.overlap(p_s, p_r), abs=TOL)


def test_tensorization_is_exact_for_two_tasks():
    # BC(p_n^{theta*}, p_n^{theta'}) = BC(pi^{theta*}, pi^{theta'})^n (Example 11's step).
    # N = 33 shares its compilation with the clean-limit test below (same shapes).
    model = ic.icl([0.5, 0.5], [[[0.9, 0.1], [0.1, 0.9]], [[0.5, 0.5], [0.5, 0.5]]], 33)
    pair = ic.pair_bhattacharyya(model, 0)
    bc1 = math.sqrt(0.45) + math.sqrt(0.05)
    assert pair["bc_rest"] == pytest.approx(bc1, rel=1e-15)
    assert pair["delta"] == pytest.approx(2 - 2 * bc1, rel=1e-14)
    assert pair["delta_min"] == pytest.approx(pair["delta"], rel=1e-14)
    curves = ic.prefix_curves(model, [0])
    np.testing.assert_allclose(curves["bc_rest"], bc1 ** np.arange(34), rtol=1e-12)
    # The chain of Example 11: error <= exit mass <= max(1, W)/2 BC (W = 1 here).
    assert np.all(curves["learner_error"] <= curves["exit_mass"] + TOL)
    assert np.all(curves["exit_mass"] <= 0.5 * curves["bc_rest"] + TOL)


def test_example11_thresholds():
    th = ic.example11_thresholds(0.2, 0.1)
    assert th["corrected"] == pytest.approx(math.log(10) / -math.log(0.9), rel=1e-15)
    assert th["printed"] == pytest.approx(math.log(9), rel=1e-15)
    assert ic.example11_thresholds(0.0, 0.1)["corrected"] == math.inf
    assert ic.example11_thresholds(2.0, 0.1)["corrected"] == 0.0
    for delta, eps in ((-0.1, 0.1), (2.5, 0.1), (0.2, 0.0), (0.2, 1.0)):
        with pytest.raises(LocalizeError, match=r"^(delta|eps):"):
            ic.example11_thresholds(delta, eps)


def test_count_tables():
    for n, cells in ((0, 4), (3, 1), (5, 3), (4, 4)):
        tab = ic.count_tables(n, cells)
        want = sorted(c for c in itertools.product(range(n + 1), repeat=cells) if sum(c) == n)
        assert sorted(map(tuple, tab.tolist())) == want
        assert len(tab) == ic.n_classes(n, cells)
    assert ic.clean_classes(4, 4) == max(ic.n_classes(i, 4) * ic.n_classes(4 - i, 4)
                                         for i in range(5))
    np.testing.assert_array_equal(ic.visible_pairs(np.arange(13), 4),
                                  [4, 4, 3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 0])


# --------------------------------------------------------------------------------------
# Assumption 1 and Corollary 3


def test_assumption1_gap_against_brute_force():
    a = np.asarray(CASE_A["answers"])
    seqs = sequences(2, 2, 3)
    alt = np.array([0.3, 0.7])
    for laws, support in (
        (shared([0.6, 0.4], 3), alt),                          # shared: holds
        ([[0.6, 0.4], [0.2, 0.8], [0.6, 0.4]], alt),            # per-task queries: fails
        ([[1.0, 0.0], [0.5, 0.5], [0.8, 0.2]], alt),            # with a zero query prob
    ):
        pmfs = component_pmfs(laws, a, seqs)
        probs = [prefix_probs(p, seqs) for p in pmfs]
        want = 0.0
        for h in probs[0]:
            if len(h) % 2 or len(h) == 6:
                continue
            for x in range(2):
                if support[x] <= 0:
                    continue
                cond = [probs[th][h + (x,)] / probs[th][h] for th in range(3)
                        if probs[th][h] > 0]
                if len(cond) >= 2:
                    want = max(want, max(cond) - min(cond))
        with np.errstate(divide="ignore"):
            log_laws, log_a = np.log(np.asarray(laws)), np.log(a)
        got = float(ic.assumption1_gap(log_laws, log_a, 3, support))
        assert got == pytest.approx(want, abs=TOL)
    assert want > 0.1


def test_alt_sampler_decomposition_and_its_failure():
    a = np.asarray(CASE_A["answers"])
    w = CASE_A["weights"]
    seqs = sequences(2, 2, 3)
    alt = np.array([0.3, 0.7])
    with np.errstate(divide="ignore"):
        lw, la = np.log(w), np.log(a)
    for laws, holds in ((shared([0.6, 0.4], 3), True),
                        ([[0.6, 0.4], [0.2, 0.8], [0.6, 0.4]], False)):
        log_laws = ic.token_log_laws(np.log(np.asarray(laws)), la, 3)
        full = np.asarray(ic.alt_sampler_law(lw, log_laws, np.ones(3, bool), alt)).ravel()
        want = sampler_law(w, laws, a, [0, 1, 2], alt, seqs)
        np.testing.assert_allclose(np.exp(full), want, atol=TOL)
        parts = [np.exp(np.asarray(ic.alt_sampler_law(lw, log_laws, np.arange(3) == th,
                                                      alt)).ravel()) for th in range(3)]
        # Each p^{theta,alt} is the user's queries with task theta's answers.
        for th in range(3):
            np.testing.assert_allclose(parts[th], component_pmfs(shared(alt, 3), a, seqs)[th],
                                       atol=TOL)
        residual = np.abs(want - sum(wi * p for wi, p in zip(w, parts, strict=True))).max()
        if holds:
            assert residual < TOL
        else:
            assert residual > 1e-3  # Assumption 1 fails and so does the key step


def test_alt_model_matches_the_sampler_and_corollary3():
    alt = [0.9, 0.1]
    s_init, s_target, eps = [0], [0, 1], 0.2
    model, got, want, seqs = _report_vs_oracle(CASE_A, s_init, s_target, eps, alt_query=alt)
    for name in ("tv_init_target", "fr_tv_target", "fr_tv_init", "fr_tv_full"):
        np.testing.assert_allclose(got[name], want[name], atol=TOL, err_msg=name)
    assert model.describe()["model_query"] == CASE_A["query"]
    # The count model's forward-reverse law is the alternative sampler's, from its definition.
    a, w = np.asarray(CASE_A["answers"]), CASE_A["weights"]
    target = sampler_law(w, shared(CASE_A["query"], 3), a, s_target, alt, seqs)
    parts = component_pmfs(shared(alt, 3), a, seqs)
    with np.errstate(divide="ignore"):
        log_laws = ic.token_log_laws(np.log(np.asarray(shared(CASE_A["query"], 3))), np.log(a), 3)
    bound = eps * (1 + max(1.0, got["W"]) / math.sqrt(2))
    for t in range(10):
        fr = sampler_law(w, shared(CASE_A["query"], 3), a, s_init, alt, seqs,
                         switch=free_visible(t, 3))
        assert oracle.tv(fr, target) == pytest.approx(got["fr_tv_target"][t], abs=TOL)
        jax_fr = np.exp(np.asarray(ic.alt_forward_reverse(np.log(w), log_laws,
                                                          np.isin(range(3), s_init), t, alt)))
        np.testing.assert_allclose(jax_fr.ravel(), fr, atol=TOL)
        # The window from the p^{.,alt} prefix laws, and Corollary 3's bound inside it.
        tv_it = prefix_tv(parts[0], (0.5 * parts[0] + 0.3 * parts[1]) / 0.8, seqs, t, 3)
        assert tv_it == pytest.approx(got["tv_init_target"][t], abs=TOL)
        if got["T_end"] is not None and got["T_start"] is not None and (
                got["T_end"] <= t <= got["T_start"]):
            assert oracle.tv(fr, target) <= bound + TOL
    prefix = ic.token_prefix_law(jnp.log(jnp.asarray(target).reshape((2, 2) * 3)), 4)
    assert float(jnp.exp(prefix).sum()) == pytest.approx(1.0, abs=TOL)


# --------------------------------------------------------------------------------------
# bad input and the registry


ARGS = dict(weights=[0.5, 0.5], answers=[[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]],
            n_examples=3)


@pytest.mark.parametrize("kwargs, param", [
    (dict(weights=[0.5, 0.6]), "model.weights"),
    (dict(answers=[[0.9, 0.1], [0.5, 0.5]]), "model.answers"),
    (dict(answers=[[[0.9, 0.1]], [[0.5, 0.5]], [[0.5, 0.5]]]), "model.answers"),
    (dict(answers=[[[0.9, 0.2], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]]),
     r"model.answers\[0\]\[0\]"),
    (dict(answers=[[[1.1, -0.1]], [[0.5, 0.5]]]), "model.answers"),
    (dict(answers="abc"), "model.answers"),
    (dict(answers=np.full((2, 5, 4), 0.25)), "model.answers"),
    (dict(n_examples=0), "model.n_examples"),
    (dict(n_examples=2.5), "model.n_examples"),
    (dict(n_examples=True), "model.n_examples"),
    (dict(n_examples=10_000), "model.n_examples"),
    (dict(query=[0.5, 0.4]), "model.query"),
    (dict(query=[1.0]), "model.query"),
    (dict(query=[1.0, 0.0], alt_query=[0.5, 0.5]), "model.alt_query"),
    (dict(alt_query=[0.5, 0.6]), "model.alt_query"),
    (dict(process="random_masking"), "process.kind"),
    (dict(process=localize.RandomMasking(9)), "process.kind"),
    (dict(process=localize.Truncation(8)), "process.length"),
    (dict(order=[0, 1]), "process.order"),
])
def test_bad_inputs_name_the_parameter(kwargs, param):
    with pytest.raises(LocalizeError, match=rf"^{param}:"):
        ic.icl(**{**ARGS, **kwargs})


def test_bad_sets_sizes_and_the_clean_limit():
    model = ic.icl(**ARGS)
    with pytest.raises(LocalizeError, match=r"^s_after:"):
        ic.prefix_curves(model, [0, 1])
    with pytest.raises(LocalizeError, match=r"^s_after:"):
        ic.prefix_curves(model, [2])
    for bad_theta in (2, -1, True, 0.5):
        with pytest.raises(LocalizeError, match=r"^theta_star:"):
            ic.pair_bhattacharyya(model, bad_theta)
    with pytest.raises(LocalizeError, match=r"^n_examples:"):
        ic.token_log_laws(np.zeros((2, 2)), np.zeros((2, 2, 2)), 9)
    # Beyond the clean-space cap the prefix laws still work; a window report refuses.
    big = ic.icl(**{**ARGS, "n_examples": 33})
    assert big.clean_size == 0 and ic.learner_error(big, [0]).shape == (34,)
    with pytest.raises(LocalizeError, match=r"^model.n_examples: expected at most 32"):
        localize.window_report(big, [0], [0, 1], 0.1, [0, 1])


def test_registry():
    info = {f["name"]: f for f in families_info()}["icl"]
    assert info["processes"] == ["truncation"]
    assert set(info["params"]) == {"weights", "answers", "n_examples", "query", "alt_query"}
    assert set(info["required"]) == {"weights", "answers", "n_examples"}
    model = build("icl", **ARGS, alt_query=[0.25, 0.75])
    assert isinstance(model, ic.ICLMixture) and model.process.length == 9
    described = model.describe()
    assert described["family"] == "icl" and described["n_examples"] == 3
    assert described["query"] == [0.25, 0.75] and described["model_query"] == [0.5, 0.5]
    json.dumps(described)
    with pytest.raises(LocalizeError, match=r"^model.n_examples:"):
        build("icl", weights=[1.0], answers=[[[0.5, 0.5]]])
    with pytest.raises(LocalizeError, match=r"^process.kind:"):
        build("icl", process="ordered_masking", order=[0], **ARGS)


# --------------------------------------------------------------------------------------
# the claims of proofs_check.icl, at sizes that reuse the compilations above


@pytest.fixture
def small_claims(monkeypatch):
    from proofs_check import icl as pc

    three = pc.ICLCase("three", (0.5, 0.3, 0.2), (pc.IDENTITY, pc.FLIP, pc.GUESS), (0.6, 0.4))
    two = pc.ICLCase("two", (0.3, 0.7), (pc.IDENTITY, pc.FLIP), (0.5, 0.5))
    # Example 11 on N = 33 (K = 2, as the tensorization test), Example 6 and Corollary 3 on
    # three tasks at N = 3 (as CASE_A).
    monkeypatch.setattr(pc, "EXAMPLE11_N", 33)
    monkeypatch.setattr(pc, "EXAMPLE11_CASES", (two,))
    monkeypatch.setattr(pc, "ASSUMPTION5_COUNTEREXAMPLE", two)
    monkeypatch.setattr(pc, "EXAMPLE6_CASE", three)
    monkeypatch.setattr(pc, "EXAMPLE6_N", 3)
    monkeypatch.setattr(pc, "EXAMPLE6_EPS", 0.3)
    monkeypatch.setattr(pc, "COROLLARY3_COUNT_N", 3)
    return pc


def test_example11_claim_holds_and_can_fail(small_claims, monkeypatch):
    pc = small_claims
    res = pc.example11_icl(None)
    assert res.holds, res.detail
    json.dumps(res.to_json())
    rows = res.detail["instances"]["two"]["rows"]
    # delta = 0.8 here: corrected ln(1/eps)/ln(1/0.6), printed ln(0.6/eps).
    assert rows[1]["corrected"] == pytest.approx(math.log(10) / math.log(1 / 0.6))
    assert rows[1]["printed"] == pytest.approx(math.log(6))
    decay = res.detail["instances"]["two"]["decay_per_example"]
    assert decay["learner_error_agrees_with"] == decay["one_minus_tv_agrees_with"] == "corrected"
    # The tensorized BC decays exactly at the corrected rate -ln(1 - delta/2) = ln(1/0.6).
    assert decay["bc"] == pytest.approx(math.log(1 / 0.6), rel=1e-10)
    ex6 = res.detail["example6"]
    if ex6["n_star"] is not None:
        assert ex6["T_after_C"] == 3 * 3 - (3 * ex6["n_star"] - 1)
    # The printed threshold in place of the corrected one: the error bound fails.
    real = ic.example11_thresholds
    monkeypatch.setattr(ic, "example11_thresholds", lambda d, e: {
        **real(d, e), "corrected": real(d, e)["printed"]})
    assert not pc.example11_icl(None).holds


def test_corollary3_claim_holds_and_can_fail(small_claims, monkeypatch):
    pc = small_claims
    res = pc.corollary3(None)
    assert res.holds, res.detail
    assert res.detail["nonvacuous_windows"]["token"] > 0
    assert res.detail["assumption1_gap"] < TOL
    assert res.detail["negative_control"]["key_step_residual"] > 1e-3
    json.dumps(res.to_json())
    # A count model that ignores the user's queries no longer matches the sampler.
    monkeypatch.setattr(ic, "alt_model", lambda model, alt: model)
    bad_ = pc.corollary3(None)
    assert not bad_.holds
    assert not bad_.detail["side_checks"]["count_model_equals_sampler"]["holds"]
