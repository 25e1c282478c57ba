"""Example 4 of [LKC25], critical tokens (jailbreaks), and fine-tuning on corrections.

Example 4 (theory.md §3.3): two modes, harmful and safe, with identical prefix laws on the
first ``T'`` tokens, after which, within ``k`` critical tokens, the harmful prefix lands in
the safe mode's support with probability at most ``eps``. The paper's window for the harmful
mode is ``[T^C_after, T^C_before] = [T - T' - k, T - T']``.

Two conventions for the separation are checked (theory.md §7: Example 4 uses overlap
``<= eps``, which gives ``TV >= 1 - eps`` and not Definition 4's ``1 - eps^2``):

* ``definition4``: separation means ``1 - TV(p_t^harmful, p_t^safe) <= eps^2``, and the
  assumption is ``rho <= eps^2``;
* ``paper``: separation means ``1 - TV <= eps`` (Definition 4 with ``sqrt(eps)`` on the after
  side), and the assumption is the paper's ``rho <= eps``.

The before side is Definition 4's ``TV(p_t^harmful, p_t) <= eps`` in both (``S_before =
Theta``, so its separation clause is vacuous). Every curve comes from the exact window
report of :mod:`synthetic.critical_tokens` on every time of ``I = {0..T}``, so the thresholds
are the exact ones, not grid approximations. The instances are built here; the finite
catalog passed to each claim is ignored.

* :func:`example4`: under the assumption, the exact window lies in the paper's, and
  Theorem 2's conclusions hold on both sides of it;
* :func:`example4_finetune`: after fine-tuning on corrections (the safe mode may start like
  the harmful one and recover later), the overlap stays above the separation level at every
  time from the paper's ``T^C_after`` on (at every time at all when corrections may come
  late): the window is gone, while Theorem 2 still holds.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

import localize
from localize.windows import t_after_c, t_before_c
from proofs_check.result import ClaimResult, Tally
from synthetic.critical_tokens import HARMFUL, SAFE, critical_tokens

EPS = (0.05, 0.1)
CONVENTIONS = ("definition4", "paper")
# Example 4's instances: (name, model parameters). Yellowstone has eps^2 < rho <= eps for
# both eps, where only the paper's convention has its assumption. The first three share
# their shapes (T = 1000, k = 5), hence one compilation.
CASES = (
    ("jailbreak", dict(length=1000, shared=0, critical=5, overlap=1e-3, weights=(0.5, 0.5))),
    ("split at the last critical token", dict(length=1000, shared=50, critical=5, overlap=0.0,
                                              weights=(0.5, 0.5), profile=[0, 0, 0, 0, 1])),
    ("Yellowstone, eps^2 < rho <= eps", dict(length=1000, shared=300, critical=5,
                                             overlap=0.02, weights=(0.7, 0.3))),
    ("after a prompt", dict(length=2000, shared=500, critical=20, overlap=1e-4,
                            weights=(0.2, 0.8))),
    ("one-token split", dict(length=600, shared=100, critical=1, overlap=0.0,
                             weights=(0.3, 0.7))),
)
# Fine-tuning on corrections: (base case, corrections, recovery, late). With late
# corrections the safe mode is still slipped at the end often enough that no time separates
# the modes; with fast ones a window exists, hundreds of tokens deep instead of k.
FINETUNE = (
    ("jailbreak", 0.5, 0.001, True),
    ("after a prompt", 0.3, 0.0005, True),
    ("jailbreak", 0.5, 0.05, False),
    ("split at the last critical token", 0.4, 0.01, False),
)


def paper_window(length: int, shared: int, critical: int) -> tuple[int, int]:
    """Example 4's window for the harmful mode: ``(T - T' - k, T - T')``."""
    return length - shared - critical, length - shared


def separation_level(eps: float, convention: str) -> float:
    """The bound on ``1 - TV(p_t^harmful, p_t^safe)`` that counts as separated."""
    return eps**2 if convention == "definition4" else eps


@jax.jit
def _support_mass(model, t):
    """``P_{x ~ p_t^harmful}(x in supp p_t^safe)`` on the exact reduced observations."""
    noised = model.view(t).log_noised
    return jnp.exp(logsumexp(jnp.where(jnp.isneginf(noised[SAFE]), -jnp.inf, noised[HARMFUL])))


@functools.lru_cache(maxsize=None)
def _instance(name: str, corrections: float = 0.0, recovery: float = 0.0):
    """Exact curves of one instance on every time of ``I``, towards ``Theta`` and
    ``{harmful}`` (cached: both claims and their tests reuse them)."""
    params = {**dict(CASES)[name], "corrections": corrections, "recovery": recovery}
    model = critical_tokens(**params)
    times = np.arange(params["length"] + 1, dtype=np.float64)
    lo = params["length"] - params["shared"] - params["critical"]
    # The curves do not depend on eps; the thresholds are taken from them per eps below.
    full = localize.window_report(model, [HARMFUL], [HARMFUL, SAFE], 0.1, times)
    own = localize.window_report(model, [HARMFUL], [HARMFUL], 0.1, times)
    return {
        "params": params,
        "model": model,
        "times": times,
        "tv_modes": np.asarray(full.tv_init_rest),
        "log_overlap": np.asarray(full.log_overlap_init_rest),
        "tv_mixture": np.asarray(full.tv_init_target),
        "fr_full": np.asarray(full.fr_tv_full),
        "fr_own": np.asarray(full.fr_tv_init),
        "stay": np.asarray(own.label_mass_target),
        "exit": np.asarray(own.exit_mass_target),
        # At T - T' - k, where Example 4 states its assumption.
        "support_mass": float(_support_mass(model, float(lo))),
        "w_ratio": float(params["weights"][SAFE] / params["weights"][HARMFUL]),
    }


def exact_window(inst: dict, eps: float, convention: str):
    """The exact window of the harmful mode on every time of ``I`` (Definition 4).

    Args:
        inst: an instance's exact curves (``_instance``).
        eps: the error parameter.
        convention: ``"definition4"`` (separated when ``1 - TV <= eps^2``) or ``"paper"``
            (``1 - TV <= eps``, Example 4's own reading).

    Returns:
        ``(T^C_after, T^C_before)``, each ``None`` when no time qualifies.
    """
    level = separation_level(eps, convention)
    t = inst["times"]
    after = t_after_c(t, inst["tv_modes"], math.sqrt(level), log_overlap=inst["log_overlap"])
    before = t_before_c(t, inst["tv_mixture"], None, eps)
    return after, before


def _theorem2_sides(tally: Tally, inst: dict, eps: float, convention: str, where: dict):
    """Theorem 2 on both sides of the exact window (side checks)."""
    t = inst["times"]
    after, before = exact_window(inst, eps, convention)
    eps_sep = math.sqrt(separation_level(eps, convention))
    axes = [("t", t.tolist())]
    if after is not None:
        # S_init = S_target = {harmful}: TV(p^{h,t}, p^h) <= max(1, W) eps_sep / sqrt 2.
        tally.add(inst["fr_own"], max(1.0, inst["w_ratio"]) * eps_sep / math.sqrt(2),
                  where=where, axes=axes, valid=t <= after, side="theorem2_after")
    if before is not None:
        # S_target = Theta: TV(p^{h,t}, p) <= TV(p_t^h, p_t) <= eps.
        tally.add(inst["fr_full"], eps, where=where, axes=axes, valid=t >= before,
                  side="theorem2_before")


def example4(catalog) -> ClaimResult:
    """Example 4 of [LKC25]: the exact window of the harmful mode inside ``[T - T' - k, T - T']``.

    For every instance of :data:`CASES`, ``eps`` in :data:`EPS` and both conventions whose
    assumption ``rho <= level`` holds (``level = eps^2`` or ``eps``), the main inequalities
    are ``T - T' - k <= T^C_after`` and ``T^C_before <= T - T'`` on the exact curves. Side
    checks: the window is not empty; identical prefix laws on the shared tokens
    (``TV(p_t^harmful, p_t^safe) = 0`` for ``t >= T - T'``); the support mass
    ``P_{x ~ p^harmful_{T-T'-k}}(x in supp p^safe_{T-T'-k})`` equals ``rho`` and is at most
    the level; Theorem 2's conclusions on both sides of the exact window.

    Args:
        catalog: ignored (the instances are built here).

    Returns:
        The :class:`ClaimResult`; ``detail["windows"]`` lists every exact window against the
        paper's.
    """
    del catalog
    tally = Tally()
    windows, skipped = [], []
    for name, params in CASES:
        inst = _instance(name)
        lo, hi = paper_window(params["length"], params["shared"], params["critical"])
        rho = params["overlap"]
        base = {"instance": name}
        t = inst["times"]
        tally.add(inst["tv_modes"], 0.0, where=base, axes=[("t", t.tolist())],
                  valid=t >= hi, side="identical_prefix_laws")
        tally.add(abs(inst["support_mass"] - rho), 0.0, where=base, side="support_mass_is_rho")
        for eps in EPS:
            for conv in CONVENTIONS:
                level = separation_level(eps, conv)
                where = {**base, "eps": eps, "convention": conv}
                if rho > level:
                    after, before = exact_window(inst, eps, conv)
                    skipped.append({**where, "rho": rho, "level": level,
                                    "exact_T_after_C": after})
                    continue
                after, before = exact_window(inst, eps, conv)
                after_v = -math.inf if after is None else after
                before_v = math.inf if before is None else before
                tally.add(lo, after_v, where={**where, "end": "T^C_after"})
                tally.add(before_v, hi, where={**where, "end": "T^C_before"})
                tally.add(after_v, before_v, where=where, side="window_not_empty")
                tally.add(inst["support_mass"], level, where=where, side="assumption")
                _theorem2_sides(tally, inst, eps, conv, where)
                windows.append({**where, "exact": [after, before], "paper": [lo, hi],
                                "equal": [after, before] == [lo, hi]})
    tally.note(windows=windows, assumption_fails=skipped)
    return tally.result("example4", "Example 4: if the harmful prefix of T'+k tokens is in the "
                        "safe support w.p. rho <= eps^2 (Definition 4) or <= eps (the paper), "
                        "the exact window lies in [T - T' - k, T - T']")


def example4_finetune(catalog) -> ClaimResult:
    """Fine-tuning on corrections removes Example 4's window, and Theorem 2 still holds.

    For every entry of :data:`FINETUNE` (the safe mode slips into compliance with
    probability ``corrections`` and returns to a refusal at rate ``recovery`` per token), the
    main inequality is ``level <= 1 - TV(p_t^harmful, p_t^safe)`` for every ``eps`` in
    :data:`EPS`, both conventions and every ``t >= T - T' - k`` (every ``t`` when corrections
    may come late): the critical tokens no longer separate the modes. Side checks: the same
    instance before fine-tuning has its window (``T^C_after >= T - T' - k``); the paper's
    assumption now fails (support mass above the level); Theorem 2 holds towards ``Theta``
    on every time of ``[T_end, T]`` and towards ``{harmful}`` wherever it is not vacuous;
    the sharp form (A), ``TV(p^{h,t}, p^h) <= E_{Y ~ p_t^h}[pi_t(safe | Y)]``, at every time.

    Args:
        catalog: ignored (the instances are built here).

    Returns:
        The :class:`ClaimResult`; ``detail["finetuned"]`` gives the exact windows and the
        probability that a resample keeping the paper's ``T' + k`` tokens stays harmful,
        before and after fine-tuning.
    """
    del catalog
    tally = Tally()
    rows = []
    for name, sigma, h, late in FINETUNE:
        base_inst, inst = _instance(name), _instance(name, sigma, h)
        p = inst["params"]
        lo, hi = paper_window(p["length"], p["shared"], p["critical"])
        t = inst["times"]
        axes = [("t", t.tolist())]
        where = {"instance": name, "corrections": sigma, "recovery": h}
        at = int(np.flatnonzero(t == lo)[0])
        overlap = np.exp(inst["log_overlap"])
        for eps in EPS:
            for target in ([HARMFUL, SAFE], [HARMFUL]):
                r = localize.window_report(inst["model"], [HARMFUL], target, eps, t)
                w = {**where, "eps": eps, "s_target": target}
                if r.theorem2_holds is not None:
                    tally.add(-r.theorem2_margin, 0.0, where=w, side="theorem2")
                elif len(target) == 2:
                    # Towards Theta the check is never vacuous: T_start = T, T_end <= T - T'.
                    tally.add(1.0, 0.0, where=w, side="theorem2_towards_theta_not_vacuous")
            for conv in CONVENTIONS:
                level = separation_level(eps, conv)
                w = {**where, "eps": eps, "convention": conv}
                tally.add(level, overlap, where=w, axes=axes, valid=None if late else t >= lo)
                tally.add(level, inst["support_mass"], where=w, side="assumption_broken")
                if base_inst["params"]["overlap"] <= level:
                    base_after, _ = exact_window(base_inst, eps, conv)
                    tally.add(lo, -math.inf if base_after is None else base_after, where=w,
                              side="window_before_finetuning")
                rows.append({**w, "exact_after_finetuning": list(exact_window(inst, eps, conv)),
                             "exact_before_finetuning": list(exact_window(base_inst, eps, conv)),
                             "paper": [lo, hi]})
        tally.add(inst["fr_own"], inst["exit"], where=where, axes=axes, side="sharp_form_a")
        rows.append({**where, "stay_harmful_at_paper_T_after_C": {
            "before": float(base_inst["stay"][at]), "after": float(inst["stay"][at])},
            "min_overlap": float(overlap.min())})
    tally.note(finetuned=rows)
    return tally.result("example4_finetune", "Example 4 after fine-tuning on corrections: "
                        "1 - TV(p_t^harmful, p_t^safe) stays above eps^2 (or eps) for every "
                        "t >= T - T' - k (every t when corrections can come late), so the "
                        "window is gone; Theorem 2 still holds")


CLAIMS = {"example4": example4, "example4_finetune": example4_finetune}
