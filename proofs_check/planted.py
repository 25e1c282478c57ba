"""The all-or-nothing transition and Theorem 6's window, held to Monte Carlo with exact ratios.

[LKC25] §4.2.2 (theory.md §3.5): Theorem 5 (Reeves, Xu, Zadik 2019) says planted sparse
regression against its null has an all-or-nothing transition at
``N* = 2 k log(s/k) / log(1 + k/sigma2)``, and Theorem 6 turns it into a critical window
``[N + 2 - (1 + delta) N*, N + 2 - (1 - delta) N*]`` of Definition 7's in-context mixture.
Every claim builds its own instances (:mod:`synthetic.planted`, :mod:`synthetic.planted_icl`)
and ignores the catalog. Every number is a Monte Carlo mean over datasets with the *exact*
likelihood ratio (an enumeration of all ``C(s, k)`` supports), so each carries a standard
error and each verdict allows for it.

* ``planted_detection_monotone``: ``TV(planted^(n), null^(n))`` is non-decreasing in ``n``
  (data processing: the first ``n`` observations are a function of the first ``n + 1``).
  The curve is estimated on prefixes of the same datasets (common random numbers), so
  consecutive values are strongly correlated; the standard error of each *difference* is
  computed from the per-dataset differences of the integrand (:func:`detection_paths`),
  which is much smaller than the sum of the two standard errors and so a sharper test.
  Every decrease must stay within ``MONOTONE_SE`` of those paired standard errors.
* ``theorem6_window``: on :data:`WINDOW_CASES` the window report of ``"signal"`` inside
  ``"all"`` (the before side, ``W = 0``) and of ``"signal"`` inside ``"signal"`` (the after
  side, ``W = 1``); Theorem 2 must hold (or be vacuous) for both. The smallest ``delta`` for
  which Theorem 6's window contains the exact one is *reported* per ``s``, not asserted:
  Theorem 6 is asymptotic in ``s`` and these sizes are far from its regime.
* ``planted_sharpening``: the width of the detection curve's transition (from TV = 0.25 to
  TV = 0.75) in units of ``N*`` decreases from the smallest to the largest ``s`` of
  :data:`SHARPENING_CASES` (``sigma2 = 0.1 << k = 2``, as near Theorem 5's regime as an
  enumeration of ``C(s, k) <= 10^6`` supports allows): the finite-size trace of
  all-or-nothing.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import localize
from localize.errors import bad
from proofs_check.result import ClaimResult, Tally
from synthetic.planted import PlantedRegression, log_lr_paths, n_star
from synthetic.planted_icl import planted_icl

#: Allowed decrease of the detection curve, in paired standard errors of the difference.
MONOTONE_SE = 4.0
#: Levels of TV between which the transition width is measured.
WIDTH_LEVELS = (0.25, 0.75)


@dataclasses.dataclass(frozen=True)
class PlantedCase:
    """One planted-regression instance.

    Attributes:
        s: dimension.
        k: sparsity.
        sigma2: noise variance.
        N: observations per dataset (``None``: ``ceil(n_factor * N*)``).
        n_factor: ``N`` in units of ``N*`` when ``N`` is ``None``.
    """

    s: int
    k: int
    sigma2: float
    N: int | None = None
    n_factor: float = 3.0

    @property
    def n_star(self) -> float:
        """Theorem 5's threshold of this instance."""
        return n_star(self.s, self.k, self.sigma2)

    @property
    def n_obs(self) -> int:
        """``N``, given or ``ceil(n_factor * N*)``."""
        if self.N is not None:
            return int(self.N)
        return int(math.ceil(self.n_factor * self.n_star))

    def model(self) -> PlantedRegression:
        """The :class:`synthetic.planted.PlantedRegression` of this instance."""
        return PlantedRegression(self.s, self.k, self.sigma2, self.n_obs)

    def label(self) -> str:
        return f"s={self.s},k={self.k},sigma2={self.sigma2},N={self.n_obs}"


MONOTONE_CASES = (
    PlantedCase(8, 2, 0.5, n_factor=3.0),
    PlantedCase(32, 2, 0.5, n_factor=3.0),
    PlantedCase(64, 2, 0.1, n_factor=2.5),
)
MONOTONE_DATASETS = 1000
WINDOW_CASES = tuple(PlantedCase(s, 2, 0.5, n_factor=3.0) for s in (8, 16, 32, 64))
WINDOW_EPS = 0.1
WINDOW_SAMPLES = 1000
SHARPENING_CASES = tuple(PlantedCase(s, 2, 0.1, n_factor=2.5) for s in (16, 64, 256))
SHARPENING_DATASETS = 600
SEED = 2025


# --------------------------------------------------------------------------------------
# detection curves with their per-dataset integrands


@partial(jax.jit, static_argnums=(1, 2))
def _paths(key, model, half):
    # The same draws as synthetic.planted.detection_curve (log_lr_paths), so the curve
    # below equals detection_curve's to rounding.
    lp, lq = log_lr_paths(key, model, half)
    return jnp.abs(jnp.tanh(0.5 * lp)), jnp.abs(jnp.tanh(0.5 * lq))


def detection_paths(key, model: PlantedRegression, n_datasets: int):
    """Per-dataset integrands ``|tanh(log LR_n / 2)|`` of the detection curve, ``n = 0 .. N``.

    [LKC25] Theorem 5: ``TV(planted^(n), null^(n)) = 1/2 (E_P h_n + E_Q h_n)``; each column is
    one dataset's prefixes, so differences between ``n`` are paired (common random numbers).

    Args:
        key: a ``jax.random.key``.
        model: the planted family.
        n_datasets: an even number ``>= 4`` (half planted, half null).

    Returns:
        ``(hp, hq)``, each ``(N + 1, n_datasets / 2)``.
    """
    if (isinstance(n_datasets, bool) or not isinstance(n_datasets, (int, np.integer))
            or n_datasets < 4 or n_datasets % 2):
        raise bad("n_datasets", n_datasets, "an even integer >= 4 (half from each model)")
    hp, hq = _paths(key, model, int(n_datasets) // 2)
    hp, hq = np.asarray(hp), np.asarray(hq)
    if np.isnan(hp).any() or np.isnan(hq).any():
        raise FloatingPointError("planted: the likelihood ratio produced NaN")
    return hp, hq


def _check_paths(hp, hq):
    hp, hq = np.asarray(hp, float), np.asarray(hq, float)
    if hp.ndim != 2 or hq.ndim != 2 or hp.shape[0] != hq.shape[0] or hp.shape[0] < 2 \
            or min(hp.shape[1], hq.shape[1]) < 2:
        raise bad("(hp, hq)", (hp.shape, hq.shape),
                  "two (N + 1, D) arrays with N >= 1, D >= 2 and the same N")
    if not (np.isfinite(hp).all() and np.isfinite(hq).all()):
        raise bad("(hp, hq)", "non-finite entries", "finite integrands in [0, 1]")
    return hp, hq


def curve_from_paths(hp, hq):
    """``(tv, se)`` of the detection curve from its per-dataset integrands (stratified mean)."""
    hp, hq = _check_paths(hp, hq)
    tv = 0.5 * (hp.mean(axis=1) + hq.mean(axis=1))
    se = 0.5 * np.sqrt(hp.var(axis=1, ddof=1) / hp.shape[1] + hq.var(axis=1, ddof=1)
                       / hq.shape[1])
    return tv, se


def monotone_numbers(hp, hq) -> dict:
    """Consecutive decreases of the detection curve and their paired standard errors.

    [LKC25] Theorem 5 with data processing: ``TV_{n+1} >= TV_n``. The difference
    ``TV_{n+1} - TV_n`` is a stratified mean of per-dataset differences, so its standard
    error comes from those differences (paired), not from the two curves' own errors.

    Returns:
        ``{"tv", "se", "decrease", "se_diff", "se_sum"}``: the curve, its errors, ``TV_n -
        TV_{n+1}`` for ``n = 0 .. N - 1``, the paired errors of the differences, and the
        conservative ``se_n + se_{n+1}`` for comparison.
    """
    hp, hq = _check_paths(hp, hq)
    tv, se = curve_from_paths(hp, hq)
    dp, dq = hp[:-1] - hp[1:], hq[:-1] - hq[1:]
    decrease = 0.5 * (dp.mean(axis=1) + dq.mean(axis=1))
    se_diff = 0.5 * np.sqrt(dp.var(axis=1, ddof=1) / dp.shape[1] + dq.var(axis=1, ddof=1)
                            / dq.shape[1])
    return {"tv": tv, "se": se, "decrease": decrease, "se_diff": se_diff,
            "se_sum": se[:-1] + se[1:]}


def add_monotone(tally: Tally, hp, hq, where: dict) -> dict:
    """Record ``TV_n - TV_{n+1} <= MONOTONE_SE * se_diff_n`` for every ``n``; return the numbers."""
    num = monotone_numbers(hp, hq)
    n = num["decrease"].size
    tally.add(num["decrease"], MONOTONE_SE * num["se_diff"], where=where,
              axes=[("n", list(range(n)))])
    return num


def check_monotone(cases=MONOTONE_CASES, n_datasets: int = MONOTONE_DATASETS,
                   seed: int = SEED) -> ClaimResult:
    """Data processing on the detection curve of each case ([LKC25] Theorem 5).

    Args:
        cases: :class:`PlantedCase` instances.
        n_datasets: datasets per case (even, half from each model).
        seed: the PRNG seed (one key per case, split from it).

    Returns:
        The :class:`ClaimResult` ``planted_detection_monotone``.
    """
    tally = Tally()
    curves = {}
    keys = jax.random.split(jax.random.key(seed), len(cases))
    for case, key in zip(cases, keys, strict=True):
        hp, hq = detection_paths(key, case.model(), n_datasets)
        num = add_monotone(tally, hp, hq, {"instance": case.label()})
        curves[case.label()] = {
            "n_star": case.n_star, "tv": num["tv"], "se": num["se"],
            "largest_decrease": float(num["decrease"].max()),
            "paired_se_there": float(num["se_diff"][num["decrease"].argmax()]),
            "median_ratio_paired_to_sum_se": float(np.median(
                num["se_diff"][1:] / np.maximum(num["se_sum"][1:], 1e-300)))}
    tally.note(n_datasets=n_datasets, seed=seed, allowed_se=MONOTONE_SE,
               se_of_difference="paired: from per-dataset differences of the integrand on "
                                "common random numbers (not the conservative sum of the two "
                                "curves' standard errors)",
               curves=curves)
    return tally.result("planted_detection_monotone",
                        "Theorem 5 / data processing: TV(planted^(n), null^(n)) is "
                        "non-decreasing in n; every Monte Carlo decrease <= 4 paired se")


def planted_detection_monotone(catalog) -> ClaimResult:
    """[LKC25] Theorem 5: the detection curve is non-decreasing in ``n`` (ignores the catalog)."""
    return check_monotone()


# --------------------------------------------------------------------------------------
# Theorem 6's window


def delta_min(n_after: float, n_before: float, nstar: float) -> float:
    """Smallest ``delta`` with ``[n_before, n_after]`` inside ``[(1 - delta) N*, (1 + delta) N*]``.

    [LKC25] Theorem 6 in visible observations: the window ``[N + 2 - (1 + delta) N*,
    N + 2 - (1 - delta) N*]`` in truncation time is ``(1 - delta) N* <= n <= (1 + delta) N*``
    visible observations.

    Args:
        n_after: visible observations at ``T^C_after`` (the larger count).
        n_before: visible observations at ``T^C_before`` (the smaller count).
        nstar: Theorem 5's ``N*``, positive.

    Returns:
        ``max(n_after / N* - 1, 1 - n_before / N*, 0)``.
    """
    if not (isinstance(nstar, (int, float, np.floating)) and math.isfinite(nstar)
            and nstar > 0):
        raise bad("nstar", nstar, "a finite number > 0")
    for name, v in (("n_after", n_after), ("n_before", n_before)):
        if not (isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v)):
            raise bad(name, v, "a finite number of visible observations")
    return max(n_after / nstar - 1.0, 1.0 - n_before / nstar, 0.0)


def window_numbers(case: PlantedCase, eps: float = WINDOW_EPS, samples: int = WINDOW_SAMPLES,
                   seed: int = SEED) -> dict:
    """Definition 7's window for one case: both reports, visible counts and ``delta_min``.

    [LKC25] Theorem 6 and Definition 7. ``n = N + 2 - T`` is the number of visible
    observations at time ``T``. ``delta_min`` uses the ends of the Monte Carlo intervals that
    make it largest: the low end of ``T^C_after`` (most observations) and the high end of
    ``T^C_before`` (fewest); ``delta_min_point`` uses the point estimates.

    Returns:
        A dict of plain numbers and the two reports under ``"before_report"``,
        ``"after_report"``.
    """
    N = case.n_obs
    model = planted_icl(case.s, case.k, case.sigma2, N)
    times = list(range(N + 3))
    est = localize.EstimateConfig(samples=samples, seed=seed)
    before = localize.window_report(model, "signal", "all", eps, times, estimate=est,
                                    progress=False)
    after = localize.window_report(model, "signal", "signal", eps, times, estimate=est,
                                   progress=False)
    ns = case.n_star
    out = {"s": case.s, "k": case.k, "sigma2": case.sigma2, "N": N, "n_star": ns,
           "T_after_C": before.T_after_C, "T_before_C": before.T_before_C,
           "T_after_C_interval": before.T_after_C_interval,
           "T_before_C_interval": before.T_before_C_interval,
           "theorem2_before": before.theorem2_holds, "margin_before": before.theorem2_margin,
           "theorem2_after": after.theorem2_holds, "margin_after": after.theorem2_margin,
           "before_report": before, "after_report": after}
    if before.T_after_C is None or before.T_before_C is None:
        out.update(n_after=None, n_before=None, delta_min=None, delta_min_point=None)
        return out
    lo_after = before.T_after_C_interval[0] if before.T_after_C_interval else before.T_after_C
    hi_before = (before.T_before_C_interval[1] if before.T_before_C_interval
                 else before.T_before_C)
    # T_after_C < 2: separation to 1 - eps^2 only once the answer token is visible, i.e. not
    # reached with the N observations alone (N too small), so n_after = N + 2 - T overstates.
    out["after_by_answer"] = bool(before.T_after_C < 2)
    out["n_after"] = N + 2 - float(before.T_after_C)
    out["n_before"] = N + 2 - float(before.T_before_C)
    out["n_after_max"] = N + 2 - float(lo_after)
    out["n_before_min"] = N + 2 - float(hi_before)
    out["delta_min"] = delta_min(out["n_after_max"], out["n_before_min"], ns)
    out["delta_min_point"] = delta_min(out["n_after"], out["n_before"], ns)
    return out


def add_window(tally: Tally, num: dict) -> None:
    """Record Theorem 2 for both reports of one case (``theorem2_holds`` True or None)."""
    where = {"instance": f"s={num['s']},k={num['k']},sigma2={num['sigma2']},N={num['N']}"}
    for side in ("before", "after"):
        holds, margin = num[f"theorem2_{side}"], num[f"margin_{side}"]
        if holds is None:
            continue
        # margin = bound - fr_tv at the worst time; holds=False with no margin still fails.
        m = float(margin) if margin is not None else (-math.inf if holds is False else 0.0)
        if holds is False and m >= 0:
            m = -1.0
        tally.add(-m, 0.0, where={**where, "side": side})


def check_window(cases=WINDOW_CASES, eps: float = WINDOW_EPS, samples: int = WINDOW_SAMPLES,
                 seed: int = SEED) -> tuple[ClaimResult, list]:
    """Theorem 6's window on each case, with Theorem 2 checked at the computed times.

    Returns:
        ``(result, rows)``: the :class:`ClaimResult` ``theorem6_window`` and the per-case
        numbers of :func:`window_numbers` (without the reports).
    """
    tally = Tally()
    rows = []
    for case in cases:
        num = window_numbers(case, eps, samples, seed)
        add_window(tally, num)
        rows.append({k: v for k, v in num.items() if not k.endswith("_report")})
    deltas = [r["delta_min"] for r in rows]
    finite = [d for d in deltas if d is not None]
    tally.note(eps=eps, samples=samples, seed=seed,
               delta_min_uses="the ends of the Monte Carlo intervals that make delta largest "
                              "(low end of T_after_C, high end of T_before_C)",
               delta_min_by_s={str(r["s"]): r["delta_min"] for r in rows},
               delta_min_point_by_s={str(r["s"]): r["delta_min_point"] for r in rows},
               delta_min_shrinks_with_s=(bool(all(b <= a for a, b in zip(finite, finite[1:],
                                                                         strict=False)))
                                         if len(finite) == len(deltas) else None),
               after_by_answer_by_s={str(r["s"]): r.get("after_by_answer") for r in rows},
               note="reported, not asserted: Theorem 6 is asymptotic in s; after_by_answer "
                    "marks T_after_C < 2 (separation not reached within the N observations)",
               cases=rows)
    return tally.result("theorem6_window",
                        "Theorem 6 / Definition 7: Theorem 2 holds (or is vacuous) for "
                        "'signal' inside 'all' and inside 'signal' at the computed window; "
                        "delta_min with [n_before, n_after] in [(1-delta)N*, (1+delta)N*] "
                        "reported"), rows


def theorem6_window(catalog) -> ClaimResult:
    """[LKC25] Theorem 6 on Definition 7's mixture (ignores the catalog)."""
    return check_window()[0]


# --------------------------------------------------------------------------------------
# sharpening


def crossing(n, tv, level: float) -> float | None:
    """The first ``n`` where ``tv`` reaches ``level``, linearly interpolated; ``None`` if never."""
    n, tv = np.asarray(n, float), np.asarray(tv, float)
    if n.shape != tv.shape or n.ndim != 1 or n.size < 2:
        raise bad("(n, tv)", (n.shape, tv.shape), "two 1-d arrays of one length >= 2")
    if not np.isfinite(tv).all():
        raise bad("tv", "non-finite entries", "a finite curve")
    hit = np.flatnonzero(tv >= level)
    if hit.size == 0:
        return None
    i = int(hit[0])
    if i == 0:
        return float(n[0])
    return float(n[i - 1] + (level - tv[i - 1]) / (tv[i] - tv[i - 1]) * (n[i] - n[i - 1]))


def transition_width(n, tv, nstar: float, levels=WIDTH_LEVELS) -> float | None:
    """Width of the transition from ``levels[0]`` to ``levels[1]``, in units of ``N*``.

    [LKC25] Theorem 5: all-or-nothing means this width goes to 0 as ``s`` grows.
    """
    if not (isinstance(nstar, (int, float, np.floating)) and math.isfinite(nstar) and nstar > 0):
        raise bad("nstar", nstar, "a finite number > 0")
    lo, hi = crossing(n, tv, levels[0]), crossing(n, tv, levels[1])
    if lo is None or hi is None:
        return None
    return (hi - lo) / nstar


def add_sharpening(tally: Tally, widths: list, labels: list) -> None:
    """Record ``width(largest s) <= width(smallest s)`` (strictly: a zero tolerance margin).

    A width that is ``None`` (a curve that never crosses a level) fails the claim.
    """
    if len(widths) < 2:
        raise bad("widths", widths, "at least two widths, smallest s first")
    if any(w is None or not math.isfinite(w) for w in widths):
        tally.add(math.inf, 0.0, where={"reason": "a curve does not cross both levels"})
        return
    # Strict decrease: an equal width is no sharpening, so it must not pass on the tolerance.
    tally.add(widths[-1] + 2 * tally.tol, widths[0],
              where={"smallest": labels[0], "largest": labels[-1]})
    steps = np.diff(np.asarray(widths, float))
    tally.note(decreasing_at_every_step=bool((steps < 0).all()))


def check_sharpening(cases=SHARPENING_CASES, n_datasets: int = SHARPENING_DATASETS,
                     seed: int = SEED) -> tuple[ClaimResult, list]:
    """The detection curve's transition narrows (in units of ``N*``) as ``s`` grows.

    Returns:
        ``(result, rows)``: the :class:`ClaimResult` ``planted_sharpening`` and per case
        ``{s, k, sigma2, N, n_star, tv, se, width}``.
    """
    tally = Tally()
    rows = []
    keys = jax.random.split(jax.random.key(seed), len(cases))
    for case, key in zip(cases, keys, strict=True):
        hp, hq = detection_paths(key, case.model(), n_datasets)
        tv, se = curve_from_paths(hp, hq)
        n = np.arange(tv.size)
        rows.append({"s": case.s, "k": case.k, "sigma2": case.sigma2, "N": case.n_obs,
                     "n_star": case.n_star, "tv": tv, "se": se,
                     "width": transition_width(n, tv, case.n_star)})
    add_sharpening(tally, [r["width"] for r in rows], [f"s={r['s']}" for r in rows])
    tally.note(levels=list(WIDTH_LEVELS), n_datasets=n_datasets, seed=seed,
               widths_by_s={str(r["s"]): r["width"] for r in rows},
               cases=[{k: v for k, v in r.items()} for r in rows])
    return tally.result("planted_sharpening",
                        "Theorem 5 (all-or-nothing): the width of TV(planted^(n), null^(n)) "
                        "from 0.25 to 0.75, in units of N*, decreases from the smallest to "
                        "the largest s"), rows


def planted_sharpening(catalog) -> ClaimResult:
    """[LKC25] Theorem 5: the detection transition sharpens with ``s`` (ignores the catalog)."""
    return check_sharpening()[0]


CLAIMS = {
    "planted_detection_monotone": planted_detection_monotone,
    "theorem6_window": theorem6_window,
    "planted_sharpening": planted_sharpening,
}
