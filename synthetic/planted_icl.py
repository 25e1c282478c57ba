"""Definition 7's in-context mixture for planted sparse regression ([LKC25] §4.2.2, Theorem 6).

A sequence is ``(z_1, ..., z_N, ?, theta)``: ``N`` observations ``z = (x, y)`` of the planted
model of Theorem 5 (:mod:`synthetic.planted`), a query token, then the signal ``theta``
itself as the answer; or ``N`` null observations followed by ``?`` and ``NULL``. The
components are the ``C(s, k)`` supports (weight ``1/2`` in all, uniformly) and ``NULL``
(weight ``1/2``), so there are ``C(s, k) + 1`` of them, named ``"signal"`` and ``"null"``.
The forward process is truncation of the ``N + 2`` tokens: at ``t = 0`` the answer is
visible, at ``t = 1, 2`` the ``N`` observations are, and at ``t >= 2`` the first
``n(t) = N + 2 - t`` observations are.

**Everything reduces to the likelihood ratio.** The answer token identifies the component,
so the component laws on whole sequences are mutually singular. For sets given by their
signal mass (``alpha`` for ``A``, ``beta`` for ``B``, uniform over the supports inside the
signal, which is all the symmetry of the model allows) and ``L = planted / null`` the exact
ratio of the first ``n = n(t)`` observations (:func:`synthetic.planted.log_likelihood_ratio`):

* ``TV(p_t^A, p_t^B) = |alpha - beta| TV(P_n, Q_n)`` for ``t >= 1`` and ``|alpha - beta|`` at
  ``t = 0``; ``BC(p_t^A, p_t^B) = E_Q[sqrt(f_A f_B)]`` with ``f = alpha L + 1 - alpha``;
* the label posterior is ``pi_t(signal | Y) = L / (L + 1)`` (equal weights);
* the forward-reverse law (truncate, then resample the rest and the answer from the whole
  mixture): with ``c = alpha L / (L + 1) + (1 - alpha) / (L + 1)`` the probability that the
  resample's answer is a signal,
  ``TV(p^{A,t}, p^B) = 1/2 E_Q|c - (1 - beta)| + 1/2 E_P|c - beta|`` for ``t >= 1``
  (summing over the singular answer tokens, the supports' terms add up to ``L |c - beta|``
  under ``Q``), and ``|alpha - beta|`` at ``t = 0``.

Each expectation is a Monte Carlo mean over datasets of ``N`` observations, half drawn from
the planted model and half from the null (a stratified mean), every ``n`` using prefixes of
the same datasets; every integrand is bounded and every likelihood ratio exact (an
enumeration of all supports), so each curve comes with its standard error, and
``localize.window_report`` applies Definition 4 and Theorem 2 to them (method
``monte-carlo``). The identities above are checked against an enumeration of a discretised
version in ``tests/test_planted_icl.py``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

from localize.continuous import Estimate, EstimateConfig
from localize.errors import bad
from localize.processes import Truncation
from synthetic.planted import MAX_SUPPORTS, PlantedRegression, log_lr_paths, n_star
from synthetic.registry import Family, register

MC = "monte-carlo"
LOG_HALF = math.log(0.5)
# The label law has one entry per support; beyond this many entries it is refused.
MAX_LABEL_LAW = 10**7


@dataclasses.dataclass(frozen=True)
class PlantedICL:
    """Definition 7's mixture over ``(z_1, ..., z_N, ?, theta)`` under truncation.

    Attributes:
        regression: the planted model of Theorem 5 (``s``, ``k``, ``sigma2``, ``N``).
    """

    regression: PlantedRegression
    answer: bool = True

    @property
    def family(self) -> str:
        """``planted_icl`` (Definition 7), or ``planted_regression`` without ``?`` and the
        answer token (Theorem 5's detection problem as a sequence)."""
        return "planted_icl" if self.answer else "planted_regression"

    @property
    def n_supports(self) -> int:
        """``C(s, k)``: the signal components."""
        return self.regression.n_supports

    @property
    def n_components(self) -> int:
        """``C(s, k) + 1``: every support and ``NULL`` (the last component)."""
        return self.n_supports + 1

    @property
    def log_weights(self) -> np.ndarray:
        """``log(1 / (2 C(s, k)))`` for each support, ``log(1/2)`` for ``NULL``."""
        m = self.n_supports
        return np.concatenate([np.full(m, LOG_HALF - math.log(m)), [LOG_HALF]])

    @property
    def process(self) -> Truncation:
        """Truncation of the ``N + 2`` tokens."""
        return Truncation(self.regression.N + (2 if self.answer else 0))

    @property
    def error_bound(self) -> float:
        """No deterministic error: the ratios are exact, only datasets are sampled."""
        return 0.0

    @property
    def n_star(self) -> float:
        """Theorem 5's threshold ``N* = 2 k log(s/k) / log(1 + k / sigma2)``."""
        r = self.regression
        return n_star(r.s, r.k, r.sigma2)

    def subpopulations(self) -> dict:
        """``{"signal": the supports, "null": [NULL]}`` as boolean masks."""
        m = self.n_supports
        signal = np.zeros(m + 1, dtype=bool)
        signal[:m] = True
        return {"signal": signal, "null": ~signal}

    def visible(self, ts) -> np.ndarray:
        """Observations visible at each time: ``N`` for ``t <= 2``, ``N + 2 - t`` after
        (``N - t`` without the answer tokens)."""
        ts = np.asarray(ts, dtype=np.int64)
        if not self.answer:
            return self.regression.N - ts
        return np.minimum(self.regression.N, self.regression.N + 2 - ts)

    def _answer_shown(self, ts) -> np.ndarray:
        """Times at which the answer token (hence the component) is visible."""
        return (np.asarray(ts) == 0) & self.answer

    def describe(self) -> dict:
        """The parameters (not the ``C(s, k) + 1`` weights) as a JSON-ready dictionary."""
        r = self.regression
        return {"family": self.family, "s": r.s, "k": r.k, "sigma2": r.sigma2, "N": r.N,
                "answer_token": bool(self.answer),
                "n_supports": self.n_supports, "N_star": self.n_star,
                "weights": {"signal": 0.5, "null": 0.5},
                "process": self.process.describe()}

    # -- the one Monte Carlo computation every curve reads ------------------------------

    def _paths(self, key, config: EstimateConfig):
        """``(N + 1, D/2)`` exact ``log L`` of every prefix of planted and of null datasets."""
        if not isinstance(config, EstimateConfig):
            raise bad("config", config, "an EstimateConfig")
        half = max(2, config.samples // 2)
        # The report asks each curve again at refined times with the same key: the datasets
        # (and their exact ratios) are the same, so they are kept per key on the model object
        # (not a dataclass field: neither compared nor traced).
        cache = self.__dict__.setdefault("_path_cache", {})
        tag = (np.asarray(jax.random.key_data(key)).tobytes(), half)
        if tag not in cache:
            if len(cache) >= 16:
                cache.clear()
            cache[tag] = _log_lr_paths(key, self.regression, half)
        return cache[tag]

    def _alpha(self, log_row, name) -> float:
        """The signal mass of a mixing row, checked uniform over the supports."""
        row = np.asarray(log_row, dtype=np.float64)
        if row.shape != (self.n_components,):
            raise bad(name, f"array of shape {row.shape}", f"({self.n_components},) log weights")
        sig = row[:-1]
        finite = np.isfinite(sig)
        if finite.any() and (not finite.all() or np.ptp(sig) > 1e-9 * max(1.0, abs(sig[0]))):
            raise bad(name, "a set of some supports", "a sub-population that treats the supports "
                      "alike: 'signal', 'null' or 'all' (planted_icl tracks the signal as a "
                      "whole)")
        total = np.logaddexp(np.logaddexp.reduce(sig) if finite.any() else -np.inf, row[-1])
        return float(np.exp(np.logaddexp.reduce(sig) - total)) if finite.any() else 0.0

    def _mask_alpha(self, mask) -> tuple[bool, bool]:
        mask = np.asarray(mask, dtype=bool)
        sig = mask[:-1]
        if sig.any() and not sig.all():
            raise bad("mask_b", "a set of some supports", "'signal', 'null' or 'all'")
        return bool(sig.all()), bool(mask[-1])

    # -- curve hooks (the signatures of localize.ContinuousModel's) ---------------------

    def tv_curve(self, key, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
        """``TV(p_t^A, p_t^B) = |alpha - beta| TV(P_n, Q_n)`` with its log-overlap."""
        ts = self.process.validate_times(ts)
        gap = abs(self._alpha(log_a, "log_a") - self._alpha(log_b, "log_b"))
        lp, lq = self._paths(key, config)
        n = self.visible(ts)
        hp, hq = np.abs(np.tanh(0.5 * lp[n])), np.abs(np.tanh(0.5 * lq[n]))
        tv, se = _stratified(hp, hq)
        # 1 - TV(P, Q) = E_M[2 / (1 + exp|log L|)], in log space.
        log_g_p = math.log(2.0) - np.logaddexp(0.0, np.abs(lp[n]))
        log_g_q = math.log(2.0) - np.logaddexp(0.0, np.abs(lq[n]))
        log_ov_pq, log_ov_se = _log_stratified(log_g_p, log_g_q)
        visible_answer = self._answer_shown(ts)
        value = np.where(visible_answer, gap, gap * tv)
        se_value = np.where(visible_answer, 0.0, gap * se)
        # 1 - TV(p_t^A, p_t^B) = (1 - gap) + gap (1 - TV(P, Q)).
        with np.errstate(divide="ignore"):
            log_ov = np.where(visible_answer, math.log1p(-gap) if gap < 1 else -np.inf,
                              np.logaddexp(math.log1p(-gap) if gap < 1 else -np.inf,
                                           math.log(gap) + log_ov_pq if gap > 0 else -np.inf))
            share = np.where(visible_answer, 0.0,
                             gap * np.exp(log_ov_pq - np.where(np.isfinite(log_ov), log_ov, 0.0)))
        log_ov_se_value = np.where(visible_answer, 0.0, share * log_ov_se)
        zeros = np.zeros(ts.size)
        return Estimate(np.clip(value, 0.0, 1.0), se_value, MC, zeros, zeros,
                        np.minimum(log_ov, 0.0), log_ov_se_value)

    def bc_curve(self, key, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
        """``BC(p_t^A, p_t^B) = E_Q[sqrt(f_A f_B)]``, ``f = alpha L + 1 - alpha``."""
        ts = self.process.validate_times(ts)
        a, b = self._alpha(log_a, "log_a"), self._alpha(log_b, "log_b")
        lp, lq = self._paths(key, config)
        n = self.visible(ts)

        def integrand(ll):
            # E_Q[h] = E_M[2 h / (L + 1)] with h = sqrt(f_A f_B) <= max(1, L): bounded by 2.
            return np.exp(math.log(2.0) + 0.5 * (_log_f(a, ll) + _log_f(b, ll))
                          - np.logaddexp(0.0, ll))

        bc, se = _stratified(integrand(lp[n]), integrand(lq[n]))
        exact = math.sqrt(a * b) + math.sqrt((1 - a) * (1 - b))
        visible_answer = self._answer_shown(ts)
        zeros = np.zeros(ts.size)
        return Estimate(np.clip(np.where(visible_answer, exact, bc), 0.0, 1.0),
                        np.where(visible_answer, 0.0, se), MC, zeros, zeros)

    def label_mass_curve(self, key, ts, log_a, mask_b, config: EstimateConfig) -> Estimate:
        """``E_{Y~p_t^A}[pi_t(B | Y)]`` with ``pi_t(signal | Y) = L / (L + 1)``."""
        ts = self.process.validate_times(ts)
        a = self._alpha(log_a, "log_a")
        has_signal, has_null = self._mask_alpha(mask_b)
        lp, lq = self._paths(key, config)
        n = self.visible(ts)

        def post(ll):
            sig = _signal_posterior(ll)
            return has_signal * sig + has_null * (1.0 - sig)

        mean_p, var_p = post(lp[n]).mean(axis=1), post(lp[n]).var(axis=1, ddof=1)
        mean_q, var_q = post(lq[n]).mean(axis=1), post(lq[n]).var(axis=1, ddof=1)
        half = lp.shape[1]
        value = a * mean_p + (1 - a) * mean_q
        se = np.sqrt(a**2 * var_p / half + (1 - a) ** 2 * var_q / half)
        exact = a * has_signal + (1 - a) * has_null
        visible_answer = self._answer_shown(ts)
        zeros = np.zeros(ts.size)
        return Estimate(np.clip(np.where(visible_answer, exact, value), 0.0, 1.0),
                        np.where(visible_answer, 0.0, se), MC, zeros, zeros)

    def fr_tv_curve(self, key, ts, log_init, log_cmp, config: EstimateConfig) -> Estimate:
        """``TV(p^{A,t}, p^B) = 1/2 E_Q|c - (1 - beta)| + 1/2 E_P|c - beta|`` (module doc)."""
        ts = self.process.validate_times(ts)
        a, b = self._alpha(log_init, "log_init"), self._alpha(log_cmp, "log_cmp")
        lp, lq = self._paths(key, config)
        n = self.visible(ts)

        def c(ll):
            sig = _signal_posterior(ll)
            return a * sig + (1 - a) * (1.0 - sig)

        fp, fq = np.abs(c(lp[n]) - b), np.abs(c(lq[n]) - (1 - b))
        value, se = _stratified(fp, fq)
        visible_answer = self._answer_shown(ts)
        zeros = np.zeros(ts.size)
        return Estimate(np.clip(np.where(visible_answer, abs(a - b), value), 0.0, 1.0),
                        np.where(visible_answer, 0.0, se), MC, zeros, zeros)

    def fr_label_law(self, key, ts, log_init, config: EstimateConfig) -> Estimate:
        """``P(label(X^{A,t}) = theta)``: the signal's share split evenly over the supports."""
        ts = self.process.validate_times(ts)
        if ts.size * self.n_components > MAX_LABEL_LAW:
            raise bad("model", f"{self.n_components} components x {ts.size} times",
                      f"at most {MAX_LABEL_LAW} label-law entries; ask label_mass_curve for "
                      "'signal' and 'null' instead")
        signal = self.subpopulations()["signal"]
        mass = self.label_mass_curve(key, ts, log_init, signal, config)
        m = self.n_supports
        value = np.concatenate([np.repeat(mass.value[:, None] / m, m, axis=1),
                                1.0 - mass.value[:, None]], axis=1)
        se = np.concatenate([np.repeat(mass.se[:, None] / m, m, axis=1), mass.se[:, None]],
                            axis=1)
        zeros = np.zeros_like(value)
        return Estimate(value, se, MC, zeros, zeros)


def _signal_posterior(ll):
    """``pi(signal | Y) = L / (L + 1)`` from ``ll = log L`` (equal weights; 0 or 1 at the ends)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-ll))


def _log_f(alpha, ll):
    """``log(alpha L + 1 - alpha)`` from ``ll = log L``."""
    if alpha <= 0.0:
        return np.zeros_like(ll)
    if alpha >= 1.0:
        return ll
    return np.logaddexp(math.log(alpha) + ll, math.log1p(-alpha))


def _stratified(fp, fq):
    """``1/2 (mean f_P + mean f_Q)`` per time and its standard error; ``f`` is ``(m, D/2)``."""
    half = fp.shape[1]
    value = 0.5 * (fp.mean(axis=1) + fq.mean(axis=1))
    se = 0.5 * np.sqrt((fp.var(axis=1, ddof=1) + fq.var(axis=1, ddof=1)) / half)
    return value, se


def _log_stratified(log_fp, log_fq):
    """``log(1/2 (mean f_P + mean f_Q))`` from log integrands, and its relative se."""
    half = log_fp.shape[1]
    lse = lambda x: np.logaddexp.reduce(x, axis=1)  # noqa: E731
    log_mp, log_mq = lse(log_fp) - math.log(half), lse(log_fq) - math.log(half)
    log_mean = np.logaddexp(log_mp, log_mq) - math.log(2.0)
    fp, fq = np.exp(log_fp - log_mean[:, None]), np.exp(log_fq - log_mean[:, None])
    rel = 0.5 * np.sqrt((fp.var(axis=1, ddof=1) + fq.var(axis=1, ddof=1)) / half)
    return log_mean, rel


def _log_lr_paths(key, regression, half):
    lp, lq = log_lr_paths(key, regression, half)
    lp, lq = np.asarray(lp), np.asarray(lq)
    if np.isnan(lp).any() or np.isnan(lq).any():
        raise ValueError("planted_icl: the likelihood ratio produced NaN; please report this")
    return lp, lq


def planted_icl(s, k, sigma2, N, process="truncation", order=None, chunk=1024,
                max_supports=MAX_SUPPORTS) -> PlantedICL:
    """Build Definition 7's mixture for the planted model of Theorem 5.

    Args:
        s: dimension (``theta`` in ``{0,1}^s``).
        k: sparsity, ``1 <= k <= s``.
        sigma2: noise variance, ``> 0``.
        N: observations before the query token, ``>= 0``.
        process: must be ``"truncation"`` (Definition 7 is an autoregressive sequence).
        order: unused (no masking order for truncation); must be ``None``.
        chunk: supports per enumeration step (peak memory).
        max_supports: the largest ``C(s, k)`` accepted (raise it to enumerate more).

    Returns:
        A :class:`PlantedICL`; its sub-populations are named ``"signal"`` and ``"null"``.
    """
    if process != "truncation":
        raise bad("process.kind", process, "truncation (planted_icl is a sequence "
                  "(z_1, ..., z_N, ?, theta) read left to right)")
    if order is not None:
        raise bad("process.order", order, "no order for truncation")
    return PlantedICL(PlantedRegression(s, k, sigma2, N, chunk, max_supports))


def planted_regression(s, k, sigma2, N, process="truncation", order=None, chunk=1024,
                       max_supports=MAX_SUPPORTS) -> PlantedICL:
    """Theorem 5's detection problem as a sequence mixture: ``(z_1, ..., z_N)`` only.

    Half planted (uniform over the ``C(s, k)`` supports), half null, under truncation of the
    ``N`` observations; the same curves as :func:`planted_icl` without the query and answer
    tokens, so ``TV(p_t^signal, p_t^null)`` is the detection curve at ``N - t`` observations.

    Args:
        s, k, sigma2, N, process, order, chunk, max_supports: as for :func:`planted_icl`.

    Returns:
        A :class:`PlantedICL` with ``answer = False``.
    """
    model = planted_icl(s, k, sigma2, N, process, order, chunk, max_supports)
    return dataclasses.replace(model, answer=False)


_PARAMS = {
    "s": "dimension s of the signal theta in {0,1}^s",
    "k": "sparsity k, 1 <= k <= s (theta uniform over k-sparse binary vectors)",
    "sigma2": "noise variance sigma^2 > 0 of y = <theta, x> + xi",
    "N": "observations z_i = (x_i, y_i) in the sequence",
    "chunk": "supports per enumeration step (optional, default 1024)",
    "max_supports": f"largest C(s, k) accepted (optional, default {MAX_SUPPORTS})",
}

register(Family(
    name="planted_regression",
    builder=lambda process, order, **kw: planted_regression(process=process, order=order, **kw),
    params=_PARAMS,
    processes=("truncation",),
    summary="Theorem 5: planted sparse regression (half) or its null (half), observations "
            "revealed left to right; sub-populations 'signal' and 'null'; Monte Carlo over "
            "datasets with the exact likelihood ratio over all C(s, k) supports",
    required=("s", "k", "sigma2", "N"),
))

register(Family(
    name="planted_icl",
    builder=lambda process, order, **kw: planted_icl(process=process, order=order, **kw),
    params={**_PARAMS,
            "N": "observations z_i = (x_i, y_i) before the query token and the answer"},
    processes=("truncation",),
    summary="Definition 7: planted sparse regression (Theorem 5) or null, then ? and the "
            "signal; sub-populations 'signal' and 'null'; Monte Carlo over datasets with the "
            "exact likelihood ratio over all C(s, k) supports",
    required=("s", "k", "sigma2", "N"),
))
