"""Critical tokens: a harmful and a safe mode that split within ``k`` tokens ([LKC25] Example 4).

Example 4 of the paper (theory.md §3.3) has two modes, ``Theta = {harmful, safe}``, observed
through autoregressive truncation on sequences of length ``T``. The modes have identical
prefix laws on the first ``T'`` tokens (the shared part, e.g. a prompt; ``T' = 0`` for a
jailbreak, where the safe mode starts refusing at once), and within the next ``k`` tokens
(the *critical tokens*) the harmful mode leaves the safe mode's support except with
probability ``rho``. The paper's window for the harmful mode is then
``[T^C_after, T^C_before] = [T - T' - k, T - T']``: a resample that keeps ``T' + k`` tokens of
a harmful answer stays harmful, one that keeps ``T'`` tokens or fewer is a fresh draw of the
model (Fig. 7 of the paper: prefilling "Sure, here is" jailbreaks a model).

**The sequences.** Positions ``1..T'`` carry tokens from one law shared by both modes. Each
later position ``i = 1..n`` of the response (``n = T - T'``) is in a state, *refusing* (R) or
*complying* (C), and carries a token drawn from a law that depends on the state (and may
depend on the position and on the earlier tokens) but not on the mode; the two states use
disjoint vocabularies ("I cannot" against "Sure, here"), so the visible tokens reveal the
visible states. Every path of states has the form ``R^{a-1} C^{b-a} R^{n-b+1}``: compliance
starts at position ``a`` and refusal resumes at position ``b`` (either may never happen).

* Harmful mode: compliance starts at ``a = j`` in the critical block with probability
  ``P_h(j)``, ``j = 1..k``, and never with probability ``rho`` (``overlap``); it never
  returns to a refusal. By default the hazard is constant in the block,
  ``P_h(j) = c^{j-1} (1 - c)`` with ``c = rho^{1/k}``; ``profile`` gives ``P_h(j)`` up to the
  factor ``1 - rho`` instead.
* Safe mode: refuses throughout, except that with probability ``sigma`` (``corrections``) it
  *slips*: it starts complying as the harmful mode does (``a = j`` with probability
  ``P_h(j) / (1 - rho)``) and then returns to a refusal with probability ``h``
  (``recovery``) at each later position, possibly not before the end of the sequence.

``corrections = 0`` is the model before fine-tuning. **Fine-tuning on corrections** (Qi et al.
2024, "safety alignment should be more than just a few tokens deep": training on answers
that start harmfully and then recover) gives ``corrections > 0``: the safe mode now also
produces compliant prefixes, so the harmful prefixes lie in its support long after the
critical block and the overlap of the two prefix laws stays above ``eps^2`` (the window is
gone when late corrections keep it there up to the end). Letting the *harmful* mode return
to a refusal would change nothing at the critical block: as long as the safe mode never
complies, every compliant prefix is outside its support, whatever comes after.

**Reduction (exact, shapes independent of ``T`` and ``t``).** Within a mode, a sequence's
probability is the probability of its path of states times content factors shared by both
modes, so every likelihood ratio depends on the path only; it depends on the path through
``a`` (no recovery before ``T``), or vanishes (a recovery, which the harmful mode never
makes). At time ``t`` the first ``l = clip(T - T' - t, 0, n)`` states are visible, and

* the observation space ``Z`` (``k + 2`` entries) is: no compliance visible; compliance
  visible from ``a = j`` and no recovery visible (``j = 1..k``); a recovery visible;
* the clean space ``U`` (``2k + 2`` entries) is: no compliance ever; compliance from ``a = j``
  and no recovery before ``T``; a recovery within the visible part; compliance from
  ``a = j`` with a recovery after the visible part.

Each class is a union of raw sequences with one observation class and one likelihood-ratio
vector (all recovered paths have ``p^harmful = 0``), which is what :mod:`localize.model`
asks of a reduction: every divergence, label posterior and forward-reverse law computed here
is the exact one for the raw sequences, at any ``T``. All probabilities are closed forms in
log space (``(1 - h)^m`` as ``exp(m log1p(-h))``, ``1 - (1 - h)^m`` through ``log1mexp``).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize.errors import bad
from localize.model import Model, View, check_weights
from localize.processes import Process, Truncation, log1mexp
from synthetic.registry import Family, register

HARMFUL = 0
SAFE = 1
# Longest sequence accepted: nothing scales with it, but times stay exact in float64.
MAX_LENGTH = 10**12
# Most critical tokens: the tables have 2k + 2 entries per mode.
MAX_CRITICAL = 100_000
# The core mixes this many sets on the clean space at each time (report._curves_at).
_MIXTURES = 5

NEG_INF = -jnp.inf


@dataclasses.dataclass(frozen=True)
class CriticalTokens(Model):
    """Two modes, harmful (component 0) and safe (component 1), split by ``k`` critical tokens.

    [LKC25] Example 4; the module docstring describes the sequences and the reduction.

    Attributes:
        log_w: ``(2,)`` log weights ``[log w_harmful, log w_safe]``.
        log_start: ``(k,)`` ``log P_h(j)``: the harmful mode starts complying at the ``j``-th
            critical token.
        rho: the probability that the harmful mode never complies (the overlap of Example 4).
        sigma: the probability that the safe mode slips into compliance (fine-tuning).
        recovery: ``h``, the per-token probability that a slipped safe answer returns to a
            refusal.
        shared: ``T'``, the number of leading tokens with one law for both modes.
        proc: the truncation process on ``T`` tokens.
    """

    log_w: jax.Array
    log_start: jax.Array
    rho: jax.Array
    sigma: jax.Array
    recovery: jax.Array
    shared: jax.Array
    proc: Process

    family = "critical_tokens"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def length(self) -> int:
        """``T``, the sequence length."""
        return int(self.proc.length)

    @property
    def critical(self) -> int:
        """``k``, the number of critical tokens."""
        return int(self.log_start.shape[0])

    def _visible(self, t):
        """``(l, n, j)``: visible response tokens at ``t``, response length, ``1..k``."""
        hidden = jnp.round(jnp.asarray(t, dtype=jnp.float64)).astype(jnp.int64)
        n = self.length - self.shared
        l = jnp.clip(n - hidden, 0, n)  # noqa: E741
        return l, n, jnp.arange(1, self.critical + 1, dtype=jnp.int64)

    def _log_stay(self, m):
        """``log (1 - h)^m`` for integers ``m >= 0`` (``0^0 = 1`` when ``h = 1``)."""
        return jnp.where(m > 0, m * jnp.log1p(-self.recovery), 0.0)

    def _log_slip(self):
        """``log P_h(j) / (1 - rho)``: where a slipped safe answer starts complying."""
        return self.log_start - logsumexp(self.log_start)

    def view(self, t) -> View:
        l, n, j = self._visible(t)  # noqa: E741
        seen = j <= l
        start, slip = self.log_start, self._log_slip()
        log_rho, log_sigma = jnp.log(self.rho), jnp.log(self.sigma)
        log1m_sigma = jnp.log1p(-self.sigma)
        hidden_start = lambda v: logsumexp(jnp.where(seen, NEG_INF, v))  # noqa: E731
        # A slipped safe answer that started at j has recovered within the visible part.
        log_recovered = log_sigma + logsumexp(
            jnp.where(seen, slip + log1mexp(self._log_stay(l - j)), NEG_INF))
        # ... or recovers after the visible part but before T (the hazard acts from max(l, j)).
        log_late = self._log_stay(jnp.maximum(l - j, 0)) + log1mexp(
            self._log_stay(n - jnp.maximum(l, j)))
        none = jnp.full((self.critical,), NEG_INF)
        one_none = jnp.array([NEG_INF])

        # Z: [no compliance seen, compliance seen from j = 1..k, recovery seen].
        harmful_z = jnp.concatenate([
            jnp.logaddexp(log_rho, hidden_start(start))[None],
            jnp.where(seen, start, NEG_INF),
            one_none,
        ])
        safe_z = jnp.concatenate([
            jnp.logaddexp(log1m_sigma, log_sigma + hidden_start(slip))[None],
            jnp.where(seen, log_sigma + slip + self._log_stay(l - j), NEG_INF),
            log_recovered[None],
        ])
        # U: [never complies, complies from j with no recovery before T, recovery seen,
        # complies from j and recovers unseen].
        harmful_u = jnp.concatenate([log_rho[None], start, one_none, none])
        safe_u = jnp.concatenate([
            log1m_sigma[None],
            log_sigma + slip + self._log_stay(n - j),
            log_recovered[None],
            log_sigma + slip + log_late,
        ])
        return View(jnp.stack([harmful_u, safe_u]), jnp.stack([harmful_z, safe_z]))

    def log_adjoint(self, t, log_r):
        l, _, j = self._visible(t)  # noqa: E741
        # The kernel is deterministic: each clean class shows one observation class.
        z_of_start = jnp.where(j <= l, j, 0)
        k = self.critical
        return jnp.concatenate([
            log_r[:1], log_r[z_of_start], log_r[k + 1:k + 2], log_r[z_of_start]])

    def table_size(self) -> int:
        return _MIXTURES * (2 * self.critical + 2)

    def describe(self) -> dict:
        start = np.exp(np.asarray(self.log_start))
        return {
            **super().describe(),
            "length": self.length,
            "shared": int(self.shared),
            "critical": self.critical,
            "overlap": float(self.rho),
            "profile": (start / start.sum()).tolist(),
            "corrections": float(self.sigma),
            "recovery": float(self.recovery),
        }


jax.tree_util.register_dataclass(
    CriticalTokens,
    data_fields=["log_w", "log_start", "rho", "sigma", "recovery", "shared"],
    meta_fields=["proc"],
)


def _integer(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise bad(name, value, f"an integer in {lo}..{hi}")
    if not lo <= int(value) <= hi:
        raise bad(name, value, f"an integer in {lo}..{hi}")
    return int(value)


def _probability(name: str, value, closed_top: bool = True) -> float:
    expected = "a probability in [0, 1]" if closed_top else "a probability in [0, 1)"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise bad(name, value, expected)
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or v > 1.0 or (v == 1.0 and not closed_top):
        raise bad(name, value, expected)
    return v


def _log_start(rho: float, critical: int, profile) -> np.ndarray:
    """``log P_h(j)``, ``j = 1..k``, summing to ``log(1 - rho)``."""
    j = np.arange(1, critical + 1, dtype=np.float64)
    if profile is None:
        # Constant hazard 1 - c with c^k = rho; rho = 0 puts all the mass on the first token.
        log_c = math.log(rho) / critical if rho > 0 else -math.inf
        with np.errstate(invalid="ignore"):
            head = np.where(j == 1, 0.0, (j - 1) * log_c)
        return head + float(log1mexp(log_c))
    expected = f"{critical} non-negative numbers (one per critical token) with a positive sum"
    if isinstance(profile, (str, bytes)):
        raise bad("model.profile", profile, expected)
    try:
        p = np.asarray(profile, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.profile", profile, expected) from None
    if p.shape != (critical,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise bad("model.profile", profile, expected)
    with np.errstate(divide="ignore"):
        return math.log1p(-rho) + np.log(p) - math.log(p.sum())


def critical_tokens(length, shared, critical, overlap, weights=(0.5, 0.5), profile=None,
                    corrections=0.0, recovery=0.0, process="truncation",
                    order=None) -> CriticalTokens:
    """Build Example 4's harmful/safe mixture, before or after fine-tuning on corrections.

    [LKC25] Example 4: identical prefix laws on the first ``T'`` tokens, and within the next
    ``k`` tokens the harmful prefix falls in the safe mode's support with probability
    ``rho``. Under ``corrections = 0`` the paper's window for the harmful mode is
    ``[T - T' - k, T - T']``; the exact one (Definition 4) lies inside it when
    ``rho <= eps^2``.

    Args:
        length: ``T``, the sequence length (any size: the tables have ``2k + 2`` entries).
        shared: ``T'``, the number of leading tokens with one law for both modes
            (``0 <= T' <= T - k``; ``T' = 0`` is a jailbreak).
        critical: ``k >= 1``, the number of critical tokens in which the modes split.
        overlap: ``rho`` in ``[0, 1)``, the probability that the harmful mode does not leave
            the safe mode's support within the critical tokens (it then never complies).
        weights: ``[w_harmful, w_safe]``.
        profile: ``k`` non-negative numbers: where in the block the harmful mode starts
            complying (normalised to ``1 - rho``); default a constant hazard.
        corrections: ``sigma`` in ``[0, 1]``, the probability that the safe mode starts like
            the harmful one and corrects itself later (fine-tuning on corrections; 0 before).
        recovery: ``h`` in ``[0, 1]``, the per-token probability that a slipped safe answer
            returns to a refusal.
        process: ``"truncation"`` (the autoregressive forward process of Example 4) or a
            :class:`~localize.processes.Truncation` of length ``T``.
        order: must be ``None`` (truncation has no order).

    Returns:
        A :class:`CriticalTokens`.

    Raises:
        LocalizeError: naming the bad parameter.
    """
    length = _integer("model.length", length, 1, MAX_LENGTH)
    shared = _integer("model.shared", shared, 0, length - 1)
    critical = _integer("model.critical", critical, 1, min(length - shared, MAX_CRITICAL))
    rho = _probability("model.overlap", overlap, closed_top=False)
    w = check_weights(weights, "model.weights")
    if w.size != 2:
        raise bad("model.weights", list(weights), "two weights [harmful, safe] summing to 1")
    sigma = _probability("model.corrections", corrections)
    h = _probability("model.recovery", recovery)
    if isinstance(process, Process):
        if not isinstance(process, Truncation):
            raise bad("process.kind", process.kind, "truncation for critical_tokens")
        if process.length != length:
            raise bad("process.length", process.length, f"the model's length {length}")
        proc = process
    else:
        if process != "truncation":
            raise bad("process.kind", process, "truncation for critical_tokens (the modes "
                      "are told apart by prefixes)")
        if order is not None:
            raise bad("process.order", order, "no order for truncation")
        proc = Truncation(length)
    log_start = _log_start(rho, critical, profile)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    f64 = lambda v: jnp.asarray(v, dtype=jnp.float64)  # noqa: E731
    return CriticalTokens(
        log_w=f64(log_w),
        log_start=f64(log_start),
        rho=f64(rho),
        sigma=f64(sigma),
        recovery=f64(h),
        shared=jnp.asarray(shared, dtype=jnp.int64),
        proc=proc,
    )


register(Family(
    name="critical_tokens",
    builder=lambda process, order, **kw: critical_tokens(process=process, order=order, **kw),
    params={
        "length": "T, the sequence length (any size: exact through 2k + 2 path classes)",
        "shared": "T', leading tokens with one law for both modes (0 for a jailbreak)",
        "critical": "k >= 1, critical tokens in which the harmful mode leaves the safe one",
        "overlap": "rho in [0, 1): P(harmful stays in the safe support through the k tokens)",
        "weights": "[w_harmful, w_safe] (default [0.5, 0.5])",
        "profile": "k weights: where in the block harmful starts complying (default "
                   "constant hazard)",
        "corrections": "sigma in [0, 1]: fine-tuning, P(safe starts like harmful, corrects "
                       "itself later) (default 0)",
        "recovery": "h in [0, 1]: per-token P(a slipped safe answer returns to a refusal) "
                    "(default 0)",
    },
    processes=("truncation",),
    summary="Example 4, critical tokens (jailbreaks); harmful and safe modes split within k "
            "tokens, optionally fine-tuned on corrections; exact at any length",
    required=("length", "shared", "critical", "overlap"),
))
