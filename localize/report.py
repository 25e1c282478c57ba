"""The window report: exact curves, thresholds, critical window and Theorem 2's check.

One jitted function computes every per-time quantity for a chunk of times (``vmap`` inside,
stable shapes, so a second call with the same shapes does not compile again); the report
walks the chunks with a progress bar and then applies Definition 4 and Theorem 2 on the
grid. Keys of :meth:`WindowReport.to_json` are fixed by issue 2 of the project; later keys
(per-curve methods, standard errors, biases, threshold intervals) only extend them.

A :class:`~localize.continuous.ContinuousModel` goes to :mod:`localize.continuous_report`,
which fills the same :class:`WindowReport` from estimated curves and refines the thresholds
between grid times. A :class:`~localize.sequence.SequenceModel` takes the exact finite path
when it can enumerate its support (:meth:`~localize.sequence.SequenceModel.finite`) and the
curve-hook path otherwise.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp
from tqdm.auto import tqdm

from localize import divergences as dv
from localize.continuous import ContinuousModel, EstimateConfig, is_curve_model
from localize.errors import LocalizeError, bad
from localize.model import Model, subset_mask
from localize.posterior import log_set_weights
from localize.sequence import SequenceModel
from localize.windows import t_after_c, t_before_c, t_end, t_start, theorem2_bound

# Rounding slack for the Theorem 2 check: the bound is met with equality in Example 3.
THEOREM2_TOL = 1e-12
# Float64 entries one vmapped chunk of times may touch, per intermediate array.
CHUNK_BUDGET = 2**24


class WindowCurves(NamedTuple):
    """Per-time curves, each an array of shape ``(n_times,)``.

    Attributes:
        tv_init_target: ``TV(p_t^{S_init}, p_t^{S_target})``.
        tv_target_rest: ``TV(p_t^{S_target}, p_t^{C})`` with ``C = Theta - S_target``.
        log_overlap_target_rest: ``log(1 - tv_target_rest)``, computed directly.
        tv_init_rest: ``TV(p_t^{S_init}, p_t^{Theta - S_init})``.
        log_overlap_init_rest: ``log(1 - tv_init_rest)``.
        fr_tv_target: ``TV(p^{S_init,t}, p^{S_target})``, the left side of Theorem 2.
        fr_tv_init: ``TV(p^{S_init,t}, p^{S_init})``.
        fr_tv_full: ``TV(p^{S_init,t}, p)``.
        label_mass_target: ``E_{Y~p_t^{S_init}}[pi_t(S_target | Y)]``.
        exit_mass_target: ``E_{Y~p_t^{S_target}}[pi_t(C | Y)]``, the sharp form (A).
        bc_target_rest: ``BC(p_t^{S_target}, p_t^{C})``, the sharp form (B).
    """

    tv_init_target: np.ndarray
    tv_target_rest: np.ndarray
    log_overlap_target_rest: np.ndarray
    tv_init_rest: np.ndarray
    log_overlap_init_rest: np.ndarray
    fr_tv_target: np.ndarray
    fr_tv_init: np.ndarray
    fr_tv_full: np.ndarray
    label_mass_target: np.ndarray
    exit_mass_target: np.ndarray
    bc_target_rest: np.ndarray


def _curves_at(model, init, target, rest_t, rest_i, t):
    lw = model.log_weights
    sets = (init, target, rest_t, rest_i, jnp.ones_like(init))
    rows = jnp.stack([log_set_weights(lw, m) for m in sets])
    # Every curve is a function of five mixtures, so only those are noised.
    p_init, p_target, p_rest_t, p_rest_i, p_all = model.log_noised_mixtures(t, rows)
    c_init, c_target, _, _, c_all = model.log_clean_mixtures(t, rows)
    undefined = jnp.isneginf(p_all)
    log_w = lambda m: logsumexp(jnp.where(m, lw, -jnp.inf))  # noqa: E731
    # pi_t(S | y) = w(S) p_t^S(y) / p_t(y) for a set S, defined on supp p_t.
    log_post = lambda m, p_s: jnp.where(undefined, -jnp.inf, log_w(m) + p_s - p_all)  # noqa: E731
    log_r = jnp.where(undefined, -jnp.inf, p_init - p_all)
    fr = c_all + model.log_adjoint(t, log_r)
    expect = lambda log_p, log_f: jnp.exp(logsumexp(log_p + log_f))  # noqa: E731
    return WindowCurves(
        tv_init_target=dv.tv(p_init, p_target),
        tv_target_rest=dv.tv(p_target, p_rest_t),
        log_overlap_target_rest=dv.log_overlap(p_target, p_rest_t),
        tv_init_rest=dv.tv(p_init, p_rest_i),
        log_overlap_init_rest=dv.log_overlap(p_init, p_rest_i),
        fr_tv_target=dv.tv(fr, c_target),
        fr_tv_init=dv.tv(fr, c_init),
        fr_tv_full=dv.tv(fr, c_all),
        label_mass_target=expect(p_init, log_post(target, p_target)),
        exit_mass_target=expect(p_target, log_post(rest_t, p_rest_t)),
        bc_target_rest=dv.bhattacharyya(p_target, p_rest_t),
    )


@jax.jit
def _curves_chunk(model, init, target, rest_t, rest_i, ts):
    return jax.vmap(lambda t: _curves_at(model, init, target, rest_t, rest_i, t))(ts)


def _nested_sets(model, s_init, s_target):
    """Masks of ``S_init`` and ``S_target`` (index lists or sub-population names), checked:
    valid, nested, ``S_init`` of positive weight."""
    init = subset_mask(model, s_init, "s_init")
    target = subset_mask(model, s_target, "s_target")
    if np.any(init & ~target):
        shown = lambda v: v if isinstance(v, str) else list(v)  # noqa: E731
        raise bad("s_init", shown(s_init), f"a subset of s_target = {shown(s_target)}")
    if np.exp(np.asarray(model.log_weights))[init].sum() <= 0:
        raise bad("s_init", np.flatnonzero(init).tolist(), "a set of positive total weight")
    return init, target


def _nonempty(model, mask):
    """A complement counts as empty when it has no component of positive weight."""
    return bool(np.exp(np.asarray(model.log_weights))[mask].sum() > 0)


def window_curves(model: Model, s_init, s_target, times, *, progress=None) -> WindowCurves:
    """Exact per-time curves of the forward-reverse experiment from ``S_init``.

    Args:
        model: a :class:`localize.Model` built by a family.
        s_init: list of component indices of ``S_init``.
        s_target: list of component indices of ``S_target`` (a superset of ``S_init``).
        times: strictly increasing points of the process's index set.
        progress: show a progress bar (default: when stderr is a terminal and there is more
            than one chunk of times).

    Returns:
        :class:`WindowCurves` of NumPy arrays. Curves against an empty complement are
        computed against a placeholder and must be ignored; :func:`window_report` sets
        them to ``None``.

    Raises:
        LocalizeError: on bad sets or times, or if a NaN would escape.
    """
    if isinstance(model, SequenceModel) and model.finite() is not None:
        model = model.finite()
    if isinstance(model, (ContinuousModel, SequenceModel)):
        raise bad("model", type(model).__name__, "a finite Model (continuous models and long "
                  "sequence models have estimated curves: use window_report)")
    init, target = _nested_sets(model, s_init, s_target)
    times = model.process.validate_times(times)
    # Placeholders keep the shapes (and the compilation) fixed when a complement is empty.
    rest_t = ~target if _nonempty(model, ~target) else target
    rest_i = ~init if _nonempty(model, ~init) else init

    chunk = int(max(1, min(times.size, CHUNK_BUDGET // max(1, model.table_size()))))
    n_chunks = -(-times.size // chunk)
    padded = np.concatenate([times, np.full(n_chunks * chunk - times.size, times[-1])])
    if progress is None:
        progress = n_chunks > 1 and sys.stderr.isatty()
    parts = []
    args = tuple(jnp.asarray(m) for m in (init, target, rest_t, rest_i))
    for c in tqdm(range(n_chunks), desc="times", disable=not progress, leave=False):
        ts = jnp.asarray(padded[c * chunk : (c + 1) * chunk])
        parts.append(jax.device_get(_curves_chunk(model, *args, ts)))
    out = WindowCurves(*(np.concatenate(f)[: times.size] for f in zip(*parts, strict=True)))
    for name, arr in out._asdict().items():
        if np.any(np.isnan(arr)):
            raise LocalizeError(f"{name}: the computation produced NaN; please report this model")
    return out


def _list(a):
    return None if a is None else [float(x) for x in a]


# The per-time curves of a report, in the order of WindowCurves.
CURVES = WindowCurves._fields
# The curves of the forward-reverse experiment, which carry an inner-sample bias.
FR_CURVES = ("fr_tv_target", "fr_tv_init", "fr_tv_full")
THRESHOLDS = ("T_start", "T_end", "T_before_C", "T_after_C")


@dataclasses.dataclass(frozen=True)
class WindowReport:
    """Curves, thresholds, window and the Theorem 2 check for one experiment.

    The fields of :meth:`to_json` named in issue 2 are fixed; the others are extras.
    Curves against an empty complement are ``None`` and their condition counts as met.

    Extras shared by finite and continuous models:

    * ``method``: curve name -> ``"exact"``, ``"closed-form"``, ``"quadrature"`` or
      ``"monte-carlo"`` (``None`` for a curve that is ``None``); finite models are exact.
    * ``<curve>_se``: per-time standard errors of every curve (zeros when nothing was
      sampled; ``None`` with the curve), including ``log_overlap_*_se``.
    * ``fr_tv_*_bias``: per-time bounds on the upward inner-sample bias of the
      forward-reverse TVs (:func:`localize.estimate.mc_fr_tv`; zeros when exact).
    * ``T_*_interval``: ``[lo, hi]`` around each threshold, or ``None`` with it: ``[T, T]``
      on a finite grid; for continuous models the final bisection bracket, widened to the
      crossings of the curve's ``value +- (3 se + error + bias)`` band when it is estimated
      (:mod:`localize.continuous_report`).
    * ``estimate``: ``{samples, inner_samples, seed}`` when a curve was estimated, else
      ``None``; ``error_bound``: the largest deterministic error (quadrature, truncation).
    """

    times: list
    tv_init_target: list
    tv_target_rest: list | None
    tv_init_rest: list | None
    fr_tv_target: list
    fr_tv_init: list
    fr_tv_full: list
    label_mass_target: list
    T_start: float | None
    T_end: float | None
    T_before_C: float | None
    T_after_C: float | None
    W: float
    bound_theorem2: float
    theorem2_holds: bool | None
    theorem2_margin: float | None
    eps: float
    s_init: list
    s_target: list
    log_overlap_target_rest: list | None
    log_overlap_init_rest: list | None
    exit_mass_target: list | None
    bc_target_rest: list | None
    method: dict
    error_bound: float
    model: dict
    tv_init_target_se: list
    tv_target_rest_se: list | None
    log_overlap_target_rest_se: list | None
    tv_init_rest_se: list | None
    log_overlap_init_rest_se: list | None
    fr_tv_target_se: list
    fr_tv_init_se: list
    fr_tv_full_se: list
    label_mass_target_se: list
    exit_mass_target_se: list | None
    bc_target_rest_se: list | None
    fr_tv_target_bias: list
    fr_tv_init_bias: list
    fr_tv_full_bias: list
    T_start_interval: list | None
    T_end_interval: list | None
    T_before_C_interval: list | None
    T_after_C_interval: list | None
    estimate: dict | None

    def to_json(self) -> dict:
        """A JSON-ready dictionary (lists are per time, in order; no NaN)."""
        return dataclasses.asdict(self)

    def _methods(self) -> str:
        used = {m for m in self.method.values() if m is not None}
        if len(used) == 1:
            return used.pop()
        return ", ".join(f"{c}: {m}" for c, m in self.method.items() if m is not None)

    def to_text(self) -> str:
        """A readable table of the curves followed by the thresholds and the verdict.

        Estimated curves show ``value±se``; the thresholds show their intervals when these
        are not a single point.
        """
        cols = [
            ("t", self.times, None),
            ("TV(init,tgt)", self.tv_init_target, self.tv_init_target_se),
            ("TV(tgt,rest)", self.tv_target_rest, self.tv_target_rest_se),
            ("TV(init,rest)", self.tv_init_rest, self.tv_init_rest_se),
            ("FR->tgt", self.fr_tv_target, self.fr_tv_target_se),
            ("FR->init", self.fr_tv_init, self.fr_tv_init_se),
            ("FR->full", self.fr_tv_full, self.fr_tv_full_se),
            ("P(label in tgt)", self.label_mass_target, self.label_mass_target_se),
        ]
        estimated = any(se is not None and any(x > 0 for x in se) for _, _, se in cols)
        width = 20 if estimated else 16
        lines = ["".join(f"{name:>{width}}" for name, _, _ in cols)]
        for i in range(len(self.times)):
            row = []
            for _name, values, se in cols:
                if values is None:
                    cell = "-"
                elif se is not None and se[i] > 0:
                    cell = f"{values[i]:.5g}±{se[i]:.2g}"
                else:
                    cell = f"{values[i]:.6g}"
                row.append(f"{cell:>{width}}")
            lines.append("".join(row))
        fmt = lambda v: "none" if v is None else f"{v:.6g}"  # noqa: E731

        def fmt_t(name):
            v, iv = getattr(self, name), getattr(self, f"{name}_interval")
            if v is None or iv is None or iv[0] == iv[1]:
                return fmt(v)
            return f"{fmt(v)} in [{fmt(iv[0])}, {fmt(iv[1])}]"

        held = {None: "vacuous (no grid time in [T_end, T_start])", True: "holds", False: "FAILS"}
        lines += [
            "",
            f"eps = {self.eps:g}   S_init = {_short(self.s_init)}   "
            f"S_target = {_short(self.s_target)}   "
            f"method = {self._methods()} (error bound {self.error_bound:.1g})",
        ]
        if self.estimate is not None:
            e = self.estimate
            lines.append(f"estimated: {e['samples']} samples ({e['inner_samples']} inner) per "
                         f"time, seed {e['seed']}; ± is one standard error")
        lines += [
            f"T_end = {fmt_t('T_end')}   T_start = {fmt_t('T_start')}",
            f"critical window [T_after_C, T_before_C] = [{fmt_t('T_after_C')}, "
            f"{fmt_t('T_before_C')}]",
            f"W = {self.W:.6g}   Theorem 2 bound eps(1 + max(1,W)/sqrt 2) = "
            f"{self.bound_theorem2:.6g}   Theorem 2 {held[self.theorem2_holds]}"
            + ("" if self.theorem2_margin is None else f" (margin {self.theorem2_margin:.3g})"),
        ]
        return "\n".join(lines)


def _short(indices) -> str:
    """A set for the text report: the list, or its ends and size when it is long."""
    if len(indices) <= 12:
        return str(list(indices))
    return f"[{indices[0]}, {indices[1]}, ..., {indices[-1]}] ({len(indices)} components)"


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)):
        raise bad("eps", eps, "a number in (0, 1)")
    if not (0.0 < float(eps) < 1.0):
        raise bad("eps", eps, "a number in (0, 1)")
    return float(eps)


def window_report(model, s_init, s_target, eps, times, *, progress=None,
                  estimate: EstimateConfig | None = None) -> WindowReport:
    """Everything ``localize window`` prints, for one model and two nested sets.

    For a finite :class:`localize.Model`, computes the exact curves
    (:func:`window_curves`), then ``T_start``, ``T_end``,
    ``T^C_before`` and ``T^C_after`` over the grid (Definition 4 with
    ``S_after = S_init`` and ``S_before = S_target``), ``W = w(Theta - S_target) / w(S_target)``,
    the bound ``eps (1 + max(1, W) / sqrt 2)`` of Theorem 2 and whether it held at every
    grid time in ``[T_end, T_start]``. For a
    :class:`~localize.continuous.ContinuousModel`, or a
    :class:`~localize.sequence.SequenceModel` whose support is too large to enumerate, the
    same report from the model's curve
    hooks (exact, quadrature or Monte Carlo), with thresholds refined between grid times
    (:func:`localize.continuous_report.continuous_window_report`).

    Args:
        model: a :class:`localize.Model`, a :class:`~localize.continuous.ContinuousModel` or
            a :class:`~localize.sequence.SequenceModel` (exact through its
            :meth:`~localize.sequence.SequenceModel.finite` model when it has one).
        s_init: component indices of ``S_init``.
        s_target: component indices of ``S_target``, containing ``s_init``.
        eps: the error parameter in (0, 1).
        times: strictly increasing points of the index set.
        progress: show a progress bar (see :func:`window_curves`).
        estimate: the Monte Carlo budget and seed for curves a continuous model estimates
            (default :class:`~localize.continuous.EstimateConfig`); unused by finite models.

    Returns:
        A :class:`WindowReport`.

    Example:
        >>> model = synthetic.build("finite", alphabet=2, length=2, weights=[.5, .5],
        ...                         pmfs=[[1, 0, 0, 0], [0, 0, 0, 1]], process="truncation")
        >>> report = localize.window_report(model, [0], [0, 1], 0.1, [0, 1, 2])
    """
    if isinstance(model, SequenceModel):
        exact = model.finite()
        if exact is None:
            from localize.continuous_report import continuous_window_report

            return continuous_window_report(model, s_init, s_target, eps, times,
                                            progress=progress, estimate=estimate)
        report = window_report(exact, s_init, s_target, eps, times, progress=progress)
        return dataclasses.replace(report, model=model.describe())
    if isinstance(model, ContinuousModel) or is_curve_model(model):
        from localize.continuous_report import continuous_window_report

        return continuous_window_report(model, s_init, s_target, eps, times,
                                        progress=progress, estimate=estimate)
    if estimate is not None and not isinstance(estimate, EstimateConfig):
        raise bad("estimate", estimate, "an EstimateConfig or None")
    eps = _check_eps(eps)
    curves = window_curves(model, s_init, s_target, times, progress=progress)
    init, target = _nested_sets(model, s_init, s_target)
    times = model.process.validate_times(times)
    has_rest_t, has_rest_i = _nonempty(model, ~target), _nonempty(model, ~init)
    c = curves
    tv_tr = c.tv_target_rest if has_rest_t else None
    lo_tr = c.log_overlap_target_rest if has_rest_t else None
    tv_ir = c.tv_init_rest if has_rest_i else None
    lo_ir = c.log_overlap_init_rest if has_rest_i else None

    w = np.exp(np.asarray(model.log_weights))
    w_ratio = float(w[~target].sum() / w[target].sum())
    bound = theorem2_bound(eps, w_ratio)
    t_s = t_start(times, tv_tr, eps, log_overlap=lo_tr)
    t_e = t_end(times, c.tv_init_target, eps)
    holds, margin = None, None
    if t_s is not None and t_e is not None:
        inside = (times >= t_e) & (times <= t_s)
        if inside.any():
            slack = bound - c.fr_tv_target[inside]
            margin = float(slack.min())
            holds = bool(margin >= -THEOREM2_TOL - model.error_bound)
    finite = lambda a: None if a is None else np.maximum(a, -1e308)  # noqa: E731
    present = {
        "tv_target_rest": has_rest_t, "log_overlap_target_rest": has_rest_t,
        "tv_init_rest": has_rest_i, "log_overlap_init_rest": has_rest_i,
        "exit_mass_target": has_rest_t, "bc_target_rest": has_rest_t,
    }
    zeros = [0.0] * times.size
    ses = {f"{name}_se": (zeros if present.get(name, True) else None) for name in CURVES}
    thresholds = {
        "T_start": t_s,
        "T_end": t_e,
        "T_before_C": t_before_c(times, c.tv_init_target, tv_tr, eps, log_overlap=lo_tr),
        "T_after_C": t_after_c(times, tv_ir, eps, log_overlap=lo_ir),
    }
    return WindowReport(
        times=_list(times),
        tv_init_target=_list(c.tv_init_target),
        tv_target_rest=_list(tv_tr),
        tv_init_rest=_list(tv_ir),
        fr_tv_target=_list(c.fr_tv_target),
        fr_tv_init=_list(c.fr_tv_init),
        fr_tv_full=_list(c.fr_tv_full),
        label_mass_target=_list(c.label_mass_target),
        **thresholds,
        W=w_ratio,
        bound_theorem2=bound,
        theorem2_holds=holds,
        theorem2_margin=margin,
        eps=eps,
        s_init=[int(i) for i in np.flatnonzero(init)],
        s_target=[int(i) for i in np.flatnonzero(target)],
        # -inf (disjoint supports) is clamped to the most negative double for JSON.
        log_overlap_target_rest=_list(finite(lo_tr)),
        log_overlap_init_rest=_list(finite(lo_ir)),
        exit_mass_target=_list(c.exit_mass_target) if has_rest_t else None,
        bc_target_rest=_list(c.bc_target_rest) if has_rest_t else None,
        method={name: (model.method if present.get(name, True) else None) for name in CURVES},
        error_bound=float(model.error_bound),
        model=model.describe(),
        **ses,
        **{f"{name}_bias": zeros for name in FR_CURVES},
        # On a grid the thresholds are grid times themselves: no uncertainty.
        **{f"{name}_interval": (None if v is None else [v, v])
           for name, v in thresholds.items()},
        estimate=None,
    )
