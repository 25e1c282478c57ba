"""Markov-chain and hidden-Markov mixtures (issue 4): the log-space scans against brute force.

The oracle below enumerates ``A^L`` in plain NumPy (an HMM also every path of hidden states),
multiplies the probabilities along each sequence with Python loops, and sums the pmf over
the sequences that agree with an observation; it shares no code with the JAX path
(:mod:`synthetic.sequence_scan`). Sampling is checked by chi-square tests against the exact
(conditional) pmfs with fixed keys; the masked likelihoods also against the explicit finite
mixture the model hands over (``finite().view(t).log_noised``).
"""

from __future__ import annotations

import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import chisquare

import localize  # noqa: F401  (float64 before any array is made)
import synthetic.markov_mixture as mm
from localize.errors import LocalizeError
from localize.processes import make_process
from synthetic import sequence_scan as scan
from synthetic.finite import FiniteMixture
from synthetic.registry import build, families_info

TOL = 1e-12
# A chi-square p-value below this fails (fixed keys: the tests are deterministic).
P_MIN = 1e-3
DRAWS = 20_000


# --------------------------------------------------------------------------------------
# brute-force oracle (NumPy and Python loops only)


def sequences(alphabet, length):
    """Every sequence of ``A^L``, lexicographic, first position most significant."""
    return np.array(list(itertools.product(range(alphabet), repeat=length)), dtype=np.int64)


def markov_pmfs(init, trans, alphabet, length, order):
    """``(K, V^L)`` pmfs of order-``r`` chains: a product of table entries per sequence."""
    init, trans = np.asarray(init), np.asarray(trans)
    seqs = sequences(alphabet, length)
    out = np.zeros((init.shape[0], len(seqs)))
    for k in range(init.shape[0]):
        for i, x in enumerate(seqs):
            head = 0
            for d in range(order):
                head = head * alphabet + int(x[d])
            p = init[k, head]
            for pos in range(order, length):
                prev = 0
                for d in range(pos - order, pos):
                    prev = prev * alphabet + int(x[d])
                p *= trans[k, prev, x[pos]]
            out[k, i] = p
    return out


def hmm_pmfs(init, trans, emit, length):
    """``(K, V^L)`` pmfs of HMMs: a sum over every path of hidden states."""
    init, trans, emit = np.asarray(init), np.asarray(trans), np.asarray(emit)
    n_comp, n_states, alphabet = emit.shape
    seqs = sequences(alphabet, length)
    paths = list(itertools.product(range(n_states), repeat=length))
    out = np.zeros((n_comp, len(seqs)))
    for k in range(n_comp):
        for i, x in enumerate(seqs):
            total = 0.0
            for z in paths:
                p = init[k, z[0]] * emit[k, z[0], x[0]]
                for pos in range(1, length):
                    p *= trans[k, z[pos - 1], z[pos]] * emit[k, z[pos], x[pos]]
                total += p
            out[k, i] = total
    return out


def observed(pmfs, seqs, tokens, visible):
    """``(n, K)``: the pmf summed over the sequences that agree on the visible positions."""
    agree = np.all((seqs[None] == tokens[:, None]) | ~visible[:, None], axis=-1)
    return agree.astype(np.float64) @ pmfs.T


def probs(log_table):
    return np.exp(np.asarray(log_table))


# --------------------------------------------------------------------------------------
# instances


def _markov(order, k, v, length, seed, process="truncation", mask_order=None):
    return mm.random_markov(jax.random.key(seed), k, v, length, order=order,
                            concentration=0.8, process=process, mask_order=mask_order)


def _hmm(process="truncation", mask_order=None):
    return mm.random_hmm(jax.random.key(7), 2, 2, 3, 4, concentration=0.8, process=process,
                         mask_order=mask_order)


MODELS = {
    "markov-r1": lambda **kw: _markov(1, 2, 3, 4, 0, **kw),
    "markov-r2": lambda **kw: _markov(2, 3, 2, 5, 1, **kw),
    "hmm": lambda **kw: _hmm(**kw),
}
_ORACLES: dict = {}


def oracle_pmfs(name):
    """The brute-force pmfs of a named instance (cached: the HMM sums 81 x 16 paths)."""
    if name not in _ORACLES:
        model = MODELS[name]()
        if isinstance(model, mm.HMMMixture):
            pm = hmm_pmfs(probs(model.log_init), probs(model.log_trans),
                          probs(model.log_emit), model.length)
        else:
            pm = markov_pmfs(probs(model.log_init), probs(model.log_trans), model.alphabet,
                             model.length, model.order)
        _ORACLES[name] = pm
    return _ORACLES[name]


def _mask_order(length):
    return np.random.default_rng(length).permutation(length).tolist()


def _assert_logs(got, want, err=""):
    got, want = np.asarray(got), np.asarray(want)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(got, np.log(want), rtol=TOL, atol=TOL, err_msg=err)


# --------------------------------------------------------------------------------------
# exact likelihoods


@pytest.mark.parametrize("name", list(MODELS))
def test_oracle_pmfs_are_distributions(name):
    np.testing.assert_allclose(oracle_pmfs(name).sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(MODELS))
def test_log_prefix_matches_enumeration(name):
    model = MODELS[name]()
    pm, length = oracle_pmfs(name), model.length
    seqs = sequences(model.alphabet, length)
    # Sorted, with a repeat, the empty prefix and padding past L.
    lengths = np.array([0, 1, 2, 2, 3, length, length + 3])
    got = np.asarray(model.log_prefix(seqs, lengths))
    assert got.shape == (len(seqs), lengths.size, model.n_components)
    for j, ell in enumerate(lengths):
        if ell > length:
            np.testing.assert_array_equal(got[:, j], 0.0)
            continue
        visible = np.broadcast_to(np.arange(length) < ell, seqs.shape)
        _assert_logs(got[:, j], observed(pm, seqs, seqs, visible), f"length {ell}")


@pytest.mark.parametrize("name", list(MODELS))
def test_log_observed_matches_enumeration(name):
    """Truncation, ordered-masking and random-masking patterns; a pattern shared by every
    row (the column-only step) and patterns that differ between rows (the full step)."""
    model = MODELS[name]()
    pm, length = oracle_pmfs(name), model.length
    seqs = sequences(model.alphabet, length)
    rng = np.random.default_rng(3)
    rank = np.argsort(_mask_order(length))
    shared = [np.arange(length) < length - t for t in range(length + 1)]  # truncation
    shared += [rank < length - t for t in (1, 2, length - 1)]  # ordered masking
    for vis in shared:
        visible = np.broadcast_to(vis, seqs.shape).copy()
        _assert_logs(model.log_observed(seqs, visible), observed(pm, seqs, seqs, visible),
                     f"pattern {vis.astype(int)}")
    visible = rng.random(seqs.shape) < 0.5  # random masking: one pattern per row
    _assert_logs(model.log_observed(seqs, visible), observed(pm, seqs, seqs, visible))


@pytest.mark.parametrize("name", list(MODELS))
def test_full_observation_agrees_with_prefix(name):
    model = MODELS[name]()
    seqs = sequences(model.alphabet, model.length)
    full = model.log_observed(seqs, np.ones(seqs.shape, dtype=bool))
    pre = model.log_prefix(seqs, np.array([0, 1, 2, 2, 3, model.length, model.length]))[:, -1]
    np.testing.assert_allclose(np.asarray(full), np.asarray(pre), rtol=TOL, atol=TOL)


@jax.jit
def _noised(fin, t):
    # One compilation per shape and process instead of one per eager operation.
    return fin.view(t).log_noised


def _masked_index(tokens, visible, alphabet):
    y = np.where(visible, tokens, alphabet)
    return tuple(y.T)


@pytest.mark.parametrize(("name", "process"), [
    ("markov-r1", "truncation"), ("markov-r2", "ordered_masking"), ("hmm", "random_masking")])
def test_log_observed_matches_finite_view(name, process):
    """``log p_t^theta(y)`` of the finite tensor-product path equals the scan's masked
    likelihood plus the log-probability of the mask pattern."""
    length = MODELS[name]().length
    mask_order = _mask_order(length) if process == "ordered_masking" else None
    model = MODELS[name](process=process, mask_order=mask_order)
    fin = model.finite()
    assert isinstance(fin, FiniteMixture) and fin.process is model.process
    seqs = sequences(model.alphabet, length)
    rng = np.random.default_rng(5)
    times = [0.3, 0.7] if process == "random_masking" else [0, 2, length]
    for t in times:
        table = np.asarray(_noised(fin, t))
        log_q, log_keep = (np.asarray(a) for a in model.process.log_mask_probs(t))
        if process == "random_masking":
            visible = rng.random(seqs.shape) >= t
        else:
            visible = np.broadcast_to(np.isneginf(log_q), seqs.shape).copy()
        pattern = np.where(visible, log_keep, log_q).sum(axis=1)
        want = table[(slice(None),) + _masked_index(seqs, visible, model.alphabet)].T
        got = np.asarray(model.log_observed(seqs, visible)) + pattern[:, None]
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=f"t = {t}")
        if process == "truncation":
            pre = np.asarray(model.log_prefix(seqs, np.array([0, 0, 0, 0, 0, length - t, 9])))
            np.testing.assert_allclose(pre[:, 5], want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", list(MODELS))
def test_finite_table_is_the_enumeration(name):
    model = MODELS[name]()
    fin = model.finite()
    k = model.n_components
    np.testing.assert_allclose(probs(fin.log_pmfs).reshape(k, -1), oracle_pmfs(name),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(np.asarray(fin.log_w), np.asarray(model.log_weights))
    assert fin.alphabet == model.alphabet and fin.length == model.length


def test_finite_is_none_beyond_the_limit():
    # K (V+1)^L <= 2^22: 2 * 8^7 = 2^22 fits, 3 * 8^7 and 2 * 3^14 do not.
    assert mm.enumerable(2, 7, 7) and mm.enumerable(2, 2, 13)
    assert not mm.enumerable(3, 7, 7) and not mm.enumerable(2, 2, 14)
    assert not mm.enumerable(32, 64, 10_000)
    assert _markov(1, 2, 2, 14, 0).finite() is None
    assert _markov(1, 4, 64, 10_000, 0).finite() is None


# --------------------------------------------------------------------------------------
# one compilation for every set of prefix lengths


def test_log_prefix_does_not_recompile():
    """Other lengths of the same shape (unsorted too), and another model of the same
    shapes, reuse the compilation (the lengths are traced)."""
    model = MODELS["markov-r1"]()
    seqs = sequences(model.alphabet, model.length)
    first = np.asarray(model.log_prefix(seqs, np.array([0, 1, 2, 2, 3, 4, 7])))
    size = scan.markov_log_prefix._cache_size()
    second = np.asarray(model.log_prefix(seqs, np.array([1, 2, 3, 3, 3, 5, 6])))
    other = _markov(1, 2, 3, 4, 11)
    other.log_prefix(seqs, jnp.asarray([0, 0, 1, 2, 3, 4, 4], dtype=jnp.int32))
    assert scan.markov_log_prefix._cache_size() == size
    np.testing.assert_allclose(first[:, 4], second[:, 2], rtol=TOL)
    np.testing.assert_array_equal(second[:, 5:], 0.0)
    # Unsorted lengths: the same numbers in the caller's order.
    perm = np.array([6, 2, 0, 5, 1, 4, 3])
    shuffled = np.asarray(model.log_prefix(seqs, np.array([0, 1, 2, 2, 3, 4, 7])[perm]))
    np.testing.assert_array_equal(shuffled, first[:, perm])
    hmm = MODELS["hmm"]()
    hmm.log_prefix(seqs, np.array([0, 1, 2, 2, 3, 4, 7]))
    size = scan.hmm_log_prefix._cache_size()
    hmm.log_prefix(seqs, np.array([1, 1, 1, 2, 4, 4, 4]))
    assert scan.hmm_log_prefix._cache_size() == size


# --------------------------------------------------------------------------------------
# long sequences


def _numpy_markov_logp(init, trans, tokens):
    """``log p(x_{1:j})`` for every ``j`` of one order-1 chain, by a plain cumulative sum."""
    steps = np.log(trans)[tokens[:, :-1], tokens[:, 1:]]
    return np.concatenate([np.log(init)[tokens[:, :1]], steps], axis=1).cumsum(axis=1)


def _numpy_hmm_logp(init, trans, emit, tokens):
    """The scaled forward algorithm in linear space, one position at a time."""
    alpha = init[None] * emit[:, tokens[:, 0]].T
    total = np.zeros(tokens.shape[0])
    for pos in range(tokens.shape[1]):
        if pos:
            alpha = (alpha @ trans) * emit[:, tokens[:, pos]].T
        c = alpha.sum(axis=1)
        total += np.log(c)
        alpha /= c[:, None]
    return total


def test_long_sequences_do_not_underflow():
    """L = 10^4: finite log-probabilities near -10^4, equal to the plain sum of per-step
    logs (Markov) and to a scaled linear-space forward algorithm (HMM)."""
    length = 10_000
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 4, (2, length))
    lengths = np.array([1, 17, 5000, length])
    model = _markov(1, 2, 4, length, 2)
    got = np.asarray(model.log_prefix(tokens, lengths))
    assert np.all(np.isfinite(got)) and got[:, -1].max() < -1000
    for k in range(2):
        want = _numpy_markov_logp(probs(model.log_init[k]), probs(model.log_trans[k]), tokens)
        np.testing.assert_allclose(got[:, :, k], want[:, lengths - 1], rtol=1e-12)
    masked = rng.random(tokens.shape) >= 0.5
    masked[:, :100] = True  # a run visible in both rows: the column-only step as well
    half = np.asarray(model.log_observed(tokens, masked))
    assert np.all(np.isfinite(half)) and np.all(half > got[:, -1])
    # The visible tokens of a chain of order 1 with every other token hidden: the same sum
    # over the two-step transition matrix.
    alt = np.ones(tokens.shape, dtype=bool)
    alt[:, 1::2] = False
    two = np.asarray(model.log_observed(tokens, alt))
    for k in range(2):
        p2 = probs(model.log_trans[k]) @ probs(model.log_trans[k])
        init = probs(model.log_init[k])
        want = np.log(init[tokens[:, 0]]) + np.log(p2[tokens[:, :-2:2], tokens[:, 2::2]]).sum(1)
        np.testing.assert_allclose(two[:, k], want, rtol=1e-12)

    hmm = mm.random_hmm(jax.random.key(4), 2, 3, 4, length)
    got = np.asarray(hmm.log_prefix(tokens, lengths))[:, -1]
    assert np.all(np.isfinite(got)) and got.max() < -1000
    for k in range(2):
        want = _numpy_hmm_logp(probs(hmm.log_init[k]), probs(hmm.log_trans[k]),
                               probs(hmm.log_emit[k]), tokens)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-12)
    half = np.asarray(hmm.log_observed(tokens, masked))
    assert np.all(np.isfinite(half)) and np.all(half > got)


def _numpy_prefix_logs(init, trans, tokens, order):
    """``log p(x_{1:j})`` for ``j = order..L`` of one chain of order ``order``, by loops.

    ``init`` is the joint law of the first ``order`` tokens (shape ``(V^order,)``) and
    ``trans`` the ``(V^order, V)`` rows; returns ``(n, L + 1)`` with columns below the
    order left at NaN (they come from the marginals, checked elsewhere).
    """
    n, length = tokens.shape
    v = trans.shape[1]
    out = np.full((n, length + 1), np.nan)
    for i in range(n):
        state = 0
        for d in range(order):
            state = state * v + int(tokens[i, d])
        total = math.log(init[state])
        out[i, order] = total
        for j in range(order, length):
            total += math.log(trans[state, tokens[i, j]])
            state = (state % v ** (order - 1)) * v + int(tokens[i, j]) if order > 1 else \
                int(tokens[i, j])
            out[i, j + 1] = total
    return out


@pytest.mark.parametrize("order", [1, 2, 3])
def test_log_prefix_every_remainder_and_order(order):
    """Mid-length chains (whole trips of the pass and partial ones of every size): the
    prefix log-likelihoods at lengths in any order, repeated, 0 and past ``L`` (which read
    0) against per-position loops."""
    length, v, k = 43, 3, 2
    model = _markov(order, k, v, length, 30 + order)
    tokens = np.asarray(model.sample(jax.random.key(31), np.array([0, 1, 1, 0, 1])))
    lengths = np.array([length, 0, 9, order, 17, 17, 8, 40, length + 3, 33, 1, 25, 26, 3])
    got = np.asarray(model.log_prefix(tokens, lengths))
    assert got.shape == (tokens.shape[0], lengths.size, k)
    for c in range(k):
        want = _numpy_prefix_logs(probs(model.log_init[c]), probs(model.log_trans[c]),
                                  tokens, order)
        for q, ell in enumerate(lengths):
            if ell == 0 or ell > length:
                np.testing.assert_array_equal(got[:, q, c], 0.0)
            elif ell >= order:
                np.testing.assert_allclose(got[:, q, c], want[:, ell], rtol=1e-12)
    hmm = mm.random_hmm(jax.random.key(32), 2, 3, v, length)
    got = np.asarray(hmm.log_prefix(tokens, lengths))
    for q, ell in enumerate(lengths):
        if 1 <= ell <= length:
            for c in range(2):
                want = _numpy_hmm_logp(probs(hmm.log_init[c]), probs(hmm.log_trans[c]),
                                       probs(hmm.log_emit[c]), tokens[:, :ell])
                np.testing.assert_allclose(got[:, q, c], want, rtol=1e-12)
        else:
            np.testing.assert_array_equal(got[:, q], 0.0)


@pytest.mark.parametrize("width", [1, 2, 5, 8, 9, 64, 300])
def test_blocked_inverse_cdf_is_the_first_sum_above(width):
    """The two-gather inverse CDF of the sampler against ``np.searchsorted``: rows with
    zeros (flat runs of the sums), uniforms at 0 and just below 1."""
    rng = np.random.default_rng(width)
    rows = rng.dirichlet(np.full(width, 0.3), size=6)
    rows[rows < 0.02] = 0.0
    rows[:, 0] += rows.sum(1) == 0
    cdf = np.cumsum(rows, axis=1)
    u = np.concatenate([[0.0, 1.0 - 1e-16, 0.5], rng.random(200)])
    row = rng.integers(0, 6, u.size)
    got = np.asarray(scan._count_blocked(scan._blocked_cdf(jnp.asarray(cdf)),
                                         jnp.asarray(row), jnp.asarray(u), width))
    want = [min(np.searchsorted(cdf[r], x * cdf[r, -1], side="right"), width - 1)
            for r, x in zip(row, u, strict=True)]
    np.testing.assert_array_equal(got, want)
    assert np.all(rows[row, got] > 0), "a token of probability 0 was drawn"


# --------------------------------------------------------------------------------------
# sampling


def _codes(tokens, alphabet):
    tokens = np.asarray(tokens)
    return tokens @ (alphabet ** np.arange(tokens.shape[1] - 1, -1, -1))


def _chi2_pvalue(counts, expected_probs):
    """Chi-square goodness of fit, bins with expected count below 5 pooled into one."""
    n = counts.sum()
    exp = expected_probs * n
    big = exp >= 5
    obs = np.append(counts[big], counts[~big].sum())
    want = np.append(exp[big], exp[~big].sum())
    assert counts[expected_probs == 0].sum() == 0, "a draw of probability 0"
    if want[-1] == 0:
        obs, want = obs[:-1], want[:-1]
    return chisquare(obs, want * obs.sum() / want.sum()).pvalue


@pytest.mark.parametrize("name", list(MODELS))
def test_sample_matches_pmf(name):
    model = MODELS[name]()
    pm = oracle_pmfs(name)
    k = model.n_components
    labels = np.repeat(np.arange(k), DRAWS // k)
    draws = np.asarray(model.sample(jax.random.key(11), labels))
    assert draws.dtype == np.int32 and draws.shape == (labels.size, model.length)
    codes = _codes(draws, model.alphabet)
    for c in range(k):
        counts = np.bincount(codes[labels == c], minlength=pm.shape[1])
        assert _chi2_pvalue(counts, pm[c]) > P_MIN, f"component {c}"


def _conditional(pm_row, seqs, x, vis):
    agree = np.all((seqs == x) | ~vis, axis=1)
    p = np.where(agree, pm_row, 0.0)
    return p / p.sum()


@pytest.mark.parametrize("name", list(MODELS))
def test_sample_hidden_matches_conditional(name):
    """Three batches: every row a prefix pattern (the forward-only path), a pattern shared
    by every row that is not a prefix, and rows with different patterns (FFBS)."""
    model = MODELS[name]()
    pm, length, v = oracle_pmfs(name), model.length, model.alphabet
    seqs = sequences(v, length)
    x = seqs[len(seqs) // 3]
    half = DRAWS // 2
    prefix = [np.arange(length) < 2, np.arange(length) < 0]
    gappy = [np.arange(length) % 2 == 1, np.isin(np.arange(length), [0, length - 1])]
    batches = [(prefix, (0, 1)), (gappy[:1], (1,)), ([prefix[0], gappy[1]], (1, 0))]
    for b, (pats, labs) in enumerate(batches):
        rows = half if len(pats) == 2 else DRAWS
        vis = np.concatenate([np.tile(p, (rows, 1)) for p in pats])
        labels = np.concatenate([np.full(rows, c) for c in labs])
        out = np.asarray(model.sample_hidden(jax.random.key(20 + b),
                                             np.tile(x, (vis.shape[0], 1)), vis, labels))
        assert out.dtype == np.int32
        np.testing.assert_array_equal(np.where(vis, out, 0), np.where(vis, x, 0))
        codes = _codes(out, v)
        for i, (p, c) in enumerate(zip(pats, labs, strict=True)):
            sel = slice(i * rows, (i + 1) * rows)
            counts = np.bincount(codes[sel], minlength=len(seqs))
            assert _chi2_pvalue(counts, _conditional(pm[c], seqs, x, p)) > P_MIN, \
                f"batch {b}, pattern {p.astype(int)}"


def test_impossible_observation_gives_minus_inf_and_in_range_draws():
    # Chain 0 never leaves token 0, so a visible 1 after a visible 0 is impossible; the
    # hidden positions must still be drawn (no NaN, tokens in range, visible ones kept).
    # Same shapes as "markov-r2" (K = 3, V = 2, r = 2, L = 5): every compilation is reused.
    stuck = [[1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
    model = mm.markov_mixture([0.2, 0.3, 0.5], [[1.0, 0, 0, 0], [0.25] * 4, [0.25] * 4],
                              [stuck, [[0.5, 0.5]] * 4, [[0.5, 0.5]] * 4], 5)
    x = np.array([0, 0, 0, 1, 0])
    vis = np.array([True, True, False, True, False])
    n = 2**5
    ll = np.asarray(model.log_observed(np.tile(x, (n, 1)), np.tile(vis, (n, 1))))
    assert np.isneginf(ll[:, 0]).all() and np.isfinite(ll[:, 1:]).all()
    out = np.asarray(model.sample_hidden(jax.random.key(0), np.tile(x, (DRAWS, 1)),
                                         np.tile(vis, (DRAWS, 1)), np.zeros(DRAWS, int)))
    assert out.min() >= 0 and out.max() <= 1 and np.all(out[:, [0, 1, 3]] == [0, 0, 1])


# --------------------------------------------------------------------------------------
# the object layer: builders, registry, describe, example


def test_registry_builds_both_families_with_every_process():
    names = {f["name"]: f for f in families_info()}
    assert names["markov_mixture"]["required"] == ["weights", "initial", "transitions",
                                                  "length"]
    assert "chain_order" in names["markov_mixture"]["params"]
    init = [[0.5, 0.5], [0.9, 0.1]]
    trans = [[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]]
    m = build("markov_mixture", weights=[0.3, 0.7], initial=init, transitions=trans, length=3,
              process="ordered_masking", order=[2, 0, 1])
    assert isinstance(m, mm.MarkovMixture) and m.process.order == (2, 0, 1) and m.order == 1
    m2 = build("markov_mixture", weights=[1.0], initial=[[0.25] * 4],
               transitions=[[[0.5, 0.5]] * 4], length=3, chain_order=2,
               process="random_masking")
    assert m2.order == 2 and m2.process.kind == "random_masking"
    h = build("hmm_mixture", weights=[1.0], initial=[[1.0, 0.0]],
              transitions=[[[0.5, 0.5], [0.0, 1.0]]], emissions=[[[1.0, 0.0], [0.3, 0.7]]],
              length=2)
    assert isinstance(h, mm.HMMMixture) and h.n_states == 2 and h.process.kind == "truncation"
    # Row sums off by less than 1e-9 are accepted, then normalised exactly.
    m3 = mm.markov_mixture([1.0], [[0.5, 0.5 + 5e-10]], [[[0.5, 0.5], [0.1, 0.9]]], 2)
    assert abs(float(jax.nn.logsumexp(m3.log_init[0]))) < 1e-15


def test_describe_lists_small_parameters_and_shapes_of_large_ones():
    model = MODELS["markov-r2"]()
    d = model.describe()
    json.dumps(d)
    assert d["family"] == "markov_mixture" and d["order"] == 2 and d["alphabet"] == 2
    assert d["length"] == 5 and d["process"]["kind"] == "truncation"
    assert d["shapes"] == {"initial": [3, 4], "transitions": [3, 4, 2]}
    np.testing.assert_allclose(np.sum(d["transitions"], axis=-1), 1.0)
    h = MODELS["hmm"]().describe()
    assert h["n_states"] == 2 and h["family"] == "hmm_mixture" and "emissions" in h
    big = _markov(1, 4, 64, 50, 0).describe()
    json.dumps(big)
    assert "transitions" not in big and big["shapes"]["transitions"] == [4, 64, 64]


def test_example_config_has_the_window_it_claims():
    """examples/markov_mixture.toml: the window [T_after_C, T_before_C] = [4, 9] for eps 0.1,
    computed here from the oracle's prefix laws (Definition 4 with S_target = Theta)."""
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads(Path(__file__).resolve().parents[1].joinpath(
        "examples", "markov_mixture.toml").read_text())
    params = {k: v for k, v in cfg["model"].items() if k != "family"}
    model = build(cfg["model"]["family"], process=cfg["process"]["kind"], **params)
    assert mm.enumerable(model.n_components, model.alphabet, model.length)
    length, eps = model.length, cfg["experiment"]["eps"]
    pm = markov_pmfs(probs(model.log_init), probs(model.log_trans), 2, length, 1)
    pm = pm.reshape((2,) + (2,) * length)
    tv = []
    for t in range(length + 1):
        laws = pm.sum(axis=tuple(range(1 + length - t, 1 + length))).reshape(2, -1)
        tv.append(0.5 * np.abs(laws[0] - laws[1]).sum())
    tv = np.array(tv)
    after = max(t for t in range(length + 1) if tv[t] >= 1 - eps**2)
    before = min(t for t in range(length + 1) if 0.5 * tv[t] <= eps)
    assert (after, before) == (4, 9)


BAD = [
    # rows that are not distributions
    (dict(initial=[[0.5, 0.4], [0.5, 0.5]]), r"^model\.initial\[0\]: expected a row summing"),
    (dict(transitions=[[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.6, 0.5]]]),
     r"^model\.transitions\[1\]\[1\]: expected a row summing to 1"),
    (dict(transitions=[[[1.1, -0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]]),
     r"^model\.transitions\[0\]\[0\]: expected a row of finite non-negative"),
    (dict(initial=[[float("nan"), 1.0], [0.5, 0.5]]), r"^model\.initial\[0\]: "),
    # vocabularies and shapes that disagree
    (dict(initial=[[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]), r"^model\.initial: expected rows of "
                                                        r"V\^r = 2 entries"),
    (dict(transitions=[[[0.9, 0.1], [0.2, 0.8]]]), r"^model\.transitions: expected one matrix"),
    (dict(transitions=[[[0.5, 0.5]] * 3] * 2), r"^model\.transitions: expected shape"),
    (dict(transitions=[[[0.5, 0.5]]] * 2, initial=[[1.0]] * 2),
     r"^model\.transitions: expected shape"),
    (dict(transitions=[[[1.0]], [[1.0]]], initial=[[1.0], [1.0]]),
     r"^model\.transitions: .*at least 2 tokens"),
    (dict(transitions=[[[0.5, 0.5], [0.5]], [[0.5, 0.5], [0.5, 0.5]]]),
     r"^model\.transitions: expected a rectangular"),
    (dict(weights=[0.5, 0.6]), r"^model\.weights: "),
    # orders and lengths
    (dict(order=0), r"^model\.order: expected an integer >= 1"),
    (dict(order=2), r"^model\.transitions: expected shape \(K, V\^r, V\) = \(2, 4, 2\)"),
    (dict(length=0), r"^model\.length: expected an integer >= 1"),
    (dict(length=2.0), r"^model\.length: "),
    (dict(initial=[[0.25] * 4] * 2, transitions=[[[0.5, 0.5]] * 4] * 2, length=1),
     r"^model\.length: expected an integer >= the order 2"),
    (dict(process="ou"), r"^process\.kind: "),
    (dict(process=make_process("truncation", 5)), r"^process\.length: "),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_markov_input_names_the_parameter(change, message):
    kw = dict(weights=[0.5, 0.5], initial=[[0.5, 0.5], [0.9, 0.1]],
              transitions=[[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]]], length=3)
    kw.update(change)
    with pytest.raises(LocalizeError, match=message):
        mm.markov_mixture(**kw)


BAD_HMM = [
    (dict(initial=[[0.5, 0.5, 0.0]]), r"^model\.transitions: expected shape \(K, S, S\)"),
    (dict(emissions=[[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]]), r"^model\.emissions: expected"),
    (dict(emissions=[[[0.5, 0.4], [0.5, 0.5]]]), r"^model\.emissions\[0\]\[0\]: expected a row"),
    (dict(transitions=[[[0.5, 0.5], [0.7, 0.7]]]), r"^model\.transitions\[0\]\[1\]: "),
    (dict(weights=[0.5, 0.5]), r"^model\.initial: expected one per weight \(2\)"),
    (dict(length=-1), r"^model\.length: "),
]


@pytest.mark.parametrize(("change", "message"), BAD_HMM)
def test_bad_hmm_input_names_the_parameter(change, message):
    kw = dict(weights=[1.0], initial=[[0.5, 0.5]], transitions=[[[0.5, 0.5], [0.1, 0.9]]],
              emissions=[[[0.5, 0.5], [0.9, 0.1]]], length=3)
    kw.update(change)
    with pytest.raises(LocalizeError, match=message):
        mm.hmm_mixture(**kw)


def test_bad_primitive_inputs_name_the_parameter():
    model = MODELS["markov-r1"]()  # V = 3, L = 4, K = 2
    good = np.zeros((2, 4), dtype=np.int32)
    vis = np.ones((2, 4), dtype=bool)
    cases = [
        (lambda: model.log_prefix(np.array([[0, 1, 3, 0]]), [1]), r"^tokens\[0\]\[2\]: .*0\.\.2"),
        (lambda: model.log_prefix(np.array([[0, -1, 0, 0]]), [1]), r"^tokens\[0\]\[1\]: "),
        (lambda: model.log_prefix(np.zeros((2, 5), int), [1]), r"^tokens: expected .*\(n, 4\)"),
        (lambda: model.log_prefix(np.full((1, 4), 0.5), [1]), r"^tokens: expected integer"),
        (lambda: model.log_prefix(good, [-1, 1]), r"^lengths: expected non-negative"),
        (lambda: model.log_observed(good, vis.astype(int)), r"^visible: expected a boolean"),
        (lambda: model.log_observed(good, vis[:1]), r"^visible: expected the shape"),
        (lambda: model.sample(jax.random.key(0), [0, 2]), r"^labels: expected component"),
        (lambda: model.sample_hidden(jax.random.key(0), good, vis, [0]),
         r"^labels: expected one label per sequence"),
        (lambda: scan.check_tokens([[0, 5]], 3), r"^tokens\[0\]\[1\]: expected a token"),
        (lambda: mm.random_markov(jax.random.key(0), 2, 3, 4, order=0), r"^order: "),
        (lambda: mm.random_markov(jax.random.key(0), 2, 1, 4), r"^alphabet: "),
        (lambda: mm.random_hmm(jax.random.key(0), 2, 0, 3, 4), r"^n_states: "),
        (lambda: mm.random_markov(jax.random.key(0), 2, 3, 4, concentration=0.0),
         r"^concentration: "),
        (lambda: build("markov_mixture", weights=[1.0], initial=[[0.5, 0.5]],
                       transitions=[[[0.5, 0.5], [0.5, 0.5]]], length=3, chain_order=0),
         r"^model\.chain_order: expected an integer >= 1"),
        (lambda: build("hmm_mixture", weights=[1.0], length=3), r"^model\.emissions: "),
    ]
    for fn, message in cases:
        with pytest.raises(LocalizeError, match=message):
            fn()
    assert scan.check_tokens([[0, 2]], 3).dtype == np.int32


def test_models_are_pytrees_that_trace_through_jit():
    """Parameters are traced leaves and the primitives accept traced inputs (what
    :mod:`localize.sequence_estimate` does inside ``jax.jit``); traced without compiling."""
    seqs = jnp.asarray(sequences(3, 4))
    labels = jnp.zeros(seqs.shape[0], dtype=jnp.int32)
    for name in ("markov-r1", "hmm"):
        model = MODELS[name]()
        leaves, tree = jax.tree_util.tree_flatten(model)
        assert len(leaves) == (4 if name == "hmm" else 3)
        assert jax.tree_util.tree_unflatten(tree, leaves).process is model.process

        def everything(m, tokens, key):
            vis = jnp.arange(tokens.shape[1]) % 2 == 0
            vis = jnp.broadcast_to(vis, tokens.shape)
            post = jax.nn.log_softmax(m.log_weights + m.log_observed(tokens, vis), axis=-1)
            pre = m.log_prefix(tokens, jnp.arange(3, dtype=jnp.int32))
            return post, pre, m.sample(key, labels), m.sample_hidden(key, tokens, vis, labels)

        post, pre, draw, hidden = jax.eval_shape(everything, model, seqs, jax.random.key(0))
        assert post.shape == (81, 2) and pre.shape == (81, 3, 2)
        assert draw.shape == hidden.shape == (81, 4) and hidden.dtype == jnp.int32
