"""The window report for models known by curve hooks ([LKC25] §3.1, Theorem 2, Definition 4).

Same :class:`~localize.report.WindowReport` as the finite path, from the curve hooks of a
:class:`~localize.continuous.ContinuousModel` (mixtures on ``R^d``) or of a
:class:`~localize.sequence.SequenceModel` too long to enumerate (exact, closed-form,
quadrature or Monte Carlo, each curve saying which, with its standard error). On a discrete
index set (truncation, ordered masking) the refinement between grid times visits integers
only and stops at neighbours, so a threshold is an exact integer time of the curve as
estimated:

* curves on the grid: ``tv_init_target = TV(p_t^{S_init}, p_t^{S_target})``, the two
  separations ``TV(p_t^S, p_t^{Theta - S})`` for ``S = S_target, S_init`` with their
  log-overlaps, the forward-reverse TVs ``TV(p^{S_init,t}, p^S)`` for
  ``S = S_target, S_init, Theta``, the label mass ``E_{Y~p_t^{S_init}}[pi_t(S_target|Y)]``,
  the sharp forms (A) ``E_{Y~p_t^{S_target}}[pi_t(C|Y)]`` and (B)
  ``BC(p_t^{S_target}, p_t^C)``; each curve has its own key (``fold_in`` of the seed), the
  same at every time, so an estimated curve is a smooth function of ``t``;
* thresholds (Definition 4, the meaning of :mod:`localize.windows`, over the interval
  ``[times[0], times[-1]]``): found on the grid, then refined between the two bracketing
  grid times by rounds of ``k``-section (:data:`REFINE_POINTS` interior points per round,
  fixed shapes, so one compilation), on the monotone curves ``tv_init_target`` (``T_end``,
  the first time ``TV <= eps``) and the log-overlaps (``T_start``, ``T^C_after``: the last
  time ``log(1 - TV) <= 2 log eps``); ``T^C_before = T_end`` when ``T_end <= T_start``, else
  none (an empty complement counts as separated at every time);
* intervals: the truth of a curve lies in ``value +- band`` with
  ``band = 3 se + error`` (and ``+ bias`` below, the forward-reverse bias being upward);
  the interval of a threshold runs from the crossing of one edge of the band to the
  crossing of the other (each refined like the threshold, on the same common-random-number
  curve), from the lower end of the first bracket to the upper end of the second. For an
  exact curve the band is empty and the interval is the final bracket. An edge that never
  crosses on the grid leaves the interval open to the end of the grid;
* Theorem 2 at the grid times in ``[T_end, T_start]``: the margin is
  ``min(bound - fr_tv_target)`` on the point estimates; a violation counts only when even
  ``fr_tv_target - 3 se - error - bias`` exceeds the bound (so a ``False`` verdict is
  significant). The forward-reverse estimates are biased upward, so the point estimates
  and the margin are conservative.
"""

from __future__ import annotations

import math
import sys

import jax
import numpy as np
from tqdm.auto import tqdm

from localize.continuous import METHODS, Estimate, EstimateConfig
from localize.errors import LocalizeError, bad
from localize.posterior import log_set_weights
from localize.report import (
    CURVES,
    FR_CURVES,
    THEOREM2_TOL,
    WindowReport,
    _check_eps,
    _list,
    _nested_sets,
    _nonempty,
)
from localize.windows import theorem2_bound

# Interior points per round of k-section: each round shrinks the bracket 9-fold.
REFINE_POINTS = 8
# Rounds for curves without sampling noise (9^10 ~ 3e9) and for Monte Carlo curves, whose
# resolution is limited by the standard error anyway (9^3 = 729).
EXACT_ROUNDS, MC_ROUNDS = 10, 3
# A bracket this narrow (relative to max(1, |t|)) is not split further.
REFINE_RTOL = 1e-12
# Standard errors in the band of an estimated curve.
BAND_SE = 3.0
# The largest seed jax.random.key takes.
MAX_SEED = 2**63 - 1
# -inf log-overlaps (disjoint supports) are clamped to this for JSON.
MOST_NEGATIVE = -1e308


def _check_estimate(name: str, est, n: int) -> Estimate:
    """The hook's result as NumPy arrays of shape ``(n,)``, or a LocalizeError."""
    if not isinstance(est, Estimate):
        raise LocalizeError(f"{name}: the model's curve hook returned {type(est).__name__}, "
                            "expected an Estimate")
    if est.method not in METHODS:
        raise LocalizeError(f"{name}: the model's curve hook returned method "
                            f"{est.method!r}, expected one of {list(METHODS)}")
    arrays = {}
    for field in ("value", "se", "bias", "error", "log_overlap", "log_overlap_se"):
        a = getattr(est, field)
        if a is None:
            arrays[field] = None
            continue
        a = np.asarray(a, dtype=np.float64)
        if a.shape != (n,):
            raise LocalizeError(f"{name}: the model's curve hook returned {field} of shape "
                                f"{a.shape}, expected ({n},)")
        if np.any(np.isnan(a)):
            raise LocalizeError(f"{name}: the computation produced NaN; please report this "
                                "model")
        arrays[field] = a
    if arrays["log_overlap"] is None:
        # log(1 - TV) from the value itself when the hook has no direct one.
        v = np.clip(arrays["value"], 0.0, 1.0)
        with np.errstate(divide="ignore"):
            arrays["log_overlap"] = np.log1p(-v)
        # Delta method; at v = 1 the overlap is 0 and its log has no standard error to give.
        arrays["log_overlap_se"] = np.divide(arrays["se"], 1.0 - v, out=np.zeros(n),
                                             where=v < 1.0)
    if arrays["log_overlap_se"] is None:
        arrays["log_overlap_se"] = np.zeros(n)
    return est._replace(**arrays)


def _band(est: Estimate):
    """``(lower, upper)`` edges of the plausible values of the curve (module docstring)."""
    spread = BAND_SE * est.se + est.error
    return est.value - spread - est.bias, est.value + spread


def _log_overlap_band(est: Estimate):
    """``(lower, upper)`` edges of the log-overlap ``log(1 - TV)``.

    The TV's upward bias and error become downward ones on the overlap, which is carried in
    log space so that overlaps like ``1e-200`` keep their meaning.
    """
    lo, se = est.log_overlap, est.log_overlap_se
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        upper = np.logaddexp(lo + BAND_SE * se, np.log(est.error + est.bias))
        base = lo - BAND_SE * se
        # overlap - error, in log space: base + log1p(-error / exp(base)) when positive.
        log_ratio = np.where(est.error > 0, np.log(est.error) - base, -np.inf)
        lower = np.where(log_ratio < 0, base + np.log1p(-np.exp(np.minimum(log_ratio, 0.0))),
                         -np.inf)
    return lower, upper


def _refine_points(lo: float, hi: float, discrete: bool) -> np.ndarray:
    """Interior points of ``(lo, hi)`` for one round of k-section (integers when discrete)."""
    pts = lo + (hi - lo) * np.arange(1, REFINE_POINTS + 1) / (REFINE_POINTS + 1)
    if discrete:
        pts = np.unique(np.round(pts))
        pts = pts[(pts > lo) & (pts < hi)]
    return pts


def _crossing(curve, times, grid, pred, *, first: bool, rounds: int, discrete: bool = False):
    """Where ``pred`` switches along a monotone curve: ``(t, lo, hi)`` or ``None``.

    ``first``: the first time ``pred`` holds (it holds at ``hi``, not at ``lo``); else the
    last time it holds (at ``lo``, not at ``hi``). Found on the grid, then refined between
    the bracketing grid times by ``rounds`` rounds of k-section with ``curve(ts)``.
    """
    ok = np.asarray(pred(grid))
    idx = np.flatnonzero(ok)
    if not idx.size:
        return None
    n = times.size
    i = idx[0] if first else idx[-1]
    if (first and i == 0) or (not first and i == n - 1):
        t = float(times[i])
        return t, t, t
    lo, hi = (times[i - 1], times[i]) if first else (times[i], times[i + 1])
    lo, hi = float(lo), float(hi)
    for _ in range(rounds):
        if hi - lo <= (1.0 if discrete else REFINE_RTOL * max(1.0, abs(hi))):
            break
        pts = _refine_points(lo, hi, discrete)
        if not (pts.size and pts[0] > lo and pts[-1] < hi and np.all(np.diff(pts) > 0)):
            break
        ok = np.asarray(pred(curve(pts)))
        if first:
            j = np.flatnonzero(ok)
            if j.size == 0:
                lo = float(pts[-1])
            else:
                hi = float(pts[j[0]])
                lo = float(pts[j[0] - 1]) if j[0] > 0 else lo
        else:
            j = np.flatnonzero(ok)
            if j.size == 0:
                hi = float(pts[0])
            else:
                lo = float(pts[j[-1]])
                hi = float(pts[j[-1] + 1]) if j[-1] < pts.size - 1 else hi
    return (hi if first else lo), lo, hi


def _threshold(curve, times, grid, test, *, first: bool, discrete: bool = False):
    """A threshold with its interval: ``(t, [lo, hi])`` or ``(None, None)``.

    ``test(est, edge)`` is the condition on the curve's point estimate (``edge = 0``) or on
    its band's edge that makes the condition easiest (``edge = -1``, giving the outer end of
    the interval on the side of ``first``) or hardest (``edge = +1``).
    """
    rounds = MC_ROUNDS if grid.method == "monte-carlo" else EXACT_ROUNDS
    if discrete:
        # Integer times: refine until the bracket is two neighbours, however many rounds.
        rounds = EXACT_ROUNDS
    point = _crossing(curve, times, grid, lambda e: test(e, 0), first=first, rounds=rounds,
                      discrete=discrete)
    if point is None:
        return None, None
    t, lo, hi = point
    band = (grid.se > 0).any() or (grid.error > 0).any() or (grid.bias > 0).any()
    if band:
        # For a "first" threshold the easy edge crosses earlier; for a "last", later.
        easy = _crossing(curve, times, grid, lambda e: test(e, -1), first=first,
                         rounds=rounds, discrete=discrete)
        hard = _crossing(curve, times, grid, lambda e: test(e, +1), first=first,
                         rounds=rounds, discrete=discrete)
        if first:
            lo = easy[1] if easy is not None else lo
            hi = hard[2] if hard is not None else float(times[-1])
        else:
            lo = hard[1] if hard is not None else float(times[0])
            hi = easy[2] if easy is not None else hi
    return t, [min(lo, t), max(hi, t)]


def _close_test(eps):
    """``TV(p_t^{S_init}, p_t^{S_target}) <= eps`` on the estimate or an edge of its band."""
    def test(est, edge):
        lower, upper = _band(est)
        v = {0: est.value, -1: lower, 1: upper}[edge]
        return v <= eps

    return test


def _separated_test(eps):
    """``log(1 - TV) <= 2 log eps`` on the estimate or an edge of its band."""
    level = 2.0 * math.log(eps)

    def test(est, edge):
        lower, upper = _log_overlap_band(est)
        v = {0: est.log_overlap, -1: lower, 1: upper}[edge]
        return v <= level

    return test


def _lists(est: Estimate | None, field: str, clamp: bool = False):
    if est is None:
        return None
    a = getattr(est, field)
    return _list(np.maximum(a, MOST_NEGATIVE) if clamp else a)


def continuous_window_report(model, s_init, s_target, eps, times, *,
                             progress=None, estimate: EstimateConfig | None = None
                             ) -> WindowReport:
    """The window report of a continuous model: curves, refined thresholds, Theorem 2.

    See the module docstring for what is computed and how the intervals and the check are
    defined; :func:`localize.window_report` dispatches here.

    Args:
        model: a :class:`~localize.continuous.ContinuousModel` or a
            :class:`~localize.sequence.SequenceModel` (anything with the curve hooks).
        s_init: component indices of ``S_init``.
        s_target: component indices of ``S_target``, containing ``s_init``.
        eps: the error parameter in (0, 1).
        times: strictly increasing times in the process's index set.
        progress: show a progress bar over the curves (default: when stderr is a terminal).
        estimate: the Monte Carlo budget and seed (default :class:`EstimateConfig`).

    Returns:
        A :class:`~localize.report.WindowReport`.

    Raises:
        LocalizeError: on bad sets, ``eps``, times or config, or if a NaN would escape.
    """
    eps = _check_eps(eps)
    discrete = bool(getattr(model.process, "discrete_time", False))
    config = EstimateConfig() if estimate is None else estimate
    if not isinstance(config, EstimateConfig):
        raise bad("estimate", estimate, "an EstimateConfig or None")
    if config.seed > MAX_SEED:
        raise bad("estimate.seed", config.seed, f"an integer in 0..{MAX_SEED}")
    init, target = _nested_sets(model, s_init, s_target)
    times = model.process.validate_times(times)
    has_rest_t, has_rest_i = _nonempty(model, ~target), _nonempty(model, ~init)
    lw = np.asarray(model.log_weights)
    row = lambda m: np.asarray(log_set_weights(lw, m))  # noqa: E731
    every = np.ones(model.n_components, dtype=bool)
    root = jax.random.key(config.seed)
    key = {name: jax.random.fold_in(root, i) for i, name in enumerate(CURVES)}

    # name -> (hook over times) for the curves that exist; one key per curve.
    hooks = {
        "tv_init_target": lambda ts: model.tv_curve(
            key["tv_init_target"], ts, row(init), row(target), config),
        "fr_tv_target": lambda ts: model.fr_tv_curve(
            key["fr_tv_target"], ts, row(init), row(target), config),
        "fr_tv_init": lambda ts: model.fr_tv_curve(
            key["fr_tv_init"], ts, row(init), row(init), config),
        "fr_tv_full": lambda ts: model.fr_tv_curve(
            key["fr_tv_full"], ts, row(init), row(every), config),
        "label_mass_target": lambda ts: model.label_mass_curve(
            key["label_mass_target"], ts, row(init), target, config),
    }
    if has_rest_t:
        hooks.update({
            "tv_target_rest": lambda ts: model.tv_curve(
                key["tv_target_rest"], ts, row(target), row(~target), config),
            "exit_mass_target": lambda ts: model.label_mass_curve(
                key["exit_mass_target"], ts, row(target), ~target, config),
            "bc_target_rest": lambda ts: model.bc_curve(
                key["bc_target_rest"], ts, row(target), row(~target), config),
        })
    if has_rest_i:
        hooks["tv_init_rest"] = lambda ts: model.tv_curve(
            key["tv_init_rest"], ts, row(init), row(~init), config)

    def curve(name):
        return lambda ts: _check_estimate(name, hooks[name](np.asarray(ts)), len(ts))

    if progress is None:
        progress = sys.stderr.isatty()
    est: dict[str, Estimate | None] = dict.fromkeys(CURVES)
    for name in tqdm(list(hooks), desc="curves", disable=not progress, leave=False):
        est[name] = curve(name)(times)

    # Thresholds (Definition 4), refined between grid times, with their intervals.
    t_end, i_end = _threshold(curve("tv_init_target"), times, est["tv_init_target"],
                              _close_test(eps), first=True, discrete=discrete)
    last = float(times[-1])
    if has_rest_t:
        t_start, i_start = _threshold(curve("tv_target_rest"), times, est["tv_target_rest"],
                                      _separated_test(eps), first=False,
                                      discrete=discrete)
    else:
        t_start, i_start = last, [last, last]
    if has_rest_i:
        t_after, i_after = _threshold(curve("tv_init_rest"), times, est["tv_init_rest"],
                                      _separated_test(eps), first=False,
                                      discrete=discrete)
    else:
        t_after, i_after = last, [last, last]
    before = t_end is not None and t_start is not None and t_end <= t_start
    t_before, i_before = (t_end, list(i_end)) if before else (None, None)

    # Theorem 2 on the grid times inside [T_end, T_start].
    w = np.exp(lw)
    w_ratio = float(w[~target].sum() / w[target].sum())
    bound = theorem2_bound(eps, w_ratio)
    fr = est["fr_tv_target"]
    holds, margin = None, None
    if t_start is not None and t_end is not None:
        inside = (times >= t_end) & (times <= t_start)
        if inside.any():
            margin = float((bound - fr.value[inside]).min())
            lowest = fr.value - BAND_SE * fr.se - fr.error - fr.bias
            holds = bool(np.all(lowest[inside] <= bound + THEOREM2_TOL + model.error_bound))

    present = {name: e for name, e in est.items() if e is not None}
    methods = {name: (e.method if e is not None else None) for name, e in est.items()}
    methods["log_overlap_target_rest"] = methods["tv_target_rest"]
    methods["log_overlap_init_rest"] = methods["tv_init_rest"]
    sampled = any(m == "monte-carlo" for m in methods.values())
    error = max([float(e.error.max()) for e in present.values()] + [0.0])
    ses = {f"{name}_se": _lists(est.get(name), "se") for name in CURVES}
    ses["log_overlap_target_rest_se"] = _lists(est["tv_target_rest"], "log_overlap_se")
    ses["log_overlap_init_rest_se"] = _lists(est["tv_init_rest"], "log_overlap_se")
    return WindowReport(
        times=_list(times),
        tv_init_target=_lists(est["tv_init_target"], "value"),
        tv_target_rest=_lists(est["tv_target_rest"], "value"),
        tv_init_rest=_lists(est["tv_init_rest"], "value"),
        fr_tv_target=_lists(fr, "value"),
        fr_tv_init=_lists(est["fr_tv_init"], "value"),
        fr_tv_full=_lists(est["fr_tv_full"], "value"),
        label_mass_target=_lists(est["label_mass_target"], "value"),
        T_start=t_start,
        T_end=t_end,
        T_before_C=t_before,
        T_after_C=t_after,
        W=w_ratio,
        bound_theorem2=bound,
        theorem2_holds=holds,
        theorem2_margin=margin,
        eps=eps,
        s_init=[int(i) for i in np.flatnonzero(init)],
        s_target=[int(i) for i in np.flatnonzero(target)],
        log_overlap_target_rest=_lists(est["tv_target_rest"], "log_overlap", clamp=True),
        log_overlap_init_rest=_lists(est["tv_init_rest"], "log_overlap", clamp=True),
        exit_mass_target=_lists(est["exit_mass_target"], "value"),
        bc_target_rest=_lists(est["bc_target_rest"], "value"),
        method=methods,
        error_bound=float(model.error_bound) + error,
        model=model.describe(),
        **ses,
        **{f"{name}_bias": _lists(est[name], "bias") for name in FR_CURVES},
        T_start_interval=i_start,
        T_end_interval=i_end,
        T_before_C_interval=i_before,
        T_after_C_interval=i_after,
        estimate=({"samples": int(config.samples), "inner_samples": int(config.inner_samples),
                   "seed": int(config.seed)} if sampled else None),
    )

