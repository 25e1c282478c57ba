"""Hierarchy depth: how many nested features a sampler decides one after another ([LKC25] §5).

[LKC25] ends §5 by comparing the depth of the hierarchies (ε-mixture trees, Definition 8)
that different samplers produce: ``O(1)`` for Gaussian mixtures with random means under
diffusion (Example 2), but a depth that "can grow linearly with context length" for
autoregressive models (Example 7, the structured output of Fig. 4). This module makes the
comparison computable and exact.

**Definition (depth).** Fix ``0 < eps < 1``, a component ``theta`` and a family ``C`` of
candidate sub-populations. A *hierarchy chain* of ``theta`` is a strictly nested sequence

    ``Theta = S_0 ⊋ S_1 ⊋ ... ⊋ S_D = {theta}``,  every ``S_i`` in ``C ∪ {Theta, {theta}}``,

such that every consecutive pair has a non-empty critical window in the sense of Definition 4
with ``S_before = S_i`` and ``S_after = S_{i+1}``: both ``T^C_after(S_{i+1})`` and
``T^C_before(S_{i+1}, S_i)`` exist (the sup and the inf run over non-empty sets of times) and
``T^C_after <= T^C_before``. The **depth** ``D_eps(theta; C)`` is the largest ``D`` of such a
chain, and 0 when there is none (for instance when ``{theta}`` is never separated from the
other components, so that ``T^C_after({theta})`` does not exist). The depth of a model is the
maximum over ``theta``; the minimum is reported beside it.

The windows of a chain are *ordered along time* with nothing more to check:
``T^C_before(S_{i+2}, S_{i+1})`` is an infimum over times at which ``S_{i+1}`` is separated
from its complement, and ``T^C_after(S_{i+1})`` is the supremum of those times, so
``T^C_before(S_{i+2}, S_{i+1}) <= T^C_after(S_{i+1})``: each finer feature is decided at less
noise than the coarser one, as Definition 8's "monotone times" asks of ``NoiseAmount``. The
claim checks this ordering on every chain it computes.

Why Definition 4 windows rather than whole ε-mixture trees: a chain says, feature by feature,
that the sampler *decides* which ``S_{i+1}`` inside ``S_i`` a sample belongs to in a window of
its own, which is what a "level of the hierarchy" means operationally, and each link is one
window report. Two remarks on the definition:

* Definition 4 tests the separation of ``S_after`` against its *whole* complement, without the
  factor ``max(1, W)`` of Theorem 2. A set of tiny weight is therefore declared "separated"
  as soon as the mass its visible part shares with the complement falls below ``eps^2``, and
  its window can invert. In Example 7 with ``A^L`` uniform points, level ``i`` has weight
  ``A^-i``, and the complement of a deep level puts a share of about ``A^-n`` on its first
  ``n`` visible coordinates; once that share is below ``eps^2`` the level counts as
  separated before it is decided, ``T^C_after > T^C_before``, and the chain must skip it.
  At a fixed ``eps`` the depth therefore stops growing (8 for ``A = 2``, ``eps = 0.1``: the
  claim reports it). The claim uses ``eps = 0.01``, whose ``eps^2 = 1e-4`` is below every
  such share in its instances (:data:`EPS`).
* The candidate families are the natural ones, as Definition 8 would build its tree:
  agreement with ``theta`` on the first ``i`` coordinates of the masking order (Example 7),
  agreement on the first ``i`` choices (the structured toy), and *every* subset containing
  ``theta`` for Gaussian mixtures (``K = 3`` and ``8`` here), which makes "depth 1" the
  strongest statement.

How each family is computed:

* **Point masses under a deterministic process** (Example 7's ordered masking, character-level
  truncation of the structured toy): every noised law is a law on the visible sub-strings, so
  ``p_t^S`` is the weight of ``S`` in each group of components sharing the visible part.
  :func:`point_mass_windows` computes these laws in log space at every integer time and takes
  the thresholds with :mod:`localize.windows` (exact; the tests hold it to
  :func:`localize.window_report`, which :func:`report_windows` wraps for any finite model).
* **Gaussian mixtures, K <= 3** (:func:`gaussian_depth`): exact. Two identities reduce every
  condition to curves the family computes exactly: ``TV(p_t^A, p_t) = w(Theta - A)
  TV(p_t^A, p_t^{Theta - A})`` (``p = w(A) p^A + w(Theta - A) p^{Theta - A}``) and
  ``TV(p_t^theta, p_t^B) = (w(B - theta) / w(B)) TV(p_t^theta, p_t^{B - theta})``. The
  separation curves are the family's exact 2-D quadrature (closed forms for ``K = 2``), the
  pairwise TVs closed forms, and each threshold comparison is decided by one exact evaluation
  at the closed-form time where a pairwise curve crosses its level (data processing makes
  every curve monotone). A decision closer than the quadrature's reported error is left
  undetermined and widens the reported depth interval.
* **Gaussian mixtures, any K** (:func:`gaussian_depth_bounds`): certified bounds from
  pairwise closed forms only. With ``delta_ij = ||m_i - m_j|| / sigma_t``:
  ``1 - TV(p^B, p^R) >= sum_{i in B, j in R} a_i b_j (1 - TV(p^i, p^j))`` (the product
  coupling: ``min`` is super-additive), ``1 - TV(p^theta, sum_j b_j p^j) <= sum_j
  int min(p^theta, b_j p^j)`` (``min(x, sum y_j) <= sum min(x, y_j)``, each term a closed
  form) and ``TV(p^theta, p) <= w(R) sum_j b_j TV(p^theta, p^j)`` (convexity). An edge
  ``B -> {theta}`` (``B`` not ``Theta``) is *certified absent* when some time has both
  ``TV(p_t^theta, p_t^B) > eps`` and ``1 - TV(p_t^B, p_t^{Theta - B}) > eps^2``: then
  ``T_end({theta}, B) > t > T_start(B)`` and ``T^C_before({theta}, B)`` does not exist.
  When every such edge is certified absent and the direct window ``Theta -> {theta}`` is
  certified, the depth is exactly 1.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp as jlogsumexp
from jax.scipy.special import log_ndtr, ndtr

import localize
from localize.continuous import EstimateConfig
from localize.errors import LocalizeError, bad
from localize.model import Model, check_weights
from localize.posterior import log_set_weights
from localize.processes import OrderedMasking, Process, Truncation
from localize.windows import t_after_c, t_before_c
from proofs_check.result import ClaimResult, Tally

# Defaults of the claim and the figure. eps^2 = 1e-4 is below the share that a level's
# complement puts on the level's visible part just before the level is decided (at least
# 1/1023 for Example 7 with L <= 10, about 0.35^7 * 0.65 for the toy), so no window inverts
# for the reason given in the module docstring.
EPS = 0.01
# The eps at which the saturation of Example 7's depth is reported.
EPS_COARSE = 0.1
EX7_LENGTHS = tuple(range(1, 11))
EX7_ALPHABET = 2
EX7_ORDER_SEED = 0
TOY_CHOICES = tuple(range(1, 9))
GAUSS_DIMS = (2, 8, 32, 128, 512, 2048, 8192)
GAUSS_SEEDS = (0, 1, 2)
GAUSS_K_EXACT = 3
GAUSS_K_BOUNDS = 8
# From this dimension on, every component of every Gaussian instance is checked to have depth
# exactly 1 (below it the components are often not separated even at t = 0: depth 0).
GAUSS_DEPTH1_FROM = 128
# Largest K for the all-subsets bounds (2^K sets).
MAX_BOUND_K = 10
# Points of the sigma grid on which the certificates are searched.
BOUND_GRID = 200

# The curve hooks take a key and a Monte Carlo budget; the exact paths ignore both.
_KEY = jax.random.key(0)
_CONFIG = EstimateConfig(samples=2, inner_samples=2, seed=0)
_EXACT = ("exact", "closed-form", "quadrature")
_NORMAL = NormalDist()

# The structured toy: c binary blanks in a character template. The first five are the items
# of [LKC25] §6.1 (theory.md §5.1); the two options of a blank start with different letters,
# so the blank is decided by the first letter of the chosen word.
TOY_SENTENCES = (
    ("The {} jumped across the ship.", ("Pirate", "Ninja")),
    ("She adopted a {} from the shelter.", ("Dog", "Cat")),
    ("The {} sparkled under the sun.", ("River", "Bridge")),
    ("A {} guarded the castle gates.", ("Dragon", "Knight")),
    ("He ordered {} for dinner.", ("Pizza", "Sushi")),
    ("An {} watched from the old oak.", ("Owl", "Eagle")),
    ("They sailed to {} in May.", ("Lisbon", "Oslo")),
    ("A {} played all night.", ("Violin", "Trumpet")),
)
# Probability of the first option of each blank: unequal, so the answers have different
# weights, and within [0.35, 0.65], so the lightest level of any answer (0.35^7 * 0.65) stays
# above eps^2 (module docstring).
TOY_P_FIRST = (0.35, 0.6, 0.4, 0.65, 0.55, 0.45, 0.6, 0.4)
TOY_PAD = "_"


# --------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass(frozen=True)
class DepthReport:
    """The hierarchy depth of one component (module docstring).

    Attributes:
        theta: the component.
        depth: the depth (exact), or its certified lower bound.
        depth_upper: equal to ``depth`` when exact; else the certified upper bound.
        chain: a longest chain ``(Theta, S_1, ..., {theta})`` as sorted tuples (``()`` when
            the depth is 0 and ``K > 1``).
        windows: the Definition 4 window ``(T^C_after, T^C_before)`` of each link of the
            chain, or ``None`` per link where the method decides the link without computing
            its endpoints (the Gaussian paths).
        eps: the error parameter.
        method: ``"exact"`` (finite families), ``"quadrature"`` (exact Gaussian curves) or
            ``"bounds"`` (certified from pairwise closed forms).
        candidates: the number of candidate sets containing ``theta`` (``Theta`` and
            ``{theta}`` included).
        undecided: links whose validity could not be decided (``(S_before, S_after)``).
    """

    theta: int
    depth: int
    depth_upper: int
    chain: tuple
    windows: tuple
    eps: float
    method: str
    candidates: int
    undecided: tuple = ()

    @property
    def exact(self) -> bool:
        """Whether the depth is known exactly."""
        return self.depth == self.depth_upper

    def to_json(self) -> dict:
        """A JSON-ready dictionary."""
        return {
            "theta": int(self.theta), "depth": int(self.depth),
            "depth_upper": int(self.depth_upper),
            "chain": [list(s) for s in self.chain],
            "windows": [None if w is None else [_num(x) for x in w] for w in self.windows],
            "eps": float(self.eps), "method": self.method, "candidates": int(self.candidates),
            "undecided": [[list(b), list(a)] for b, a in self.undecided],
        }


def _num(x):
    return None if x is None else float(x)


# --------------------------------------------------------------------------------------
# Validation


def _check_eps(eps) -> float:
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.floating,
                                                                 np.integer)):
        raise bad("eps", eps, "a number in (0, 1)")
    if not 0.0 < float(eps) < 1.0:
        raise bad("eps", eps, "a number in (0, 1)")
    return float(eps)


def _check_k(k) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise bad("k", k, "an integer >= 1 (the number of components)")
    return int(k)


def _check_theta(theta, k: int, name: str = "theta") -> int:
    if isinstance(theta, (bool, np.bool_)) or not isinstance(theta, (int, np.integer)) \
            or not 0 <= theta < k:
        raise bad(name, theta, f"a component index in 0..{k - 1}")
    return int(theta)


def _as_set(k: int, subset, name: str) -> tuple:
    """A validated set as a sorted tuple (pure Python: it runs once per link)."""
    expected = f"a non-empty list of distinct component indices in 0..{k - 1}"
    if isinstance(subset, (str, bytes)) or not hasattr(subset, "__iter__"):
        raise bad(name, subset, expected)
    items = list(subset)
    for i in items:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)) \
                or not 0 <= i < k:
            raise bad(name, subset, expected)
    out = tuple(sorted(int(i) for i in items))
    if not out or len(set(out)) != len(out):
        raise bad(name, subset, expected)
    return out


def _check_family(k: int, sets, name: str = "sets") -> list:
    if isinstance(sets, (str, bytes)) or not hasattr(sets, "__iter__"):
        raise bad(name, sets, "a list of sets (lists of component indices)")
    out = {}
    for i, s in enumerate(sets):
        out.setdefault(_as_set(k, s, f"{name}[{i}]"), None)
    return list(out)


def _check_pairs(k: int, pairs, name: str) -> list:
    """Validate ``(S_before, S_after)`` pairs: canonical tuples, ``S_after`` a proper subset."""
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise bad(name, pairs, "a list of pairs (S_before, S_after)")
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise bad(f"{name}[{i}]", pair, "a pair (S_before, S_after)")
        before = _as_set(k, pair[0], f"{name}[{i}][0]")
        after = _as_set(k, pair[1], f"{name}[{i}][1]")
        if not set(after) < set(before):
            raise bad(f"{name}[{i}]", pair, "S_after a proper subset of S_before")
        out.append((before, after))
    return out


# --------------------------------------------------------------------------------------
# The longest chain


def longest_chain(k: int, theta: int, edges) -> tuple:
    """The longest chain ``Theta = S_0 ⊋ ... ⊋ S_D = {theta}`` along the given links.

    The combinatorial half of the depth (module docstring): the links are the pairs
    ``(S_before, S_after)`` whose Definition 4 window exists and is non-empty; the windows of
    consecutive links are ordered along time automatically, so the depth is the length of a
    longest path from ``Theta`` to ``{theta}`` in this acyclic graph (sets strictly shrink).

    Args:
        k: the number of components ``K``.
        theta: the component.
        edges: pairs ``(S_before, S_after)`` of component lists with ``theta`` in ``S_after``
            and ``S_after`` a proper subset of ``S_before``.

    Returns:
        ``(depth, chain)``: ``chain`` lists the sets from ``Theta`` to ``{theta}`` as sorted
        tuples (``((0,),)`` when ``K = 1``; ``()`` when no chain exists). Ties between
        longest chains are broken deterministically (each set keeps its first predecessor
        in the order: larger sets first, then lexicographic).

    Raises:
        LocalizeError: naming ``k``, ``theta`` or ``edges[i]`` on bad input.
    """
    k = _check_k(k)
    theta = _check_theta(theta, k)
    pairs = _check_pairs(k, edges, "edges")
    for i, (_, after) in enumerate(pairs):
        if theta not in after:
            raise bad(f"edges[{i}]", list(map(list, pairs[i])),
                      f"S_after containing theta = {theta}")
    return _longest(k, theta, pairs)


def _longest(k: int, theta: int, pairs) -> tuple:
    """:func:`longest_chain` on validated pairs."""
    full, leaf = tuple(range(k)), (theta,)
    if k == 1:
        return 0, (full,)
    children: dict = {}
    for before, after in pairs:
        children.setdefault(before, set()).add(after)
    order = lambda s: (-len(s), s)  # noqa: E731
    best, prev = {full: 0}, {}
    # A parent is strictly larger than its children, so visiting sets by decreasing size
    # settles every set before its children are extended.
    for node in sorted(children, key=order):
        if node not in best:
            continue
        for child in sorted(children[node], key=order):
            if best[node] + 1 > best.get(child, -1):
                best[child], prev[child] = best[node] + 1, node
    if leaf not in best:
        return 0, ()
    chain = [leaf]
    while chain[-1] != full:
        chain.append(prev[chain[-1]])
    return best[leaf], tuple(reversed(chain))


def _is_window(w) -> bool:
    """A Definition 4 window that exists and is non-empty."""
    return w[0] is not None and w[1] is not None and w[0] <= w[1]


def depth_from_windows(k: int, theta: int, windows: dict, eps: float,
                       method: str = "exact") -> DepthReport:
    """The depth of ``theta`` from the Definition 4 windows of candidate links.

    Args:
        k: the number of components.
        theta: the component.
        windows: ``{(S_before, S_after): (T^C_after, T^C_before)}`` (``None`` where a
            threshold does not exist) over nested candidate pairs; the pairs whose
            ``S_after`` does not contain ``theta`` are ignored.
        eps: the error parameter the windows were computed at.
        method: recorded in the report.

    Returns:
        The :class:`DepthReport`.
    """
    return finite_depths(windows, k, [theta], eps, method)[0]


def finite_depths(windows: dict, k: int, thetas, eps, method: str = "exact") -> list:
    """:func:`depth_from_windows` for several components (the windows are checked once).

    Args:
        windows: ``{(S_before, S_after): (T^C_after, T^C_before)}`` as for
            :func:`depth_from_windows`.
        k: the number of components.
        thetas: the components.
        eps: the error parameter the windows were computed at.
        method: recorded in the reports.

    Returns:
        One :class:`DepthReport` per component of ``thetas``.
    """
    k = _check_k(k)
    eps = _check_eps(eps)
    if not isinstance(windows, dict):
        raise bad("windows", windows, "a dict {(S_before, S_after): (T^C_after, T^C_before)}")
    pairs = _check_pairs(k, list(windows), "windows")
    values = []
    for pair, w in zip(pairs, windows.values(), strict=True):
        if isinstance(w, (str, bytes)) or not hasattr(w, "__len__") or len(w) != 2:
            raise bad(f"windows[{pair}]", w, "a pair (T^C_after, T^C_before), None allowed")
        values.append(tuple(None if x is None else float(x) for x in w))
    table = dict(zip(pairs, values, strict=True))
    members = [frozenset(a) for _, a in pairs]
    reports = []
    for theta in thetas:
        theta = _check_theta(theta, k, "thetas")
        mine = [p for p, m in zip(pairs, members, strict=True) if theta in m]
        depth, chain = _longest(k, theta, [p for p in mine if _is_window(table[p])])
        links = tuple(table[(chain[i], chain[i + 1])] for i in range(len(chain) - 1))
        sets = {s for p in mine for s in p} | {tuple(range(k)), (theta,)}
        reports.append(DepthReport(theta, depth, depth, chain, links, eps, method, len(sets)))
    return reports


def nested_pairs(sets) -> list:
    """Every ``(S_before, S_after)`` of ``sets`` with ``S_after`` a proper subset of
    ``S_before`` (sets as tuples of indices)."""
    bits = [sum(1 << int(i) for i in s) for s in sets]
    return [(sets[b], sets[a]) for b in range(len(sets)) for a in range(len(sets))
            if bits[a] != bits[b] and bits[a] & ~bits[b] == 0]


# --------------------------------------------------------------------------------------
# Finite models


def report_windows(model: Model, sets, eps, times) -> dict:
    """Definition 4 windows of every nested pair of ``sets``, from :func:`localize.window_report`.

    The generic path (any finite model), one window report per pair: each gives
    ``T^C_after`` and ``T^C_before`` with ``S_after = S_init`` and ``S_before = S_target``.

    Args:
        model: a finite :class:`localize.Model`.
        sets: the candidate sets (component lists); include ``Theta`` and the singletons the
            depth is wanted for.
        eps: the error parameter.
        times: strictly increasing points of the index set.

    Returns:
        ``{(S_before, S_after): (T^C_after, T^C_before)}`` with sorted tuples as sets.
    """
    if not isinstance(model, Model):
        raise bad("model", type(model).__name__, "a finite localize.Model")
    eps = _check_eps(eps)
    family = _check_family(model.n_components, sets)
    out = {}
    for before, after in nested_pairs(family):
        rep = localize.window_report(model, list(after), list(before), eps, times,
                                     progress=False)
        out[(before, after)] = (rep.T_after_C, rep.T_before_C)
    return out


def _reveal_labels(process: Process, points: np.ndarray) -> np.ndarray:
    """``(L + 1, K)`` group labels of the components by their visible part at each ``t``.

    Both deterministic processes reveal the coordinates one at a time as ``t`` decreases
    (truncation left to right, ordered masking along ``order``), so the grouping at ``t`` is
    the grouping at ``t + 1`` refined by one coordinate: a 1-D ``unique`` per time.
    """
    length = process.length
    reveal = list(range(length)) if isinstance(process, Truncation) else list(process.order)
    k = points.shape[0]
    labels = np.zeros((length + 1, k), dtype=np.int64)
    current = np.zeros(k, dtype=np.int64)
    span = int(points.max()) + 1 if points.size else 1
    for n, j in enumerate(reveal, start=1):
        _, current = np.unique(current * span + points[:, j], return_inverse=True)
        current = current.reshape(-1)
        labels[length - n] = current
    return labels


def _block_laws(log_rows: np.ndarray, labels: np.ndarray, n_blocks: int) -> np.ndarray:
    """``(M, n_blocks)`` log-laws ``log sum_{theta in block} rows[m, theta]`` (log space)."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(n_blocks))
    with np.errstate(invalid="ignore"):
        return np.logaddexp.reduceat(log_rows[:, order], starts, axis=1)


def point_mass_windows(weights, points, process: Process, sets, eps) -> dict:
    """Exact Definition 4 windows of point masses under truncation or ordered masking.

    The noised law of ``p^S`` at integer ``t`` is the law of the visible coordinates under
    ``p^S``: ``p_t^S(b) = w(S ∩ b) / w(S)`` on the groups ``b`` of components that share
    their visible part. The laws are formed in log space at every time ``0..L`` (one per
    distinct grouping) and the thresholds are those of :mod:`localize.windows` on the full
    grid, the separation test on the log-overlap, exactly as :func:`localize.window_report`
    takes them (the tests hold the two to each other).

    Args:
        weights: ``K`` positive weights summing to 1.
        points: ``(K, L)`` integer sequences.
        process: a :class:`localize.Truncation` or :class:`localize.OrderedMasking` of
            length ``L``.
        sets: the candidate sets (include ``Theta`` and the wanted singletons).
        eps: the error parameter.

    Returns:
        ``{(S_before, S_after): (T^C_after, T^C_before)}`` over the nested pairs of ``sets``.
    """
    eps = _check_eps(eps)
    w = check_weights(weights, "weights")
    if np.any(w <= 0):
        raise bad("weights", list(w), "positive weights (every set must have positive weight)")
    try:
        x = np.asarray(points)
    except (TypeError, ValueError):
        raise bad("points", points, "a (K, L) array of integers") from None
    if x.ndim != 2 or x.shape[0] != w.size or x.shape[1] < 1 \
            or not np.issubdtype(x.dtype, np.integer) or np.any(x < 0):
        raise bad("points", f"array of shape {x.shape} and dtype {x.dtype}",
                  f"a ({w.size}, L) array of non-negative integers, one row per weight")
    if not isinstance(process, (Truncation, OrderedMasking)):
        raise bad("process", process, "a Truncation or an OrderedMasking process")
    if process.length != x.shape[1]:
        raise bad("process.length", process.length, f"the points' length {x.shape[1]}")
    k = w.size
    family = _check_family(k, sets)
    pairs = nested_pairs(family)
    masks = np.array([np.isin(np.arange(k), s) for s in family])
    full = masks.all(axis=1)
    log_w = np.log(w)

    def rows(m):
        lw = np.where(m, log_w[None], -np.inf)
        return lw - np.logaddexp.reduce(lw, axis=1, keepdims=True)

    # The complement of Theta is empty; its row is a placeholder, and its separation counts
    # as met (localize.windows' convention for an empty complement).
    log_in, log_out = rows(masks), rows(np.where(full[:, None], masks, ~masks))
    index = {s: i for i, s in enumerate(family)}
    pa = np.array([index[a] for _, a in pairs], dtype=np.int64)
    pb = np.array([index[b] for b, _ in pairs], dtype=np.int64)
    times = np.arange(process.length + 1, dtype=np.float64)
    sep_tv = np.empty((times.size, len(family)))
    sep_lo = np.empty((times.size, len(family)))
    pair_tv = np.empty((times.size, len(pairs)))
    cache: dict = {}
    all_labels = _reveal_labels(process, x)
    for step in range(times.size):
        labels = all_labels[step]
        key = labels.tobytes()
        if key not in cache:
            n_blocks = int(labels.max()) + 1
            a, b = _block_laws(log_in, labels, n_blocks), _block_laws(log_out, labels, n_blocks)
            pa_, pb_ = np.exp(a), np.exp(b)
            sep = 0.5 * np.abs(pa_ - pb_).sum(axis=1)
            with np.errstate(divide="ignore"):
                lo = np.logaddexp.reduce(np.minimum(a, b), axis=1)
            ptv = 0.5 * np.abs(pa_[pa] - pa_[pb]).sum(axis=1)
            cache[key] = (sep, lo, ptv)
        sep_tv[step], sep_lo[step], pair_tv[step] = cache[key]
    out = {}
    for p, (before, after) in enumerate(pairs):
        ia, ib = index[after], index[before]
        rest_b = None if full[ib] else sep_tv[:, ib]
        out[(before, after)] = (
            t_after_c(times, sep_tv[:, ia], eps, log_overlap=sep_lo[:, ia]),
            t_before_c(times, pair_tv[:, p], rest_b, eps,
                       log_overlap=None if full[ib] else sep_lo[:, ib]),
        )
    return out


# --------------------------------------------------------------------------------------
# Example 7 and the structured toy


def example7_points(length: int, alphabet: int = EX7_ALPHABET) -> np.ndarray:
    """Every point of ``{0..A-1}^L``, lexicographic (Example 7's ``Theta = prod A_i``)."""
    length = _positive_int("length", length)
    alphabet = _positive_int("alphabet", alphabet, 2)
    return np.asarray(list(itertools.product(range(alphabet), repeat=length)),
                      dtype=np.int64).reshape(-1, length)


def example7_order(length: int, seed: int = EX7_ORDER_SEED) -> list:
    """A fixed masking order of ``0..L-1`` (a seeded permutation, so it is not the identity)."""
    length = _positive_int("length", length)
    return np.random.default_rng(seed + length).permutation(length).tolist()


def prefix_family(points: np.ndarray, order, theta: int) -> list:
    """The candidate sets of a sequence component: Example 7's tree on ``theta``'s path.

    Args:
        points: ``(K, L)`` the sequences.
        order: the order in which the process reveals the coordinates (the masking order;
            ``range(L)`` for truncation).
        theta: the component.

    Returns:
        For ``i = 0..L``, the components agreeing with ``theta`` on the first ``i``
        coordinates of ``order`` (from ``Theta`` down to the components equal to ``theta``).
    """
    x = np.asarray(points)
    theta = _check_theta(theta, x.shape[0])
    out = []
    for i in range(len(order) + 1):
        cols = list(order[:i])
        agree = np.all(x[:, cols] == x[theta, cols], axis=1)
        out.append(tuple(int(j) for j in np.flatnonzero(agree)))
    return out


def example7_depth(length: int, eps=EPS, alphabet: int = EX7_ALPHABET, thetas=(0,),
                   order=None) -> list:
    """The depth of Example 7: uniform point masses on ``{0..A-1}^L`` under ordered masking.

    Candidate sets: agreement with ``theta`` on the first ``i`` coordinates of the masking
    order (the nodes of Example 7's tree on ``theta``'s path). With uniform weights every
    ``theta`` is alike (relabelling the symbols of a coordinate maps one to another), so the
    default computes ``theta = 0``.

    Args:
        length: ``L``.
        eps: the error parameter.
        alphabet: ``A``.
        thetas: the components (indices into the lexicographic points).
        order: the masking order (default :func:`example7_order`).

    Returns:
        One :class:`DepthReport` per ``theta``.
    """
    points = example7_points(length, alphabet)
    order = example7_order(length) if order is None else list(order)
    proc = OrderedMasking(len(order), tuple(order))
    k = points.shape[0]
    thetas = [_check_theta(th, k, "thetas") for th in thetas]
    family = sorted({s for th in thetas for s in prefix_family(points, order, th)})
    windows = point_mass_windows(np.full(k, 1.0 / k), points, proc, family, eps)
    return finite_depths(windows, k, thetas, eps)


@dataclasses.dataclass(frozen=True)
class Toy:
    """The structured toy: ``c`` binary blanks rendered into a character template.

    Attributes:
        answers: ``(K, c)`` the choice of each component (0 = first option).
        texts: the rendered strings (unpadded).
        weights: ``(K,)`` the product of the chosen options' probabilities.
        points: ``(K, L)`` the strings as symbol codes, padded to one length ``L``.
        symbols: the alphabet.
        first_letter: ``(K, c)`` the character index of each chosen word's first letter.
    """

    answers: np.ndarray
    texts: tuple
    weights: np.ndarray
    points: np.ndarray
    symbols: str
    first_letter: np.ndarray

    @property
    def length(self) -> int:
        return int(self.points.shape[1])


def structured_toy(choices: int, p_first=TOY_P_FIRST) -> Toy:
    """Build the structured toy with ``choices`` blanks (the setting of [LKC25] Fig. 4).

    Sentence ``i`` is ``"{i}. " + TOY_SENTENCES[i]`` with the blank filled; the sentences are
    joined by spaces and padded with ``_`` to one length; component = one answer tuple, with
    the product of the chosen options' probabilities as weight.

    Args:
        choices: the number of blanks ``c`` (at most ``len(TOY_SENTENCES)``).
        p_first: the probability of the first option of each blank.

    Returns:
        The :class:`Toy` (``2^c`` components).
    """
    c = _positive_int("choices", choices)
    if c > len(TOY_SENTENCES):
        raise bad("choices", choices, f"an integer in 1..{len(TOY_SENTENCES)}")
    try:
        p = np.asarray(p_first, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("p_first", p_first, "a list of probabilities in (0, 1)") from None
    if p.ndim != 1 or p.size < c or not np.all((p > 0) & (p < 1)):
        raise bad("p_first", p_first, f"at least {c} probabilities in (0, 1)")
    answers = np.asarray(list(itertools.product((0, 1), repeat=c)), dtype=np.int64)
    texts, firsts = [], []
    for ans in answers:
        text, pos = "", []
        for i, a in enumerate(ans):
            template, options = TOY_SENTENCES[i]
            head, tail = template.split("{}")
            text += ("" if i == 0 else " ") + f"{i + 1}. " + head
            pos.append(len(text))
            text += options[a] + tail
        texts.append(text)
        firsts.append(pos)
    weights = np.prod(np.where(answers == 0, p[:c], 1.0 - p[:c]), axis=1)
    length = max(len(s) for s in texts)
    symbols = "".join(sorted(set("".join(texts)) | {TOY_PAD}))
    code = {ch: i for i, ch in enumerate(symbols)}
    points = np.array([[code[ch] for ch in s.ljust(length, TOY_PAD)] for s in texts],
                      dtype=np.int64)
    return Toy(answers, tuple(texts), weights / weights.sum(), points, symbols,
               np.asarray(firsts, dtype=np.int64))


def toy_family(toy: Toy) -> list:
    """Every set "agrees with some answer on its first ``i`` choices", ``i = 0..c``."""
    out = set()
    c = toy.answers.shape[1]
    for i in range(c + 1):
        _, inv = np.unique(toy.answers[:, :i], axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        for g in range(int(inv.max()) + 1):
            out.add(tuple(int(j) for j in np.flatnonzero(inv == g)))
    return sorted(out)


def structured_depth(choices: int, eps=EPS, p_first=TOY_P_FIRST) -> tuple:
    """The depth of every answer of the structured toy under character-level truncation.

    Candidate sets: the answers agreeing on the first ``i`` choices (:func:`toy_family`).

    Args:
        choices: the number of blanks.
        eps: the error parameter.
        p_first: the probability of the first option of each blank.

    Returns:
        ``(toy, reports)``, one :class:`DepthReport` per answer.
    """
    toy = structured_toy(choices, p_first)
    proc = Truncation(toy.length)
    windows = point_mass_windows(toy.weights, toy.points, proc, toy_family(toy), eps)
    k = toy.weights.size
    return toy, finite_depths(windows, k, range(k), eps)


def _positive_int(name, v, lo=1) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
        raise bad(name, v, f"an integer >= {lo}")
    return int(v)


# --------------------------------------------------------------------------------------
# Gaussian mixtures


def _gaussian(model):
    """The reduced model, its ``(K, K)`` mean distances, the shared variance and weights."""
    from synthetic.gaussian_mixture import GaussianMixture

    if not isinstance(model, GaussianMixture):
        raise bad("model", type(model).__name__, "a synthetic GaussianMixture")
    if model.cov_kind != "shared":
        raise bad("model.covariance", model.cov_kind,
                  "a shared isotropic covariance (the closed forms need it)")
    if model.process.kind not in _TIME_OF_VAR:
        raise bad("model.process", model.process.kind, f"one of {sorted(_TIME_OF_VAR)}")
    w = np.exp(np.asarray(model.log_weights))
    if np.any(w <= 0):
        raise bad("model.weights", w.tolist(), "positive weights")
    red = model.reduced()
    m = np.asarray(red.means)
    dist = np.sqrt(np.sum((m[:, None, :] - m[None, :, :]) ** 2, axis=-1))
    return red, dist, float(np.asarray(model.variances)[0]), w


# The normalised observation is X + sqrt(v(t)) Z; the time at which v(t) = v.
_TIME_OF_VAR = {
    "ou": lambda v: 0.5 * np.log1p(v),
    "ve": lambda v: v,
    "channel": lambda v: v,
}


def _time_of_sigma(model, sigma):
    """The time at which each component has standard deviation ``sigma`` (``>= s``)."""
    s2 = float(np.asarray(model.variances)[0])
    v = np.maximum(np.asarray(sigma, dtype=np.float64) ** 2 - s2, 0.0)
    return _TIME_OF_VAR[model.process.kind](v)


def _pair_tv(delta):
    """``TV(N(0, 1), N(delta, 1)) = 2 Phi(delta / 2) - 1``."""
    return math.erf(delta / (2.0 * math.sqrt(2.0)))


def _sigma_where_pair_tv(dist: float, level: float, s: float) -> float:
    """The standard deviation at which ``TV = level`` for two components ``dist`` apart
    (``s`` when the pair is already that close at ``t = 0``)."""
    if level >= 1.0:
        return s
    delta = 2.0 * _NORMAL.inv_cdf(0.5 + 0.5 * level)
    return max(s, dist / delta)


def _sep_curve(red, subset, times):
    """The exact ``TV(p_t^A, p_t^{Theta - A})`` of a reduced model at ``times``."""
    k = red.n_components
    mask = np.isin(np.arange(k), subset)
    row_a = np.asarray(log_set_weights(red.log_weights, mask))
    row_b = np.asarray(log_set_weights(red.log_weights, ~mask))
    est = red.tv_curve(_KEY, np.asarray(times, dtype=np.float64), row_a, row_b, _CONFIG)
    if est.method not in _EXACT:
        raise LocalizeError(f"model: expected an exact separation curve, got method "
                            f"{est.method!r}")
    return np.asarray(est.value), np.asarray(est.log_overlap), np.asarray(est.error)


def gaussian_depth(model, eps=EPS, thetas=None) -> list:
    """The exact depth of the components of a Gaussian mixture with ``K <= 3``.

    Candidate sets: every subset containing ``theta``. With ``u_A(t) = TV(p_t^A,
    p_t^{Theta - A})`` (exact; ``R = Theta - A``) the links are decided as follows:

    * ``Theta -> A``: ``T^C_after(A)`` exists iff ``A`` is separated at ``t = 0``.
      ``T^C_before(A, Theta) = inf{t : w(R) u_A(t) <= eps}`` always exists (``u_A(t)`` is
      at most the largest pairwise TV, Lemma 15 of [LC24], which tends to 0) and is a
      crossing of the same decreasing curve at the lower level ``eps / w(R)``, so the
      window is non-empty iff also ``eps / w(R) < 1 - eps^2``.
    * ``{theta, j} -> {theta}`` (``K = 3``, ``k`` the third component): ``T_end({theta},
      {theta, j}) = tau``, where ``(w_j / (w_theta + w_j)) TV(p_t^theta, p_t^j)`` (a closed
      form) falls to ``eps``. ``T^C_before`` exists iff ``{theta, j}`` (curve ``u_k``) is
      still separated at ``tau``, and the window is non-empty iff ``{theta}`` no longer is.

    Every ``u`` is the family's exact curve (2-D quadrature for ``K = 3``, the closed form
    for ``K = 2``), evaluated at ``t = 0`` and at the ``tau``'s only (each value is shared by
    the components that need it).

    Args:
        model: a :class:`~synthetic.gaussian_mixture.GaussianMixture` with a shared
            isotropic covariance, ``K <= 3`` components and an OU, VE or SL channel.
        eps: the error parameter.
        thetas: the components (default all).

    Returns:
        One :class:`DepthReport` (method ``"quadrature"``) per component; a decision within
        a curve's reported error is left undetermined and widens ``[depth, depth_upper]``.
    """
    eps = _check_eps(eps)
    red, dist, s2, w = _gaussian(model)
    k = w.size
    if k > GAUSS_K_EXACT:
        raise bad("model.components", k, f"at most {GAUSS_K_EXACT} for the exact path "
                  "(use gaussian_depth_bounds)")
    thetas = list(range(k)) if thetas is None else [_check_theta(t, k, "thetas")
                                                    for t in thetas]
    full = tuple(range(k))
    if k == 1:
        return [DepthReport(0, 0, 0, (full,), (), eps, "quadrature", 1)]
    s = math.sqrt(s2)
    memo: dict = {}

    def sep(i, t):
        """Is {i} (equivalently its complement) separated at t: True, False or None."""
        if (i, t) not in memo:
            _, lo, err = _sep_curve(red, [i], [t])
            memo[(i, t)] = (float(lo[0]), float(err[0]))
        lo, err = memo[(i, t)]
        gap = math.exp(lo) - eps**2
        return None if abs(gap) <= err else bool(gap < 0)

    def both(*values):
        if any(v is False for v in values):
            return False
        return None if any(v is None for v in values) else True

    reports = []
    for theta in thetas:
        leaf = (theta,)
        status = {(full, leaf): both(sep(theta, 0.0), eps / (1.0 - w[theta]) < 1.0 - eps**2)}
        # Every link into {theta} needs T^C_after({theta}), i.e. {theta} separated at t = 0.
        if k == 3 and sep(theta, 0.0) is not False:
            for j in (j for j in range(k) if j != theta):
                other, b = 3 - theta - j, tuple(sorted((theta, j)))
                status[(full, b)] = both(sep(other, 0.0), eps / w[other] < 1.0 - eps**2)
                c = w[j] / (w[theta] + w[j])
                tau = float(_time_of_sigma(red, _sigma_where_pair_tv(float(dist[theta, j]),
                                                                     eps / c, s)))
                exists = both(sep(other, 0.0), sep(other, tau))
                leaf_sep = sep(theta, tau) if exists is not False else False
                status[(b, leaf)] = both(exists, None if leaf_sep is None else not leaf_sep)
        reports.append(_report_from_status(k, theta, status, eps, "quadrature",
                                           2 ** (k - 1)))
    return reports


def _report_from_status(k, theta, status, eps, method, candidates) -> DepthReport:
    """Depth interval from link statuses (True valid, False absent, None undecided)."""
    sure = [p for p, v in status.items() if v is True]
    maybe = [p for p, v in status.items() if v is not False]
    lo, chain = _longest(k, theta, sure)
    hi, _ = _longest(k, theta, maybe)
    windows = tuple(None for _ in range(max(len(chain) - 1, 0)))
    undecided = tuple(sorted(p for p, v in status.items() if v is None))
    return DepthReport(theta, lo, hi, chain, windows, eps, method, candidates, undecided)


@jax.jit
def _bound_tables(dist, log_w, sigma, masks, pair_set, pair_theta, eps):
    """Certificates from pairwise closed forms (module docstring), on a grid of noise levels.

    Args:
        dist: ``(K, K)`` distances between the means.
        log_w: ``(K,)`` log weights.
        sigma: ``(G,)`` standard deviations of the noised components, increasing from the
            clean one (``t = 0``).
        masks: ``(N, K)`` the intermediate sets ``B`` (``1 < |B| < K``).
        pair_set, pair_theta: ``(P,)`` every ``(B, theta)`` with ``theta`` in ``B``.
        eps: the error parameter.

    Returns:
        ``absent``: ``(P,)``, whether some grid point has ``TV(p^theta, p^B) > eps`` (lower
        bound) and ``1 - TV(p^B, p^{Theta - B}) > eps^2`` (lower bound on the overlap);
        ``leaf_sep_ub``: ``(K,)`` an upper bound on ``log(1 - TV(p^theta, p^{Theta - theta}))``
        at ``t = 0``; ``close_ub``: ``(K,)`` an upper bound on ``TV(p^theta, p)`` at the last
        grid point.
    """
    k = dist.shape[0]
    delta = dist[:, :, None] / sigma[None, None, :]  # (K, K, G)
    # log(1 - TV(p^i, p^j)) = log 2 + log Phi(-delta / 2), exact far below 1e-300.
    log_o = jnp.log(2.0) + log_ndtr(-0.5 * delta)

    def set_rows(m):
        lw = jnp.where(m, log_w, -jnp.inf)
        return lw - jlogsumexp(lw)

    rows_in = jax.vmap(set_rows)(masks)  # (N, K)
    rows_out = jax.vmap(set_rows)(~masks)
    # The product coupling: log of sum_{i in B, j not in B} a_i b_j (1 - TV(p^i, p^j)).
    sep_lo = jlogsumexp(rows_in[:, :, None, None] + rows_out[:, None, :, None]
                        + log_o[None], axis=(1, 2))  # (N, G)

    def tv_leaf(m, theta):
        """Lower bound on ``TV(p^theta, p^B) = (1 - v_theta) TV(p^theta, p^{B - theta})``.

        ``TV(p^theta, sum_j v_j p^j) >= 1 - sum_j int min(p^theta, v_j p^j)``, each term
        ``Phi(-x) + v_j Phi(x - delta)`` with ``x = delta / 2 - ln(v_j) / delta``. Linear
        space: the bound matters only where each term is of the order of its weight, so
        ``ndtr`` loses nothing that could change a decision.
        """
        rest = m & (jnp.arange(k) != theta)
        lw = jnp.where(rest, log_w, -jnp.inf)
        v = jnp.exp(lw - jlogsumexp(lw))
        share = jnp.exp(jlogsumexp(lw) - jlogsumexp(jnp.where(m, log_w, -jnp.inf)))
        d = delta[theta]  # (K, G)
        safe = jnp.where(d > 0, d, 1.0)
        x = 0.5 * safe - jnp.log(jnp.where(rest, v, 1.0))[:, None] / safe
        terms = ndtr(-x) + v[:, None] * ndtr(x - safe)
        terms = jnp.where(d > 0, terms, jnp.minimum(1.0, v)[:, None])
        over = jnp.sum(jnp.where(rest[:, None], terms, 0.0), axis=0)
        return share * jnp.clip(1.0 - over, 0.0, 1.0)  # (G,)

    tv_lb = jax.vmap(lambda n, th: tv_leaf(masks[n], th))(pair_set, pair_theta)  # (P, G)
    absent = jnp.any((tv_lb > eps) & (sep_lo[pair_set] > 2.0 * jnp.log(eps)), axis=-1)

    def leaf_bounds(theta):
        rest = jnp.arange(k) != theta
        lw = jnp.where(rest, log_w, -jnp.inf)
        w_rest = jnp.exp(jlogsumexp(lw))
        log_b = lw - jlogsumexp(lw)
        # log int min(p^theta, b_j p^j) at t = 0, each a closed form (d > 0 off the diagonal
        # unless two means coincide, where the term is min(1, b_j)).
        d = delta[theta, :, 0]
        safe = jnp.where(d > 0, d, 1.0)
        x = 0.5 * safe - log_b / safe
        term = jnp.logaddexp(log_ndtr(-x), log_b + log_ndtr(x - safe))
        term = jnp.where(d > 0, term, jnp.minimum(0.0, log_b))
        sep_ub = jlogsumexp(jnp.where(rest, term, -jnp.inf))
        tv_last = -jnp.expm1(log_o[theta, :, -1])
        close = w_rest * jnp.sum(jnp.where(rest, jnp.exp(log_b) * tv_last, 0.0))
        return sep_ub, close

    leaf_sep_ub, close_ub = jax.vmap(leaf_bounds)(jnp.arange(k))
    return absent, leaf_sep_ub, close_ub


def gaussian_depth_bounds(model, eps=EPS, thetas=None) -> list:
    """Certified bounds on the depth of Gaussian components, from pairwise closed forms.

    Candidate sets: every subset containing ``theta`` (``K <= MAX_BOUND_K``). Certificates
    (module docstring), searched on a grid of noise levels from ``t = 0`` to a time where
    every pair is within ``eps / 10`` in TV:

    * depth 0 when ``{theta}`` is provably not separated at ``t = 0`` (then no window has
      ``S_after = {theta}``);
    * depth >= 1 when ``{theta}`` is provably separated at ``t = 0``, provably ``eps``-close
      to ``p`` at the end of the grid, and ``eps / w(Theta - theta) < 1 - eps^2`` (then the
      window ``Theta -> {theta}`` exists and is non-empty);
    * depth <= 1 when every link ``B -> {theta}`` with ``B`` not ``Theta`` is certified
      absent.

    Links between larger sets are not decided, so the upper bound is the longest chain that
    could end with an undecided link ``B -> {theta}``: ``K - |B| + 1`` (one component
    dropped per link from ``Theta`` to ``B``), and 1 through the direct link.

    Args:
        model: a :class:`~synthetic.gaussian_mixture.GaussianMixture` (shared isotropic
            covariance; OU, VE or SL channel).
        eps: the error parameter.
        thetas: the components (default all).

    Returns:
        One :class:`DepthReport` (method ``"bounds"``) per component; ``undecided`` lists the
        undecided links into ``{theta}``.
    """
    eps = _check_eps(eps)
    _, dist, s2, w = _gaussian(model)
    k = w.size
    if k > MAX_BOUND_K:
        raise bad("model.components", k, f"at most {MAX_BOUND_K} (every subset is a "
                  "candidate)")
    thetas = list(range(k)) if thetas is None else [_check_theta(t, k, "thetas")
                                                    for t in thetas]
    s = math.sqrt(s2)
    full = tuple(range(k))
    if k == 1:
        return [DepthReport(0, 0, 0, (full,), (), eps, "bounds", 1)]
    top = _sigma_where_pair_tv(float(dist.max()), eps / 10.0, s)
    sigma = s * np.geomspace(1.0, max(top / s, 1.0 + 1e-9) * 1.01, BOUND_GRID)
    middle = [c for r in range(2, k) for c in itertools.combinations(range(k), r)]
    # K = 2 has no intermediate set: a placeholder set {0} with theta = 1 keeps the shapes
    # valid (its answer is never read).
    masks = np.zeros((max(len(middle), 1), k), dtype=bool)
    masks[0, 0] = True
    for n, b in enumerate(middle):
        masks[n] = np.isin(np.arange(k), b)
    pairs = [(n, th) for n, b in enumerate(middle) for th in b] or [(0, 1)]
    absent, leaf_sep_ub, close_ub = (np.asarray(a) for a in _bound_tables(
        jnp.asarray(dist), jnp.asarray(np.log(w)), jnp.asarray(sigma), jnp.asarray(masks),
        jnp.asarray([p[0] for p in pairs]), jnp.asarray([p[1] for p in pairs]), eps))
    refuted = {(middle[n], th): bool(absent[i]) for i, (n, th) in enumerate(pairs)
               if middle}
    leaf_lo = _leaf_overlap_lb(dist, w, sigma[0])
    level = 2.0 * math.log(eps)
    reports = []
    for theta in thetas:
        leaf = (theta,)
        never = leaf_lo[theta] > level
        if never:
            direct = False
        elif (leaf_sep_ub[theta] <= level and close_ub[theta] <= eps
              and eps / (1.0 - w[theta]) < 1.0 - eps**2):
            direct = True
        else:
            direct = None
        undecided = [] if never else [b for b in middle if theta in b
                                      and not refuted[(b, theta)]]
        lo = 1 if direct else 0
        hi = max([1 if direct is not False else 0]
                 + [k - len(b) + 1 for b in undecided])
        chain = (full, leaf) if direct else ()
        links = (None,) if direct else ()
        undecided_links = tuple((b, leaf) for b in undecided)
        if direct is None:
            undecided_links = ((full, leaf),) + undecided_links
        reports.append(DepthReport(theta, lo, hi, chain, links, eps, "bounds",
                                   2 ** (k - 1), undecided_links))
    return reports


def _leaf_overlap_lb(dist, w, sigma) -> np.ndarray:
    """Lower bound on ``log(1 - TV(p^theta, p^{Theta - theta}))`` at noise ``sigma`` for each
    ``theta``: the product coupling, ``sum_j b_j (1 - TV(p^theta, p^j))`` with
    ``1 - TV = erfc(delta / (2 sqrt 2))`` (no cancellation)."""
    k = w.size
    out = np.empty(k)
    for th in range(k):
        rest = np.arange(k) != th
        b = w[rest] / w[rest].sum()
        o = np.array([math.erfc(d / sigma / (2.0 * math.sqrt(2.0))) for d in dist[th, rest]])
        total = float(np.sum(b * o))
        out[th] = math.log(total) if total > 0 else -math.inf
    return out


# --------------------------------------------------------------------------------------
# Series (shared by the claim and the figure)


@functools.lru_cache(maxsize=None)
def example7_series(lengths=EX7_LENGTHS, eps=EPS) -> tuple:
    """Example 7's depth (``theta = 0``) and chain windows for each length.

    Returns:
        ``(depths, reports)``: a tuple of ints and the :class:`DepthReport` per length.
    """
    reports = tuple(example7_depth(length, eps)[0] for length in lengths)
    return tuple(r.depth for r in reports), reports


@functools.lru_cache(maxsize=None)
def toy_series(choices=TOY_CHOICES, eps=EPS) -> tuple:
    """The structured toy's depth for each number of choices.

    Returns:
        ``(toys, reports)``: the :class:`Toy` and the per-answer :class:`DepthReport` list
        for each number of choices.
    """
    out = [structured_depth(c, eps) for c in choices]
    return tuple(t for t, _ in out), tuple(tuple(r) for _, r in out)


MAX_DIM = 8192


def gaussian_means(seed: int, k: int, dim: int) -> np.ndarray:
    """Example 2's means ``mu_i ~ N(0, I_dim)``, i.i.d.

    They are the first ``k`` rows and ``dim`` columns of one draw of ``MAX_BOUND_K`` means
    in :data:`MAX_DIM` dimensions (:func:`synthetic.gaussian_mixture.random_means` with
    ``jax.random.key(seed)``): one seed is one sequence of instances of growing dimension,
    the ``K = 3`` means are three of the ``K = 8`` ones, and one compilation serves all.
    """
    k = _positive_int("k", k)
    dim = _positive_int("dim", dim)
    if k > MAX_BOUND_K:
        raise bad("k", k, f"at most {MAX_BOUND_K}")
    if dim > MAX_DIM:
        raise bad("dim", dim, f"at most {MAX_DIM}")
    return _draw(int(seed))[:k, :dim].copy()


@functools.lru_cache(maxsize=None)
def _draw(seed: int) -> np.ndarray:
    from synthetic.gaussian_mixture import random_means

    return np.asarray(random_means(jax.random.key(seed), MAX_BOUND_K, MAX_DIM))


@functools.lru_cache(maxsize=None)
def gaussian_series(dims=GAUSS_DIMS, seeds=GAUSS_SEEDS, k=GAUSS_K_EXACT, eps=EPS,
                    method="quadrature") -> tuple:
    """Gaussian depths for every dimension and seed.

    Args:
        dims, seeds: the instances (means from :func:`gaussian_means`).
        k: the number of components.
        eps: the error parameter.
        method: ``"quadrature"`` (:func:`gaussian_depth`, ``K <= 3``) or ``"bounds"``
            (:func:`gaussian_depth_bounds`).

    Returns:
        ``(lo, hi, reports)``: ``(len(dims), len(seeds), k)`` integer arrays of the depth
        bounds (equal when exact) and the reports.
    """
    from synthetic.gaussian_mixture import gaussian_mixture

    fn = {"quadrature": gaussian_depth, "bounds": gaussian_depth_bounds}.get(method)
    if fn is None:
        raise bad("method", method, "'quadrature' or 'bounds'")
    lo = np.zeros((len(dims), len(seeds), k), dtype=np.int64)
    hi = np.zeros_like(lo)
    reports = {}
    for a, d in enumerate(dims):
        for b, seed in enumerate(seeds):
            model = gaussian_mixture(gaussian_means(seed, k, d), process="ou")
            reps = fn(model, eps)
            lo[a, b] = [r.depth for r in reps]
            hi[a, b] = [r.depth_upper for r in reps]
            reports[(d, seed)] = reps
    return lo, hi, reports


# --------------------------------------------------------------------------------------
# The claim

# The Gaussian instances of the claim (the figure uses every seed of GAUSS_SEEDS).
CLAIM_SEEDS = (0, 1)


def hierarchy_depth(catalog=None, *, lengths=EX7_LENGTHS, choices=TOY_CHOICES,
                    dims=GAUSS_DIMS, seeds=CLAIM_SEEDS, eps=EPS,
                    exact_method="quadrature") -> ClaimResult:
    """Hierarchy depth ([LKC25] §5 end): linear in length for sequences, ``O(1)`` for Gaussians.

    Depth is the longest chain of candidate sub-populations linked by non-empty Definition 4
    windows (module docstring). Main cases, each a residual or an inequality:

    * Example 7 (uniform point masses on ``{0,1}^L`` under ordered masking): ``depth = L``
      for every ``L`` in ``lengths``;
    * the structured toy (``c`` binary blanks, character-level truncation): every answer has
      ``depth = c`` for every ``c`` in ``choices`` (the string length grows linearly in ``c``);
    * Gaussian mixtures with random means ``N(0, I_d)`` under OU: the certified upper bound on
      the depth is at most 1 for every component, dimension and seed, with ``K = 3`` (exact:
      2-D quadrature) and ``K = 8`` (bounds from pairwise closed forms, every subset a
      candidate).

    Side checks: the windows along every sequence chain are ordered in time
    (``T^C_before`` of a link at most ``T^C_after`` of the link above it); Example 7's link
    ``i`` has the window ``[L - i - 1, L - i]``; the toy's link ``i`` has
    ``T^C_before = L_str - pos_i`` (the prefix ending just before the chosen word's first
    letter) and ``T^C_after`` one character later ([LKC25] §6.1); every Gaussian depth is
    exactly 1 (both bounds) from ``d = GAUSS_DEPTH1_FROM``; and for ``K = 3`` the exact depth
    lies inside the certified bounds. ``catalog`` is ignored; the other arguments shrink the
    instance lists, change ``eps``, or (``exact_method="bounds"``) replace the ``K = 3``
    quadrature by the bounds, whose compilation is much cheaper, in the tests.
    """
    del catalog
    eps = _check_eps(eps)
    tally = Tally()
    notes = {}

    ex7, reps7 = example7_series(tuple(lengths), eps)
    for length, depth, rep in zip(lengths, ex7, reps7, strict=True):
        where = {"family": "example7", "L": length}
        tally.add(abs(depth - length), 0.0, where={**where, "case": "depth = L"})
        _ordered(tally, rep, where)
        want = [(length - i - 1, length - i) for i in range(length)]
        got = [(np.nan, np.nan) if w is None else w for w in rep.windows]
        if len(got) == len(want):
            tally.add(np.abs(np.asarray(got, float) - np.asarray(want, float)).max(), 0.0,
                      where=where, side="example7_windows")
    notes["example7_depth_by_L"] = dict(zip(map(str, lengths), ex7, strict=True))

    toys, reps_toy = toy_series(tuple(choices), eps)
    table = {}
    for c, toy, reps in zip(choices, toys, reps_toy, strict=True):
        depths = np.array([r.depth for r in reps])
        where = {"family": "structured toy", "choices": c, "length": toy.length}
        worst = int(np.argmax(np.abs(depths - c)))
        tally.add(np.abs(depths - c).max(), 0.0,
                  where={**where, "answer": toy.texts[worst], "case": "depth = choices"})
        resid = 0.0
        for r in reps:
            _ordered(tally, r, where)
            if r.depth == c:
                pos = toy.first_letter[r.theta]
                want = np.stack([toy.length - pos - 1, toy.length - pos], axis=1)
                resid = max(resid, float(np.abs(np.asarray(r.windows, float) - want).max()))
        tally.add(resid, 0.0, where=where, side="toy_windows_at_first_letters")
        table[str(c)] = {"string_length": toy.length, "answers": int(depths.size),
                         "min_depth": int(depths.min()), "max_depth": int(depths.max())}
    notes["toy_depth_by_choices"] = table

    gauss = {}
    for k, method in ((GAUSS_K_EXACT, exact_method), (GAUSS_K_BOUNDS, "bounds")):
        if not (dims and seeds):
            break
        lo, hi, _ = gaussian_series(tuple(dims), tuple(seeds), k, eps, method)
        for a, d in enumerate(dims):
            for b, seed in enumerate(seeds):
                where = {"family": "gaussian", "K": k, "method": method, "d": d,
                         "seed": seed}
                tally.add(hi[a, b], 1.0, where={**where, "case": "depth <= 1"},
                          axes=[("theta", None)])
                if d >= GAUSS_DEPTH1_FROM:
                    tally.add(np.abs(lo[a, b] - 1) + np.abs(hi[a, b] - 1), 0.0, where=where,
                              axes=[("theta", None)], side="gaussian_depth_exactly_1")
        gauss[f"K={k} ({method})"] = _depth_counts(dims, lo, hi)
        if k == GAUSS_K_EXACT:
            lo_b, hi_b, _ = gaussian_series(tuple(dims), tuple(seeds), k, eps, "bounds")
            tally.add(np.maximum(lo_b - lo, 0) + np.maximum(hi - hi_b, 0), 0.0,
                      where={"K": k}, axes=[("d", list(dims)), ("seed", list(seeds)),
                                            ("theta", None)], side="exact_inside_bounds")
            gauss[f"K={k} (bounds)"] = _depth_counts(dims, lo_b, hi_b)
    notes["gaussian_depth_by_d"] = gauss
    coarse, _ = example7_series(tuple(lengths), EPS_COARSE)
    notes["example7_depth_by_L_at_eps_0.1"] = dict(zip(map(str, lengths), coarse,
                                                       strict=True))
    tally.note(eps=eps, seeds=list(seeds), definition=(
        "depth = longest chain Theta = S_0 > S_1 > ... > S_D = {theta} of candidate sets with "
        "a non-empty Definition 4 window (T^C_after(S_{i+1}) <= T^C_before(S_{i+1}, S_i)) for "
        "every link; candidates: agreement on the first i coordinates / choices (sequences), "
        "every subset containing theta (Gaussians)"), **notes, note=(
        "at eps = 0.1 Example 7's depth saturates (Definition 4 tests separation against the "
        "whole complement without Theorem 2's max(1, W), so levels of weight below ~eps^2 "
        "have inverted windows); eps = 0.01 keeps every level of these instances above "
        "eps^2. Gaussian means: the first K rows and d coordinates of one draw of 10 means "
        "N(0, I_8192) per seed"))
    return tally.result("hierarchy_depth", (
        "Hierarchy depth ([LKC25] §5, Definitions 4 and 8): depth = L for Example 7 under "
        "ordered masking and depth = number of choices for the structured toy (linear in the "
        "string length), but depth <= 1 for Gaussian mixtures with random means in every "
        "dimension (exactly 1 from d = 128)"))


def _depth_counts(dims, lo, hi) -> dict:
    """Per dimension, how many (seed, component) have each depth ("lo-hi" when not exact)."""
    out = {}
    for a, d in enumerate(dims):
        keys = [str(x) if x == y else f"{x}-{y}" for x, y in zip(lo[a].ravel(), hi[a].ravel(),
                                                                 strict=True)]
        out[str(d)] = {key: keys.count(key) for key in sorted(set(keys))}
    return out


def _ordered(tally: Tally, rep: DepthReport, where: dict):
    """Side check: each link's ``T^C_before`` is at most ``T^C_after`` of the link above."""
    wins = [w for w in rep.windows if w is not None]
    for upper, lower in itertools.pairwise(wins):
        tally.add(lower[1], upper[0], where={**where, "theta": rep.theta},
                  side="windows_ordered_in_time")


CLAIMS = {"hierarchy_depth": hierarchy_depth}
