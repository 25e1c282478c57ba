"""Brute-force oracle for the exact core, in plain NumPy float64.

It shares no code with ``localize`` or ``synthetic`` (neither is imported here): outcomes
are enumerated, every kernel is a dense ``|X| x |Y|`` matrix and every law is a plain
probability vector. It is only meant for tiny sizes (``|A|^L`` up to a few hundred).

Conventions, matching theory.md section 6 and the package's public layout:

* ``X = A^L`` in lexicographic order, first position most significant;
* observations of the masking processes live on ``(A+1)^L`` in the same order, symbol ``A``
  meaning ``[MASKED]``; truncation may also be observed as bare prefixes ``A^(L-t)``;
* sets of components are sequences of indices.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

KINDS = ("truncation", "ordered_masking", "random_masking")


# --------------------------------------------------------------------------------------
# spaces and kernels


def outcomes(alphabet: int, length: int) -> np.ndarray:
    """All sequences of ``A^L`` as rows, lexicographic with the first position most
    significant; shape ``(A^L, L)`` (one empty row when ``L = 0``)."""
    rows = list(itertools.product(range(alphabet), repeat=length))
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), length)


def observations(alphabet: int, length: int) -> np.ndarray:
    """All masked observations ``(A+1)^L``; the symbol ``A`` is ``[MASKED]``."""
    return outcomes(alphabet + 1, length)


def mask_probs(kind: str, length: int, t, order=None) -> np.ndarray:
    """``q_j(t)``, the probability that coordinate ``j`` is hidden at time ``t``."""
    if kind == "truncation":
        return np.array([1.0 if j >= length - t else 0.0 for j in range(length)])
    if kind == "ordered_masking":
        order = list(order)
        position = {coord: i for i, coord in enumerate(order)}
        return np.array([1.0 if position[j] >= length - t else 0.0 for j in range(length)])
    if kind == "random_masking":
        return np.full(length, float(t))
    raise KeyError(kind)


def masking_kernel(alphabet: int, length: int, q) -> np.ndarray:
    """Dense ``K(y | x)`` of independent coordinate masking with probabilities ``q``."""
    xs, ys = outcomes(alphabet, length), observations(alphabet, length)
    k = np.ones((len(xs), len(ys)))
    for j in range(length):
        xj, yj = xs[:, j][:, None], ys[:, j][None, :]
        k = k * np.where(yj == alphabet, q[j], np.where(yj == xj, 1.0 - q[j], 0.0))
    return k


def prefix_kernel(alphabet: int, length: int, t: int) -> np.ndarray:
    """Dense ``K_t(y | x) = 1{y = x_{1:L-t}}`` with ``y`` ranging over ``A^(L-t)``."""
    keep = length - int(t)
    xs, ys = outcomes(alphabet, length), outcomes(alphabet, keep)
    return np.all(xs[:, None, :keep] == ys[None, :, :], axis=-1).astype(np.float64)


def kernel(kind: str, alphabet: int, length: int, t, order=None, rep: str = "masked"):
    """The dense forward kernel ``K_t`` of a process (``rep="prefix"`` for bare prefixes)."""
    if rep == "prefix":
        assert kind == "truncation"
        return prefix_kernel(alphabet, length, int(t))
    return masking_kernel(alphabet, length, mask_probs(kind, length, t, order))


def transition(kind: str, alphabet: int, length: int, t, t2, order=None, rep="masked"):
    """``M_{t -> t2}(y' | y)`` with ``K_{t2} = K_t M_{t -> t2}`` for ``t <= t2``."""
    if rep == "prefix":
        keep2 = length - int(t2)
        ys, ys2 = outcomes(alphabet, length - int(t)), outcomes(alphabet, keep2)
        return np.all(ys[:, None, :keep2] == ys2[None, :, :], axis=-1).astype(np.float64)
    q, q2 = mask_probs(kind, length, t, order), mask_probs(kind, length, t2, order)
    ys = observations(alphabet, length)
    m = np.ones((len(ys), len(ys)))
    for j in range(length):
        # A visible coordinate is hidden with probability (q2 - q) / (1 - q); a hidden one
        # stays hidden.
        hide = 1.0 if q[j] >= 1.0 else (q2[j] - q[j]) / (1.0 - q[j])
        yj, yj2 = ys[:, j][:, None], ys[:, j][None, :]
        visible = np.where(yj2 == alphabet, hide, np.where(yj2 == yj, 1.0 - hide, 0.0))
        hidden = np.where(yj2 == alphabet, 1.0, 0.0)
        m = m * np.where(yj == alphabet, hidden, visible)
    return m


# --------------------------------------------------------------------------------------
# laws


def mixture(weights, pmfs, subset=None) -> np.ndarray:
    """``p^S = sum_{theta in S} (w_theta / w(S)) p^theta`` (all of Theta when ``None``)."""
    w, p = np.asarray(weights, dtype=np.float64), np.asarray(pmfs, dtype=np.float64)
    idx = np.arange(len(w)) if subset is None else np.asarray(list(subset), dtype=np.int64)
    ws = w[idx]
    return ws @ p[idx] / ws.sum()


def push(pmf, k) -> np.ndarray:
    """The law of ``Y`` when ``X ~ pmf`` and ``Y | X ~ K``: ``pmf @ K``."""
    return np.asarray(pmf) @ k


def label_posterior(weights, noised) -> np.ndarray:
    """``pi(theta | y) = w_theta p_t^theta(y) / p_t(y)`` as ``(K, |Y|)``, 0 off ``supp p_t``."""
    joint = np.asarray(weights)[:, None] * np.asarray(noised)
    total = joint.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, joint / safe, 0.0)


def posterior_x(prior, k) -> np.ndarray:
    """``P(X = x | Y = y)`` under ``prior`` as ``(|X|, |Y|)``, 0 columns off the support."""
    joint = np.asarray(prior)[:, None] * k
    total = joint.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, joint / safe, 0.0)


def forward_reverse(weights, pmfs, subset, k) -> np.ndarray:
    """``p^{S,t}(x) = sum_y p_t^S(y) p(x) K_t(y|x) / p_t(y)`` by an explicit sum over ``y``."""
    p = mixture(weights, pmfs)
    ps_t = push(mixture(weights, pmfs, subset), k)
    post = posterior_x(p, k)
    out = np.zeros(len(p))
    for y in range(k.shape[1]):
        if ps_t[y] > 0:
            out += ps_t[y] * post[:, y]
    return out


def label_law(weights, pmfs, subset, k) -> np.ndarray:
    """``E_{Y ~ p_t^S}[pi_t(theta | Y)]`` for every ``theta``."""
    noised = np.asarray(pmfs) @ k
    return label_posterior(weights, noised) @ push(mixture(weights, pmfs, subset), k)


def reverse_kernel(weights, pmfs, k_t, m) -> np.ndarray:
    """``R[y, y'] = P(Y_t = y | Y_{t'} = y')`` under ``p`` (0 columns off ``supp p_{t'}``)."""
    p_t = push(mixture(weights, pmfs), k_t)
    joint = p_t[:, None] * m
    total = joint.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, joint / safe, 0.0)


# --------------------------------------------------------------------------------------
# divergences (plain arithmetic)


def tv(p, q) -> float:
    return 0.5 * float(np.sum(np.abs(np.asarray(p) - np.asarray(q))))


def overlap(p, q) -> float:
    """``sum min(P, Q) = 1 - TV``, without the cancellation."""
    return float(np.sum(np.minimum(p, q)))


def bc(p, q) -> float:
    return float(np.sum(np.sqrt(np.asarray(p) * np.asarray(q))))


def h2(p, q) -> float:
    return float(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))


def kl(p, q) -> float:
    p, q = np.asarray(p), np.asarray(q)
    on = p > 0
    if np.any(q[on] == 0):
        return math.inf
    return float(np.sum(p[on] * np.log(p[on] / q[on])))


def chi2(p, q) -> float:
    p, q = np.asarray(p), np.asarray(q)
    if np.any((p > 0) & (q == 0)):
        return math.inf
    on = q > 0
    return float(np.sum((p[on] - q[on]) ** 2 / q[on]))


def posterior_overlap(p, q) -> float:
    """``E_{x~P}[Q / (P + Q)] = sum P Q / (P + Q)``."""
    p, q = np.asarray(p), np.asarray(q)
    s = p + q
    on = s > 0
    return float(np.sum(p[on] * q[on] / s[on]))


# --------------------------------------------------------------------------------------
# curves and thresholds of Definition 4


def _last(times, ok):
    hits = [t for t, good in zip(times, ok, strict=True) if good]
    return float(hits[-1]) if hits else None


def _first(times, ok):
    hits = [t for t, good in zip(times, ok, strict=True) if good]
    return float(hits[0]) if hits else None


def thresholds(times, tv_init_target, overlap_target_rest, overlap_init_rest, eps):
    """``T_start``, ``T_end``, ``T^C_before``, ``T^C_after`` on a grid (Definition 4).

    Separation ``TV >= 1 - eps^2`` is tested as ``overlap <= eps^2``; an overlap curve of
    ``None`` (empty complement) counts as separated everywhere.
    """
    n = len(times)
    sep_t = [True] * n if overlap_target_rest is None else [
        o <= eps**2 for o in overlap_target_rest]
    sep_i = [True] * n if overlap_init_rest is None else [
        o <= eps**2 for o in overlap_init_rest]
    close = [v <= eps for v in tv_init_target]
    return {
        "T_start": _last(times, sep_t),
        "T_end": _first(times, close),
        "T_before_C": _first(times, [a and b for a, b in zip(close, sep_t, strict=True)]),
        "T_after_C": _last(times, sep_i),
    }


def curves(weights, pmfs, kernels, s_init, s_target) -> dict:
    """Every per-time curve of the window report, one list per name, by brute force.

    Args:
        weights: ``(K,)`` mixture weights.
        pmfs: ``(K, |X|)`` component pmfs.
        kernels: the dense kernels ``K_t``, one per time.
        s_init, s_target: index sets with ``s_init`` inside ``s_target``.

    Returns:
        A dict with the field names of ``WindowCurves``; curves against an empty complement
        are ``None``.
    """
    k = len(weights)
    rest_t = [i for i in range(k) if i not in set(s_target)]
    rest_i = [i for i in range(k) if i not in set(s_init)]
    names = ("tv_init_target", "tv_target_rest", "log_overlap_target_rest", "tv_init_rest",
             "log_overlap_init_rest", "fr_tv_target", "fr_tv_init", "fr_tv_full",
             "label_mass_target", "exit_mass_target", "bc_target_rest")
    out = {name: [] for name in names}
    p_init, p_target, p = (mixture(weights, pmfs, s_init), mixture(weights, pmfs, s_target),
                           mixture(weights, pmfs))
    for kt in kernels:
        i_t, g_t = push(p_init, kt), push(p_target, kt)
        post = label_posterior(weights, np.asarray(pmfs) @ kt)
        fr = forward_reverse(weights, pmfs, s_init, kt)
        out["tv_init_target"].append(tv(i_t, g_t))
        out["fr_tv_target"].append(tv(fr, p_target))
        out["fr_tv_init"].append(tv(fr, p_init))
        out["fr_tv_full"].append(tv(fr, p))
        out["label_mass_target"].append(float(i_t @ post[list(s_target)].sum(axis=0)))
        if rest_t:
            r_t = push(mixture(weights, pmfs, rest_t), kt)
            out["tv_target_rest"].append(tv(g_t, r_t))
            with np.errstate(divide="ignore"):
                out["log_overlap_target_rest"].append(float(np.log(overlap(g_t, r_t))))
            out["exit_mass_target"].append(float(g_t @ post[rest_t].sum(axis=0)))
            out["bc_target_rest"].append(bc(g_t, r_t))
        if rest_i:
            r_i = push(mixture(weights, pmfs, rest_i), kt)
            out["tv_init_rest"].append(tv(i_t, r_i))
            with np.errstate(divide="ignore"):
                out["log_overlap_init_rest"].append(float(np.log(overlap(i_t, r_i))))
    for name in ("tv_target_rest", "log_overlap_target_rest", "exit_mass_target",
                 "bc_target_rest"):
        if not rest_t:
            out[name] = None
    for name in ("tv_init_rest", "log_overlap_init_rest"):
        if not rest_i:
            out[name] = None
    return out


def window(weights, pmfs, kernels, times, s_init, s_target, eps) -> dict:
    """The curves, thresholds, ``W``, Theorem 2's bound and its check on the grid."""
    c = curves(weights, pmfs, kernels, s_init, s_target)
    exp_or_none = lambda a: None if a is None else [math.exp(v) for v in a]  # noqa: E731
    th = thresholds(times, c["tv_init_target"], exp_or_none(c["log_overlap_target_rest"]),
                    exp_or_none(c["log_overlap_init_rest"]), eps)
    w = np.asarray(weights, dtype=np.float64)
    in_target = np.zeros(len(w), dtype=bool)
    in_target[list(s_target)] = True
    w_ratio = float(w[~in_target].sum() / w[in_target].sum())
    bound = eps * (1.0 + max(1.0, w_ratio) / math.sqrt(2.0))
    holds, margin = None, None
    if th["T_start"] is not None and th["T_end"] is not None:
        slack = [bound - v for t, v in zip(times, c["fr_tv_target"], strict=True)
                 if th["T_end"] <= t <= th["T_start"]]
        if slack:
            margin = min(slack)
            holds = margin >= -1e-12
    return {**c, **th, "W": w_ratio, "bound_theorem2": bound, "theorem2_holds": holds,
            "theorem2_margin": margin}
