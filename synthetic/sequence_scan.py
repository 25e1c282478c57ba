"""Log-space scans over positions for Markov chains and hidden Markov models on ``A^L``.

The functional core of :mod:`synthetic.markov_mixture`: pure jitted functions on arrays, no
validation beyond static shapes (the object layer validates concrete inputs). Every
probability is carried as a float64 logarithm, so a sequence of ``L = 10^4`` tokens has a
finite log-likelihood of order ``-10^4`` instead of an underflowed 0.

Conventions ([LKC25] §2.2.1, Examples 3, 7 and 10; theory.md §1.2 and §3.3):

* Markov chain of order ``r``: the *state* at position ``i >= r - 1`` is the window of the
  last ``r`` tokens ``x_{i-r+1..i}`` coded in base ``V``, first token most significant
  (``R = V^r`` states). ``log_init`` is ``(K, R)``, the joint law of the first ``r`` tokens;
  ``log_trans`` is ``(K, R, V)``, row ``s`` the law of the next token after state ``s``.
* Hidden Markov model: ``log_init`` ``(K, S)``, ``log_trans`` ``(K, S, S)``, ``log_emit``
  ``(K, S, V)``.
* Tokens are ``(n, L)`` integers, visibility masks ``(n, L)`` booleans (``True`` = seen).

Three passes, each one sweep over the positions:

* **prefix likelihoods** (truncation): the carry is ``log p^theta(x_{1:j})`` for every
  sequence and component, ``(n, K)`` (Markov: add the gathered log transition, ``O(nK)`` per
  position; HMM: the log-space forward algorithm, ``O(nKS^2)``). It is written into an
  ``(n, m, K)`` buffer when ``j`` reaches the next requested length (:func:`_prefix_pass`),
  so ``m`` prefix lengths cost one pass, not ``m``, and a whole window report over every
  truncation time costs one pass.
* **masked likelihoods** (ordered and random masking): a ``lax.scan`` of the forward
  algorithm in which a hidden position sums over its tokens. For a Markov chain the state is
  the last ``r`` tokens and a visible token keeps only the states that end with it
  (``O(nKV^{r+1})`` per hidden position, ``O(nKV^r)`` at a position visible in every row);
  for an HMM a hidden position has emission factor 1 (``O(nKS^2)``).
* **sampling** by the inverse CDF, one uniform per drawn token (per state and token for an
  HMM), and exact forward-filtering backward-sampling of the hidden positions given the
  visible ones. When every row's visible positions form a prefix (truncation) the backward
  pass is unnecessary: the continuation is drawn forward from the filtered state, which
  :func:`markov_sample_hidden` and :func:`hmm_sample_hidden` detect at run time
  (``lax.cond``; under ``vmap`` both branches run).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.nn import logsumexp

from localize.errors import bad

NEG_INF = -jnp.inf


# --------------------------------------------------------------------------------------
# concrete checks (public helpers of the object layer)


def check_tokens(tokens, alphabet: int, length: int | None = None, name: str = "tokens"):
    """Validate concrete token sequences and return them as int32.

    Args:
        tokens: an ``(n, L)`` array of integers in ``0..alphabet-1``.
        alphabet: the vocabulary size ``V``.
        length: the required ``L`` (any when ``None``).
        name: the parameter name used in error messages.

    Returns:
        The tokens as an ``(n, L)`` int32 NumPy array.

    Raises:
        LocalizeError: naming ``name`` for a wrong shape, non-integers or a token outside
            the vocabulary.
    """
    arr = np.asarray(tokens)
    if arr.dtype == bool or arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) \
                and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        elif arr.size:
            raise bad(name, _head(arr), "integer tokens")
        else:
            arr = arr.astype(np.int64)
    want = f"(n, {length})" if length is not None else "(n, L)"
    if arr.ndim != 2 or (length is not None and arr.shape[1] != length):
        raise bad(name, f"array of shape {arr.shape}", f"an array of shape {want}")
    if arr.size and (arr.min() < 0 or arr.max() >= alphabet):
        i, j = np.argwhere((arr < 0) | (arr >= alphabet))[0]
        raise bad(f"{name}[{i}][{j}]", int(arr[i, j]),
                  f"a token of the vocabulary 0..{alphabet - 1}")
    return arr.astype(np.int32)


def _head(arr):
    return arr.ravel()[:8].tolist()


def order_of(n_states: int, alphabet: int) -> int:
    """The chain order ``r`` with ``alphabet**r == n_states`` (static shapes), or ``ValueError``."""
    r, size = 1, alphabet
    while size < n_states:
        r, size = r + 1, size * alphabet
    if size != n_states:
        raise bad("log_trans", f"{n_states} states", f"a power of the vocabulary {alphabet}")
    return r


def _digits(n_states: int, alphabet: int, r: int):
    """``(R, r)`` base-``V`` digits of every state, first token most significant."""
    s = np.arange(n_states)
    return np.stack([(s // alphabet ** (r - 1 - d)) % alphabet for d in range(r)], axis=1)


def _state_codes(tokens, alphabet: int, r: int):
    """``(n, L - r + 1)``: the state at every position ``i >= r - 1``."""
    length = tokens.shape[1]
    code = jnp.zeros((tokens.shape[0], length - r + 1), dtype=jnp.int32)
    for d in range(r):
        code = code * alphabet + tokens[:, d : length - r + 1 + d]
    return code


def _inverse_cdf(log_w, u):
    """Index drawn from the unnormalised log-weights ``log_w[..., :]`` with uniforms ``u``.

    Returns the smallest ``k`` with ``cdf[k] > u * cdf[-1]``, so a token of probability 0 is
    never drawn; a row that is all ``-inf`` (an impossible conditioning) gives the last index
    instead of NaN.
    """
    top = jnp.max(log_w, axis=-1, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    cdf = jnp.cumsum(jnp.exp(log_w - top), axis=-1)
    return _count(cdf, u)


def _count(cdf, u):
    k = jnp.sum(cdf <= u[..., None] * cdf[..., -1:], axis=-1)
    return jnp.minimum(k, cdf.shape[-1] - 1).astype(jnp.int32)


def _blocked_cdf(cdf):
    """``(fine, coarse, total)``: rows of cumulative sums cut into blocks for
    :func:`_count_blocked`.

    A row of ``V`` sums is padded with ``+inf`` (never at or below a threshold) to ``nb``
    blocks of ``G = ceil(sqrt(V))``; ``fine`` is ``(rows * nb, G)``, the blocks, ``coarse``
    ``(rows, nb)`` the last sum of each block and ``total`` ``(rows,)`` the row's last sum.
    """
    rows, v = cdf.shape
    g = math.isqrt(v - 1) + 1 if v > 1 else 1
    nb = -(-v // g)
    padded = jnp.pad(cdf, ((0, 0), (0, nb * g - v)), constant_values=jnp.inf)
    return padded.reshape(rows * nb, g), padded.reshape(rows, nb, g)[..., -1], cdf[:, -1]


def _count_blocked(table, row, u, width: int):
    """:func:`_count` of the rows ``row`` of a :func:`_blocked_cdf` table: the same index.

    A row's sums never decrease, so the entries at or below ``u * total`` are the whole
    blocks whose last sum is (``b`` of them) and a prefix of the next block: two gathers of
    about ``sqrt(V)`` numbers per draw instead of one of ``V = width``. Measured on two
    cores, drawing ``1024`` sequences of ``10^4`` tokens from ``V = 64`` went from 0.87 s to
    0.38 s (the uniforms included).
    """
    fine, coarse, total = table
    nb, g = coarse.shape[1], fine.shape[1]
    threshold = (u * total[row])[:, None]
    b = jnp.minimum(jnp.sum(coarse[row] <= threshold, axis=-1), nb - 1)
    # With b = nb - 1 after the clip, every block was at or below: the count is V.
    k = g * b + jnp.sum(fine[row * nb + b] <= threshold, axis=-1)
    return jnp.minimum(k, width - 1).astype(jnp.int32)


def _normalize(log_w):
    """``log_w - logsumexp(log_w)`` along the last axis; an all ``-inf`` row stays so."""
    total = logsumexp(log_w, axis=-1, keepdims=True)
    return log_w - jnp.where(jnp.isfinite(total), total, 0.0)


def _prefix_rows(visible):
    """Whether every row's visible positions form a prefix (truncation)."""
    return jnp.all(visible[:, :-1] | ~visible[:, 1:])


# --------------------------------------------------------------------------------------
# one pass over positions, written at the requested prefix lengths

# Positions advanced per whole trip of the inner loop, unrolled so XLA fuses the trip into
# one kernel.
_UNROLL = 8


def _compact(tokens, alphabet: int):
    """``(L, n)`` tokens in the narrowest unsigned type that holds the alphabet.

    The pass reads the tokens one position (a row of ``n``) at a time, so it wants them
    position-major; ``uint8`` makes that transpose of ``10^7`` tokens about a quarter of
    the cost of an ``int32`` one (11 ms against 26 ms on two cores), and the gather indices
    are widened inside the fused trip.
    """
    dtype = jnp.uint8 if alphabet <= 2**8 else jnp.uint16 if alphabet <= 2**16 else jnp.int32
    return tokens.astype(dtype).T


def _prefix_pass(step, value, state, xs, start, lengths, lag: int = 0):
    """Advance ``state`` one position at a time and write ``value(state)`` at each length.

    The pass visits every position once: an outer loop over the requested lengths (in
    increasing order) runs an inner loop from the current position up to the next, then
    writes the ``(n, K)`` value into that length's column of an ``(n, m, K)`` buffer
    (columns in the caller's order). Each position costs one ``step`` and each length one
    write, so ``m`` lengths cost ``O(L + m)`` updates of ``O(nK)``, not ``O(Lm)``; the
    lengths are traced, so any values of the same shape share one compilation.

    Why it is shaped so (measured at ``n = 1024, K = 32, L = 10^4``, 100 lengths, on two
    cores): a ``lax.scan`` with a conditional write at every position was about four times
    slower (the write splits the step's fusion). The inner loop runs whole trips of
    ``_UNROLL`` positions, each one fused kernel with no select, and the fewer than
    ``_UNROLL`` positions left before a segment's target go in trips of halving sizes
    (4, 2, 1), each run or skipped by a ``lax.cond``, so no position is computed and thrown
    away. Reading position-major ``uint8`` tokens (:func:`_compact`) and writing straight
    into the caller's layout and order, with the out-of-range lengths zeroed as they are
    written, took the Markov pass from about 75 ms to about 45 ms; the rest is the gathers
    themselves (about 35 ms for the ``10^7 x 32`` float64 reads).

    Args:
        step: ``state, window -> state``, moving from prefix length ``j`` to ``j + 1``;
            ``window`` is rows ``j - start .. j - start + lag`` of ``xs``, ``(lag + 1, n)``.
        value: ``state -> (n, K)``, the log-likelihood of the current prefix.
        state: the state at prefix length ``start``.
        xs: ``(L - start + lag, n)`` per-position inputs, position-major.
        start: the prefix length of ``state`` (static).
        lengths: ``(m,)`` prefix lengths in any order, repeats allowed. Length 0 (the
            empty prefix, log 1) and lengths above ``L`` (padding) read 0; lengths from 1
            to ``start - 1`` get the value at ``start`` (the callers overwrite them).
        lag: how many earlier rows each window carries besides the current one (static).

    Returns:
        ``(n, m, K)``: ``value`` at every requested length.
    """
    rows = xs.shape[0]
    total = start + rows - lag
    if rows - lag < _UNROLL:  # too short for one whole trip: pad, so slices stay in bounds
        xs = jnp.pad(xs, ((0, _UNROLL + lag - rows),) + ((0, 0),) * (xs.ndim - 1))
    # Visit the lengths in increasing order, writing each at its place in the caller's.
    rank = jnp.argsort(lengths)
    ordered = lengths[rank]

    def segment(q, carry):
        state, pos, buf = carry
        target = jnp.clip(ordered[q], start, total).astype(jnp.int32)

        def run(size):
            def trip(c):
                state, pos = c
                block = lax.dynamic_slice_in_dim(xs, pos - start, size + lag, 0)
                for u in range(size):
                    state = step(state, block[u : u + lag + 1])
                return state, pos + size
            return trip

        state, pos = lax.while_loop(lambda c: c[1] + _UNROLL <= target, run(_UNROLL),
                                    (state, pos))
        # The rest, fewer than _UNROLL positions, in trips of halving sizes: no select.
        size = _UNROLL // 2
        while size:
            state, pos = lax.cond(pos + size <= target, run(size), lambda c: c, (state, pos))
            size //= 2
        inside = (ordered[q] >= 1) & (ordered[q] <= total)
        column = jnp.where(inside, value(state), 0.0)
        return state, pos, lax.dynamic_update_index_in_dim(buf, column, rank[q], 1)

    v0 = value(state)
    buf = jnp.zeros((v0.shape[0], lengths.shape[0]) + v0.shape[1:], v0.dtype)
    _, _, buf = lax.fori_loop(0, lengths.shape[0], segment, (state, jnp.int32(start), buf))
    return buf


# --------------------------------------------------------------------------------------
# Markov chains of order r


def _marginals(log_init, alphabet: int, r: int):
    """``[log p(x_{1:j})]`` tables for ``j = 1..r``, each ``(K, V^j)``, from the joint law of
    the first ``r`` tokens."""
    k = log_init.shape[0]
    return [logsumexp(log_init.reshape(k, alphabet**j, alphabet ** (r - j)), axis=-1)
            for j in range(1, r + 1)]


@jax.jit
def markov_log_prefix(log_init, log_trans, tokens, lengths):
    """``log p^theta(x_{1:l})`` of Markov chains for every sequence, length and component.

    The likelihood of Example 10's truncated observation ([LKC25] §2.2.1): the first ``r``
    prefix lengths come from the marginals of the initial joint law, then one pass adds the
    gathered log transition, ``O(nK)`` per position, writing at the requested lengths.

    Args:
        log_init: ``(K, V^r)`` log joint law of the first ``r`` tokens.
        log_trans: ``(K, V^r, V)`` log transition rows.
        tokens: ``(n, L)`` integer tokens, ``L >= r``.
        lengths: ``(m,)`` integer prefix lengths in any order, repeats allowed (traced: any
            values of one shape share a compilation). Length 0 gives 0 (the empty prefix);
            lengths above ``L`` are padding and read 0.

    Returns:
        ``(n, m, K)`` float64 log-probabilities.
    """
    k, n_states, v = log_trans.shape
    r = order_of(n_states, v)
    n, length = tokens.shape
    if length < r:
        raise bad("tokens", f"length {length}", f"sequences of at least the order {r}")
    tokens = tokens.astype(jnp.int32)
    lengths = jnp.asarray(lengths, dtype=jnp.int32)
    m = lengths.shape[0]
    if m == 0:
        return jnp.zeros((n, 0, k))
    # Prefix lengths 1..r from the marginals of the initial joint law.
    code = jnp.zeros((n,), dtype=jnp.int32)
    head = []
    for j, marg in enumerate(_marginals(log_init, v, r), start=1):
        code = code * v + tokens[:, j - 1]
        head.append(marg[:, code].T)
    # Row (state * V + next token) of the flattened table, transposed so a gather reads
    # K contiguous numbers per sequence; the row is coded inside the pass from a window of
    # the last r + 1 tokens.
    flat = log_trans.reshape(k, n_states * v).T

    def step(acc, window):
        row = jnp.zeros(window.shape[1:], jnp.int32)
        for d in range(r + 1):
            row = row * v + window[d].astype(jnp.int32)
        return acc + flat[row]

    buf = _prefix_pass(step, lambda acc: acc, head[-1], _compact(tokens, v), r, lengths, lag=r)
    if r > 1:
        short = (lengths >= 1) & (lengths < r)
        heads = jnp.stack(head, axis=1)[:, jnp.clip(lengths - 1, 0, r - 1)]  # (n, m, K)
        buf = jnp.where(short[None, :, None], heads, buf)
    return buf


def _consistent(tokens, visible, n_states: int, alphabet: int, r: int):
    """``(n, R)``: whether state ``s`` at position ``r - 1`` agrees with every visible token
    among the first ``r``."""
    digits = jnp.asarray(_digits(n_states, alphabet, r))  # (R, r)
    return jnp.all(~visible[:, None, :r] | (digits[None] == tokens[:, None, :r]), axis=-1)


def _markov_advance(alpha, trans4):
    """One step of the order-``r`` forward algorithm before the observation.

    ``alpha`` is ``(..., R)`` over states ``(a, rest)`` (``a`` the oldest token);
    ``trans4`` is ``(..., V, R/V, V)``; the new state is ``(rest, x)``, so the oldest token
    is summed out: ``O(V^{r+1})`` per row.
    """
    v = trans4.shape[-1]
    a = alpha.reshape(alpha.shape[:-1] + (v, alpha.shape[-1] // v, 1))
    return logsumexp(a + trans4, axis=-3).reshape(alpha.shape)


def _keep_matching(new, x, vis, alphabet: int):
    """Keep the states ending with the visible token (all of them at hidden positions)."""
    last = jnp.arange(new.shape[-1]) % alphabet
    ok = ~vis[:, None] | (last[None] == x[:, None])
    return jnp.where(ok.reshape((ok.shape[0],) + (1,) * (new.ndim - 2) + (ok.shape[1],)),
                     new, NEG_INF)


def _markov_visible(alpha, trans4, x, per_row: bool):
    """The same step when every row's token is visible: only the states ending with ``x``
    survive, so only column ``x`` of the transitions is read (``O(V^r)`` per row)."""
    v = trans4.shape[-1]
    n_states = alpha.shape[-1]
    if per_row:
        col = trans4[jnp.arange(x.shape[0]), :, :, x]  # (n, V, R/V)
    else:
        col = jnp.moveaxis(trans4, -1, 0)[x]  # (n, K, V, R/V)
    a = alpha.reshape(alpha.shape[:-1] + (v, n_states // v))
    reached = logsumexp(a + col, axis=-2)  # (..., R/V): log p(state = (rest, x))
    s = jnp.arange(n_states)
    hit = (s % v)[None] == x[:, None]  # (n, R)
    hit = hit.reshape((hit.shape[0],) + (1,) * (alpha.ndim - 2) + (n_states,))
    return jnp.where(hit, reached[..., s // v], NEG_INF)


def _markov_step(alpha, trans4, x, vis, per_row: bool):
    """Forward step at one position: the column-only update when the token is visible in
    every row (truncation and ordered masking share one pattern), else the full one."""
    v = trans4.shape[-1]
    return lax.cond(
        jnp.all(vis),
        lambda a: _markov_visible(a, trans4, x, per_row),
        lambda a: _keep_matching(_markov_advance(a, trans4), x, vis, v),
        alpha)


@jax.jit
def markov_log_observed(log_init, log_trans, tokens, visible):
    """``log p^theta(x_j : j visible)`` of Markov chains, hidden positions marginalised.

    The likelihood of a masked observation (ordered masking, Example 7; random masking,
    Example 3): the forward algorithm on the states of the last ``r`` tokens, where a hidden
    position sums over its tokens and a visible one keeps the states ending with it.

    Args:
        log_init: ``(K, V^r)`` log joint law of the first ``r`` tokens.
        log_trans: ``(K, V^r, V)`` log transition rows.
        tokens: ``(n, L)`` integer tokens (hidden entries are ignored).
        visible: ``(n, L)`` booleans.

    Returns:
        ``(n, K)`` float64 log-probabilities.
    """
    k, n_states, v = log_trans.shape
    r = order_of(n_states, v)
    tokens = tokens.astype(jnp.int32)
    visible = visible.astype(bool)
    trans4 = log_trans.reshape(k, v, n_states // v, v)
    ok = _consistent(tokens, visible, n_states, v, r)
    alpha = jnp.where(ok[:, None, :], log_init[None], NEG_INF)  # (n, K, R)

    def step(alpha, xs):
        x, vis = xs
        return _markov_step(alpha, trans4, x, vis, per_row=False), None

    alpha, _ = lax.scan(step, alpha, (tokens[:, r:].T, visible[:, r:].T))
    return logsumexp(alpha, axis=-1)


def _markov_fill(u, log_init, log_trans, tokens, visible, labels):
    """Left to right: visible tokens kept, hidden ones drawn from ``p(x_i | x_{<i})``.

    Exact conditional sampling when every row's visible positions form a prefix, and plain
    sampling when nothing is visible.
    """
    k, n_states, v = log_trans.shape
    r = order_of(n_states, v)
    n = tokens.shape[0]
    code = jnp.zeros((n,), dtype=jnp.int32)
    head = []
    for j, marg in enumerate(_marginals(log_init, v, r)):
        # Conditional of token j given the first j tokens, unnormalised.
        row = marg.reshape(k, v**j, v)[labels, code]
        x = jnp.where(visible[:, j], tokens[:, j], _inverse_cdf(row, u[:, j]))
        code = code * v + x
        head.append(x)
    table = _blocked_cdf(jnp.cumsum(jnp.exp(log_trans), axis=-1).reshape(k * n_states, v))
    base = labels * n_states

    def step(state, xs):
        x_obs, vis, uu = xs
        x = jnp.where(vis, x_obs, _count_blocked(table, base + state, uu, v))
        return (state % (n_states // v)) * v + x, x

    _, tail = lax.scan(step, code, (tokens[:, r:].T, visible[:, r:].T, u[:, r:].T))
    return jnp.concatenate([jnp.stack(head, axis=1), tail.T], axis=1).astype(jnp.int32)


def _markov_ffbs(u, log_init, log_trans, tokens, visible, labels):
    """Forward filtering, backward sampling of every hidden token of each row's component."""
    k, n_states, v = log_trans.shape
    r = order_of(n_states, v)
    n, length = tokens.shape
    trans = log_trans[labels]  # (n, R, V)
    trans4 = trans.reshape(n, v, n_states // v, v)
    ok = _consistent(tokens, visible, n_states, v, r)
    alpha0 = jnp.where(ok, log_init[labels], NEG_INF)  # (n, R)

    def forward(alpha, xs):
        x, vis = xs
        return _markov_step(alpha, trans4, x, vis, per_row=True), alpha

    alpha_last, alphas = lax.scan(forward, alpha0, (tokens[:, r:].T, visible[:, r:].T))
    s_last = _inverse_cdf(alpha_last, u[:, length - 1])
    rows = jnp.arange(n)[:, None]
    shift = n_states // v

    def backward(s, xs):
        # Given the state at position i, draw the oldest token of the state at i - 1.
        alpha_prev, uu = xs
        rest = s // v
        cand = jnp.arange(v)[None, :] * shift + rest[:, None]  # (n, V) candidate states
        w = jnp.take_along_axis(alpha_prev, cand, axis=1) + trans[rows, cand, (s % v)[:, None]]
        a = _inverse_cdf(w, uu)
        return a * shift + rest, a

    _, oldest = lax.scan(backward, s_last, (alphas, u[:, : length - r].T), reverse=True)
    digits = jnp.asarray(_digits(n_states, v, r))[s_last]  # (n, r): the last r tokens
    out = jnp.concatenate([oldest.T, digits], axis=1).astype(jnp.int32)
    return jnp.where(visible, tokens, out)


@functools.partial(jax.jit, static_argnames="length")
def markov_sample(key, log_init, log_trans, labels, length: int):
    """``(n, L)`` int32 sequences, row ``i`` drawn from chain ``labels[i]``.

    Inverse-CDF sampling with one uniform per token: the first ``r`` tokens from the
    conditionals of the initial joint law, the rest from the transition rows.

    Args:
        key: a ``jax.random`` key.
        log_init: ``(K, V^r)`` log joint law of the first ``r`` tokens.
        log_trans: ``(K, V^r, V)`` log transition rows.
        labels: ``(n,)`` component indices.
        length: ``L >= r`` (static).

    Returns:
        ``(n, L)`` int32 tokens.
    """
    n = labels.shape[0]
    u = jax.random.uniform(key, (n, length), dtype=jnp.float64)
    none = jnp.zeros((n, length), dtype=bool)
    return _markov_fill(u, log_init, log_trans, jnp.zeros((n, length), jnp.int32), none,
                        labels.astype(jnp.int32))


@jax.jit
def markov_sample_hidden(key, log_init, log_trans, tokens, visible, labels):
    """Redraw the hidden tokens from ``p^theta(. | visible tokens)`` ([LKC25] Definition 3).

    Exact forward-filtering backward-sampling over the states of the last ``r`` tokens; when
    every row's visible positions form a prefix (truncation) the hidden suffix is drawn
    forward instead, with no stored messages.

    Args:
        key: a ``jax.random`` key.
        log_init: ``(K, V^r)`` log joint law of the first ``r`` tokens.
        log_trans: ``(K, V^r, V)`` log transition rows.
        tokens: ``(n, L)`` integer tokens; the visible ones are kept.
        visible: ``(n, L)`` booleans.
        labels: ``(n,)`` the component of each row.

    Returns:
        ``(n, L)`` int32 tokens equal to ``tokens`` where visible.
    """
    tokens = tokens.astype(jnp.int32)
    visible = visible.astype(bool)
    labels = labels.astype(jnp.int32)
    u = jax.random.uniform(key, tokens.shape, dtype=jnp.float64)
    args = (u, log_init, log_trans, tokens, visible, labels)
    return lax.cond(_prefix_rows(visible), _markov_fill, _markov_ffbs, *args)


# --------------------------------------------------------------------------------------
# hidden Markov models


@jax.jit
def hmm_log_prefix(log_init, log_trans, log_emit, tokens, lengths):
    """``log p^theta(x_{1:l})`` of hidden Markov models for every sequence, length, component.

    One log-space forward pass (``O(nKS^2)`` per position) whose normaliser is written into
    an ``(n, m, K)`` buffer at the requested lengths (truncation, [LKC25] Example 10).

    Args:
        log_init: ``(K, S)`` log initial state laws.
        log_trans: ``(K, S, S)`` log state transitions.
        log_emit: ``(K, S, V)`` log emissions.
        tokens: ``(n, L)`` integer tokens.
        lengths: ``(m,)`` prefix lengths in any order, repeats allowed (traced; 0 gives 0,
            lengths above ``L`` are padding and read 0).

    Returns:
        ``(n, m, K)`` float64 log-probabilities.
    """
    k = log_init.shape[0]
    n, length = tokens.shape
    tokens = tokens.astype(jnp.int32)
    lengths = jnp.asarray(lengths, dtype=jnp.int32)
    m = lengths.shape[0]
    if m == 0:
        return jnp.zeros((n, 0, k))
    emit = jnp.transpose(log_emit, (2, 0, 1))  # (V, K, S): a gather by token is (n, K, S)

    def step(alpha, window):
        return logsumexp(alpha[..., :, None] + log_trans, axis=-2) + emit[window[1]]

    alpha = log_init[None] + emit[tokens[:, 0]]
    # Window (x_j, x_{j+1}) for the move j -> j + 1 reads row j of the tokens, 0-based.
    return _prefix_pass(step, lambda a: logsumexp(a, axis=-1), alpha,
                        _compact(tokens, emit.shape[0]), 1, lengths, lag=1)


@jax.jit
def hmm_log_observed(log_init, log_trans, log_emit, tokens, visible):
    """``log p^theta(x_j : j visible)`` of hidden Markov models (masking, Examples 3 and 7).

    The forward algorithm with emission factor 1 at hidden positions.

    Args:
        log_init: ``(K, S)`` log initial state laws.
        log_trans: ``(K, S, S)`` log state transitions.
        log_emit: ``(K, S, V)`` log emissions.
        tokens: ``(n, L)`` integer tokens (hidden entries are ignored).
        visible: ``(n, L)`` booleans.

    Returns:
        ``(n, K)`` float64 log-probabilities.
    """
    tokens = tokens.astype(jnp.int32)
    visible = visible.astype(bool)
    emit = jnp.transpose(log_emit, (2, 0, 1))

    def factor(x, vis):
        return jnp.where(vis[:, None, None], emit[x], 0.0)

    alpha = log_init[None] + factor(tokens[:, 0], visible[:, 0])

    def step(alpha, xs):
        x, vis = xs
        return logsumexp(alpha[..., :, None] + log_trans, axis=-2) + factor(x, vis), None

    alpha, _ = lax.scan(step, alpha, (tokens[:, 1:].T, visible[:, 1:].T))
    return logsumexp(alpha, axis=-1)


@functools.partial(jax.jit, static_argnames="length")
def hmm_sample(key, log_init, log_trans, log_emit, labels, length: int):
    """``(n, L)`` int32 token sequences, row ``i`` from the HMM ``labels[i]``.

    Inverse-CDF sampling in one scan: one uniform for each hidden state and one for each
    token.

    Args:
        key: a ``jax.random`` key.
        log_init: ``(K, S)`` log initial state laws.
        log_trans: ``(K, S, S)`` log state transitions.
        log_emit: ``(K, S, V)`` log emissions.
        labels: ``(n,)`` component indices.
        length: ``L`` (static).

    Returns:
        ``(n, L)`` int32 tokens.
    """
    labels = labels.astype(jnp.int32)
    n = labels.shape[0]
    k_state, k_token = jax.random.split(key)
    u_state = jax.random.uniform(k_state, (length, n), dtype=jnp.float64)
    u_token = jax.random.uniform(k_token, (length, n), dtype=jnp.float64)
    trans_cdf = jnp.cumsum(jnp.exp(log_trans), axis=-1)
    emit_cdf = jnp.cumsum(jnp.exp(log_emit), axis=-1)
    z0 = _count(jnp.cumsum(jnp.exp(log_init), axis=-1)[labels], u_state[0])

    def step(z, xs):
        u_next, u_tok = xs
        x = _count(emit_cdf[labels, z], u_tok)
        return _count(trans_cdf[labels, z], u_next), x

    # The state uniform of position i + 1 is drawn at step i; the last one is unused.
    u_next = jnp.concatenate([u_state[1:], u_state[:1]], axis=0)
    _, xs = lax.scan(step, z0, (u_next, u_token))
    return xs.T.astype(jnp.int32)


def _hmm_rows(log_init, log_trans, log_emit, labels, tokens, visible):
    """Per-row parameters and ``(L, n, S)`` log emission factors (0 at hidden positions)."""
    init, trans, emit = log_init[labels], log_trans[labels], log_emit[labels]
    rows = jnp.arange(tokens.shape[0])[:, None]
    states = jnp.arange(emit.shape[1])[None, :]
    factors = jax.vmap(
        lambda x, vis: jnp.where(vis[:, None], emit[rows, states, x[:, None]], 0.0),
        in_axes=(1, 1))(tokens, visible)
    return init, trans, emit, factors


def _hmm_fill(u, log_init, log_trans, log_emit, tokens, visible, labels):
    """Left to right for prefix patterns: filter through the visible prefix, then draw the
    state and token of each hidden position forward."""
    init, trans, emit, factors = _hmm_rows(log_init, log_trans, log_emit, labels, tokens,
                                           visible)
    rows = jnp.arange(tokens.shape[0])

    def step(pred, xs):
        # pred: log p(z_i | visible x_{<i}), or the transition row of the last drawn state.
        x_obs, vis, f, uu = xs
        post = _normalize(pred + f)
        z = _inverse_cdf(pred, uu[:, 0])
        x = jnp.where(vis, x_obs, _inverse_cdf(emit[rows, z], uu[:, 1]))
        nxt = jnp.where(vis[:, None], logsumexp(post[:, :, None] + trans, axis=1), trans[rows, z])
        return _normalize(nxt), x

    _, xs = lax.scan(step, _normalize(init), (tokens.T, visible.T, factors, u))
    return xs.T.astype(jnp.int32)


def _hmm_ffbs(u, log_init, log_trans, log_emit, tokens, visible, labels):
    """Forward filtering, backward sampling of the hidden states, then the hidden tokens
    from their emissions."""
    init, trans, emit, factors = _hmm_rows(log_init, log_trans, log_emit, labels, tokens,
                                           visible)
    rows = jnp.arange(tokens.shape[0])

    def forward(alpha, f):
        new = _normalize(logsumexp(alpha[:, :, None] + trans, axis=1) + f)
        return new, alpha

    alpha0 = _normalize(init + factors[0])
    alpha_last, alphas = lax.scan(forward, alpha0, factors[1:])
    z_last = _inverse_cdf(alpha_last, u[-1, :, 0])

    def backward(z, xs):
        alpha, uu = xs
        z_prev = _inverse_cdf(alpha + trans[rows, :, z], uu)
        return z_prev, z_prev

    _, zs = lax.scan(backward, z_last, (alphas, u[:-1, :, 0]), reverse=True)
    zs = jnp.concatenate([zs, z_last[None]], axis=0)  # (L, n)
    drawn = jax.vmap(lambda z, uu: _inverse_cdf(emit[rows, z], uu))(zs, u[:, :, 1])
    return jnp.where(visible, tokens, drawn.T).astype(jnp.int32)


@jax.jit
def hmm_sample_hidden(key, log_init, log_trans, log_emit, tokens, visible, labels):
    """Redraw the hidden tokens of HMM rows from ``p^theta(. | visible tokens)``.

    The hidden states are drawn too (forward filtering, backward sampling) and then every
    hidden token from its state's emission; prefix patterns skip the backward pass.

    Args:
        key: a ``jax.random`` key.
        log_init: ``(K, S)`` log initial state laws.
        log_trans: ``(K, S, S)`` log state transitions.
        log_emit: ``(K, S, V)`` log emissions.
        tokens: ``(n, L)`` integer tokens; the visible ones are kept.
        visible: ``(n, L)`` booleans.
        labels: ``(n,)`` the component of each row.

    Returns:
        ``(n, L)`` int32 tokens equal to ``tokens`` where visible.
    """
    tokens = tokens.astype(jnp.int32)
    visible = visible.astype(bool)
    labels = labels.astype(jnp.int32)
    u = jax.random.uniform(key, (tokens.shape[1], tokens.shape[0], 2), dtype=jnp.float64)
    args = (u, log_init, log_trans, log_emit, tokens, visible, labels)
    return lax.cond(_prefix_rows(visible), _hmm_fill, _hmm_ffbs, *args)
