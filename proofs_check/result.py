"""The result of checking one claim, and the tally that produces it.

Every claim is an inequality ``lhs <= rhs`` checked at many *cases* (an instance, a time, a
pair of sets, an observation ...). The result reports the worst case: ``margin = rhs - lhs``
minimised over the cases, with ``lhs`` and ``rhs`` the two sides there, and ``holds`` when
every case satisfies ``lhs <= rhs + tol``. An identity ``a = b`` is checked as
``|a - b| <= 0`` (so ``lhs`` is the residual and ``rhs`` is 0).

Why a tolerance: every number is a float64 sum of a few hundred terms, so identities come out
right only to about ``1e-15``, and several bounds of the paper are met *with equality*
(Example 3 at ``T^C_before``, Lemmas 1 and 7 when the two laws coincide, Lemma 3 when the
two posteriors have disjoint supports, data processing across a step that reveals nothing).
The largest rounding seen on the catalog is ``1.5e-14``, at Example 3's equality with
``d_H = 1000``: the threshold ``(1 - eps)^{1/d_H}`` is rounded once and then raised to the
power ``d_H``. ``TOL = 1e-12`` leaves a factor 60 above that and stays far below any real
violation; claims on unbounded quantities (KL, chi-square) add a relative part, and a family
that reports an ``error_bound`` (dropped binomial tails) has it added.

A claim may also carry *side checks*: further inequalities of the same proof (the links of a
chain, an exact identity behind a bound). They are reported in ``detail`` and a failing side
check makes the claim fail, but the headline ``lhs``, ``rhs`` and ``margin`` are those of the
main inequality.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

TOL = 1e-12


def _plain(value):
    """A JSON-ready copy: NumPy scalars to Python, non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


@dataclasses.dataclass(frozen=True)
class ClaimResult:
    """One claim of the paper checked on a catalog.

    Attributes:
        name: the claim's stable snake_case name (a key of :data:`proofs_check.CLAIMS`).
        holds: whether every case (and every side check) holds within the tolerance.
        lhs: the left side at the worst case.
        rhs: the right side at the worst case.
        margin: ``rhs - lhs`` at the worst case (negative means violated).
        instances: the number of cases checked.
        statement: the inequality in words, with its source in the paper.
        detail: where the worst case is, the tolerance, side checks and counts.
    """

    name: str
    holds: bool
    lhs: float | None
    rhs: float | None
    margin: float | None
    instances: int
    statement: str = ""
    detail: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-ready dictionary (no NaN or infinity: a non-finite number becomes null)."""
        return _plain(dataclasses.asdict(self))


@dataclasses.dataclass
class _Family:
    """The running worst case of one family of inequalities."""

    count: int = 0
    margin: float = math.inf
    lhs: float = math.nan
    rhs: float = math.nan
    where: dict = dataclasses.field(default_factory=dict)
    ok: bool = True


class Tally:
    """Accumulates the cases of a claim and builds its :class:`ClaimResult`.

    Args:
        tol: the absolute tolerance (default :data:`TOL`).
    """

    def __init__(self, tol: float = TOL):
        self.tol = tol
        # Added to the tolerance of the cases that follow: the error bound a family reports
        # for its numbers (0 for exact ones); set per instance by the claims.
        self.atol = 0.0
        self.max_atol = 0.0
        self.main = _Family()
        self.sides: dict[str, _Family] = {}
        self.notes: dict = {}

    def add(self, lhs, rhs, where: dict | None = None, axes=(), valid=None, rtol: float = 0.0,
            side: str | None = None):
        """Record the cases ``lhs <= rhs`` (arrays of one shape, or broadcastable).

        Args:
            lhs: the left sides.
            rhs: the right sides.
            where: what the cases have in common (instance name, sets ...).
            axes: one ``(name, labels)`` per axis of the arrays, to say where the worst is.
            valid: a boolean mask of the cases that count (the others are skipped).
            rtol: a relative tolerance on ``|rhs|`` added to the absolute one.
            side: the name of a side check, or ``None`` for the main inequality.
        """
        lhs, rhs = np.broadcast_arrays(np.asarray(lhs, float), np.asarray(rhs, float))
        ok_mask = np.ones(lhs.shape, bool) if valid is None else np.broadcast_to(valid, lhs.shape)
        if not ok_mask.any():
            return
        if np.any(np.isnan(lhs[ok_mask])) or np.any(np.isnan(rhs[ok_mask])):
            raise FloatingPointError(f"NaN in a claim's sides at {where}")
        with np.errstate(invalid="ignore"):
            margin = np.where(ok_mask, rhs - lhs, np.inf)
            # rhs = +inf (an infinite KL before) never fails; lhs = +inf under a finite rhs does.
            margin = np.where(ok_mask & np.isposinf(rhs), np.inf, margin)
            margin = np.where(ok_mask & np.isposinf(lhs) & ~np.isposinf(rhs), -np.inf, margin)
        fam = self.main if side is None else self.sides.setdefault(side, _Family())
        fam.count += int(ok_mask.sum())
        self.max_atol = max(self.max_atol, self.atol)
        slack = self.tol + self.atol + rtol * np.where(np.isfinite(rhs), np.abs(rhs), 0.0)
        if np.any(ok_mask & (margin < -slack)):
            fam.ok = False
        flat = int(np.argmin(margin))
        if margin.flat[flat] < fam.margin:
            idx = np.unravel_index(flat, margin.shape) if margin.ndim else ()
            loc = dict(where or {})
            for (name, labels), i in zip(axes, idx, strict=False):
                loc[name] = labels[i] if labels is not None else int(i)
            fam.margin, fam.lhs, fam.rhs = float(margin.flat[flat]), float(lhs.flat[flat]), float(
                rhs.flat[flat])
            fam.where = loc

    def note(self, **items):
        """Add informative entries to the result's ``detail``."""
        self.notes.update(items)

    def result(self, name: str, statement: str) -> ClaimResult:
        """The :class:`ClaimResult`; a claim with no case at all does not hold."""
        m = self.main
        sides = {
            key: {"holds": f.ok, "cases": f.count,
                  "margin": f.margin if f.count else None,
                  "lhs": f.lhs if f.count else None, "rhs": f.rhs if f.count else None,
                  "worst_at": f.where}
            for key, f in self.sides.items()
        }
        holds = bool(m.count > 0 and m.ok and all(f.ok for f in self.sides.values()))
        detail = {"tol": self.tol, "worst_at": m.where, **self.notes}
        if self.max_atol:
            detail["family_error_bound"] = self.max_atol
        if sides:
            detail["side_checks"] = sides
        if m.count == 0:
            detail["error"] = "no case was checked"
        finite = lambda v: v if m.count and math.isfinite(v) else None  # noqa: E731
        return ClaimResult(name=name, holds=holds, lhs=finite(m.lhs), rhs=finite(m.rhs),
                           margin=finite(m.margin), instances=m.count, statement=statement,
                           detail=_plain(detail))
