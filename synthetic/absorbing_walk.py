"""Example 5 at scale: the random walk that solves or fails a problem, absorbed at ``+-A``.

[LKC25] Example 5 models solving a math problem as a ``+-1`` random walk of length ``T``
started at 0: mode ``theta`` steps up with probability ``p_theta = 1/2 + Delta_theta``, and
the walk is *absorbed* when it hits ``+A`` (solved) or ``-A`` (wrong). The paper assumes
``ln(2/eps^2) / (2 Delta^2) < A`` so that absorption can be ignored and the modes become
biased coins (:mod:`synthetic.biased_coins`). This family keeps the boundaries.

**Tokens.** A sequence has length ``T`` over ``{0: down, 1: up, 2: halt}``. Token ``i`` is
the ``i``-th step while the walk is inside ``(-A, A)``; the step that reaches ``+-A`` is the
last up/down token and every later token is ``halt``, so every sequence still has length
``T`` and the forward process is the paper's truncation of the last ``t`` tokens. Halting
carries probability 1, so a sequence absorbed at step ``tau`` has probability
``p_theta^u q_theta^d`` with ``u + d = tau`` and ``u - d = +-A``, and an unabsorbed one has
``u + d = T``.

**Reduction.** Every likelihood ratio between modes depends on the sequence only through
``(u, d)``, the numbers of up and down steps before absorption, and the forward-reverse
law additionally through the class of the visible prefix. With ``n = T - t`` visible tokens:

* observation space ``Z`` (the prefix): *alive* at position ``s`` in ``(-A, A)`` after
  ``n`` steps, or *absorbed* at ``+A`` / ``-A`` at a step ``tau <= n``. Laid out as
  ``[2B - 1 positions | H times at +A | H times at -A]`` with ``B = min(A, T + 1)`` and
  ``tau = A + 2h`` (absorption at ``+-A`` from 0 has the parity of ``A``), so
  ``H = floor((T - A) / 2) + 1`` when ``A <= T`` (else no absorption, one padding slot);
* clean space ``U``: the pair (prefix class, end class), a table of shape
  ``(B + 1, B + 2H)``. Row ``i < B`` is the prefix alive at the ``i``-th position of the
  parity of ``n``; row ``B`` is "absorbed within the prefix". Column ``j < B`` is "alive at
  step ``T``" at the ``j``-th position of the parity of ``T``; the other columns are
  absorption at ``+A`` or ``-A`` at step ``tau`` (after the prefix for rows ``i < B``,
  within it for row ``B``). Each entry fixes ``(u, d)`` and the prefix class, so every
  likelihood ratio and ``p^{S,t} / p^S`` is constant on it and the reduction is exact;
* the kernel is deterministic (a clean class determines its prefix class), so
  ``log_adjoint(t, log_r)[i, j] = log_r[prefix class of row i]``.

**Boundary-aware recursion.** The class laws are computed mode by mode, as probabilities in
linear space: every term is positive, so nothing cancels and each step adds three roundings
of relative size ``2^-53``, and the values stay in ``[0, 1]``. (A recursion on log-counts
would carry numbers near ``n ln 2`` and lose about ``n`` ulps of 1, i.e. a relative error
of ``n 2^-53`` in the probability, at every step.)

* ``F_theta[n, s] = P_theta(alive at s after n steps)``: forward, ``F[n + 1, s] =
  p F[n, s - 1] + q F[n, s + 1]``, with ``F[n, +-A] = 0`` (the killed paths are the absorbed
  ones). Prefix absorption at ``+A`` at ``tau`` has probability ``p F[tau - 1, A - 1]``;
* ``Hup_theta[j, s] = P_theta(from s, first exit through +A at step j + 1)``: backward,
  ``Hup[j + 1, s] = p Hup[j, s + 1] + q Hup[j, s - 1]``, ``Hup[0, s] = p 1{s = A - 1}``; and
  ``Hdn`` through ``-A``. A suffix absorbed at ``tau`` after a prefix alive at ``s`` has
  probability ``F[n, s] Hup[tau - n - 1, s]``;
* ``G_theta,m(s, s') = P_theta(from s, alive at s' after m steps)``, the ``m``-th power of
  the killed transition matrix: stored at every ``b``-th power (``b`` chosen so that the
  blocks fit :data:`BLOCK_BUDGET` entries) and advanced by at most ``b - 1`` steps of the
  forward recursion at each time.

A probability below the smallest normal double (``2.2e-308``) is flushed to 0, which moves
any reported number by less than ``|U| * 2.2e-308``. The rounding of the recursions
accumulates at most ``3 T`` relative roundings per entry (``3.3e-12`` at ``T = 10^4``;
in practice ``sqrt(T)`` of them); the family reports ``error_bound = 0`` like the other
exact families, where rounding is not counted. The tests hold it to a brute-force
enumeration of all paths at ``T <= 10`` (``1e-13``) and the counts to the method of images
in exact integer arithmetic (``1e-13`` relative at ``T = 150``).

**Cost.** Construction runs the recursions once, in NumPy: ``K (T + 1)(2B - 1)`` numbers for
the noised laws, at most :data:`MAX_TABLE`; for the clean laws, twice that for the exits and
``K T (2B - 1)^2`` multiply-adds for the matrix powers, at most :data:`CLEAN_WORK`. Then each
time costs ``O(K (B + T))`` for the noised laws and ``O(K (B + 1)(B + 2H))`` (about
``K B T``) for the clean ones. Measured on two shared cores (CPU seconds): ``T = 10^4``,
``A = 50``, ``K = 2`` builds in 1.6 s and a window report costs 0.19 s per time after a
compilation of 2.5 s; ``T = 2 x 10^4``, ``A = 30`` builds in 1.8 s, 0.23 s per time. The
clean laws are built when they fit those budgets (or when asked with ``clean_laws=True``);
otherwise, or with ``clean_laws=False``, the model gives its noised laws only
(:meth:`AbsorbingWalk.log_noised`, :func:`noised_curves`, :func:`exact_window`), which is
all the window of one mode against the whole mixture needs, and :meth:`AbsorbingWalk.view`
says so. When ``A > T`` nothing is absorbed, every position is reachable and the tables grow
like ``T^2``: :func:`synthetic.biased_coins.biased_coins` is the same model at scale.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize import divergences as dv
from localize.errors import LocalizeError, bad
from localize.model import Model, View, check_weights, set_mask
from localize.posterior import log_set_weights
from localize.processes import Process, Truncation, make_process
from localize.windows import t_after_c, t_before_c
from synthetic.registry import Family, register

# Largest number of float64 entries of one precomputed table (about 134 MB).
MAX_TABLE = 2**24
# Largest K T (2B - 1)^2, the multiply-adds that build the clean laws (a second or two).
CLEAN_WORK = 2**29
# Float64 entries of the stored matrix powers; sets the stride b between them.
BLOCK_BUDGET = 2**22
# Longest walk accepted (the tables bound it in practice).
MAX_LENGTH = 10**6
# The core mixes this many sets on the clean space at each time (report._curves_at).
_MIXTURES = 5

NEG_INF = -jnp.inf


def _probs(deltas: np.ndarray):
    """``(p, q) = (1/2 + Delta, 1/2 - Delta)`` with ``p + q = 1`` exactly: the larger is rounded
    once and the smaller is its exact complement."""
    big = 0.5 + np.abs(deltas)
    small = 1.0 - big
    up = deltas >= 0
    return np.where(up, big, small), np.where(up, small, big)


def _shift_up(v):
    """``out[..., s] = v[..., s - 1]``: the mass that arrives at ``s`` from below."""
    return jnp.concatenate([jnp.zeros_like(v[..., :1]), v[..., :-1]], axis=-1)


def _shift_down(v):
    """``out[..., s] = v[..., s + 1]``: the mass that arrives at ``s`` from above."""
    return jnp.concatenate([v[..., 1:], jnp.zeros_like(v[..., :1])], axis=-1)


def _forward_step(v, p, q):
    """One step of the killed walk on the last axis (positions ``-(B-1)..B-1``): the mass that
    leaves through either end is dropped. ``p``, ``q`` broadcast against ``v``."""
    return p * _shift_up(v) + q * _shift_down(v)


def _backward_step(v, p, q):
    """One step of the backward equation ``h(s) <- p h(s + 1) + q h(s - 1)``."""
    return p * _shift_down(v) + q * _shift_up(v)


def _col(x, ndim):
    return jnp.reshape(x, x.shape + (1,) * (ndim - 1))


# The recursions below run once per model, in NumPy: ``T`` vectorised steps cost a few
# milliseconds, less than compiling a scan for every new shape would.


def _np_forward(v: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`_forward_step` in NumPy (``p``, ``q`` already shaped to broadcast)."""
    out = np.zeros_like(v)
    out[..., 1:] = p * v[..., :-1]
    out[..., :-1] += q * v[..., 1:]
    return out


def _np_backward(v: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`_backward_step` in NumPy."""
    out = np.zeros_like(v)
    out[..., :-1] = p * v[..., 1:]
    out[..., 1:] += q * v[..., :-1]
    return out


def _np_table(p, q, start: np.ndarray, steps: int, backward: bool = False) -> np.ndarray:
    """``(K, steps + 1, P)``: ``start`` (``(K, P)``) and its images under ``steps`` steps."""
    step = _np_backward if backward else _np_forward
    pk, qk = p[:, None], q[:, None]
    out = np.empty((start.shape[0], steps + 1, start.shape[1]))
    out[:, 0] = start
    for j in range(steps):
        out[:, j + 1] = step(out[:, j], pk, qk)
    return out


def _np_powers(p, q, n_positions: int, n_blocks: int, stride: int) -> np.ndarray:
    """``(K, n_blocks, P, P)``: ``G_{k b}`` for ``k < n_blocks``, rows the starting position."""
    pk, qk = p[:, None, None], q[:, None, None]
    g = np.broadcast_to(np.eye(n_positions), (p.size, n_positions, n_positions)).copy()
    out = np.empty((p.size, n_blocks, n_positions, n_positions))
    out[:, 0] = g
    for k in range(1, n_blocks):
        for _ in range(stride):
            g = _np_forward(g, pk, qk)
        out[:, k] = g
    return out


def _log(x) -> jax.Array:
    """``log`` of a NumPy table of probabilities (``-inf`` where it is 0), as a JAX array."""
    with np.errstate(divide="ignore"):
        return jnp.asarray(np.log(x))


@dataclasses.dataclass(frozen=True)
class AbsorbingWalk(Model):
    """A mixture of biased ``+-1`` walks absorbed at ``+-A``, exact through counts of steps
    ([LKC25] Example 5 with its boundaries).

    Attributes:
        log_w: ``(K,)`` log weights.
        deltas: ``(K,)`` drifts, ``P(up) = 1/2 + deltas[theta]``.
        p_up: ``(K,)`` ``P(up) = 1/2 + Delta`` (the larger of the two rounded once).
        p_down: ``(K,)`` ``P(down)``, its exact complement.
        log_alive: ``(K, T + 1, 2B - 1)`` ``log F_theta[n, s]`` (position ``s`` at index
            ``s + B - 1``).
        log_absorbed: ``(K, 2, H)`` log-probabilities of absorption from 0 at ``+A`` (row 0)
            and ``-A`` (row 1) at step ``tau = A + 2h``.
        log_exit_up: ``(K, T, 2B - 1)`` ``log Hup_theta[j, s]`` (clean laws only, else a
            ``(K, 1, 1)`` placeholder).
        log_exit_down: the same through ``-A``.
        powers: ``(K, n_blocks, 2B - 1, 2B - 1)`` ``G_{k b}`` in linear space (clean laws only).
        proc: the observation process (truncation).
        boundary: ``A``.
        half: ``B = min(A, T + 1)``; positions ``-(B-1)..B-1``.
        n_absorb: ``H``, the number of absorption slots per side (at least 1).
        absorbing: whether ``A <= T`` (otherwise no walk can be absorbed).
        stride: ``b``, the stride between stored matrix powers.
        clean: whether the clean laws were built.
    """

    log_w: jax.Array
    deltas: jax.Array
    p_up: jax.Array
    p_down: jax.Array
    log_alive: jax.Array
    log_absorbed: jax.Array
    log_exit_up: jax.Array
    log_exit_down: jax.Array
    powers: jax.Array
    proc: Process
    boundary: int
    half: int
    n_absorb: int
    absorbing: bool
    stride: int
    clean: bool

    family = "absorbing_walk"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def length(self) -> int:
        """``T``, the number of tokens."""
        return int(self.proc.length)

    @property
    def n_positions(self) -> int:
        """``2B - 1``, the positions strictly inside the boundaries that the walk can reach."""
        return 2 * self.half - 1

    # -- layout ------------------------------------------------------------------------

    def _counts(self, t):
        """``(n, m)``: numbers of visible and hidden tokens at time ``t``."""
        hidden = jnp.round(jnp.asarray(t, dtype=jnp.float64)).astype(jnp.int64)
        hidden = jnp.clip(hidden, 0, self.length)
        return self.length - hidden, hidden

    def _taus(self):
        """``(H,)`` absorption steps ``A + 2h`` and whether each slot is real."""
        h = jnp.arange(self.n_absorb)
        real = self.absorbing & (self.boundary + 2 * h <= self.length)
        return self.boundary + 2 * h, real

    def _slots(self, steps):
        """Positions of the parity of ``steps``: ``(B,)`` indices into ``2B - 1`` and validity."""
        b = self.half
        shift = (steps + b - 1) % 2
        pos = -(b - 1) + 2 * jnp.arange(b) + shift
        ok = pos <= b - 1
        return jnp.clip(pos + b - 1, 0, 2 * b - 2), ok

    # -- noised laws -------------------------------------------------------------------

    def log_noised(self, t):
        """``(K, 2B - 1 + 2H)`` log-laws of the visible prefix at time ``t`` (always available).

        Args:
            t: the time (number of truncated tokens; traceable).

        Returns:
            ``log p_t^theta(z)`` on ``Z = [alive positions | absorbed at +A | at -A]``.
        """
        n, _ = self._counts(t)
        tau, real = self._taus()
        seen = real & (tau <= n)
        alive = jax.lax.dynamic_index_in_dim(self.log_alive, n, axis=1, keepdims=False)
        up = jnp.where(seen, self.log_absorbed[:, 0], NEG_INF)
        down = jnp.where(seen, self.log_absorbed[:, 1], NEG_INF)
        return jnp.concatenate([alive, up, down], axis=1)

    def log_noised_mixtures(self, t, log_rows):
        """Noised sub-mixtures from :meth:`log_noised` alone, so that the clean laws (absent
        when ``clean_laws=False``) are never built for them."""
        return logsumexp(log_rows[:, :, None] + self.log_noised(t)[None], axis=1)

    # -- clean laws --------------------------------------------------------------------

    def _need_clean(self):
        if not self.clean:
            raise LocalizeError(
                f"model.boundary: the clean laws of this walk (T = {self.length}, A = "
                f"{self.boundary}) were not built (clean_laws=False, or K T (2B-1)^2 above "
                f"{CLEAN_WORK}); its noised laws are available through log_noised(t), the "
                "forward-reverse experiment and window_report are not")

    def _alive_to_alive(self, rows, m):
        """``(K, B, B)`` ``G_m(s, s')`` for prefix positions ``rows`` and end positions of the
        parity of ``T``."""
        b = self.stride
        start = jax.lax.dynamic_index_in_dim(self.powers, m // b, axis=1, keepdims=False)
        start = start[:, rows, :]
        p, q = _col(self.p_up, 3), _col(self.p_down, 3)
        g = jax.lax.fori_loop(0, m % b, lambda _, v: _forward_step(v, p, q), start)
        cols, _ = self._slots(self.length)
        return g[:, :, cols]

    def view(self, t) -> View:
        """The noised laws and the clean laws on ``(B + 1, B + 2H)`` at time ``t``.

        Raises:
            LocalizeError: when the clean laws were not built.
        """
        self._need_clean()
        n, m = self._counts(t)
        rows, row_ok = self._slots(n)
        _, col_ok = self._slots(self.length)
        tau, real = self._taus()
        lf = jnp.where(row_ok, self.log_alive[:, n][:, rows], NEG_INF)  # (K, B)
        g = self._alive_to_alive(rows, m)
        both = jnp.log(g) + lf[:, :, None]
        both = jnp.where(row_ok[:, None] & col_ok[None, :], both, NEG_INF)
        # Absorbed after the prefix: tau > n, reached from s in tau - n - 1 steps plus one.
        later = real & (tau > n)
        j = jnp.clip(tau - n - 1, 0, self.log_exit_up.shape[1] - 1)
        ok = row_ok[:, None] & later[None, :]
        up = jnp.where(ok, lf[:, :, None] + self.log_exit_up[:, j[None, :], rows[:, None]],
                       NEG_INF)
        down = jnp.where(ok, lf[:, :, None] + self.log_exit_down[:, j[None, :], rows[:, None]],
                         NEG_INF)
        alive_rows = jnp.concatenate([both, up, down], axis=2)
        # Absorbed within the prefix: the rest is halting, one class per (side, tau).
        seen = real & (tau <= n)
        k = self.log_w.shape[0]
        last = jnp.concatenate([
            jnp.full((k, self.half), NEG_INF),
            jnp.where(seen, self.log_absorbed[:, 0], NEG_INF),
            jnp.where(seen, self.log_absorbed[:, 1], NEG_INF),
        ], axis=1)
        clean = jnp.concatenate([alive_rows, last[:, None]], axis=1)
        return View(clean, self.log_noised(t))

    def log_adjoint(self, t, log_r):
        """``log r(prefix class)`` on every clean class (the kernel is deterministic)."""
        self._need_clean()
        n, _ = self._counts(t)
        rows, row_ok = self._slots(n)
        tau, real = self._taus()
        width = self.half + 2 * self.n_absorb
        p_size = self.n_positions
        alive = jnp.where(row_ok, log_r[rows], NEG_INF)
        alive = jnp.broadcast_to(alive[:, None], (self.half, width))
        seen = real & (tau <= n)
        last = jnp.concatenate([
            jnp.full((self.half,), NEG_INF),
            jnp.where(seen, log_r[p_size : p_size + self.n_absorb], NEG_INF),
            jnp.where(seen, log_r[p_size + self.n_absorb :], NEG_INF),
        ])
        return jnp.concatenate([alive, last[None]], axis=0)

    # -- bookkeeping -------------------------------------------------------------------

    def clean_size(self) -> int:
        """Entries of the clean space, ``(B + 1)(B + 2H)``."""
        return (self.half + 1) * (self.half + 2 * self.n_absorb)

    def table_size(self) -> int:
        # The core holds the five mixtures of the curves on the clean space at once.
        return max(self.n_components, _MIXTURES) * self.clean_size()

    def describe(self) -> dict:
        return {
            **super().describe(),
            "length": self.length,
            "boundary": int(self.boundary),
            "deltas": np.asarray(self.deltas).tolist(),
            "tokens": "0 = down, 1 = up, 2 = halt (after absorption at +-boundary)",
            "clean_laws": bool(self.clean),
        }


jax.tree_util.register_dataclass(
    AbsorbingWalk,
    data_fields=["log_w", "deltas", "p_up", "p_down", "log_alive", "log_absorbed",
                 "log_exit_up", "log_exit_down", "powers"],
    meta_fields=["proc", "boundary", "half", "n_absorb", "absorbing", "stride", "clean"],
)


# --------------------------------------------------------------------------------------
# construction


def _check_int(name: str, value, lo: int, hi: int) -> int:
    expected = f"an integer in {lo}..{hi}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise bad(name, value, expected)
    if not lo <= int(value) <= hi:
        raise bad(name, value, expected)
    return int(value)


def _check_deltas(deltas, n_components: int) -> np.ndarray:
    expected = f"{n_components} numbers (one per weight) in the open interval (-0.5, 0.5)"
    if isinstance(deltas, (str, bytes)):
        raise bad("model.deltas", deltas, expected)
    try:
        d = np.asarray(deltas, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.deltas", deltas, expected) from None
    if d.ndim != 1 or d.size != n_components:
        raise bad("model.deltas", deltas, expected)
    if not np.all(np.isfinite(d)) or np.any(np.abs(d) >= 0.5):
        raise bad("model.deltas", deltas, expected)
    return d


def _make_process(process, length: int, order) -> Process:
    if isinstance(process, Process):
        if not isinstance(process, Truncation):
            raise bad("process.kind", process.kind, "truncation for absorbing_walk (the tokens "
                      "after absorption are not exchangeable with the steps)")
        if process.length != length:
            raise bad("process.length", process.length, f"the model's length {length}")
        return process
    if process != "truncation":
        raise bad("process.kind", process, "truncation for absorbing_walk")
    return make_process(process, length, order)


def plan(length: int, boundary: int, n_components: int) -> dict:
    """Static sizes of a walk and the work its clean laws need (no arrays are made).

    Args:
        length: ``T``.
        boundary: ``A``.
        n_components: ``K``.

    Returns:
        ``half`` (``B``), ``positions`` (``2B - 1``), ``n_absorb`` (``H``), ``absorbing``,
        ``stride`` and ``n_blocks`` of the stored matrix powers, ``table`` (entries of the
        largest precomputed table) and ``clean_work`` (``K T (2B - 1)^2``).
    """
    half = min(boundary, length + 1)
    positions = 2 * half - 1
    absorbing = boundary <= length
    n_absorb = (length - boundary) // 2 + 1 if absorbing else 1
    per_block = n_components * positions**2
    stride = max(1, -(-(length + 1) * per_block // BLOCK_BUDGET))
    n_blocks = length // stride + 1
    return {
        "half": half, "positions": positions, "n_absorb": n_absorb, "absorbing": absorbing,
        "stride": stride, "n_blocks": n_blocks,
        "table": n_components * (length + 1) * positions,
        "clean_work": n_components * length * positions**2,
    }


def absorbing_walk(weights, deltas, length, boundary, process="truncation", order=None,
                   clean_laws=None) -> AbsorbingWalk:
    """Build a mixture of biased walks absorbed at ``+-boundary`` ([LKC25] Example 5).

    Mode ``theta`` is a ``+-1`` walk from 0 that steps up with probability
    ``1/2 + deltas[theta]`` until it hits ``+boundary`` (solved) or ``-boundary`` (wrong),
    after which it emits ``halt``; a sequence has ``length`` tokens and the forward process
    truncates the last ``t``. Example 5 is ``absorbing_walk([0.5, 0.5], [D, -D], T, A)``;
    the paper's window for the ``+D`` mode, ``[T - ln(2/eps^2)/(2 D^2), T - eps^2/D^2 + 2]``,
    assumes ``ln(2/eps^2)/(2 D^2) < A``, where no prefix inside the window can be absorbed.
    With ``boundary > length`` no walk is absorbed and the model is
    :func:`synthetic.biased_coins.biased_coins` on the up/down tokens.

    Args:
        weights: ``K`` non-negative weights summing to 1.
        deltas: ``K`` drifts in the open interval ``(-1/2, 1/2)``.
        length: ``T >= 1``, the number of tokens.
        boundary: ``A >= 1``, the absorbing level.
        process: ``"truncation"`` or a :class:`localize.Truncation` of length ``T``.
        order: must be ``None`` (truncation has no order).
        clean_laws: build the clean laws (needed by ``view``, the forward-reverse experiment
            and ``window_report``): ``None`` builds them when ``K T (2B - 1)^2`` is at most
            :data:`CLEAN_WORK`; ``True`` insists (an error past the budget); ``False``
            skips them, for studies of the noised laws only (``log_noised``).

    Returns:
        An :class:`AbsorbingWalk`.

    Raises:
        LocalizeError: naming the bad parameter.
    """
    length = _check_int("model.length", length, 1, MAX_LENGTH)
    boundary = _check_int("model.boundary", boundary, 1, 10**9)
    w = check_weights(weights, "model.weights")
    d = _check_deltas(deltas, w.size)
    proc = _make_process(process, length, order)
    if clean_laws not in (None, True, False):
        raise bad("clean_laws", clean_laws, "None, True or False")
    k = w.size
    sizes = plan(length, boundary, k)
    half, positions = sizes["half"], sizes["positions"]
    if sizes["table"] > MAX_TABLE:
        hint = " (no walk is absorbed when boundary > length: use biased_coins)" if (
            not sizes["absorbing"]) else ""
        raise bad("model.boundary", boundary,
                  f"a walk whose table K (T + 1)(2 min(A, T + 1) - 1) = {sizes['table']} stays "
                  f"below {MAX_TABLE} entries{hint}")
    clean_entries = k * (half + 1) * (half + 2 * sizes["n_absorb"])
    fits = sizes["clean_work"] <= CLEAN_WORK and clean_entries <= MAX_TABLE
    if clean_laws and not fits:
        raise bad("clean_laws", clean_laws,
                  f"False or None for T = {length}, A = {boundary}: the clean laws need "
                  f"K T (2B-1)^2 = {sizes['clean_work']} multiply-adds (budget {CLEAN_WORK})")
    clean = fits if clean_laws is None else bool(clean_laws)

    p, q = _probs(d)
    start = np.zeros((k, positions))
    start[:, half - 1] = 1.0
    alive = _np_table(p, q, start, length)
    # Absorption at +-A from 0 at step tau = A + 2h: the last step from +-(A-1).
    n_abs = sizes["n_absorb"]
    if sizes["absorbing"]:
        tau = boundary + 2 * np.arange(n_abs)
        from_top = alive[:, tau - 1, positions - 1] * p[:, None]
        from_bottom = alive[:, tau - 1, 0] * q[:, None]
        absorbed = np.stack([from_top, from_bottom], axis=1)
    else:
        absorbed = np.zeros((k, 2, 1))
    placeholder = np.zeros((k, 1, 1))
    exit_up = exit_down = placeholder
    powers = np.zeros((k, 1, 1, 1))
    if clean:
        exit_up = exit_down = np.zeros((k, 1, positions))
        if sizes["absorbing"]:
            top = np.zeros((k, positions))
            top[:, -1] = p
            bottom = np.zeros((k, positions))
            bottom[:, 0] = q
            exit_up = _np_table(p, q, top, length - 1, backward=True)
            exit_down = _np_table(p, q, bottom, length - 1, backward=True)
        powers = _np_powers(p, q, positions, sizes["n_blocks"], sizes["stride"])
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return AbsorbingWalk(
        log_w=jnp.asarray(log_w),
        deltas=jnp.asarray(d),
        p_up=jnp.asarray(p),
        p_down=jnp.asarray(q),
        log_alive=_log(alive),
        log_absorbed=_log(absorbed),
        log_exit_up=_log(exit_up),
        log_exit_down=_log(exit_down),
        powers=jnp.asarray(powers),
        proc=proc,
        boundary=boundary,
        half=half,
        n_absorb=n_abs,
        absorbing=sizes["absorbing"],
        stride=sizes["stride"],
        clean=clean,
    )


register(Family(
    name="absorbing_walk",
    builder=lambda process, order, **kw: absorbing_walk(process=process, order=order, **kw),
    params={
        "length": "number of tokens T (steps up/down, then 'halt' after absorption)",
        "boundary": "absorbing level A >= 1: the walk stops at +A (solved) or -A (wrong)",
        "deltas": "K drifts in (-0.5, 0.5): mode theta steps up w.p. 1/2 + deltas[theta]",
        "weights": "K mixture weights summing to 1",
    },
    processes=("truncation",),
    summary="Example 5 with its boundaries: +-1 walks absorbed at +-A (solved / wrong), "
            "exact through counts of steps and a boundary-aware recursion",
))


# --------------------------------------------------------------------------------------
# the window of one mode from the noised laws alone


class NoisedCurves(NamedTuple):
    """Definition 4's curves for ``S_after`` against ``S_before = Theta``, each ``(n_times,)``.

    Attributes:
        tv_after_rest: ``TV(p_t^{S_after}, p_t^{Theta - S_after})`` (the separation of
            ``T^C_after``).
        log_overlap_after_rest: ``log(1 - tv_after_rest)``, computed directly.
        tv_after_full: ``TV(p_t^{S_after}, p_t)`` (the closeness of ``T^C_before``).
        stay: ``E_{Y ~ p_t^{S_after}}[pi_t(S_after | Y)]``, the probability that the
            forward-reverse output stays in ``S_after`` (theory.md §1.4).
    """

    tv_after_rest: np.ndarray
    log_overlap_after_rest: np.ndarray
    tv_after_full: np.ndarray
    stay: np.ndarray


@jax.jit
def _noised_curves(model, after, ts):
    lw = model.log_weights
    rows = jnp.stack([log_set_weights(lw, after), log_set_weights(lw, ~after), lw])
    log_w_after = logsumexp(jnp.where(after, lw, NEG_INF))

    def one(t):
        p_after, p_rest, p_all = model.log_noised_mixtures(t, rows)
        post = jnp.where(jnp.isneginf(p_all), NEG_INF, log_w_after + p_after - p_all)
        return (dv.tv(p_after, p_rest), dv.log_overlap(p_after, p_rest),
                dv.tv(p_after, p_all), jnp.exp(logsumexp(p_after + post)))

    # Batches of times keep the per-time laws small and the loop short.
    return jax.lax.map(one, ts, batch_size=32)


def noised_curves(model: Model, s_after, times) -> NoisedCurves:
    """Exact curves of Definition 4 for a mode, from the noised laws only.

    With ``S_before = Theta`` the window of ``S_after`` needs only ``p_t^{S_after}``,
    ``p_t^{Theta - S_after}`` and ``p_t`` ([LKC25] Definition 4, Example 5), so this works on
    an :class:`AbsorbingWalk` built with ``clean_laws=False`` and on any model whose
    ``log_noised_mixtures`` does not build the clean laws (biased coins).

    Args:
        model: a :class:`localize.Model`.
        s_after: component indices of ``S_after`` (its complement must have positive weight).
        times: points of the model's index set.

    Returns:
        :class:`NoisedCurves` of NumPy arrays.
    """
    mask = set_mask(model.n_components, s_after, "s_after")
    w = np.exp(np.asarray(model.log_weights))
    if w[~mask].sum() <= 0 or w[mask].sum() <= 0:
        raise bad("s_after", list(s_after), "a set of positive weight whose complement has "
                  "positive weight")
    times = model.process.validate_times(times)
    out = jax.device_get(_noised_curves(model, jnp.asarray(mask), jnp.asarray(times)))
    return NoisedCurves(*(np.asarray(a) for a in out))


def exact_window(model: Model, s_after, eps: float) -> dict:
    """The exact critical window of ``S_after`` (``S_before = Theta``) on every integer time.

    Args:
        model: a :class:`localize.Model` under truncation of length ``T``.
        s_after: component indices of ``S_after``.
        eps: the error parameter in (0, 1).

    Returns:
        ``T_after_C`` and ``T_before_C`` (Definition 4 on ``0..T``; ``None`` when no time
        qualifies), ``n_after = T - T_after_C`` and ``n_before = T - T_before_C`` in visible
        tokens (``None`` likewise), and the :class:`NoisedCurves` at ``t = 0..T``.
    """
    if not 0.0 < float(eps) < 1.0:
        raise bad("eps", eps, "a number in (0, 1)")
    length = int(model.process.length)
    times = np.arange(length + 1, dtype=np.float64)
    c = noised_curves(model, s_after, times)
    after = t_after_c(times, c.tv_after_rest, eps, log_overlap=c.log_overlap_after_rest)
    before = t_before_c(times, c.tv_after_full, None, eps)
    return {
        "T_after_C": after,
        "T_before_C": before,
        "n_after": None if after is None else int(length - after),
        "n_before": None if before is None else int(length - before),
        "curves": c,
    }
