"""Mixtures of point masses on ``{0..A-1}^L`` under masking ([LKC25] Examples 3 and 7).

Component ``theta`` is the point mass ``delta_{x^theta}`` at a sequence ``x^theta``. Every
process of :mod:`localize.processes` hides coordinate ``j`` at time ``t`` with probability
``q_j(t)``, independently and whatever the component, so the model is exact at ``L = 1000``
through the following reduction.

* Only coordinates where the points disagree matter. Such a coordinate ``j`` induces a
  partition ``pi_j`` of ``Theta`` (``theta ~ theta'`` iff ``x^theta_j = x^theta'_j``).
  Coordinates are grouped by *induced partition*, which is coarser than grouping by column of
  values (the columns ``(0, 1)`` and ``(1, 0)`` induce the same partition) and still exact:
  what an observation says about ``theta`` is only *which* partitions it reveals. Group ``g``
  is revealed iff one of its coordinates is visible, which happens with probability
  ``1 - prod_{j in g} q_j(t)``, independently across groups.
* An observation therefore reduces to ``z = (M, b)``: ``M`` is the meet of the partitions of
  the revealed groups (the one-block partition when none is revealed) and ``b`` the block of
  ``M`` containing the true ``theta``. Then ``p_t^theta(M, b) = P_t(M) 1[b = block_M(theta)]``,
  and every likelihood ratio between components is constant on the raw observations that map
  to one ``z`` (they all have likelihood vector ``P(mask) 1[theta in b]``), so divergences,
  posteriors and forward-reverse laws on ``z`` are the exact ones.
* The clean space is the set of distinct points; the kernel does not depend on the component,
  so ``sum_z K_t(z | u) r(z) = sum_M P_t(M) r(M, block_M(u))``.

``P_t(M)`` is computed in one of two ways, both with static shapes:

* Deterministic processes (truncation, ordered masking): the revealed groups at each integer
  ``t`` are known, so the meet partition of every ``t`` in ``0..L`` is tabulated at
  construction and ``P_t`` is a point mass on one slot (``Z`` has shape ``(1, K)``). Any number
  of points works here.
* Random masking: a log-space dynamic programme over the groups (``lax.scan``) on the set of
  partitions reachable by meets from the one-block partition (``Z`` has shape ``(P, K)``).
  The closure is computed in NumPy at construction and refused beyond
  :data:`MAX_PARTITIONS` partitions (four points have at most 15).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize.errors import bad
from localize.model import Model, View, check_weights
from localize.processes import Process, log1mexp, make_process
from synthetic.registry import Family, register

# Largest closure of partitions under meets the random-masking path accepts.
MAX_PARTITIONS = 4096
# Largest ``K * P * K`` (float64 entries of one view) the random-masking path accepts.
MAX_VIEW_ENTRIES = 2**27
# Float64 entries per batch when tabulating a deterministic process at every integer time.
_TABULATE_BUDGET = 2**22

NEG_INF = -jnp.inf


def _canonical(keys: np.ndarray) -> np.ndarray:
    """Relabel each row of ``keys`` (``(N, K)`` ints) by order of first occurrence.

    Two rows get the same labels iff they induce the same partition of ``0..K-1``. Sorting
    keeps this at ``O(N K log K)`` time and ``O(N K)`` memory.
    """
    n, k = keys.shape
    order = np.argsort(keys, axis=1, kind="stable")
    ranked = np.take_along_axis(keys, order, axis=1)
    new = np.ones((n, k), dtype=bool)
    new[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    # A stable sort puts the first occurrence of every value at the start of its run.
    start = np.maximum.accumulate(np.where(new, np.arange(k), 0), axis=1)
    first = np.empty_like(order)
    np.put_along_axis(first, order, np.take_along_axis(order, start, axis=1), axis=1)
    rank = np.cumsum(first == np.arange(k), axis=1) - 1
    return np.take_along_axis(rank, first, axis=1).astype(np.int32)


def _groups(points: np.ndarray):
    """Group the disagreeing coordinates by the partition of the points they induce.

    Returns:
        ``(parts, group_of)``: ``parts`` is ``(G, K)``, the canonical partition of each group,
        and ``group_of`` is ``(L,)``, the group of every coordinate (``G`` for coordinates
        where all the points agree).
    """
    k, length = points.shape
    canon = _canonical(points.T)
    informative = canon.max(axis=1) > 0
    group_of = np.full(length, 0, dtype=np.int32)
    if not informative.any():
        return np.zeros((0, k), dtype=np.int32), group_of
    parts, inverse = np.unique(canon[informative], axis=0, return_inverse=True)
    group_of[informative] = inverse.reshape(-1)
    group_of[~informative] = parts.shape[0]
    return parts.astype(np.int32), group_of


def _meet_closure(parts: np.ndarray):
    """Partitions reachable from the one-block partition by meets with the groups' partitions.

    Returns:
        ``(blocks, meets)``: ``blocks`` is ``(P, K)``, the canonical labels of each reachable
        partition (row 0 is the one-block partition), and ``meets`` is ``(G, P)`` with
        ``meets[g, m]`` the index of the meet of partition ``m`` with group ``g``'s partition.

    Raises:
        LocalizeError: when more than :data:`MAX_PARTITIONS` partitions are reachable.
    """
    n_groups, k = parts.shape
    blocks = [np.zeros(k, dtype=np.int32)]
    if n_groups == 0:
        return np.stack(blocks), np.zeros((0, 1), dtype=np.int32)
    index = {blocks[0].tobytes(): 0}
    columns = []
    i = 0
    while i < len(blocks):
        met = _canonical(blocks[i][None, :].astype(np.int64) * k + parts)
        uniq, inverse = np.unique(met, axis=0, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.int32)
        for r, row in enumerate(uniq):
            key = row.tobytes()
            if key not in index:
                if len(blocks) >= MAX_PARTITIONS:
                    raise bad("model.points", f"{k} points generating more than "
                              f"{MAX_PARTITIONS} partitions under meets",
                              f"at most {MAX_PARTITIONS} partitions for random_masking (use "
                              f"fewer or more structured points, or a deterministic process)")
                index[key] = len(blocks)
                blocks.append(row.astype(np.int32))
            ids[r] = index[key]
        columns.append(ids[inverse.reshape(-1)])
        i += 1
    return np.stack(blocks), np.stack(columns, axis=1).astype(np.int32)


def _tabulate(proc: Process, parts: np.ndarray, group_of: np.ndarray):
    """The meet partition revealed at each integer time of a deterministic process.

    Returns:
        ``(L + 1, K)`` block labels, or ``None`` when some ``q_j(t)`` is not 0 or 1.
    """
    n_groups, k = parts.shape
    length = proc.length
    table = np.zeros((length + 1, k), dtype=np.int32)
    times = np.arange(length + 1, dtype=np.float64)
    step = max(1, _TABULATE_BUDGET // length)
    fn = jax.vmap(proc.log_mask_probs)
    visible = []
    for s in range(0, times.size, step):
        log_q, log_keep = (np.asarray(a) for a in fn(jnp.asarray(times[s : s + step])))
        hidden, shown = log_q == 0.0, log_keep == 0.0
        if not np.all(hidden ^ shown):
            return None
        visible.append(shown)
    if n_groups == 0:
        return table
    shown = np.concatenate(visible)[:, group_of < n_groups]
    gid = group_of[group_of < n_groups]
    order = np.argsort(gid, kind="stable")
    starts = np.searchsorted(gid[order], np.arange(n_groups))
    revealed = np.add.reduceat(shown[:, order].astype(np.int32), starts, axis=1) > 0
    patterns, inverse = np.unique(revealed, axis=0, return_inverse=True)
    labels = np.zeros((patterns.shape[0], k), dtype=np.int32)
    for p, pattern in enumerate(patterns):
        if pattern.any():
            _, inv = np.unique(parts[pattern].T, axis=0, return_inverse=True)
            labels[p] = inv.reshape(-1)
    return labels[inverse.reshape(-1)]


@dataclasses.dataclass(frozen=True)
class PointMasses(Model):
    """A mixture of point masses ``sum_theta w_theta delta_{x^theta}`` ([LKC25] Ex. 3, 7).

    The observation space is ``Z = (slot, block)`` of shape ``(P, K)``: slot ``m`` is a
    partition of ``Theta`` with labels ``blocks[m]`` (``P = 1`` for deterministic processes,
    whose slot is looked up by time), and ``block`` the label of the block holding the true
    component. The clean space is the set of ``U`` distinct points.

    Attributes:
        log_w: ``(K,)`` log weights.
        points: ``(K, L)`` the sequences ``x^theta``.
        clean_of: ``(K,)`` index in ``0..U-1`` of the distinct point of each component.
        rep: ``(U,)`` one component holding each distinct point.
        blocks: ``(L + 1, K)`` block labels of the partition revealed at each integer time
            (deterministic processes) or ``(P, K)`` labels of the reachable partitions
            (random masking; row 0 is the one-block partition).
        meets: ``(G, P)`` index of the meet of each reachable partition with each group's
            partition (empty for deterministic processes).
        group_of: ``(L,)`` group of each coordinate, ``G`` where all the points agree.
        proc: the observation process.
        alphabet: ``A``.
        deterministic: whether ``blocks`` is a table indexed by time.
    """

    log_w: jax.Array
    points: jax.Array
    clean_of: jax.Array
    rep: jax.Array
    blocks: jax.Array
    meets: jax.Array
    group_of: jax.Array
    proc: Process
    alphabet: int
    deterministic: bool

    family = "point_masses"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def length(self) -> int:
        return int(self.points.shape[1])

    @property
    def n_slots(self) -> int:
        """``P``, the number of partitions on the observation space at one time."""
        return 1 if self.deterministic else int(self.blocks.shape[0])

    def _log_partition_probs(self, t):
        # log P(group g fully hidden) = sum_{j in g} log q_j: a segment sum, never -inf * 0.
        log_q, _ = self.proc.log_mask_probs(t)
        n_groups, n_parts = self.meets.shape
        log_hidden = jax.ops.segment_sum(log_q, self.group_of, num_segments=n_groups + 1)
        log_hidden = log_hidden[:n_groups]
        log_shown = log1mexp(log_hidden)
        init = jnp.where(jnp.arange(n_parts) == 0, 0.0, NEG_INF)

        def reveal(carry, x):
            meet, hidden, shown = x
            moved = carry + shown
            top = jax.ops.segment_max(moved, meet, num_segments=n_parts)
            top = jnp.where(jnp.isfinite(top), top, 0.0)
            mass = jax.ops.segment_sum(jnp.exp(moved - top[meet]), meet, num_segments=n_parts)
            return jnp.logaddexp(carry + hidden, jnp.log(mass) + top), None

        if n_groups == 0:
            return init
        out, _ = jax.lax.scan(reveal, init, (self.meets, log_hidden, log_shown))
        return out

    def _slots(self, t):
        """``(log P_t(M), labels)`` of shapes ``(P,)`` and ``(P, K)``."""
        if self.deterministic:
            idx = jnp.round(jnp.asarray(t, dtype=jnp.float64)).astype(jnp.int32)
            idx = jnp.clip(idx, 0, self.length)
            return jnp.zeros((1,)), self.blocks[idx][None, :]
        return self._log_partition_probs(t), self.blocks

    def view(self, t) -> View:
        log_pm, labels = self._slots(t)
        k = self.n_components
        hit = labels.T[:, :, None] == jnp.arange(k)
        log_noised = jnp.where(hit, log_pm[None, :, None], NEG_INF)
        n_clean = self.rep.shape[0]
        log_clean = jnp.where(self.clean_of[:, None] == jnp.arange(n_clean), 0.0, NEG_INF)
        return View(log_clean, log_noised)

    def log_adjoint(self, t, log_r):
        log_pm, labels = self._slots(t)
        gathered = jnp.take_along_axis(log_r, labels[:, self.rep], axis=1)
        return logsumexp(gathered + log_pm[:, None], axis=0)

    def table_size(self) -> int:
        k = self.n_components
        return k * self.n_slots * k + k * int(self.rep.shape[0])

    def describe(self) -> dict:
        return {
            **super().describe(),
            "alphabet": int(self.alphabet),
            "length": self.length,
            "points": np.asarray(self.points).tolist(),
        }


jax.tree_util.register_dataclass(
    PointMasses,
    data_fields=["log_w", "points", "clean_of", "rep", "blocks", "meets", "group_of"],
    meta_fields=["proc", "alphabet", "deterministic"],
)


def _check_points(points, n_components: int, alphabet: int) -> np.ndarray:
    expected = (f"{n_components} rows (one per weight) of L >= 1 integers in "
                f"0..{alphabet - 1}")
    try:
        x = np.asarray(points)
    except (TypeError, ValueError):
        raise bad("model.points", points, expected) from None
    if x.ndim != 2 or x.shape[0] != n_components or x.shape[1] < 1:
        raise bad("model.points", f"array of shape {x.shape}", expected)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer)
                               or np.issubdtype(x.dtype, np.floating)):
        raise bad("model.points", points, expected)
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise bad("model.points", points, expected)
    if np.any(x < 0) or np.any(x >= alphabet):
        raise bad("model.points", points, expected)
    return x.astype(np.int64)


def point_masses(weights, points, alphabet: int, process="truncation",
                 order=None) -> PointMasses:
    """Build a mixture of point masses ([LKC25] Example 3 and Example 7).

    Example 3 is two points under ``random_masking``; Example 7 is the points of a product of
    alphabets under ``ordered_masking``, whose forward-reverse laws are exactly sub-mixtures.

    Args:
        weights: ``K`` non-negative weights summing to 1.
        points: ``K`` rows of ``L`` integers in ``0..A-1``, the sequences ``x^theta``
            (repeated points are allowed).
        alphabet: ``A >= 2``.
        process: a process name or a :class:`localize.Process` of length ``L``.
        order: the order for ``ordered_masking``.

    Returns:
        A :class:`PointMasses`.

    Raises:
        LocalizeError: on bad parameters, or under random masking when the points generate
            more than :data:`MAX_PARTITIONS` partitions by meets.
    """
    if isinstance(alphabet, bool) or not isinstance(alphabet, (int, np.integer)) or alphabet < 2:
        raise bad("model.alphabet", alphabet, "an integer >= 2")
    w = check_weights(weights, "model.weights")
    x = _check_points(points, w.size, int(alphabet))
    length = x.shape[1]
    proc = process if isinstance(process, Process) else make_process(process, length, order)
    if proc.length != length:
        raise bad("process.length", proc.length, f"the model's length {length}")

    _, rep, clean_of = np.unique(x, axis=0, return_index=True, return_inverse=True)
    clean_of = clean_of.reshape(-1).astype(np.int32)
    parts, group_of = _groups(x)
    table = _tabulate(proc, parts, group_of) if proc.discrete_time else None
    if table is not None:
        blocks, meets = table, np.zeros((0, 1), dtype=np.int32)
    else:
        blocks, meets = _meet_closure(parts)
        entries = w.size * blocks.shape[0] * w.size
        if entries > MAX_VIEW_ENTRIES:
            raise bad("model.points", f"{w.size} points generating {blocks.shape[0]} partitions",
                      f"K * partitions * K at most {MAX_VIEW_ENTRIES} for random_masking "
                      f"(here {entries})")
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return PointMasses(
        log_w=jnp.asarray(log_w),
        points=jnp.asarray(x),
        clean_of=jnp.asarray(clean_of),
        rep=jnp.asarray(rep.astype(np.int32)),
        blocks=jnp.asarray(blocks),
        meets=jnp.asarray(meets),
        group_of=jnp.asarray(group_of),
        proc=proc,
        alphabet=int(alphabet),
        deterministic=table is not None,
    )


register(Family(
    name="point_masses",
    builder=lambda process, order, **kw: point_masses(process=process, order=order, **kw),
    params={
        "alphabet": "alphabet size A >= 2",
        "points": "K sequences of L integers in 0..A-1, one per component (Examples 3 and 7)",
        "weights": "K mixture weights summing to 1",
    },
    processes=("truncation", "ordered_masking", "random_masking"),
    summary="point masses on A^L (Examples 3, 7); exact at L = 1000 by grouping coordinates "
            "by the partition of the points they induce",
))
