"""Property tests of theory.md section 6, items 1-16, on random small finite instances.

Each example draws a shape ``(K, A, L)``, a process, a seed, a *source* for the components
(Dirichlet pmfs on ``A^L``, or the exact laws of random Markov chains or hidden Markov
models of issue 4, enumerated by :meth:`synthetic.MarkovMixture.finite`), and sets of
components; the quantity under test comes from the package and, where an
independent value is needed, from the brute-force oracle (``tests/oracle.py``).

Compilation dominates the cost, so every example goes through one jitted function,
``conftest.package_tables``, that evaluates the package on *every* non-empty set of
components and every time at once; its compilations are shared by all the tests (one per
class of :data:`COMBOS`). Sets are bit masks: component ``i`` is bit ``i`` and set ``b`` is
row ``b - 1`` of every per-set table.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import numpy as np
import oracle
from conftest import tables
from hypothesis import assume, given
from hypothesis import strategies as st
from jax.nn import logsumexp

from localize import divergences as dv
from localize.windows import t_after_c, t_before_c, t_end, t_start, theorem2_bound
from synthetic import finite_mixture, random_hmm, random_markov

# (K, A, L, process) classes covering K = 2..5, A = 2..3, L = 1..4 and the three processes:
# each class is one compilation of conftest.package_tables, shared by every test (and by
# test_core, whose reference cases use the same classes).
COMBOS = (
    (2, 2, 1, "truncation"),
    (2, 2, 1, "random_masking"),
    (5, 2, 3, "truncation"),
    (5, 2, 3, "ordered_masking"),
    (5, 2, 3, "random_masking"),
    (3, 3, 2, "ordered_masking"),
    (3, 3, 2, "random_masking"),
    (4, 2, 4, "truncation"),
)
# One masking order per length (each order is a separate compilation); test_core checks
# the masking probabilities of other orders against the oracle.
ORDERS = {2: (1, 0), 3: (1, 2, 0)}
N_RANDOM_TIMES = 5
TOL = 1e-12


def _members(bits):
    bits = int(bits)
    return [i for i in range(bits.bit_length()) if (bits >> i) & 1]


@jax.jit
def _pair_tv(xs, ys):
    return jax.vmap(lambda a: jax.vmap(lambda b: dv.tv(a, b))(ys))(xs)


class Instance(NamedTuple):
    k: int
    a: int
    length: int
    kind: str
    order: tuple | None
    times: tuple
    seed: int
    concentration: float
    sparse: bool
    weights: np.ndarray
    pmfs: np.ndarray  # (K, A^L), lexicographic
    model: object
    res: dict  # conftest.tables(model, times): leading axis time, then set(s)
    source: str = "dirichlet"  # or "markov" / "hmm": the components are chains' laws

    def __repr__(self):
        return (f"Instance(K={self.k}, A={self.a}, L={self.length}, kind={self.kind!r}, "
                f"order={self.order}, times={self.times}, seed={self.seed}, "
                f"concentration={self.concentration}, sparse={self.sparse}, "
                f"source={self.source!r})")

    def kernel(self, t, rep="masked"):
        return oracle.kernel(self.kind, self.a, self.length, t, self.order, rep)

    def full(self):
        return 2**self.k - 1

    def w(self, bits):
        return float(self.weights[_members(bits)].sum())

    def flat(self, name, ti, bits):
        """``exp`` of a per-set table at time index ``ti``, flattened."""
        return np.exp(self.res[name][ti, bits - 1]).ravel()


def _random_pmfs(seed, k, size, concentration, sparse):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(k))
    pmfs = rng.dirichlet(np.full(size, concentration), k)
    if sparse:
        # Exact zeros: drop about a third of the outcomes of each component (keeping its mode).
        keep = rng.random(pmfs.shape) > 0.35
        keep[np.arange(k), np.argmax(pmfs, axis=1)] = True
        pmfs = np.where(keep, pmfs, 0.0)
    return weights / weights.sum(), pmfs / pmfs.sum(axis=1, keepdims=True)


def _chain_pmfs(source, seed, k, a, length):
    """Weights and exact ``A^L`` pmfs of random Markov chains or HMMs (issue 4's families)."""
    key = jax.random.key(seed)
    if source == "markov":
        chain = random_markov(key, k, a, length)
    else:
        chain = random_hmm(key, k, 2, a, length)
    table = np.exp(np.asarray(chain.finite().log_pmfs)).reshape(k, a**length)
    weights = np.exp(np.asarray(chain.log_weights))
    return weights / weights.sum(), table / table.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=64)
def _instance(k, a, length, kind, order, times, seed, concentration, sparse, mix_with=None,
              source="dirichlet"):
    if source == "dirichlet":
        weights, pmfs = _random_pmfs(seed, k, a**length, concentration, sparse)
    else:
        weights, pmfs = _chain_pmfs(source, seed, k, a, length)
    if mix_with is not None:
        # Corollary 2: same weights, components moved by at most delta in TV.
        other_seed, delta = mix_with
        _, other = _random_pmfs(other_seed, k, a**length, 1.0, False)
        pmfs = (1.0 - delta) * pmfs + delta * other
        pmfs = pmfs / pmfs.sum(axis=1, keepdims=True)
    model = finite_mixture(weights, pmfs, a, length, kind, list(order) if order else None)
    return Instance(k, a, length, kind, order, times, seed, concentration, sparse, weights, pmfs,
                    model, tables(model, times), source)


@st.composite
def instances(draw):
    k, a, length, kind = draw(st.sampled_from(COMBOS))
    order = ORDERS[length] if kind == "ordered_masking" else None
    if kind == "random_masking":
        inner = draw(st.lists(st.floats(0.005, 0.995), min_size=N_RANDOM_TIMES - 2,
                              max_size=N_RANDOM_TIMES - 2, unique=True))
        times = (0.0, *sorted(inner), 1.0)
    else:
        times = tuple(float(t) for t in range(length + 1))
    seed = draw(st.integers(0, 2**32 - 1))
    concentration = draw(st.sampled_from((0.3, 0.3, 0.1, 1.0)))
    sparse = draw(st.booleans())
    # Half the examples are mixtures of random Markov chains or HMMs (issue 4, part 8).
    source = draw(st.sampled_from(("dirichlet", "dirichlet", "markov", "hmm")))
    return _instance(k, a, length, kind, order, times, seed, concentration, sparse,
                     source=source)


def proper_subsets(k):
    """A non-empty proper subset of ``{0..k-1}`` as a bit mask."""
    return st.integers(1, 2**k - 2)


def submask(draw, bits):
    """A non-empty subset of ``bits``."""
    subs = [b for b in range(1, bits + 1) if b & ~bits == 0]
    return draw(st.sampled_from(subs))


def assert_leq(a, b, rtol=TOL, atol=TOL, what=""):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    ok = (b == np.inf) | (a == -np.inf) | (np.isfinite(a) & (a <= b + atol + rtol * np.abs(b)))
    assert np.all(ok), f"{what}: {a[~ok][:5]} > {b[~ok][:5]}"


def assert_close(a, b, rtol=TOL, atol=TOL, what=""):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _sqrt_one_minus_tv2(log_ov):
    """``sqrt(1 - TV^2) = sqrt(ov (2 - ov))`` from the log-overlap ``ov = 1 - TV``."""
    ov = np.exp(log_ov)
    return np.sqrt(ov * (2.0 - ov))


# --------------------------------------------------------------------------------------
# 1. linearity of noised marginals


@given(instances())
def test_linearity_of_noised_marginals(inst):
    for ti, t in enumerate(inst.times):
        noised = inst.pmfs @ inst.kernel(t)
        for bits in range(1, inst.full() + 1):
            expected = sum(inst.weights[i] * noised[i] for i in _members(bits)) / inst.w(bits)
            assert_close(inst.flat("noised", ti, bits), expected, what=f"t={t} S={bits}")


# --------------------------------------------------------------------------------------
# 2. DPI along the forward process


@given(instances())
def test_divergences_monotone_along_forward_process(inst):
    r = inst.res
    for name in ("tv", "hellinger_sq", "kl", "chi_square"):
        assert_leq(r[name][1:], r[name][:-1], what=name)
    assert_leq(r["bhattacharyya"][:-1], r["bhattacharyya"][1:], what="bhattacharyya")
    assert_leq(r["log_overlap"][:-1], r["log_overlap"][1:], what="log_overlap")
    # Not vacuous: with distinct components the divergence at t = 0 is positive somewhere.
    assert r["tv"][0].max() > 0 or np.ptp(inst.pmfs, axis=0).max() == 0


# --------------------------------------------------------------------------------------
# 3. boundary behaviour


@given(instances())
def test_boundary_behaviour(inst):
    first, last = 0, len(inst.times) - 1
    # The preconditions: K_{t_0} is the identity, K_{t_m} does not depend on x.
    k_first, k_last = inst.kernel(inst.times[first]), inst.kernel(inst.times[last])
    cols = _identity_columns(inst.a, inst.length)
    assert np.array_equal(k_first[:, cols], np.eye(inst.a**inst.length))
    assert np.array_equal(k_first.sum(axis=1), np.ones(len(k_first)))
    assert np.array_equal(k_last, np.broadcast_to(k_last[:1], k_last.shape))
    p = inst.flat("clean", first, inst.full())
    for bits in range(1, inst.full() + 1):
        # K_{t_0} = Id: the experiment returns p^S; K_{t_m} uninformative: it returns p.
        assert_close(inst.flat("fr", first, bits), inst.flat("clean", first, bits))
        assert_close(inst.flat("fr", last, bits), p)


def _identity_columns(a, length):
    """Columns of ``(A+1)^L`` that are unmasked sequences, in the order of ``A^L``."""
    obs = oracle.observations(a, length)
    visible = np.all(obs < a, axis=1)
    return np.flatnonzero(visible)


# --------------------------------------------------------------------------------------
# 4. normalization, closed form, truncation prefix form


@given(instances())
def test_forward_reverse_normalized_and_closed_form(inst):
    a, length = inst.a, inst.length
    p = oracle.mixture(inst.weights, inst.pmfs)
    for ti, t in enumerate(inst.times):
        k_t = inst.kernel(t)
        for bits in range(1, inst.full() + 1):
            law = inst.flat("fr", ti, bits)
            assert abs(law.sum() - 1.0) < 1e-13
            expected = oracle.forward_reverse(inst.weights, inst.pmfs, _members(bits), k_t)
            assert_close(law, expected, what=f"t={t} S={bits}")
            if inst.kind == "truncation":
                keep = length - int(t)
                ps = oracle.mixture(inst.weights, inst.pmfs, _members(bits))
                prefix_s = ps.reshape(a**keep, -1).sum(axis=1)
                joint = p.reshape(a**keep, -1)
                prefix = joint.sum(axis=1, keepdims=True)
                cond = np.where(prefix > 0, joint / np.where(prefix > 0, prefix, 1.0), 0.0)
                assert_close(law, (prefix_s[:, None] * cond).ravel(), what="prefix form")


# --------------------------------------------------------------------------------------
# 5. Remark 2: sum_i w(S_i) p^{S_i,t} = p for every partition


@given(st.data())
def test_remark2_decomposition(data):
    inst = data.draw(instances())
    labels = data.draw(st.lists(st.integers(0, inst.k - 1), min_size=inst.k, max_size=inst.k))
    blocks = {}
    for i, lab in enumerate(labels):
        blocks[lab] = blocks.get(lab, 0) | (1 << i)
    for ti in range(len(inst.times)):
        total = sum(inst.w(b) * inst.flat("fr", ti, b) for b in blocks.values())
        assert_close(total, inst.flat("clean", ti, inst.full()))


# --------------------------------------------------------------------------------------
# 6. posterior martingale


@given(instances())
def test_posterior_martingale_mean(inst):
    for ti in range(len(inst.times)):
        p_t = inst.flat("noised", ti, inst.full())
        post = np.exp(inst.res["post"][ti]).reshape(inst.k, -1)
        assert_close(post @ p_t, inst.weights)
        assert_close(inst.res["fr_label"][ti, inst.full() - 1], inst.weights)
        assert_close(inst.res["label_law"][ti, inst.full() - 1], inst.weights)


@given(instances())
def test_posterior_martingale_reverse_kernel(inst):
    times = inst.times
    for i, t in enumerate(times):
        k_t = inst.kernel(t)
        post_t = np.exp(inst.res["post"][i]).reshape(inst.k, -1)
        for j in range(i + 1, len(times)):
            m = oracle.transition(inst.kind, inst.a, inst.length, t, times[j], inst.order)
            # The oracle's transition is Markov-consistent: K_t M = K_{t'}.
            assert_close(k_t @ m, inst.kernel(times[j]))
            rev = oracle.reverse_kernel(inst.weights, inst.pmfs, k_t, m)
            post_t2 = np.exp(inst.res["post"][j]).reshape(inst.k, -1)
            on = inst.flat("noised", j, inst.full()) > 0
            assert_close((post_t @ rev)[:, on], post_t2[:, on], what=f"t={t} t'={times[j]}")


# --------------------------------------------------------------------------------------
# 7. label law of the forward-reverse output and the chi-square identity


@given(instances())
def test_label_law_and_chi_square_identity(inst):
    full = inst.full()
    for bits in range(1, full + 1):
        members = _members(bits)
        stay = []
        for ti, t in enumerate(inst.times):
            law = inst.res["fr_label"][ti, bits - 1]
            assert_close(law, oracle.label_law(inst.weights, inst.pmfs, members, inst.kernel(t)))
            assert abs(law.sum() - 1.0) < 1e-13
            chi2 = inst.res["chi_square"][ti, bits - 1, full - 1]
            mass = law[members].sum()
            assert_close(mass, inst.w(bits) * (1.0 + chi2), rtol=1e-11)
            stay.append(mass)
        assert_leq(np.diff(stay), 0.0, what="stay-in-S mass increased")
        assert_leq(inst.w(bits), np.array(stay), what="stay-in-S below w(S)")


# --------------------------------------------------------------------------------------
# 8. Lemma 3 with its exact identity; 9. Lemma 4


@given(st.data())
def test_lemma3_posterior_l1_identity(data):
    inst = data.draw(instances())
    s = data.draw(proper_subsets(inst.k))
    c = inst.full() ^ s
    p = oracle.mixture(inst.weights, inst.pmfs)
    p_s = oracle.mixture(inst.weights, inst.pmfs, _members(s))
    p_c = oracle.mixture(inst.weights, inst.pmfs, _members(c))
    for ti, t in enumerate(inst.times):
        k_t = inst.kernel(t)
        post, post_s, post_c = (oracle.posterior_x(q, k_t) for q in (p, p_s, p_c))
        pi_c = np.exp(inst.res["set_post"][ti, c - 1]).ravel()
        on = inst.flat("noised", ti, s) > 0
        lhs = np.abs(post - post_s).sum(axis=0)
        gap = np.abs(post_s - post_c).sum(axis=0)
        # Where p_t^C(y) = 0 the posterior given C is undefined and pi_t(C | y) = 0.
        gap = np.where(inst.flat("noised", ti, c) > 0, gap, 0.0)
        assert_close(lhs[on], (pi_c * gap)[on], what=f"identity t={t}")
        assert_leq(lhs[on], 2.0 * pi_c[on], what=f"Lemma 3 t={t}")


@given(st.data())
def test_lemma4_bayes_bound(data):
    inst = data.draw(instances())
    s = data.draw(proper_subsets(inst.k))
    c = inst.full() ^ s
    w_ratio = inst.w(c) / inst.w(s)
    for ti in range(len(inst.times)):
        on = inst.flat("noised", ti, inst.full()) > 0
        a, b = inst.flat("noised", ti, c)[on], inst.flat("noised", ti, s)[on]
        pi_c = np.exp(inst.res["set_post"][ti, c - 1]).ravel()[on]
        # The exact form pi = W a / (W a + b), then the bound of Lemma 4.
        assert_close(pi_c, w_ratio * a / (w_ratio * a + b))
        assert_leq(pi_c, max(1.0, w_ratio) * a / (a + b), what="Lemma 4")


# --------------------------------------------------------------------------------------
# 10. Lemmas 1 and 7, and 1 - BC <= TV <= sqrt(1 - BC^2)


@given(instances())
def test_lemmas_1_and_7(inst):
    r = inst.res
    po, bcoef, tvs, lo = r["posterior_overlap"], r["bhattacharyya"], r["tv"], r["log_overlap"]
    assert_leq(po, 0.5 * bcoef, what="Lemma 7")
    assert_leq(po, 0.5 * _sqrt_one_minus_tv2(lo), what="Lemma 1")
    # BC <= sqrt(1 - TV^2) in the squared form, and accurately near TV = 1 via the overlap.
    assert_leq(bcoef**2 + tvs**2, 1.0, what="BC^2 + TV^2 <= 1")
    ov = np.exp(lo)
    assert_leq(bcoef**2, ov * (2.0 - ov), what="BC^2 <= 1 - TV^2 near TV = 1")
    assert_leq(1.0 - bcoef, tvs, what="1 - BC <= TV")
    assert_close(r["hellinger_sq"], 2.0 - 2.0 * bcoef)
    assert_close(ov, 1.0 - tvs)


# --------------------------------------------------------------------------------------
# 11. term (I): the posterior kernel contracts TV


@given(instances())
def test_term_one_contraction(inst):
    assert_leq(inst.res["fr_tv_fr"], inst.res["tv"], what="TV(p^{A,t}, p^{B,t})")


# --------------------------------------------------------------------------------------
# 12. term (II)


def _exit_mass(inst, s, c):
    """``E_{Y ~ p_t^S}[pi_t(C | Y)]`` from the package's set posterior, for arrays of sets.

    Returns ``(T, len(s))``.
    """
    s, c = np.asarray(s), np.asarray(c)
    joint = inst.res["noised"][:, s - 1] + inst.res["set_post"][:, c - 1]
    return np.exp(logsumexp(joint.reshape(joint.shape[:2] + (-1,)), axis=-1))


@given(instances())
def test_term_two(inst):
    full, r = inst.full(), inst.res
    s = np.arange(1, full)
    c = full ^ s
    scale = 0.5 * np.maximum(1.0, [inst.w(ci) / inst.w(si) for si, ci in zip(s, c, strict=True)])
    lhs = r["fr_tv_clean"][:, s - 1, s - 1]
    exit_mass = _exit_mass(inst, s, c)
    stay = np.stack([r["fr_label"][:, si - 1, _members(si)].sum(axis=-1) for si in s], axis=1)
    assert_close(exit_mass, 1.0 - stay)
    hell = scale * r["bhattacharyya"][:, s - 1, c - 1]
    tvf = scale * _sqrt_one_minus_tv2(r["log_overlap"][:, s - 1, c - 1])
    assert_leq(lhs, exit_mass, what="(II) <= E pi(C)")
    assert_leq(exit_mass, hell, what="E pi(C) <= max(1,W) BC / 2")
    assert_leq(hell, tvf, what="BC form <= TV form")


# --------------------------------------------------------------------------------------
# 13. Theorem 2: sharp forms (A), (B), (C), as stated, and the threshold form


def _nested_pairs(k):
    full = 2**k - 1
    for target in range(1, full):
        for init in range(1, target + 1):
            if init & ~target == 0:
                yield init, target


@given(instances())
def test_theorem2_sharp_forms(inst):
    full, r = inst.full(), inst.res
    init, target = np.array(list(_nested_pairs(inst.k))).T
    c = full ^ target
    w_ratio = np.array([inst.w(ci) / inst.w(ti) for ti, ci in zip(target, c, strict=True)])
    scale = 0.5 * np.maximum(1.0, w_ratio)
    lhs = r["fr_tv_clean"][:, init - 1, target - 1]
    tv_it = r["tv"][:, init - 1, target - 1]
    log_ov = r["log_overlap"][:, target - 1, c - 1]
    form_a = tv_it + _exit_mass(inst, target, c)
    form_b = tv_it + scale * r["bhattacharyya"][:, target - 1, c - 1]
    form_c = tv_it + scale * _sqrt_one_minus_tv2(log_ov)
    assert_leq(lhs, form_a, what="(A)")
    assert_leq(form_a, form_b, what="(A) <= (B)")
    assert_leq(form_b, form_c, what="(B) <= (C)")
    # As stated: at the smallest eps meeting both hypotheses, eps(1 + max(1,W)/sqrt 2) holds.
    eps = np.maximum(tv_it, np.sqrt(np.exp(log_ov)))
    bound = eps * (1.0 + np.maximum(1.0, w_ratio) / math.sqrt(2.0))
    applies = eps < 1.0
    assert_leq(lhs[applies], bound[applies], what="Theorem 2 as stated")
    # The package's bound is the same function of eps and W.
    for e, wr in zip(eps[applies][:5], np.broadcast_to(w_ratio, eps.shape)[applies][:5],
                     strict=True):
        assert math.isclose(theorem2_bound(float(e), float(wr)),
                            e * (1 + max(1.0, wr) / math.sqrt(2)), rel_tol=1e-15)


@given(st.data())
def test_theorem2_threshold_form(data):
    inst = data.draw(instances())
    target = data.draw(proper_subsets(inst.k))
    init = submask(data.draw, target)
    eps = data.draw(st.floats(0.01, 0.99))
    full, times, r = inst.full(), np.asarray(inst.times), inst.res
    c = full ^ target
    tv_it = r["tv"][:, init - 1, target - 1]
    tv_tc, lo_tc = r["tv"][:, target - 1, c - 1], r["log_overlap"][:, target - 1, c - 1]
    tv_ir = r["tv"][:, init - 1, (full ^ init) - 1]
    lo_ir = r["log_overlap"][:, init - 1, (full ^ init) - 1]

    # The oracle's curves, with ties against eps (probability zero) skipped.
    kernels = [inst.kernel(t) for t in inst.times]
    law = lambda bits, kt: oracle.push(  # noqa: E731
        oracle.mixture(inst.weights, inst.pmfs, _members(bits)), kt)
    o_it = [oracle.tv(law(init, kt), law(target, kt)) for kt in kernels]
    o_tc = [oracle.overlap(law(target, kt), law(c, kt)) for kt in kernels]
    o_ir = [oracle.overlap(law(init, kt), law(full ^ init, kt)) for kt in kernels]
    assume(all(abs(v - eps) > 1e-9 for v in o_it))
    assume(all(abs(v - eps**2) > 1e-9 * eps**2 for v in o_tc + o_ir))
    expected = oracle.thresholds(inst.times, o_it, o_tc, o_ir, eps)

    ts, te = t_start(times, tv_tc, eps, log_overlap=lo_tc), t_end(times, tv_it, eps)
    assert ts == expected["T_start"] and te == expected["T_end"]
    assert t_before_c(times, tv_it, tv_tc, eps, log_overlap=lo_tc) == expected["T_before_C"]
    assert t_after_c(times, tv_ir, eps, log_overlap=lo_ir) == expected["T_after_C"]
    w_ratio = inst.w(c) / inst.w(target)
    if ts is None or te is None:
        return
    for ti, t in enumerate(times):
        if te <= t <= ts:
            # By DPI both hypotheses hold throughout [T_end, T_start], and so does the bound.
            assert tv_it[ti] <= eps and lo_tc[ti] <= 2 * math.log(eps)
            assert_leq(r["fr_tv_clean"][ti, init - 1, target - 1], theorem2_bound(eps, w_ratio))


# --------------------------------------------------------------------------------------
# 14. S_target = Theta


@given(instances())
def test_target_is_everything(inst):
    full, r = inst.full(), inst.res
    singles = [1 << i for i in range(inst.k)]
    for s in range(1, full + 1):
        for ti in range(len(inst.times)):
            pair_max = max(r["tv"][ti, a - 1, b - 1] for a in singles if a & s for b in singles)
            assert_leq(r["fr_tv_clean"][ti, s - 1, full - 1], r["tv"][ti, s - 1, full - 1])
            assert_leq(r["tv"][ti, s - 1, full - 1], pair_max)


# --------------------------------------------------------------------------------------
# 15. Lemma 15 of [LC24] and joint convexity of TV


@given(st.data())
def test_lemma15_convexity(data):
    inst = data.draw(instances())
    r, full = inst.res, inst.full()
    for i in range(inst.k):
        single = 1 << i
        for s in range(1, full + 1):
            best = np.max([r["tv"][:, single - 1, (1 << j) - 1] for j in _members(s)], axis=0)
            assert_leq(r["tv"][:, single - 1, s - 1], best, what="Lemma 15")
    # Joint convexity on pairs of noised laws with a drawn mixing weight.
    lam = data.draw(st.floats(0.0, 1.0))
    ti = data.draw(st.integers(0, len(inst.times) - 1))
    b1, b2, b3, b4 = (data.draw(st.integers(1, full)) for _ in range(4))
    laws = [inst.flat("noised", ti, b) for b in (b1, b2, b3, b4)]
    with np.errstate(divide="ignore"):
        mix_p = np.log(lam * laws[0] + (1 - lam) * laws[1])
        mix_q = np.log(lam * laws[2] + (1 - lam) * laws[3])
    lhs = float(_pair_tv(mix_p[None], mix_q[None])[0, 0])
    assert_leq(lhs, lam * r["tv"][ti, b1 - 1, b3 - 1] + (1 - lam) * r["tv"][ti, b2 - 1, b4 - 1])


# --------------------------------------------------------------------------------------
# 16. Corollary 2: robustness


@given(st.data())
def test_corollary2_robustness(data):
    inst = data.draw(instances())
    delta = data.draw(st.floats(0.0, 1.0))
    other_seed = data.draw(st.integers(0, 2**32 - 1))
    q = _instance(inst.k, inst.a, inst.length, inst.kind, inst.order, inst.times, inst.seed,
                  inst.concentration, inst.sparse, mix_with=(other_seed, delta),
                  source=inst.source)
    assert np.allclose(q.weights, inst.weights)
    full = inst.full()
    for ti in range(len(inst.times)):
        clean = _pair_tv(inst.res["clean"][ti], q.res["clean"][ti])
        noised = _pair_tv(inst.res["noised"][ti], q.res["noised"][ti])
        per_component = max(clean[(1 << i) - 1, (1 << i) - 1] for i in range(inst.k))
        per_component_t = max(noised[(1 << i) - 1, (1 << i) - 1] for i in range(inst.k))
        assert per_component <= delta + TOL
        for s in range(1, full + 1):
            assert_leq(clean[s - 1, s - 1], per_component, what="TV(p^S, q^S)")
            assert_leq(noised[s - 1, s - 1], per_component_t, what="TV(p_t^S, q_t^S)")
        assert_leq(per_component_t, per_component, what="DPI for each component")
