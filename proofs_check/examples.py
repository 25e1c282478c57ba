"""Closed forms of the paper's worked examples, and the claims that hold them to the exact laws.

* **Example 3** (§4.1.2, theory.md §3.2 and §6 item 17): two point masses at Hamming distance
  ``d_H`` under random masking at rate ``t``. The closed forms are
  ``TV(p_t^{+1}, p_t^{-1}) = 1 - t^{d_H}``, ``TV(p_t^{+1}, p_t) = (1 - t^{d_H}) / 2`` and the
  forward-reverse law ``p^{+1,t} = (1 - t^{d_H}/2) delta_{+1} + (t^{d_H}/2) delta_{-1}``; the
  window is ``[eps^{2/d_H}, (1 - eps)^{1/d_H}]``, and at its upper end the bound
  ``TV(p^{+1,t}, p) <= eps / 2`` is met with equality.
* **Example 5** (§4.2.1, theory.md §3.3 and §6 item 20): two biased coins ``Bern(1/2 +- Delta)``
  under truncation; with ``n`` visible tokens the two laws are binomials, and the paper's
  thresholds ``n = ceil(ln(2/eps^2) / (2 Delta^2))`` and ``n = eps^2/Delta^2 - 2`` give
  ``TV >= 1 - eps^2`` and ``TV <= 3 eps`` under its assumption ``eps^2 < 1e-3 (1/4 - Delta^2)``.
* **Example 7** (§5, theory.md §2.4 and §6 item 18): the points of ``A_1 x ... x A_d`` under
  masking in a fixed order form a 0-mixture tree (Definition 8): every forward-reverse law
  from one component is exactly a sub-mixture, and every TV at a ``NoiseAmount`` time is 0 or 1.

The claims compare the exact laws computed by the core (:mod:`proofs_check.tables`) with these
formulas; the formulas only ever sit on the right-hand side.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from localize import divergences as dv
from localize.posterior import log_submixture
from localize.windows import t_after_c, t_before_c
from proofs_check import tables
from proofs_check.result import ClaimResult, Tally

# Relative offset of the grid points placed on either side of each closed-form threshold.
BRACKET = 1e-9
# Example 5: (Delta, eps) pairs meeting the paper's assumptions (2 Delta < 0.01,
# eps^2 < 1e-3 (1/4 - Delta^2) and eps^2 / Delta^2 > 2): the two rows of theory.md §3.3.
EXAMPLE5_CASES = ((0.004, 0.01), (0.001, 0.015))


def _roles(catalog, role):
    return [inst for inst in catalog if role in inst.roles]


# --------------------------------------------------------------------------------------
# Example 3


def example3_points(length: int, d_h: int) -> np.ndarray:
    """Two sequences in ``{0,1}^length`` at Hamming distance ``d_h`` (the first ``d_h`` bits)."""
    points = np.zeros((2, length), dtype=np.int64)
    points[1, :d_h] = 1
    return points


def example3_closed_forms(d_h: int, t) -> dict:
    """The exact laws of Example 3 in closed form at masking rates ``t`` (theory.md §6 item 17).

    Returns:
        A dict of arrays: ``tv_components = 1 - t^d``, ``tv_to_mixture = (1 - t^d)/2``,
        ``fr_to_component = TV(p^{+1,t}, p^{+1}) = t^d / 2``,
        ``fr_to_mixture = TV(p^{+1,t}, p) = (1 - t^d)/2`` and ``label_stay = 1 - t^d / 2``.
    """
    td = np.power(np.asarray(t, dtype=np.float64), d_h)
    return {
        "tv_components": 1.0 - td,
        "tv_to_mixture": 0.5 * (1.0 - td),
        "fr_to_component": 0.5 * td,
        "fr_to_mixture": 0.5 * (1.0 - td),
        "label_stay": 1.0 - 0.5 * td,
    }


def example3_thresholds(d_h: int, eps: float) -> dict:
    """The window of Example 3.

    Returns:
        ``after = eps^{2/d_H}`` (the paper's and Definition 4's ``T^C_after``),
        ``before = (1 - eps)^{1/d_H}`` (the paper's ``T^C_before``, from the pairwise TV) and
        ``before_def4 = (1 - 2 eps)^{1/d_H}``, the ``T^C_before`` that Definition 4 gives
        (it tests ``TV(p_t^{+1}, p_t) = (1 - t^{d_H})/2 <= eps``).
    """
    return {
        "after": eps ** (2.0 / d_h),
        "before": (1.0 - eps) ** (1.0 / d_h),
        "before_def4": (1.0 - 2.0 * eps) ** (1.0 / d_h),
    }


def example3_grid(d_h: int, eps: float) -> tuple:
    """Nine times: 0, each threshold with a point ``BRACKET`` below and above, the paper's
    ``T^C_before`` and 1 (needs ``eps < sqrt 2 - 1`` so that the thresholds are ordered)."""
    th = example3_thresholds(d_h, eps)
    a, b2, b = th["after"], th["before_def4"], th["before"]
    grid = (0.0, a * (1 - BRACKET), a, a * (1 + BRACKET), b2 * (1 - BRACKET), b2,
            b2 * (1 + BRACKET), b, 1.0)
    if not all(x < y for x, y in itertools.pairwise(grid)):
        raise ValueError(f"eps: expected eps < sqrt(2) - 1 for an ordered grid, got {eps}")
    return grid


def example3(catalog) -> ClaimResult:
    """Example 3 of [LKC25]: the window of two point masses under random masking.

    Main inequalities, on grids holding the thresholds: for ``t <= eps^{2/d_H}``,
    ``TV(p^{+1,t}, p^{+1}) <= (sqrt 2 / 2) eps``; for ``t >= (1 - eps)^{1/d_H}``,
    ``TV(p^{+1,t}, p) <= eps / 2`` (with equality at the threshold); for ``t`` at or above
    Definition 4's ``T^C_before``, ``TV(p^{+1,t}, p) <= eps``. Side checks: the closed forms
    of theory.md §6 item 17 as identities, the equality at ``(1 - eps)^{1/d_H}``, the value
    ``eps^2 / 2`` at ``T^C_after``, the thresholds that Definition 4 gives on the exact curves
    (:func:`localize.t_after_c`, :func:`localize.t_before_c`) within ``BRACKET`` of the closed
    forms, and ``d_H`` times the width bounded by ``ln((1 - 2 eps) / eps^2)``.
    """
    tally = Tally()
    for inst in _roles(catalog, "example3"):
        d, eps = inst.params["d_H"], inst.params["eps"]
        tab = tables.compute(inst)
        t = tab.times
        i, j, f = tab.index([0]), tab.index([1]), tab.index([0, 1])
        th = example3_thresholds(d, eps)
        closed = example3_closed_forms(d, t)
        where = {"instance": inst.name}
        axes = [("t", t.tolist())]
        fr_comp, fr_mix = tab.tv_fr_clean[:, i, i], tab.tv_fr_clean[:, i, f]
        after, before = th["after"], th["before"]
        tally.add(fr_comp, math.sqrt(2) / 2 * eps, where={**where, "bound": "after"}, axes=axes,
                  valid=t <= after)
        tally.add(fr_mix, eps / 2, where={**where, "bound": "before (paper)"}, axes=axes,
                  valid=t >= before)
        exact = {
            "tv_components": tab.div["tv"][:, i, j],
            "tv_to_mixture": tab.div["tv"][:, i, f],
            "fr_to_component": fr_comp,
            "fr_to_mixture": fr_mix,
            "label_stay": tab.label[:, i, 0],
        }
        for key, value in exact.items():
            tally.add(np.abs(value - closed[key]), 0.0, where=where, axes=axes,
                      side=f"closed_form_{key}")
        at_before = int(np.flatnonzero(t == before)[0])
        tally.add(abs(fr_mix[at_before] - eps / 2), 0.0, where=where, side="equality_at_before")
        at_after = int(np.flatnonzero(t == after)[0])
        tally.add(abs(fr_comp[at_after] - eps**2 / 2), 0.0, where=where, side="value_at_after")
        # Definition 4 on the exact curves, S_after = {+1}, S_before = Theta.
        got_after = t_after_c(t, tab.div_rest["tv"][:, i], eps,
                              log_overlap=tab.div_rest["lo"][:, i])
        got_before = t_before_c(t, tab.div["tv"][:, i, f], None, eps)
        got_after = -1.0 if got_after is None else got_after
        got_before = 2.0 if got_before is None else got_before
        tally.add(after * (1 - BRACKET), got_after, where=where, side="t_after_c_bracket")
        tally.add(got_after, after, where=where, side="t_after_c_bracket")
        tally.add(th["before_def4"], got_before, where=where, side="t_before_c_bracket")
        tally.add(got_before, th["before_def4"] * (1 + BRACKET), where=where,
                  side="t_before_c_bracket")
        tally.add(fr_mix, eps, where={**where, "bound": "before (Definition 4)"}, axes=axes,
                  valid=t >= got_before)
        tally.add(d * (got_before - got_after), math.log((1 - 2 * eps) / eps**2), where=where,
                  side="d_H_times_width")
    tally.note(bracket=BRACKET, note=(
        "the paper's T^C_before = (1-eps)^(1/d_H) comes from TV(p_t^{+1}, p_t^{-1}) <= eps; "
        "Definition 4 tests TV(p_t^{+1}, p_t) <= eps, which gives (1-2eps)^(1/d_H), earlier"))
    return tally.result("example3", "Example 3: TV(p^{+1,t}, p^{+1}) <= (sqrt2/2) eps for "
                        "t <= eps^(2/d_H); TV(p^{+1,t}, p) <= eps/2 for t >= (1-eps)^(1/d_H), "
                        "with equality at the threshold; closed forms exact")


# --------------------------------------------------------------------------------------
# Example 5


def example5_thresholds(delta: float, eps: float) -> dict:
    """The numbers of visible tokens at Example 5's thresholds (theory.md §3.3, §6 item 20).

    Returns:
        ``n_after = ceil(ln(2/eps^2) / (2 Delta^2))`` (``T^C_after = T - n_after``) and
        ``n_before = floor(eps^2 / Delta^2 - 2)``, the visible tokens at the first integer
        time at or above ``T^C_before = T - eps^2/Delta^2 + 2``.
    """
    return {
        "n_after": int(math.ceil(math.log(2.0 / eps**2) / (2.0 * delta**2))),
        "n_before": int(math.floor(eps**2 / delta**2 - 2.0)),
    }


@jax.jit
def _coin_tvs(model, t_after, t_before, plus, minus):
    """``log(1 - TV(p^+, p^-))`` at ``t_after``, then ``TV(p^+, p^-)`` and
    ``TV(p^+, (p^+ + p^-)/2)`` at ``t_before``, for components ``plus`` and ``minus`` (noised
    laws only, so the clean table is never built)."""
    # One traced view for both times: the binomial code is compiled once.
    after, before = jax.vmap(lambda t: model.view(t).log_noised)(jnp.stack([t_after, t_before]))
    pair = (jnp.arange(model.log_weights.shape[0]) == plus) | (
        jnp.arange(model.log_weights.shape[0]) == minus)
    mixture = log_submixture(model.log_weights, before, pair)
    return (dv.log_overlap(after[plus], after[minus]), dv.tv(before[plus], before[minus]),
            dv.tv(before[plus], mixture))


def example5(catalog) -> ClaimResult:
    """Example 5 of [LKC25]: exact binomial TVs of two biased coins at the paper's thresholds.

    With ``n`` visible tokens, ``TV(p_t^{+1}, p_t^{-1}) = TV(Bin(n, 1/2 + Delta),
    Bin(n, 1/2 - Delta))``. Main inequalities: ``1 - TV <= eps^2`` at
    ``n = ceil(ln(2/eps^2)/(2 Delta^2))`` and ``TV <= 3 eps`` at ``n = eps^2/Delta^2 - 2``.
    Side checks: the paper's assumptions ``eps^2 < 1e-3 (1/4 - Delta^2)``, ``2 Delta < 0.01``
    and ``eps^2 / Delta^2 > 2``, and Definition 4's own test at ``T^C_before``,
    ``TV(p_t^{+1}, p_t) <= eps`` (``p`` the equal-weight mixture of the two modes). The family
    drops binomial tails below ``1e-13`` and reports the resulting bound as ``error_bound``,
    which is added to the tolerance.
    """
    tally = Tally()
    values = {}
    for inst in _roles(catalog, "example5"):
        length = inst.model.length
        tally.atol = float(inst.model.error_bound)
        for case in inst.params["cases"]:
            delta, eps = case["delta"], case["eps"]
            t_after = float(length - case["n_after"])
            t_before = float(length - case["n_before"])
            where = {"instance": inst.name, "Delta": delta, "eps": eps}
            log_gap, tv_before, tv_mix = (float(v) for v in _coin_tvs(
                inst.model, jnp.float64(t_after), jnp.float64(t_before), case["plus"],
                case["minus"]))
            overlap = math.exp(log_gap)
            tally.add(overlap, eps**2, where={**where, "at": "T^C_after",
                                              "n_visible": case["n_after"]})
            tally.add(tv_before, 3 * eps, where={**where, "at": "T^C_before",
                                                 "n_visible": case["n_before"]})
            tally.add(eps**2, 1e-3 * (0.25 - delta**2), where=where, side="assumption_eps")
            tally.add(2 * delta, 0.01, where=where, side="assumption_delta")
            tally.add(2.0, eps**2 / delta**2, where=where, side="assumption_positive_n")
            tally.add(tv_mix, eps, where=where, side="definition4_before")
            values[f"Delta={delta}, eps={eps}"] = {
                "n_after": case["n_after"], "tv_at_after": 1 - overlap,
                "n_before": case["n_before"], "tv_at_before": tv_before}
    tally.note(values=values)
    return tally.result("example5", "Example 5: TV(Bin(n,1/2+D), Bin(n,1/2-D)) >= 1 - eps^2 at "
                        "n = ceil(ln(2/eps^2)/(2D^2)) and <= 3 eps at n = eps^2/D^2 - 2")


# --------------------------------------------------------------------------------------
# Example 7


@dataclasses.dataclass(frozen=True)
class Tree:
    """The tree of Example 7 (Definition 8) for points ``A_1 x ... x A_d`` and a masking order.

    Attributes:
        points: ``(K, d)`` every point of the product, lexicographic.
        subsets: the components under each node (node 0 is the root).
        depth: the depth of each node; the children of a node agree on one more coordinate
            of the order.
        parent: the parent of each node (``-1`` for the root).
        noise: ``NoiseAmount`` of each node, its distance to a leaf (``d - depth``).
        leaves: the leaf nodes, one per component, in component order.
        ancestor: ``(K, d + 1)``, the node at each depth above each component.
    """

    points: np.ndarray
    subsets: tuple
    depth: tuple
    parent: tuple
    noise: tuple
    leaves: tuple
    ancestor: np.ndarray


def example7_tree(alphabets, order) -> Tree:
    """Build Example 7's tree: leaves share a parent iff they agree on the first coordinates.

    Args:
        alphabets: ``(A_1, ..., A_d)``.
        order: the masking order (the last ``t`` coordinates of ``order`` are masked at ``t``).

    Returns:
        The :class:`Tree`.
    """
    d = len(alphabets)
    points = np.asarray(list(itertools.product(*(range(a) for a in alphabets))), dtype=np.int64)
    k = points.shape[0]
    subsets, depth, parent = [], [], []
    ancestor = np.zeros((k, d + 1), dtype=np.int64)
    node_of = {}
    for level in range(d + 1):
        keys = [tuple(points[i, order[:level]]) for i in range(k)]
        for key in dict.fromkeys(keys):
            members = tuple(i for i in range(k) if keys[i] == key)
            node_of[(level, key)] = len(subsets)
            subsets.append(members)
            depth.append(level)
            parent.append(node_of[(level - 1, key[:-1])] if level else -1)
        for i in range(k):
            ancestor[i, level] = node_of[(level, keys[i])]
    leaves = tuple(int(ancestor[i, d]) for i in range(k))
    return Tree(points, tuple(subsets), tuple(depth), tuple(parent),
                tuple(d - x for x in depth), leaves, ancestor)


def tree_conditions(tally: Tally, tab, tree: Tree, eps: float, where: dict, side=None):
    """Record Definition 8's conditions for ``tree`` on the exact laws of ``tab``.

    Merging: ``TV(p^{i}_{N(u)}, p^{j}_{N(u)}) <= eps`` for components whose lowest common
    ancestor is ``u``; separation: ``1 - TV(p^{Subset(u)}_{N(u)}, p^{rest}_{N(u)}) <= eps^2``
    (vacuous at the root); monotone times: ``N(u) < N(parent(u))``.
    """
    times = tab.times
    when = {n: int(np.flatnonzero(times == n)[0]) for n in set(tree.noise)}
    k = tree.points.shape[0]
    node_row = [tab.index(s) for s in tree.subsets]
    merge_l, sep_l, mono = [], [], []
    for a, b in itertools.combinations(range(k), 2):
        common = [lvl for lvl in range(tree.ancestor.shape[1])
                  if tree.ancestor[a, lvl] == tree.ancestor[b, lvl]]
        u = int(tree.ancestor[a, max(common)])
        ia, ib = node_row[tree.leaves[a]], node_row[tree.leaves[b]]
        merge_l.append(tab.div["tv"][when[tree.noise[u]], ia, ib])
    for u in range(len(tree.subsets)):
        if tree.parent[u] >= 0:
            row = node_row[u]
            sep_l.append(np.exp(tab.div_rest["lo"][when[tree.noise[u]], row]))
            mono.append((tree.noise[u] + 1, tree.noise[tree.parent[u]]))
    tally.add(np.asarray(merge_l), eps, where={**where, "condition": "merging"},
              side=None if side is None else f"{side}_merging")
    tally.add(np.asarray(sep_l), eps**2, where={**where, "condition": "separation"},
              side=None if side is None else f"{side}_separation")
    mono = np.asarray(mono, dtype=float)
    tally.add(mono[:, 0], mono[:, 1], where={**where, "condition": "monotone times"},
              side=None if side is None else f"{side}_monotone")


def example7(catalog) -> ClaimResult:
    """Example 7 of [LKC25]: point masses on a product of alphabets under ordered masking.

    Every case is a residual that must be 0: ``TV(p^{{theta},t}, p^{S_t(theta)})`` for every
    component and every ``t`` (``S_t(theta)``: the components agreeing with ``theta`` on the
    coordinates still visible at ``t``, the ancestor of ``theta`` at depth ``d - t``), which is
    also Corollary 1 with equality; ``min(TV, 1 - TV)`` between any two components at every
    ``NoiseAmount`` time (all those TVs are 0 or 1); and the three conditions of Definition 8
    for the tree with ``eps = 0`` (merging, separation, monotone times).
    """
    tally = Tally()
    for inst in _roles(catalog, "example7"):
        tree = inst.params["tree"]
        tab = tables.compute(inst)
        where = {"instance": inst.name}
        d = tree.ancestor.shape[1] - 1
        k = tree.points.shape[0]
        node_row = [tab.index(s) for s in tree.subsets]
        for step, t in enumerate(tab.times):
            depth = d - int(t)
            leaf_rows = [node_row[tree.leaves[i]] for i in range(k)]
            anc_rows = [node_row[int(tree.ancestor[i, depth])] for i in range(k)]
            tally.add(tab.tv_fr_clean[step, leaf_rows, anc_rows], 0.0,
                      where={**where, "t": float(t), "case": "forward-reverse is a sub-mixture"},
                      axes=[("component", list(range(k)))])
            tv = tab.div["tv"][step][np.ix_(leaf_rows, leaf_rows)]
            one_minus = np.exp(tab.div["lo"][step][np.ix_(leaf_rows, leaf_rows)])
            tally.add(np.minimum(tv, one_minus), 0.0,
                      where={**where, "t": float(t), "case": "TV in {0, 1}"},
                      axes=[("component", list(range(k))), ("other", list(range(k)))])
        tree_conditions(tally, tab, tree, 0.0, where)
    return tally.result("example7", "Example 7: p^{{theta},t} = p^{S_t(theta)} exactly, every "
                        "TV between components at NoiseAmount times is 0 or 1, and the tree is "
                        "a 0-mixture tree (Definition 8)")
