"""Mixtures of biased coins, exact through binomial counts ([LKC25] Example 5).

Component ``theta`` emits ``L`` i.i.d. tokens in ``{0, 1}`` with
``P(token = 1) = p_theta = 1/2 + delta_theta``. Example 5 (math problem solving as a random
walk) is ``K = 2``, ``delta = (+Delta, -Delta)`` and weights ``(1/2, 1/2)`` under truncation.

**Reduction.** At integer time ``t`` there are ``n = L - t`` visible and ``m = t`` hidden
tokens. A sequence's likelihood under every component depends only on ``k1``, the number of
ones among the visible tokens, and ``k2``, the number among the hidden ones, so every
likelihood ratio is constant on each class ``(k1, k2)`` and the reduction is exact:

* observation space ``Z``: ``k1``, with ``p_t^theta(k1) = Bin(n, p_theta)(k1)``;
* clean space ``U``: the pairs ``(k1, k2)``, with
  ``p^theta(k1, k2) = Bin(n, p_theta)(k1) Bin(m, p_theta)(k2)``;
* the kernel is deterministic (``z = k1``), so ``log_adjoint(t, log_r)[k1, k2] = log_r[k1]``.

Truncation and ordered masking give the same numbers: the tokens are exchangeable, so only
how many are visible matters. Binomial log-pmfs use Loader's algorithm
(:func:`localize.binomial.log_binom_pmf`), accurate to a few ulps where ``gammaln`` loses
``6e-10`` at ``n = 1e5``.

**Tail truncation and its error bound.** Shapes must not depend on ``t`` (the core compiles
once and maps over times), and ``L = 1e5`` cannot afford all ``(L + 1)^2`` pairs. On an axis
with ``n`` trials each component keeps the ``w_n = 2 a_n + 1`` counts around
``round(n p_theta)``, ``a_n = ceil(sqrt(n ln(2 / tau) / 2)) + 1``, the window shifted to stay
inside ``0..n``; the axis is the union of the ``K`` windows (merged, no duplicates, padded with
``-inf`` entries to a static length). A window contains every ``k`` with
``|k - n p_theta| <= a_n - 1/2``, so by Hoeffding each component loses at most
``2 exp(-2 (a_n - 1/2)^2 / n) < tau`` of its mass on the visible axis and on the hidden axis.
Write ``W^c`` for the dropped outcomes; every retained entry has its exact value (up to
rounding), so only the mass on ``W^c`` is missing from a sum:

* a noised sub-mixture is a convex combination of components and loses less than ``tau``, so
  a TV between two of them drops ``1/2 sum_{W^c} |p - q| < (tau + tau) / 2 = tau``;
* a clean sub-mixture loses less than ``2 tau`` (a union bound over the two axes), and so does
  the forward-reverse law ``p^{S,t}(k1, k2) = p_t^S(k1) sum_theta pi_t(theta | k1)
  Bin(m, p_theta)(k2)``: less than ``tau`` for ``k1`` outside its window plus less than
  ``tau`` for ``k2`` outside its window; a TV between two such laws drops less than ``2 tau``;
* label masses and Bhattacharyya coefficients drop less than ``tau`` (Cauchy-Schwarz for BC),
  and a log-overlap is the log of a sum that drops less than ``tau``.

Every reported TV is therefore below the exact one by less than ``2 * TAIL = 2e-13``, which
:attr:`BiasedCoins.error_bound` reports (0 when every window covers its whole axis, i.e. for
``L`` up to about 120). The numbers stay ``method = "exact"``.

**Cost.** The clean table has static shape ``(axis_size, short_size)``: at each time the
longer of the two count axes runs along the first dimension and the shorter along the second,
padded with ``-inf``. At ``L = 1e5`` and ``deltas = (0.004, -0.004)`` that is
``3284 x 2160`` (7.1 million entries): a window report at 11 times takes about 6 s after a
compilation of a few seconds, in 0.6 GB, one time per chunk. Memory and time grow like ``L``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize.binomial import log_binom_pmf
from localize.errors import bad
from localize.model import Model, View, check_weights
from localize.processes import OrderedMasking, Process, Truncation, make_process
from synthetic.registry import Family, register

# Hoeffding tail level per component and axis: the dropped mass of each is below this.
TAIL = 1e-13
# Longest sequence accepted: n * hi stays exact in Loader's bd0 below 2^26 trials.
MAX_LENGTH = 10**7
# The core mixes this many sets on the clean space at each time (report._curves_at).
_MIXTURES = 5
_HALF_LOG = math.log(2.0 / TAIL) / 2.0

NEG_INF = -jnp.inf


def _radius_np(n: np.ndarray) -> np.ndarray:
    """``a_n = ceil(sqrt(n ln(2/tau) / 2)) + 1``, the same float operations as :func:`_radius`."""
    return np.ceil(np.sqrt(n.astype(np.float64) * _HALF_LOG)).astype(np.int64) + 1


def _radius(n):
    return jnp.ceil(jnp.sqrt(n.astype(jnp.float64) * _HALF_LOG)).astype(jnp.int64) + 1


def _axis_bound(n: np.ndarray, n_components: int, spread: float) -> np.ndarray:
    """An upper bound on the size of the merged window union on an axis of ``n`` trials.

    The windows start at ``clip(round(n p) - a, ...)``, a 1-Lipschitz function of
    ``round(n p)``, so they all lie in an interval of length
    ``w + n (p_max - p_min) + 1``. The radius is taken one larger than the one used, against
    any difference in float rounding between NumPy and XLA.
    """
    width = 2 * (_radius_np(n) + 1) + 1
    union = np.minimum(n_components * width, width + np.ceil(n * spread).astype(np.int64) + 2)
    return np.minimum(n + 1, union)


def _probs(deltas):
    """``(p, q) = (1/2 + delta, 1/2 - delta)`` with ``p + q = 1`` exactly, as Loader's formula
    assumes: the larger is rounded once and the smaller is its exact complement (Sterbenz)."""
    up = deltas >= 0
    big = jnp.where(up, 0.5 + deltas, 0.5 - deltas)
    small = 1.0 - big
    return jnp.where(up, big, small), jnp.where(up, small, big)


@dataclasses.dataclass(frozen=True)
class BiasedCoins(Model):
    """A mixture of i.i.d. biased coins, exact through counts ([LKC25] Example 5).

    Attributes:
        log_w: ``(K,)`` log weights.
        deltas: ``(K,)`` biases, ``P(token = 1) = 1/2 + deltas[theta]``.
        proc: the observation process (truncation or ordered masking).
        axis_size: static length of an axis of counts (the union of the windows, padded).
        short_size: static length of the shorter axis of the clean table (the clean space
            is ``(axis_size, short_size)``: pairs of counts, the longer axis first).
        truncated: whether some window is shorter than its axis (then
            ``error_bound = 2 * TAIL``).
    """

    log_w: jax.Array
    deltas: jax.Array
    proc: Process
    axis_size: int
    short_size: int
    truncated: bool

    family = "biased_coins"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def length(self) -> int:
        return int(self.proc.length)

    @property
    def error_bound(self) -> float:
        """``2 * TAIL`` when the tails are truncated (see the module docstring), else 0."""
        return 2.0 * TAIL if self.truncated else 0.0

    def _counts(self, t):
        """``(n, m)``: numbers of visible and hidden tokens at time ``t``."""
        hidden = jnp.round(jnp.asarray(t, dtype=jnp.float64)).astype(jnp.int64)
        hidden = jnp.clip(hidden, 0, self.length)
        return self.length - hidden, hidden

    def _axis(self, n, p):
        """The merged windows of the components on an axis of ``n`` trials.

        Returns:
            ``(k, ok, size)``: ``(axis_size,)`` counts in increasing order, whether each entry
            is real (not padding), and the number of real entries.
        """
        width = 2 * _radius(n) + 1
        start = jnp.clip(jnp.round(n * p).astype(jnp.int64) - _radius(n), 0,
                         jnp.maximum(n + 1 - width, 0))
        start = jnp.sort(start)
        end = start + width
        # Each window adds what lies past the previous end (the windows share one width).
        prev_end = jnp.concatenate([start[:1], end[:-1]])
        first = jnp.maximum(start, prev_end)
        count = end - first
        stop = jnp.cumsum(count)
        pos = jnp.arange(self.axis_size)
        which = jnp.minimum(jnp.searchsorted(stop, pos, side="right"), p.shape[0] - 1)
        k = first[which] + pos - (stop - count)[which]
        ok = (pos < stop[-1]) & (k <= n)
        size = jnp.minimum(stop[-1], n + 1)
        return jnp.where(ok, k, 0), ok, size

    def _sizes(self, t):
        """Numbers of real entries on the visible and hidden axes at time ``t``."""
        n, m = self._counts(t)
        p, _ = _probs(self.deltas)
        return self._axis(n, p)[2], self._axis(m, p)[2]

    def _axis_laws(self, t):
        """``(K, axis_size)`` log-pmfs of ``Bin(n, p_theta)`` and ``Bin(m, p_theta)`` on the
        visible and hidden axes, and the numbers of real entries on each."""
        n, m = self._counts(t)
        p, q = _probs(self.deltas)
        k_vis, ok_vis, size_vis = self._axis(n, p)
        k_hid, ok_hid, size_hid = self._axis(m, p)
        n_comp = p.shape[0]
        rows = (
            jnp.repeat(jnp.stack([k_vis, k_hid]), n_comp, axis=0),
            jnp.repeat(jnp.stack([ok_vis, ok_hid]), n_comp, axis=0),
            jnp.repeat(jnp.stack([n, m]), n_comp),
            jnp.tile(p, 2),
            jnp.tile(q, 2),
        )

        def row(x):
            k, ok, trials, p_row, q_row = x
            return jnp.where(ok, log_binom_pmf(k, trials, p_row, q_row), NEG_INF)

        # One loop over (axis, component) materialises the tables: as plain elementwise code,
        # XLA would fuse Loader's formula into every consumer on the clean grid and evaluate
        # it there, once per grid entry.
        laws = jax.lax.map(row, rows)
        return laws[:n_comp], laws[n_comp:], size_vis, size_hid

    def _layout(self, t):
        """The clean table's two axes at time ``t``.

        The longer of the visible and hidden axes runs along the first dimension
        (``axis_size``), the shorter along the second (``short_size``), which keeps the table
        static and near its smallest.

        Returns:
            ``(log_vis, long, short, ok)``: the ``(K, axis_size)`` visible laws, the
            ``(K, axis_size)`` and ``(K, short_size)`` laws along the two dimensions, and the
            ``(axis_size, short_size)`` mask of real pairs.
        """
        log_vis, log_hid, size_vis, size_hid = self._axis_laws(t)
        swap = size_vis < size_hid
        b = self.short_size
        long = jnp.where(swap, log_hid, log_vis)
        short = jnp.where(swap, log_vis[:, :b], log_hid[:, :b])
        return log_vis, long, short, self._mask(size_vis, size_hid)

    def _mask(self, size_vis, size_hid):
        size_long = jnp.maximum(size_vis, size_hid)
        size_short = jnp.minimum(size_vis, size_hid)
        return ((jnp.arange(self.axis_size) < size_long)[:, None]
                & (jnp.arange(self.short_size) < size_short)[None, :])

    def view(self, t) -> View:
        log_vis, long, short, ok = self._layout(t)
        log_clean = jnp.where(ok[None], long[:, :, None] + short[:, None, :], NEG_INF)
        return View(log_clean, log_vis)

    def log_noised_mixtures(self, t, log_rows):
        log_vis = self._axis_laws(t)[0]
        return logsumexp(log_rows[:, :, None] + log_vis[None], axis=1)

    def log_clean_mixtures(self, t, log_rows):
        # sum_theta w_theta b_theta(i) c_theta(j) as exp(s_i + s_j) times a sum of products of
        # factors in [0, 1], with s_i, s_j the per-axis maxima: no exp on the (i, j) grid, one
        # log. The sum is at least the probability itself, so it underflows only for entries
        # below 1e-308, which change no reported number.
        _, long, short, ok = self._layout(t)
        top_l = jnp.max(long, axis=0)
        top_s = jnp.max(short, axis=0)
        top_l = jnp.where(jnp.isfinite(top_l), top_l, 0.0)
        top_s = jnp.where(jnp.isfinite(top_s), top_s, 0.0)
        g = jnp.exp(short - top_s)
        shift = top_l[:, None] + top_s[None, :]
        out = []
        # One row at a time and the components unrolled: plain elementwise loops that XLA
        # fuses, and rows the caller drops are never computed.
        for row in range(log_rows.shape[0]):
            f = jnp.exp(log_rows[row][:, None] + long - top_l)
            total = f[0][:, None] * g[0][None, :]
            for k in range(1, f.shape[0]):
                total = total + f[k][:, None] * g[k][None, :]
            out.append(jnp.where(ok, jnp.log(total) + shift, NEG_INF))
        return jnp.stack(out)

    def log_adjoint(self, t, log_r):
        size_vis, size_hid = self._sizes(t)
        spread = jnp.where(size_vis < size_hid, log_r[None, : self.short_size], log_r[:, None])
        return jnp.where(self._mask(size_vis, size_hid), spread, NEG_INF)

    def table_size(self) -> int:
        # The core holds the five mixtures of the curves on the clean space at once.
        return max(self.n_components, _MIXTURES) * self.axis_size * self.short_size

    def describe(self) -> dict:
        return {
            **super().describe(),
            "length": self.length,
            "deltas": np.asarray(self.deltas).tolist(),
            "tail_probability": TAIL if self.truncated else 0.0,
        }


jax.tree_util.register_dataclass(
    BiasedCoins,
    data_fields=["log_w", "deltas"],
    meta_fields=["proc", "axis_size", "short_size", "truncated"],
)


def _check_length(length) -> int:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise bad("model.length", length, f"an integer in 1..{MAX_LENGTH}")
    if not 1 <= int(length) <= MAX_LENGTH:
        raise bad("model.length", length, f"an integer in 1..{MAX_LENGTH}")
    return int(length)


def _check_deltas(deltas, n_components: int) -> np.ndarray:
    expected = f"{n_components} numbers (one per weight) in [-0.5, 0.5]"
    if isinstance(deltas, (str, bytes)):
        raise bad("model.deltas", deltas, expected)
    try:
        d = np.asarray(deltas, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.deltas", deltas, expected) from None
    if d.ndim != 1 or d.size != n_components:
        raise bad("model.deltas", deltas, expected)
    if not np.all(np.isfinite(d)) or np.any(np.abs(d) > 0.5):
        raise bad("model.deltas", deltas, expected)
    return d


def _make_process(process, length: int, order) -> Process:
    supported = "truncation or ordered_masking for biased_coins"
    if isinstance(process, Process):
        if not isinstance(process, (Truncation, OrderedMasking)):
            raise bad("process.kind", process.kind,
                      f"{supported} (random masking is not supported: counts of visible "
                      "tokens would not be a fixed number)")
        if process.length != length:
            raise bad("process.length", process.length, f"the model's length {length}")
        return process
    if process not in ("truncation", "ordered_masking"):
        raise bad("process.kind", process, supported)
    return make_process(process, length, order)


def biased_coins(weights, deltas, length, process="truncation", order=None) -> BiasedCoins:
    """Build a mixture of biased coins ([LKC25] Example 5).

    Component ``theta`` is ``Bern(1/2 + deltas[theta])^{(x) L}``; Example 5 is
    ``biased_coins([0.5, 0.5], [Delta, -Delta], T)`` under truncation, whose critical window
    for the ``+Delta`` mode is ``[T - ln(2/eps^2)/(2 Delta^2), T - eps^2/Delta^2 + 2]``.

    Args:
        weights: ``K`` non-negative weights summing to 1.
        deltas: ``K`` biases in ``[-1/2, 1/2]``.
        length: the sequence length ``L``, at most :data:`MAX_LENGTH`. The clean table of a
            window report grows like ``L`` (7 million entries at ``L = 1e5`` for biases
            ``+-0.004``, up to ``K^2`` times more for biases far apart); its noised laws alone
            stay cheap at ``L = 1e7``.
        process: ``"truncation"``, ``"ordered_masking"`` or a :class:`localize.Process` of
            length ``L`` of those kinds. By exchangeability any masking order gives the same
            numbers as truncation.
        order: the order for ``ordered_masking`` (validated, then irrelevant).

    Returns:
        A :class:`BiasedCoins`.

    Raises:
        LocalizeError: naming the bad parameter.
    """
    length = _check_length(length)
    w = check_weights(weights, "model.weights")
    d = _check_deltas(deltas, w.size)
    proc = _make_process(process, length, order)
    p = np.where(d >= 0, 0.5 + d, 1.0 - (0.5 - d))
    spread = float(p.max() - p.min())
    n = np.arange(length + 1, dtype=np.int64)
    per_axis = _axis_bound(n, w.size, spread)
    axis_size = int(per_axis.max())
    short_size = int(np.minimum(per_axis, per_axis[::-1]).max())
    truncated = bool(np.any(2 * _radius_np(n) + 1 < n + 1))
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return BiasedCoins(
        log_w=jnp.asarray(log_w),
        deltas=jnp.asarray(d),
        proc=proc,
        axis_size=axis_size,
        short_size=short_size,
        truncated=truncated,
    )


register(Family(
    name="biased_coins",
    builder=lambda process, order, **kw: biased_coins(process=process, order=order, **kw),
    params={
        "length": "sequence length L of tokens in {0, 1} (a window report at 1e5 takes seconds)",
        "deltas": "K biases in [-0.5, 0.5]: component theta emits 1 w.p. 1/2 + deltas[theta]",
        "weights": "K mixture weights summing to 1",
    },
    processes=("truncation", "ordered_masking"),
    summary="i.i.d. biased coins (Example 5, math as a random walk); exact through binomial "
            "counts of visible and hidden ones, tails below 1e-13 dropped and bounded",
))
