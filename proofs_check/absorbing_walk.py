"""Example 5 with its absorbing boundaries, as an executable claim ([LKC25] §4.2.1).

The paper models problem solving as a ``+-1`` walk from 0, absorbed at ``+A`` (solved) or
``-A`` (wrong); mode ``+`` steps up with probability ``1/2 + Delta``, mode ``-`` with
``1/2 - Delta``, weights 1/2, and truncation reveals the first ``n = T - t`` tokens. Assuming
``ln(2/eps^2) / (2 Delta^2) < A`` it drops the boundaries and finds the window of the strong
mode (theory.md §3.3)

* ``T^C_after = T - ln(2/eps^2) / (2 Delta^2)`` (Hoeffding: ``1 - TV(p_t^+, p_t^-) <= eps^2``),
* ``T^C_before = T - eps^2/Delta^2 + 2`` (Roos: ``TV(p_t^+, p_t^-) <= 3 eps``).

:func:`example5_absorbing` checks both conditions on the exact laws of the walk *with* its
boundaries (:mod:`synthetic.absorbing_walk`), for instances that meet the assumption and for
smaller ``A`` where absorption moves the window. Two exact facts frame the comparison:

* **Absorption only loses information.** The walk absorbed at ``A`` is a function of the walk
  absorbed at any ``A' > A`` (stop it the first time it reaches ``+-A``), so by data
  processing ``TV_A(n) <= TV_A'(n)`` at every ``n``, with equality for ``n < A`` where no
  prefix can be absorbed. Under the paper's assumption both of its thresholds have
  ``n < A``: there the walk *is* the pair of biased coins.
* **The gambler's-ruin ceiling.** For ``+-Delta`` the likelihood ratio of a walk absorbed at
  ``+-A`` is ``(p/q)^{+-A}`` whatever the path, so the whole infinite walk has
  ``1 - TV = 2 / (1 + (p/q)^A)``; by data processing every prefix overlaps at least that
  much. Separation (``1 - TV <= eps^2``) is therefore impossible for
  ``A <= A* = ln(2/eps^2 - 1) / ln(p/q)``, about ``ln(2/eps^2) / (4 Delta)``: below ``A*``
  there is no ``T^C_after`` at all, whatever ``T``.

The paper's other assumptions (``2 Delta < 0.01``, ``eps^2 < 10^-3 (1/4 - Delta^2)``) need
hundreds of thousands of visible tokens and boundaries as large, beyond the walk's tables
(``K (T+1)(2A-1)`` numbers); the instances here meet the boundary assumption only, and the
claim says so in its detail.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from proofs_check.result import ClaimResult, Tally
from synthetic.absorbing_walk import absorbing_walk, exact_window

# (Delta, eps, T, boundaries): one group per (Delta, eps) and length, the boundaries from
# the paper's assumption down to below the ceiling A*. Group 1: ln(2/eps^2)/(2 Delta^2) =
# 1059.7 < 1100, A* = 26.4 (A = 30 moves T^C_after, A = 25 never separates). Group 2: 457.9
# < 460, A* = 15.9 (A = 20 moves T^C_after).
CASES = (
    (0.05, 0.1, 1500, (1100, 30, 25)),
    (0.07, 0.15, 1000, (460, 20)),
)


def example5_paper(delta: float, eps: float) -> dict:
    """The paper's window of Example 5 in visible tokens (theory.md §3.3, §6 item 20).

    Returns:
        ``n_after = ln(2/eps^2) / (2 Delta^2)`` and ``n_before = eps^2/Delta^2 - 2`` (real),
        with the integers where the claim evaluates them: ``n_after_int = ceil(n_after)``
        (the last integer time at or below ``T^C_after``) and
        ``n_before_int = floor(n_before)`` (the first integer time at or above
        ``T^C_before``; negative when ``eps^2 / Delta^2 < 2``, theory.md §7).
    """
    n_after = math.log(2.0 / eps**2) / (2.0 * delta**2)
    n_before = eps**2 / delta**2 - 2.0
    return {"n_after": n_after, "n_before": n_before,
            "n_after_int": int(math.ceil(n_after)), "n_before_int": int(math.floor(n_before))}


def separation_ceiling(delta: float, boundary: int) -> float:
    """``2 / (1 + (p/q)^A)``: ``1 - TV`` between the whole walks of the ``+-Delta`` modes.

    Gambler's ruin: from 0 the ``+`` mode exits through ``+A`` with probability
    ``1 / (1 + (q/p)^A)`` and the ``-`` mode with ``1 / (1 + (p/q)^A)``; every absorbed path
    has likelihood ratio ``(p/q)^{+-A}``, so the overlap is the mass on the wrong side.
    """
    p, q = 0.5 + abs(delta), 0.5 - abs(delta)
    return 2.0 / (1.0 + math.exp(boundary * math.log(p / q)))


def ceiling_boundary(delta: float, eps: float) -> float:
    """``A* = ln(2/eps^2 - 1) / ln(p/q)``: the ceiling equals ``eps^2`` at ``A = A*``."""
    p, q = 0.5 + abs(delta), 0.5 - abs(delta)
    return math.log(2.0 / eps**2 - 1.0) / math.log(p / q)


@functools.lru_cache(maxsize=32)
def _exact(delta: float, eps: float, length: int, boundary: int) -> dict:
    """The exact window and curves of one walk (cached: the failure tests rerun the claim)."""
    model = absorbing_walk([0.5, 0.5], [delta, -delta], length, boundary, clean_laws=False)
    return exact_window(model, [0], eps)


def example5_absorbing(catalog=None, *, paper=example5_paper, cases=CASES) -> ClaimResult:
    """Example 5 of [LKC25] with absorbing boundaries: the paper's window on the exact walk.

    Main inequalities, per instance ``(Delta, eps, T, A)``: at the paper's ``T^C_before``
    (``n = floor(eps^2/Delta^2 - 2)`` visible tokens), ``TV(p_t^+, p_t^-) <= 3 eps``; at its
    ``T^C_after`` (``n = ceil(ln(2/eps^2)/(2 Delta^2))``), ``1 - TV(p_t^+, p_t^-) <= eps^2``,
    for every instance whose boundary is above the ceiling ``A*`` (below it no time
    separates, see the module docstring). Side checks: Definition 4's closeness
    ``TV(p_t^+, p_t) <= eps`` at the paper's ``T^C_before``; the ceiling
    ``1 - TV >= 2/(1 + (p/q)^A)`` at every ``n``; no separation at any ``n`` below ``A*``;
    data processing ``TV_A(n) <= TV_A'(n)`` for ``A < A'`` in a group, with equality for
    ``n < A``; and the paper's boundary assumption ``ln(2/eps^2)/(2 Delta^2) < A`` for the
    instances said to meet it. The detail reports every exact window against the paper's.

    Args:
        catalog: ignored (the instances are built here).
        paper: the paper's thresholds, ``paper(delta, eps) -> dict`` as
            :func:`example5_paper` (replaceable to check that a wrong formula fails).
        cases: ``(Delta, eps, T, boundaries)`` groups.

    Returns:
        The :class:`ClaimResult` ``example5_absorbing``.
    """
    del catalog
    tally = Tally()
    windows = {}
    for delta, eps, length, boundaries in cases:
        th = paper(delta, eps)
        a_star = ceiling_boundary(delta, eps)
        na, nb = th["n_after_int"], th["n_before_int"]
        curves = {}
        for boundary in boundaries:
            ex = _exact(delta, eps, length, boundary)
            c = ex["curves"]
            # Curves are indexed by time t = T - n.
            tv, overlap = c.tv_after_rest, np.exp(c.log_overlap_after_rest)
            curves[boundary] = tv
            where = {"Delta": delta, "eps": eps, "T": length, "A": boundary}
            meets = th["n_after"] < boundary
            if nb >= 0:
                tally.add(tv[length - nb], 3 * eps,
                          where={**where, "at": "paper T^C_before", "n_visible": nb})
                tally.add(c.tv_after_full[length - nb], eps, where=where,
                          side="definition4_before")
            if boundary > a_star and na <= length:
                tally.add(overlap[length - na], eps**2,
                          where={**where, "at": "paper T^C_after", "n_visible": na})
            n = length - np.arange(length + 1)
            tally.add(separation_ceiling(delta, boundary), overlap, where=where,
                      axes=[("n_visible", n.tolist())], rtol=1e-12, side="gamblers_ruin_ceiling")
            if boundary <= a_star:
                tally.add(eps**2, float(overlap.min()), where=where, side="never_separated")
            if meets:
                tally.add(th["n_after"], boundary, where=where, side="paper_assumption")
            windows[f"Delta={delta}, eps={eps}, T={length}, A={boundary}"] = {
                "exact_n_before": ex["n_before"], "exact_n_after": ex["n_after"],
                "exact_T_before_C": ex["T_before_C"], "exact_T_after_C": ex["T_after_C"],
                "paper_n_before": th["n_before"], "paper_n_after": th["n_after"],
                "paper_T_before_C": length - th["n_before"],
                "paper_T_after_C": length - th["n_after"],
                "tv_at_paper_before": float(tv[length - nb]) if nb >= 0 else None,
                "overlap_at_paper_after": float(overlap[length - na]) if na <= length else None,
                "overlap_whole_walk": float(overlap[0]),
                "ceiling": separation_ceiling(delta, boundary),
                "ceiling_boundary_A_star": a_star,
                "meets_paper_boundary_assumption": bool(meets),
                "meets_paper_eps_delta_assumptions": bool(
                    2 * delta < 0.01 and eps**2 < 1e-3 * (0.25 - delta**2)),
            }
        ordered = sorted(curves)
        for small, large in zip(ordered, ordered[1:], strict=False):
            n = length - np.arange(length + 1)
            where = {"Delta": delta, "eps": eps, "T": length, "A": small, "A_prime": large}
            tally.add(curves[small], curves[large], where=where,
                      axes=[("n_visible", n.tolist())], side="absorption_loses_information")
            tally.add(np.abs(curves[small] - curves[large]), 0.0, where=where,
                      axes=[("n_visible", n.tolist())], valid=n < small,
                      side="no_absorption_before_A")
    tally.note(windows=windows, note=(
        "windows in visible tokens n = T - t: [n_before, n_after] = [T - T^C_before, "
        "T - T^C_after]; exact ones by Definition 4 on every integer time (S_after = {+}, "
        "S_before = Theta); None = no time qualifies"))
    return tally.result(
        "example5_absorbing",
        "Example 5 with absorbing boundaries +-A: at n = ceil(ln(2/eps^2)/(2D^2)) visible tokens "
        "1 - TV(p^+, p^-) <= eps^2 (when A exceeds the gambler's-ruin ceiling "
        "ln(2/eps^2 - 1)/ln(p/q)) and at n = eps^2/D^2 - 2, TV <= 3 eps; exact walk laws")
