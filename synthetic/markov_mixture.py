"""Mixtures of Markov chains and of hidden Markov models on ``A^L`` ([LKC25] §2.2.1).

The sequence families of issue 4: ``K`` components, each a Markov chain of order ``r`` over
a vocabulary of ``V`` tokens (:class:`MarkovMixture`) or a hidden Markov model with ``S``
hidden states (:class:`HMMMixture`), seen through truncation ([LKC25] Example 10: the
autoregressive sampler, theory.md §3.3), ordered masking (Example 7) or random masking
(Example 3). They are the smallest models with the structure of Examples 4 to 6: the label
of a sequence (a "mode" of the language model) is revealed gradually as tokens arrive.

Every primitive of :class:`localize.sequence.SequenceModel` is exact and runs as one pass
over the positions in log space (:mod:`synthetic.sequence_scan`): prefix log-likelihoods of
every component at every requested length, masked log-likelihoods with the hidden positions
summed out inside the forward algorithm, inverse-CDF sampling and forward-filtering
backward-sampling of the hidden positions. When ``K (V+1)^L <= 2^22`` the model also hands
over the same mixture as an explicit :class:`synthetic.finite.FiniteMixture`, whose pmf table
is obtained by running every sequence of ``A^L`` through the same scan, so that a window
report is exact on every curve.

Parameters:

* Markov chain of order ``r >= 1``: ``initial`` ``(K, V^r)``, the joint law of the first
  ``r`` tokens (for ``r = 1`` the law of the first token), and ``transitions``
  ``(K, V^r, V)``, whose row ``s`` is the law of the next token after the previous ``r``
  tokens coded as ``s`` (lexicographic order, the oldest token most significant).
* Hidden Markov model: ``initial`` ``(K, S)``, ``transitions`` ``(K, S, S)``, ``emissions``
  ``(K, S, V)``.

Rows are validated (finite, non-negative, summing to 1 within 1e-9) and then divided by
their sums, so that each component is a distribution on ``A^L`` to rounding however long the
sequence: a ``1e-10`` excess per row would otherwise compound over ``L = 10^4`` steps.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from localize.errors import bad
from localize.model import check_weights
from localize.processes import Process, make_process
from localize.sequence import SequenceModel
from synthetic import sequence_scan as scan
from synthetic.finite import FiniteMixture
from synthetic.registry import Family, register
from synthetic.sequence_scan import check_tokens

__all__ = [
    "HMMMixture",
    "MarkovMixture",
    "check_tokens",
    "enumerable",
    "hmm_mixture",
    "markov_mixture",
    "random_hmm",
    "random_markov",
]

# ``finite()`` enumerates A^L when the noised table K (V+1)^L has at most this many entries.
FINITE_LIMIT = 2**22
# ``describe()`` lists the parameters themselves up to this many numbers, else their shapes.
DESCRIBE_LIMIT = 10**4
# Tolerance on the sum of a probability row, as for the finite family's pmfs.
ROW_TOL = 1e-9
PROCESSES = ("truncation", "ordered_masking", "random_masking")


def enumerable(n_components: int, alphabet: int, length: int) -> bool:
    """Whether :meth:`~_ScanMixture.finite` enumerates: ``K (V+1)^L <= 2^22``."""
    if length * math.log2(alphabet + 1) > 23:  # before forming a huge integer
        return False
    return n_components * (alphabet + 1) ** length <= FINITE_LIMIT


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


@functools.partial(jax.jit, static_argnames="alphabet")
def _all_in(tokens, alphabet: int):
    # One fused pass (a min and a max measured twice as long).
    return jnp.all((tokens >= 0) & (tokens < alphabet))


def _in_vocabulary(tokens, alphabet: int, length: int) -> bool:
    """Whether concrete tokens already on the device are valid as they are: integer
    ``(n, L)`` in ``0..V-1``, checked by one fused pass there.

    Copying ``10^7`` tokens to NumPy and back to check them cost more than the pass over
    positions that uses them (about 60 ms against 40 ms; this check takes about 6 ms).
    Anything else, and any doubt, goes to :func:`check_tokens`, which names the first bad
    token.
    """
    if not isinstance(tokens, jax.Array) or tokens.ndim != 2 or tokens.shape[1] != length \
            or not jnp.issubdtype(tokens.dtype, jnp.integer) or tokens.size == 0:
        return False
    return bool(_all_in(tokens, alphabet))


class _ScanMixture(SequenceModel):
    """The validation of the primitives' inputs and the enumeration shared by both families.

    Subclasses are dataclasses with the fields ``log_w`` (log weights) and ``proc`` (the
    observation process).
    """

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    def _log_full(self, tokens):
        """``(N, K)`` log-probabilities of whole sequences ``(N, L)`` (every token visible)."""
        return self.log_observed(tokens, jnp.ones(tokens.shape, dtype=bool))

    def _tokens(self, tokens, name="tokens"):
        if _concrete(tokens):
            if _in_vocabulary(tokens, self.alphabet, self.length):
                return tokens.astype(jnp.int32)
            return jnp.asarray(check_tokens(tokens, self.alphabet, self.length, name))
        if tokens.ndim != 2 or tokens.shape[1] != self.length:
            raise bad(name, f"array of shape {tokens.shape}", f"shape (n, {self.length})")
        return tokens.astype(jnp.int32)

    def _visible(self, visible, shape):
        if _concrete(visible):
            arr = np.asarray(visible)
            if arr.dtype != bool:
                raise bad("visible", f"array of dtype {arr.dtype}", "a boolean array")
            visible = jnp.asarray(arr)
        elif visible.dtype != jnp.bool_:
            raise bad("visible", f"array of dtype {visible.dtype}", "a boolean array")
        if visible.shape != tuple(shape):
            raise bad("visible", f"array of shape {visible.shape}",
                      f"the shape of tokens, {tuple(shape)}")
        return visible

    def _labels(self, labels, n=None):
        k = self.n_components
        if _concrete(labels):
            arr = np.asarray(labels)
            if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.dtype == bool)):
                raise bad("labels", _short(arr), "a 1-D array of component indices")
            if arr.size and (arr.min() < 0 or arr.max() >= k):
                raise bad("labels", _short(arr), f"component indices in 0..{k - 1}")
            labels = jnp.asarray(arr, dtype=jnp.int32)
        elif labels.ndim != 1:
            raise bad("labels", f"array of shape {labels.shape}", "a 1-D array")
        if n is not None and labels.shape[0] != n:
            raise bad("labels", f"{labels.shape[0]} labels", f"one label per sequence ({n})")
        return labels.astype(jnp.int32)

    def _lengths(self, lengths):
        if _concrete(lengths):
            arr = np.asarray(lengths)
            if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.dtype == bool)):
                raise bad("lengths", _short(arr), "a 1-D array of integer prefix lengths")
            if arr.size and arr.min() < 0:
                raise bad("lengths", _short(arr), "non-negative prefix lengths")
            return jnp.asarray(arr, dtype=jnp.int32)
        if lengths.ndim != 1:
            raise bad("lengths", f"array of shape {lengths.shape}", "a 1-D array")
        return lengths.astype(jnp.int32)

    def finite(self):
        """The same mixture and process as an exact :class:`FiniteMixture`, or ``None``.

        When ``K (V+1)^L <= 2^22`` every sequence of ``A^L`` (lexicographic order, first
        position most significant) is run through the scan, and the ``(K, V, ..., V)`` table
        of log-probabilities becomes the finite model's pmfs as they are (no exp/log round
        trip); the process object is shared.
        """
        k, v, length = self.n_components, self.alphabet, self.length
        if not enumerable(k, v, length):
            return None
        tokens = np.indices((v,) * length).reshape(length, -1).T.astype(np.int32)
        table = self._log_full(jnp.asarray(tokens)).T.reshape((k,) + (v,) * length)
        return FiniteMixture(self.log_weights, table, self.process)

    @abc.abstractmethod
    def _parameters(self) -> dict:
        """The family's probability tables, ``{name: log table}``, for :meth:`describe`."""

    def describe(self) -> dict:
        """Family, weights, process, alphabet, length, and the parameters when small.

        The probability tables are listed when they hold at most ``10^4`` numbers in all;
        otherwise only their shapes are (``shapes`` is always present).
        """
        out = super().describe()
        params = {name: np.exp(np.asarray(a)) for name, a in self._parameters().items()}
        out["shapes"] = {name: list(a.shape) for name, a in params.items()}
        if sum(a.size for a in params.values()) <= DESCRIBE_LIMIT:
            out.update({name: a.tolist() for name, a in params.items()})
        return out


def _short(arr):
    return arr.ravel()[:8].tolist() if arr.size > 8 else arr.tolist()


@dataclasses.dataclass(frozen=True)
class MarkovMixture(_ScanMixture):
    """A mixture of Markov chains of order ``r`` on ``A^L`` ([LKC25] §2.2.1, Example 10).

    Attributes:
        log_w: ``(K,)`` log weights.
        log_init: ``(K, V^r)`` log joint law of the first ``r`` tokens.
        log_trans: ``(K, V^r, V)`` log transition rows, row = previous ``r`` tokens in
            lexicographic order (oldest most significant).
        proc: the observation process (truncation, ordered or random masking).
    """

    log_w: jax.Array
    log_init: jax.Array
    log_trans: jax.Array
    proc: Process

    family = "markov_mixture"

    @property
    def alphabet(self) -> int:
        return int(self.log_trans.shape[-1])

    @property
    def order(self) -> int:
        """The chain order ``r`` (from the shapes)."""
        return scan.order_of(int(self.log_trans.shape[1]), self.alphabet)

    def sample(self, key, labels):
        """``(n, L)`` int32 draws, row ``i`` from chain ``labels[i]`` (inverse CDF, one uniform
        per token).

        Args:
            key: a ``jax.random`` key.
            labels: ``(n,)`` component indices.
        """
        return scan.markov_sample(key, self.log_init, self.log_trans, self._labels(labels),
                                  self.length)

    def log_prefix(self, tokens, lengths):
        """``log p^theta(x_{1:l})`` for every sequence, prefix length and chain (truncation).

        Args:
            tokens: ``(n, L)`` tokens in ``0..V-1``.
            lengths: ``(m,)`` prefix lengths in any order (traced; 0 gives 0, values above
                ``L`` are padding and read 0).

        Returns:
            ``(n, m, K)`` float64 log-probabilities, from one pass over the positions.
        """
        return scan.markov_log_prefix(self.log_init, self.log_trans, self._tokens(tokens),
                                      self._lengths(lengths))

    def log_observed(self, tokens, visible):
        """``log p^theta(x_j : j visible)``, the hidden tokens summed out in the forward pass
        (ordered masking, Example 7; random masking, Example 3).

        Args:
            tokens: ``(n, L)`` tokens (hidden entries are ignored but must be in range).
            visible: ``(n, L)`` booleans.

        Returns:
            ``(n, K)`` float64 log-probabilities.
        """
        tokens = self._tokens(tokens)
        return scan.markov_log_observed(self.log_init, self.log_trans, tokens,
                                        self._visible(visible, tokens.shape))

    def sample_hidden(self, key, tokens, visible, labels):
        """The hidden tokens redrawn from ``p^theta(. | visible tokens)`` (Definition 3's
        reverse step), by forward filtering and backward sampling; for prefix patterns
        (truncation) by drawing the continuation forward.

        Args:
            key: a ``jax.random`` key.
            tokens: ``(n, L)`` tokens; the visible ones are kept.
            visible: ``(n, L)`` booleans.
            labels: ``(n,)`` the chain of each row.

        Returns:
            ``(n, L)`` int32 tokens equal to ``tokens`` where visible.
        """
        tokens = self._tokens(tokens)
        visible = self._visible(visible, tokens.shape)
        return scan.markov_sample_hidden(key, self.log_init, self.log_trans, tokens, visible,
                                         self._labels(labels, tokens.shape[0]))

    def _parameters(self) -> dict:
        return {"initial": self.log_init, "transitions": self.log_trans}

    def describe(self) -> dict:
        return {**super().describe(), "order": self.order}


jax.tree_util.register_dataclass(
    MarkovMixture, data_fields=["log_w", "log_init", "log_trans"], meta_fields=["proc"]
)


@dataclasses.dataclass(frozen=True)
class HMMMixture(_ScanMixture):
    """A mixture of hidden Markov models on ``A^L`` ([LKC25] §2.2.1).

    Attributes:
        log_w: ``(K,)`` log weights.
        log_init: ``(K, S)`` log initial state laws.
        log_trans: ``(K, S, S)`` log state transitions.
        log_emit: ``(K, S, V)`` log emission laws.
        proc: the observation process.
    """

    log_w: jax.Array
    log_init: jax.Array
    log_trans: jax.Array
    log_emit: jax.Array
    proc: Process

    family = "hmm_mixture"

    @property
    def alphabet(self) -> int:
        return int(self.log_emit.shape[-1])

    @property
    def n_states(self) -> int:
        """The number of hidden states ``S``."""
        return int(self.log_emit.shape[1])

    def _args(self):
        return self.log_init, self.log_trans, self.log_emit

    def sample(self, key, labels):
        """``(n, L)`` int32 token draws, row ``i`` from the HMM ``labels[i]``.

        Args:
            key: a ``jax.random`` key.
            labels: ``(n,)`` component indices.
        """
        return scan.hmm_sample(key, *self._args(), self._labels(labels), self.length)

    def log_prefix(self, tokens, lengths):
        """``log p^theta(x_{1:l})`` for every sequence, prefix length and HMM (the log-space
        forward algorithm, written at the requested lengths).

        Args:
            tokens: ``(n, L)`` tokens in ``0..V-1``.
            lengths: ``(m,)`` prefix lengths in any order (traced; 0 gives 0, values above
                ``L`` are padding and read 0).

        Returns:
            ``(n, m, K)`` float64 log-probabilities.
        """
        return scan.hmm_log_prefix(*self._args(), self._tokens(tokens), self._lengths(lengths))

    def log_observed(self, tokens, visible):
        """``log p^theta(x_j : j visible)``: the forward algorithm with emission factor 1 at
        hidden positions.

        Args:
            tokens: ``(n, L)`` tokens.
            visible: ``(n, L)`` booleans.

        Returns:
            ``(n, K)`` float64 log-probabilities.
        """
        tokens = self._tokens(tokens)
        return scan.hmm_log_observed(*self._args(), tokens,
                                     self._visible(visible, tokens.shape))

    def sample_hidden(self, key, tokens, visible, labels):
        """The hidden tokens redrawn from ``p^theta(. | visible tokens)``, the hidden states
        drawn along (forward filtering, backward sampling; forward only for prefixes).

        Args:
            key: a ``jax.random`` key.
            tokens: ``(n, L)`` tokens; the visible ones are kept.
            visible: ``(n, L)`` booleans.
            labels: ``(n,)`` the component of each row.

        Returns:
            ``(n, L)`` int32 tokens equal to ``tokens`` where visible.
        """
        tokens = self._tokens(tokens)
        visible = self._visible(visible, tokens.shape)
        return scan.hmm_sample_hidden(key, *self._args(), tokens, visible,
                                      self._labels(labels, tokens.shape[0]))

    def _parameters(self) -> dict:
        return {"initial": self.log_init, "transitions": self.log_trans,
                "emissions": self.log_emit}

    def describe(self) -> dict:
        return {**super().describe(), "n_states": self.n_states}


jax.tree_util.register_dataclass(
    HMMMixture, data_fields=["log_w", "log_init", "log_trans", "log_emit"],
    meta_fields=["proc"],
)


# --------------------------------------------------------------------------------------
# validation and builders


def _int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise bad(name, v, f"an integer >= {lo}")
    return int(v)


def _array(name, value, ndim, shape_words):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(name, "...", f"a rectangular nested list of numbers of shape {shape_words}") \
            from None
    if arr.ndim != ndim:
        raise bad(name, f"array of shape {arr.shape}", f"an array of shape {shape_words}")
    return arr


def _rows(name, p):
    """Check that every row along the last axis is a distribution; return them normalised.

    The message names the offending row by its full index, e.g. ``model.transitions[1][3]``.
    """
    bad_entries = ~np.isfinite(p) | (p < 0)
    if np.any(bad_entries):
        idx = tuple(np.argwhere(bad_entries)[0][:-1])
        raise bad(name + "".join(f"[{i}]" for i in idx), _short(p[idx]),
                  "a row of finite non-negative probabilities")
    sums = p.sum(axis=-1)
    off = np.abs(sums - 1.0) > ROW_TOL
    if np.any(off):
        idx = tuple(np.argwhere(off)[0])
        raise bad(name + "".join(f"[{i}]" for i in idx), _short(p[idx]),
                  f"a row summing to 1 within {ROW_TOL:g} (it sums to {sums[idx]:.12g})")
    return p / sums[..., None]


def _log(p):
    with np.errstate(divide="ignore"):
        return jnp.asarray(np.log(p))


def _process(process, length, mask_order):
    if isinstance(process, Process):
        proc = process
    elif isinstance(process, str):
        if process not in PROCESSES:
            raise bad("process.kind", process, f"one of {list(PROCESSES)}")
        proc = make_process(process, length, mask_order)
    else:
        raise bad("process", process, f"a process name, one of {list(PROCESSES)}, or a Process")
    if proc.kind not in PROCESSES:
        raise bad("process.kind", proc.kind, f"one of {list(PROCESSES)}")
    if proc.length != length:
        raise bad("process.length", proc.length, f"the model's length {length}")
    return proc


def _markov(weights, initial, transitions, length, order, process, mask_order, order_name):
    w = check_weights(weights, "model.weights")
    k = w.size
    trans = _array("model.transitions", transitions, 3, "(K, V^r, V)")
    if trans.shape[0] != k:
        raise bad("model.transitions", f"{trans.shape[0]} matrices",
                  f"one matrix per weight ({k})")
    n_states, v = trans.shape[1], trans.shape[2]
    if v < 2:
        raise bad("model.transitions", f"array of shape {trans.shape}",
                  "rows over a vocabulary of at least 2 tokens (shape (K, V^r, V), V >= 2)")
    if order is None:
        r = round(math.log(max(n_states, 1)) / math.log(v))
        if r < 1 or v**r != n_states:
            raise bad("model.transitions", f"array of shape {trans.shape}",
                      f"shape (K, V^r, V): {v}^r rows, one per previous r tokens")
    else:
        r = _int(order_name, order, 1)
        if n_states != v**r:
            raise bad("model.transitions", f"array of shape {trans.shape}",
                      f"shape (K, V^r, V) = ({k}, {v**r}, {v}) for order {r}")
    init = _array("model.initial", initial, 2, "(K, V^r)")
    if init.shape[0] != k:
        raise bad("model.initial", f"{init.shape[0]} rows", f"one row per weight ({k})")
    if init.shape[1] != n_states:
        raise bad("model.initial", f"rows of {init.shape[1]} entries",
                  f"rows of V^r = {n_states} entries (vocabulary V = {v} of "
                  f"model.transitions, order {r})")
    length = _int("model.length", length, 1)
    if length < r:
        raise bad("model.length", length, f"an integer >= the order {r}")
    init = _rows("model.initial", init)
    trans = _rows("model.transitions", trans)
    proc = _process(process, length, mask_order)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return MarkovMixture(jnp.asarray(log_w), _log(init), _log(trans), proc)


def markov_mixture(weights, initial, transitions, length, order=None, process="truncation",
                   mask_order=None) -> MarkovMixture:
    """Build a mixture of Markov chains ([LKC25] §2.2.1; issue 4).

    Args:
        weights: ``K`` non-negative weights summing to 1.
        initial: ``(K, V^r)`` joint laws of the first ``r`` tokens, one row per component.
        transitions: ``(K, V^r, V)`` transition matrices; row ``s`` is the law of the next
            token after the previous ``r`` tokens coded as ``s`` (oldest most significant).
        length: ``L >= max(1, r)``.
        order: the chain order ``r >= 1``; inferred from the shapes when ``None``.
        process: a process name or a :class:`localize.Process` of length ``L``.
        mask_order: the permutation of ``ordered_masking``.

    Returns:
        A :class:`MarkovMixture`.

    Raises:
        LocalizeError: naming the parameter (``model.transitions[1][3]`` for a row).
    """
    return _markov(weights, initial, transitions, length, order, process, mask_order,
                   "model.order")


def hmm_mixture(weights, initial, transitions, emissions, length, process="truncation",
                mask_order=None) -> HMMMixture:
    """Build a mixture of hidden Markov models ([LKC25] §2.2.1; issue 4).

    Args:
        weights: ``K`` non-negative weights summing to 1.
        initial: ``(K, S)`` initial state laws.
        transitions: ``(K, S, S)`` state transition matrices.
        emissions: ``(K, S, V)`` emission laws, ``V >= 2``.
        length: ``L >= 1``.
        process: a process name or a :class:`localize.Process` of length ``L``.
        mask_order: the permutation of ``ordered_masking``.

    Returns:
        An :class:`HMMMixture`.

    Raises:
        LocalizeError: naming the parameter.
    """
    w = check_weights(weights, "model.weights")
    k = w.size
    init = _array("model.initial", initial, 2, "(K, S)")
    trans = _array("model.transitions", transitions, 3, "(K, S, S)")
    emit = _array("model.emissions", emissions, 3, "(K, S, V)")
    for name, arr in (("model.initial", init), ("model.transitions", trans),
                      ("model.emissions", emit)):
        if arr.shape[0] != k:
            raise bad(name, f"{arr.shape[0]} components", f"one per weight ({k})")
    s = init.shape[1]
    if s < 1:
        raise bad("model.initial", f"array of shape {init.shape}", "at least one hidden state")
    if trans.shape[1:] != (s, s):
        raise bad("model.transitions", f"array of shape {trans.shape}",
                  f"shape (K, S, S) = ({k}, {s}, {s}) (S = {s} states of model.initial)")
    if emit.shape[1] != s:
        raise bad("model.emissions", f"array of shape {emit.shape}",
                  f"shape (K, S, V) with S = {s} (the states of model.initial)")
    if emit.shape[2] < 2:
        raise bad("model.emissions", f"array of shape {emit.shape}",
                  "a vocabulary of at least 2 tokens (shape (K, S, V), V >= 2)")
    length = _int("model.length", length, 1)
    init = _rows("model.initial", init)
    trans = _rows("model.transitions", trans)
    emit = _rows("model.emissions", emit)
    proc = _process(process, length, mask_order)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return HMMMixture(jnp.asarray(log_w), _log(init), _log(trans), _log(emit), proc)


def _generator(key) -> np.random.Generator:
    """A NumPy generator determined by a ``jax.random`` key.

    The random constructors draw their Dirichlet rows on the host: ``jax.random.dirichlet``
    compiles a gamma sampler for every new shape (seconds each on a CPU), while the builders
    validate in NumPy anyway. The same key gives the same model.
    """
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _dirichlet(rng, concentration, size, batch):
    p = rng.dirichlet(np.full(size, float(concentration)), batch)
    # Renormalise so that the 1e-9 row check holds exactly; a draw that underflowed to an
    # all-zero row (tiny concentrations) becomes a point mass instead of NaN.
    sums = p.sum(axis=-1, keepdims=True)
    point = np.zeros_like(p)
    point[..., 0] = 1.0
    return np.where(sums > 0, p / np.where(sums > 0, sums, 1.0), point)


def _random_common(key, n_components, concentration, process, length, mask_order):
    n_components = _int("n_components", n_components, 1)
    if isinstance(concentration, bool) or not isinstance(concentration, (int, float)) \
            or not math.isfinite(concentration) or concentration <= 0:
        raise bad("concentration", concentration, "a positive finite number")
    rng = _generator(key)
    w = _dirichlet(rng, 1.0, n_components, ())
    if process == "ordered_masking" and mask_order is None:
        mask_order = rng.permutation(_int("length", length, 1)).tolist()
    return rng, n_components, w, mask_order


def random_markov(key, n_components: int, alphabet: int, length: int, order: int = 1,
                  concentration: float = 0.5, process="truncation",
                  mask_order=None) -> MarkovMixture:
    """A random mixture of Markov chains: Dirichlet weights, initial laws and rows.

    Args:
        key: a ``jax.random`` key.
        n_components: ``K``.
        alphabet: ``V >= 2``.
        length: ``L >= order``.
        order: the chain order ``r >= 1``.
        concentration: the Dirichlet parameter of every initial law and transition row
            (small values give nearly deterministic chains, hence sharp windows).
        process: the process name.
        mask_order: the permutation of ``ordered_masking`` (a random one when ``None``).

    Returns:
        A :class:`MarkovMixture` (weights Dirichlet(1)).
    """
    alphabet = _int("alphabet", alphabet, 2)
    order = _int("order", order, 1)
    rng, k, w, mask_order = _random_common(key, n_components, concentration, process, length,
                                           mask_order)
    init = _dirichlet(rng, concentration, alphabet**order, (k,))
    trans = _dirichlet(rng, concentration, alphabet, (k, alphabet**order))
    return _markov(w, init, trans, length, order, process, mask_order, "order")


def random_hmm(key, n_components: int, n_states: int, alphabet: int, length: int,
               concentration: float = 0.5, process="truncation",
               mask_order=None) -> HMMMixture:
    """A random mixture of hidden Markov models: Dirichlet weights, initial laws, rows.

    Args:
        key: a ``jax.random`` key.
        n_components: ``K``.
        n_states: ``S >= 1``.
        alphabet: ``V >= 2``.
        length: ``L >= 1``.
        concentration: the Dirichlet parameter of every initial, transition and emission row.
        process: the process name.
        mask_order: the permutation of ``ordered_masking`` (a random one when ``None``).

    Returns:
        An :class:`HMMMixture` (weights Dirichlet(1)).
    """
    n_states = _int("n_states", n_states, 1)
    alphabet = _int("alphabet", alphabet, 2)
    rng, k, w, mask_order = _random_common(key, n_components, concentration, process, length,
                                           mask_order)
    init = _dirichlet(rng, concentration, n_states, (k,))
    trans = _dirichlet(rng, concentration, n_states, (k, n_states))
    emit = _dirichlet(rng, concentration, alphabet, (k, n_states))
    return hmm_mixture(w, init, trans, emit, length, process, mask_order)


# --------------------------------------------------------------------------------------
# registry

# ``registry.build`` passes the masking permutation of ``[process]`` as ``order``, so a
# ``[model]`` key of that name could never reach the builder: the chain order is
# ``chain_order`` in configs.


def _build_markov(process="truncation", order=None, weights=None, initial=None,
                  transitions=None, length=None, chain_order=None):
    return _markov(weights, initial, transitions, length, chain_order, process, order,
                   "model.chain_order")


def _build_hmm(process="truncation", order=None, weights=None, initial=None, transitions=None,
               emissions=None, length=None):
    return hmm_mixture(weights, initial, transitions, emissions, length, process, order)


register(Family(
    name="markov_mixture",
    builder=_build_markov,
    params={
        "weights": "K mixture weights summing to 1",
        "initial": "(K, V^r) joint law of the first r tokens, one row per component",
        "transitions": "(K, V^r, V) transition rows (previous r tokens, oldest most "
                       "significant), each summing to 1",
        "length": "sequence length L >= r",
        "chain_order": "the Markov order r >= 1 (default: from the shapes, 1 for (K, V, V))",
    },
    processes=PROCESSES,
    summary="mixtures of Markov chains of order r (autoregression, Example 10); exact "
            "log-space scans, enumerated when K (V+1)^L <= 2^22",
    required=("weights", "initial", "transitions", "length"),
))

register(Family(
    name="hmm_mixture",
    builder=_build_hmm,
    params={
        "weights": "K mixture weights summing to 1",
        "initial": "(K, S) initial hidden-state laws",
        "transitions": "(K, S, S) hidden-state transition rows, each summing to 1",
        "emissions": "(K, S, V) emission rows over the vocabulary, each summing to 1",
        "length": "sequence length L >= 1",
    },
    processes=PROCESSES,
    summary="mixtures of hidden Markov models; exact log-space forward passes, "
            "enumerated when K (V+1)^L <= 2^22",
))
