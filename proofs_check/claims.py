"""The general statements of [LKC25] as executable claims (theory.md §2 and §6).

Each function takes a catalog (a list of :class:`proofs_check.catalog.Instance`), checks its
inequality at every case of the instances of role ``"general"`` (every time of the grid,
every nested pair or pair of sub-populations, every observation ...) and returns a
:class:`proofs_check.result.ClaimResult`. Every number comes from the exact tables of
:mod:`proofs_check.tables`, i.e. from the core's routines; the only formulas here are the
right-hand sides the paper states.

Notation: ``Tgt = S_target``, ``Init = S_init``, ``C = Theta - S_target``,
``W = w(C) / w(Tgt)``, ``pi_t`` the label posterior, ``p^{S,t}`` the forward-reverse law.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from localize.windows import t_end, t_start, theorem2_bound
from proofs_check import tables
from proofs_check.result import ClaimResult, Tally

# Relative tolerance for the claims on unbounded divergences (KL, chi-square).
RTOL_UNBOUNDED = 1e-9
# Remark 2 is checked on every partition up to this many components (Bell(6) = 203).
MAX_PARTITION_K = 6


def _general(catalog, tally: Tally):
    """The instances of role ``"general"`` with their tables; sets the tally's extra
    tolerance to each model's reported error bound (0 for exact families)."""
    for inst in catalog:
        if "general" in inst.roles:
            tally.atol = float(inst.model.error_bound)
            yield inst, tables.compute(inst)


def _name(subset) -> str:
    return "{" + ",".join(str(i) for i in subset) + "}"


def _w_ratio(tab, row) -> float:
    w_s = tab.set_weight[row]
    return float((tab.weights.sum() - w_s) / w_s)


def _nested(tab):
    """``(init_row, target_row)`` for ``S_init ⊆ S_target`` with ``S_target = Theta`` or its
    complement of positive weight (Theorem 2's hypotheses)."""
    out = []
    for ti, target in enumerate(tab.sets):
        if not (tab.has_rest[ti] or ti == tab.full):
            continue
        for ii, init in enumerate(tab.sets):
            if set(init) <= set(target):
                out.append((ii, ti))
    return out


def _sqrt_one_minus_tv_sq(log_overlap):
    """``sqrt(1 - TV^2) = sqrt((1 - TV)(1 + TV))`` from ``log(1 - TV)``, exact near TV = 1."""
    gap = np.exp(log_overlap)
    return np.sqrt(gap * (2.0 - gap))


def _pair_arrays(tab):
    """Per nested pair (columns): the curves Theorem 2 and its sharp forms need.

    Returns:
        A dict with ``labels``, ``init``/``target`` rows, ``w`` (``W``), ``has_rest`` and
        ``(n, P)`` arrays ``lhs = TV(p^{Init,t}, p^{Tgt})``, ``tv_it``, ``tv_rest``,
        ``lo_rest`` and the right sides ``a``, ``b``, ``c`` of forms (A), (B), (C)
        (theory.md §2.2; with ``S_target = Theta`` all three are ``TV(p_t^Init, p_t)``).
    """
    pairs = _nested(tab)
    ii = np.array([p[0] for p in pairs])
    ti = np.array([p[1] for p in pairs])
    k = tab.weights.size
    has_rest = tab.has_rest[ti]
    w = np.array([_w_ratio(tab, t) for t in ti])
    member = np.zeros((len(tab.sets), k), bool)
    for i, subset in enumerate(tab.sets):
        member[i, list(subset)] = True
    # E_{Y ~ p_t^Tgt}[pi_t(C | Y)]: the label law of p^{Tgt,t} outside Tgt.
    exit_mass = np.where(member[ti][None], 0.0, tab.label[:, ti]).sum(axis=-1)
    tv_it = tab.div["tv"][:, ii, ti]
    tv_rest = np.where(has_rest, tab.div_rest["tv"][:, ti], 0.0)
    lo_rest = np.where(has_rest, tab.div_rest["lo"][:, ti], 0.0)
    half_w = np.where(has_rest, 0.5 * np.maximum(1.0, w), 0.0)
    return {
        "labels": [f"{_name(tab.sets[a])}->{_name(tab.sets[b])}" for a, b in pairs],
        "init": ii, "target": ti, "w": w, "has_rest": has_rest,
        "lhs": tab.tv_fr_clean[:, ii, ti], "tv_it": tv_it, "tv_rest": tv_rest,
        "lo_rest": lo_rest,
        "a": tv_it + np.where(has_rest, exit_mass, 0.0),
        "b": tv_it + half_w * np.where(has_rest, tab.div_rest["bc"][:, ti], 0.0),
        "c": tv_it + half_w * _sqrt_one_minus_tv_sq(lo_rest),
    }


# --------------------------------------------------------------------------------------
# Theorem 2


def add_theorem2_cases(tally: Tally, t, arr, eps: float, axes, where: dict):
    """Record Theorem 2 as stated at every grid time in ``[T_end(eps), T_start(eps)]``.

    Args:
        tally: the claim's tally.
        t: ``(n,)`` grid times.
        arr: per nested pair (columns): ``tv_it`` and ``tv_rest`` / ``lo_rest`` (``(n, P)``
            curves, the latter ignored where ``has_rest`` is false), ``w`` (``W`` per pair)
            and ``lhs`` (``TV(p^{S_init,t}, p^{S_target})``, ``(n, P)``).
        eps: the error parameter.
        axes: the tally's axes (times, pairs).
        where: what the cases have in common (the instance).

    Returns:
        ``(windows, vacuous, ratio)``: pairs with a grid time in the window, pairs without
        one, and the largest ``lhs / bound`` inside a window.
    """
    n_pairs = len(arr["w"])
    has_rest = arr.get("has_rest", [True] * n_pairs)
    inside = np.zeros((t.size, n_pairs), bool)
    for j in range(n_pairs):
        rest = has_rest[j]
        start = t_start(t, arr["tv_rest"][:, j] if rest else None, eps,
                        log_overlap=arr["lo_rest"][:, j] if rest else None)
        end = t_end(t, arr["tv_it"][:, j], eps)
        if start is not None and end is not None:
            inside[:, j] = (t >= end) & (t <= start)
    found = inside.any(axis=0)
    if not found.any():
        return 0, int((~found).sum()), 0.0
    bound = np.array([theorem2_bound(eps, w) for w in arr["w"]])
    ratio = float(np.max(np.where(inside, arr["lhs"] / bound, 0.0)))
    tally.add(arr["lhs"], bound[None], valid=inside, axes=axes, where={**where, "eps": eps})
    return int(found.sum()), int((~found).sum()), ratio


def theorem2(catalog) -> ClaimResult:
    """Theorem 2 of [LKC25] as stated.

    For ``S_init ⊆ S_target ⊆ Theta``, every ``eps`` of the instance and every grid time
    ``T`` in ``[T_end(eps), T_start(eps)]`` (computed on the exact curves by
    :func:`localize.t_end` and :func:`localize.t_start`):
    ``TV(p^{S_init,T}, p^{S_target}) <= eps (1 + max(1, W) / sqrt 2)``.
    Every nested pair of the instance's sets is checked, ``S_target = Theta`` included (its
    separation condition is vacuous).
    """
    tally = Tally()
    vacuous, windows, ratio = 0, 0, 0.0
    for inst, tab in _general(catalog, tally):
        t = tab.times
        arr = _pair_arrays(tab)
        axes = [("t", t.tolist()), ("S_init->S_target", arr["labels"])]
        for eps in inst.eps:
            w, v, r = add_theorem2_cases(tally, t, arr, eps, axes, {"instance": inst.name})
            windows, vacuous, ratio = windows + w, vacuous + v, max(ratio, r)
    tally.note(windows=windows, vacuous=vacuous, max_ratio_lhs_to_bound=ratio)
    return tally.result("theorem2", "Theorem 2: TV(p^{S_init,T}, p^{S_target}) <= "
                        "eps (1 + max(1,W)/sqrt2) for every grid T in [T_end(eps), T_start(eps)]")


def _sharp(catalog, form: str) -> Tally:
    tally = Tally()
    ratio = 0.0
    previous = {"b": "a", "c": "b"}.get(form)
    for inst, tab in _general(catalog, tally):
        arr = _pair_arrays(tab)
        axes = [("t", tab.times.tolist()), ("S_init->S_target", arr["labels"])]
        where = {"instance": inst.name}
        tally.add(arr["lhs"], arr[form], where=where, axes=axes)
        if previous is not None:
            tally.add(arr[previous], arr[form], where=where, axes=axes,
                      side=f"form_{previous}_le_form_{form}")
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(arr[form] > 0, arr["lhs"] / arr[form], 0.0)
        ratio = max(ratio, float(np.max(r)))
    tally.note(max_ratio_lhs_to_bound=ratio)
    return tally


def theorem2_sharp_a(catalog) -> ClaimResult:
    """Sharp form (A) of Theorem 2, from its proof (theory.md §2.2), at every time.

    ``TV(p^{Init,T}, p^{Tgt}) <= TV(p_T^{Init}, p_T^{Tgt}) + E_{Y ~ p_T^{Tgt}}[pi_T(C | Y)]``:
    the triangle inequality, term (I) by data processing and term (II) by Lemma 3.
    With ``S_target = Theta`` it reads ``TV(p^{S,T}, p) <= TV(p_T^S, p_T)``.
    """
    tally = _sharp(catalog, "a")
    return tally.result("theorem2_sharp_a", "Theorem 2, form (A): TV(p^{Init,T}, p^{Tgt}) <= "
                        "TV(p_T^Init, p_T^Tgt) + E_{Y~p_T^Tgt}[pi_T(C|Y)] for every T")


def theorem2_sharp_b(catalog) -> ClaimResult:
    """Sharp form (B) of Theorem 2 (the Hellinger form, theory.md §6 item 23), at every time.

    ``TV(p^{Init,T}, p^{Tgt}) <= TV(p_T^{Init}, p_T^{Tgt}) + max(1,W)/2 BC(p_T^{Tgt}, p_T^C)``.
    Side check: form (A) is at most form (B) (Lemma 4, then Lemma 7).
    """
    tally = _sharp(catalog, "b")
    return tally.result("theorem2_sharp_b", "Theorem 2, form (B): TV(p^{Init,T}, p^{Tgt}) <= "
                        "TV(p_T^Init, p_T^Tgt) + max(1,W)/2 BC(p_T^Tgt, p_T^C) for every T")


def theorem2_sharp_c(catalog) -> ClaimResult:
    """Sharp form (C) of Theorem 2 (theory.md §2.2 and §6 item 13), at every time.

    ``TV(p^{Init,T}, p^{Tgt}) <= TV(p_T^{Init}, p_T^{Tgt})
    + max(1,W)/2 sqrt(1 - TV^2(p_T^{Tgt}, p_T^C))``; Theorem 2 follows from it with the
    window's hypotheses. Side check: form (B) is at most form (C) (``BC <= sqrt(1 - TV^2)``).
    """
    tally = _sharp(catalog, "c")
    return tally.result("theorem2_sharp_c", "Theorem 2, form (C): TV(p^{Init,T}, p^{Tgt}) <= "
                        "TV(p_T^Init, p_T^Tgt) + max(1,W)/2 sqrt(1 - TV^2(p_T^Tgt, p_T^C))")


# --------------------------------------------------------------------------------------
# Lemmas


def _pairs_of_laws(tab):
    m = len(tab.sets)
    return ~np.eye(m, dtype=bool)[None]


def lemma1(catalog) -> ClaimResult:
    """Lemma 1 of [LKC25]: ``E_{x~P}[Q/(P+Q)] <= 1/2 sqrt(1 - TV^2(P, Q))``.

    Checked for every ordered pair of distinct noised sub-mixtures ``(P, Q) = (p_t^A, p_t^B)``
    at every time (``t = 0`` gives the clean ones). Equality holds when ``P = Q``.
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        names = [_name(s) for s in tab.sets]
        axes = [("t", tab.times.tolist()), ("P", names), ("Q", names)]
        tally.add(tab.div["po"], 0.5 * _sqrt_one_minus_tv_sq(tab.div["lo"]),
                  where={"instance": inst.name}, axes=axes, valid=_pairs_of_laws(tab))
    return tally.result("lemma1", "Lemma 1: E_{x~P}[Q/(P+Q)] <= 1/2 sqrt(1 - TV^2(P,Q)) for "
                        "every pair of noised sub-mixtures")


def lemma7(catalog) -> ClaimResult:
    """Lemma 7 of [LKC25] (App. C.2.1): ``E_{x~P}[Q/(P+Q)] <= 1/2 BC(P, Q)``.

    Checked on the same pairs as :func:`lemma1`. Side checks (theory.md §6 item 10):
    ``1 - BC <= TV`` and ``TV <= sqrt(1 - BC^2)``, which give Lemma 1 from Lemma 7.
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        names = [_name(s) for s in tab.sets]
        axes = [("t", tab.times.tolist()), ("P", names), ("Q", names)]
        where = {"instance": inst.name}
        valid = _pairs_of_laws(tab)
        bc, tv = tab.div["bc"], tab.div["tv"]
        tally.add(tab.div["po"], 0.5 * bc, where=where, axes=axes, valid=valid)
        tally.add(1.0 - bc, tv, where=where, axes=axes, valid=valid, side="one_minus_bc_le_tv")
        tally.add(tv, np.sqrt(np.clip(1.0 - bc**2, 0.0, None)), where=where, axes=axes,
                  valid=valid, side="tv_le_sqrt_one_minus_bc_sq")
    return tally.result("lemma7", "Lemma 7: E_{x~P}[Q/(P+Q)] <= 1/2 BC(P,Q) = 1/2 (1 - H^2/2)")


def _posteriors(tab, step):
    """``P^<-(x | y)``, ``P^<-(x | y, S)`` and ``P^<-(x | y, Theta - S)`` on the supports.

    ``P^<-(x | y, S) = p^S(x) K_t(y | x) / p_t^S(y)`` (0 where ``p_t^S(y) = 0``). Only the
    ``y`` in ``supp p_t`` and the ``x`` in ``supp p`` are kept (elsewhere every posterior is 0).

    Returns:
        ``(ys, all, s, c)``: the kept observation indices and arrays of shapes ``(Y, X)``,
        ``(m, Y, X)`` and ``(m, Y, X)``.
    """
    full = tab.full
    ys = np.flatnonzero(np.isfinite(tab.pz[step, full]))
    xs = np.flatnonzero(np.isfinite(tab.pu[step, full]))
    logk = tab.logk[step][np.ix_(ys, xs)]

    def post(log_clean, log_noised):
        log_clean, log_noised = log_clean[..., xs], log_noised[..., ys]
        with np.errstate(invalid="ignore"):
            lp = log_clean[..., None, :] + logk - log_noised[..., :, None]
        return np.where(np.isfinite(log_noised)[..., None], np.exp(lp), 0.0)

    return (ys, post(tab.pu[step, full], tab.pz[step, full]), post(tab.pu[step], tab.pz[step]),
            post(tab.puc[step], tab.pzc[step]))


def lemma3(catalog) -> ClaimResult:
    """Lemma 3 of [LKC25]: ``sum_x |P^<-(x|y) - P^<-(x|y,S)| <= 2 pi_t(Theta - S | y)``.

    Checked for every set ``S`` with a complement of positive weight, every time and every
    ``y`` in ``supp p_t^S``, with the posteriors built from the kernel ``K_t(y|x)``. Side
    check: the exact identity behind it,
    ``sum_x |P^<-(x|y) - P^<-(x|y,S)| = pi_t(C|y) sum_x |P^<-(x|y,S) - P^<-(x|y,C)|``.
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        names = [_name(s) for s in tab.sets]
        for step, t in enumerate(tab.times):
            ys, post_all, post_s, post_c = _posteriors(tab, step)
            lhs = np.abs(post_all[None] - post_s).sum(axis=-1)
            pi_rest = np.exp(tab.pic[step][:, ys])
            valid = tab.has_rest[:, None] & np.isfinite(tab.pz[step][:, ys])
            where = {"instance": inst.name, "t": float(t)}
            axes = [("S", names), ("y", ys.tolist())]
            tally.add(lhs, 2.0 * pi_rest, where=where, axes=axes, valid=valid)
            identity = pi_rest * np.abs(post_s - post_c).sum(axis=-1)
            tally.add(np.abs(lhs - identity), 0.0, where=where, axes=axes, valid=valid,
                      side="exact_identity")
    return tally.result("lemma3", "Lemma 3: sum_x |P(x|y) - P(x|y,S)| <= 2 pi_t(Theta-S | y) "
                        "for y in supp p_t^S")


def lemma4(catalog) -> ClaimResult:
    """Lemma 4 of [LKC25]: ``pi_t(C|y) <= max(1, W) p_t^C(y) / (p_t^C(y) + p_t^S(y))``.

    ``C = Theta - S``, ``W = w(C)/w(S)``; checked for every set with a complement of positive
    weight, every time and every ``y`` in ``supp p_t``.
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        names = [_name(s) for s in tab.sets]
        w = np.array([max(1.0, _w_ratio(tab, i)) if tab.has_rest[i] else 1.0
                      for i in range(len(tab.sets))])
        pz, pzc = tab.pz, tab.pzc
        with np.errstate(invalid="ignore"):
            frac = np.exp(pzc - np.logaddexp(pzc, pz))
        valid = tab.has_rest[None, :, None] & np.isfinite(tab.pz[:, tab.full])[:, None, :]
        frac = np.where(valid, frac, 0.0)
        tally.add(np.exp(tab.pic), w[None, :, None] * frac, where={"instance": inst.name},
                  axes=[("t", tab.times.tolist()), ("S", names), ("y", None)], valid=valid)
    return tally.result("lemma4", "Lemma 4: pi_t(C|y) <= max(1,W) p_t^C(y) / (p_t^C(y) + "
                        "p_t^S(y)) for y in supp p_t")


# --------------------------------------------------------------------------------------
# Remark 2, data processing, convexity, robustness


def set_partitions(items):
    """Every partition of ``items`` into non-empty blocks (Bell-number many)."""
    items = list(items)
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        yield [[first]] + part
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1:]


def remark2(catalog) -> ClaimResult:
    """Remark 2 of [LKC25]: ``sum_i w(S_i) p^{S_i,t} = p`` for every partition and time.

    Checked as ``TV(sum_i w(S_i) p^{S_i,t}, p) <= 0`` for every partition of ``Theta`` into
    sets of the instance (all partitions when every subset is present).
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        k = tab.weights.size
        lookup = {s: i for i, s in enumerate(tab.sets)}
        if k <= MAX_PARTITION_K:
            blocks = set_partitions(range(k))
        else:  # too many partitions: the two-block ones {S, Theta - S}
            blocks = [[s, [c for c in range(k) if c not in s]] for s in tab.sets
                      if len(s) < k]
        parts = [[lookup.get(tuple(sorted(b))) for b in part] for part in blocks]
        parts = [p for p in parts if None not in p]
        if not parts:
            continue
        laws = np.exp(tab.fr)
        mixes = np.stack([sum(tab.set_weight[i] * laws[:, i] for i in p) for p in parts])
        with np.errstate(divide="ignore"):
            log_mix = np.log(mixes)
        target = np.broadcast_to(tab.pu[:, tab.full][None], log_mix.shape)
        residual = tables.divergence_rows(log_mix, target, "tv")
        labels = ["|".join(_name(tab.sets[i]) for i in p) for p in parts]
        tally.add(residual, 0.0, where={"instance": inst.name},
                  axes=[("partition", labels), ("t", tab.times.tolist())])
    return tally.result("remark2", "Remark 2: sum_i w(S_i) p^{S_i,t} = p for every partition "
                        "{S_i} of Theta and every t")


def dpi(catalog) -> ClaimResult:
    """Data processing along the forward process (theory.md §2.1 and §6 items 2, 7, 11).

    Main: every TV curve between noised sub-mixtures is non-increasing,
    ``TV(p_{t'}^A, p_{t'}^B) <= TV(p_t^A, p_t^B)`` for consecutive grid times ``t < t'``.
    Side checks: KL and chi-square non-increasing and BC non-decreasing (so ``H^2``
    non-increasing); term (I) of the proof, ``TV(p^{A,t}, p^{B,t}) <= TV(p_t^A, p_t^B)``;
    the "stay in S" probability ``E_{Y~p_t^S}[pi_t(S|Y)]`` non-increasing and equal to
    ``w(S) (1 + chi^2(p_t^S || p_t))``.
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        names = [_name(s) for s in tab.sets]
        m = len(names)
        t = tab.times.tolist()
        where = {"instance": inst.name}
        steps = [f"{a:g}->{b:g}" for a, b in itertools.pairwise(t)]
        axes = [("t->t'", steps), ("A", names), ("B", names)]
        upper = np.triu(np.ones((m, m), bool), 1)[None]
        off = ~np.eye(m, dtype=bool)[None]
        d = tab.div
        tally.add(d["tv"][1:], d["tv"][:-1], where=where, axes=axes, valid=upper)
        tally.add(d["bc"][:-1], d["bc"][1:], where=where, axes=axes, valid=upper,
                  side="bc_non_decreasing")
        for key in ("kl", "chi2"):
            tally.add(d[key][1:], d[key][:-1], where=where, axes=axes, valid=off,
                      rtol=RTOL_UNBOUNDED, side=f"{key}_non_increasing")
        tally.add(tab.tv_fr_fr, d["tv"], where=where,
                  axes=[("t", t), ("A", names), ("B", names)], valid=upper,
                  side="term_I_contraction")
        member = np.zeros((m, tab.weights.size), bool)
        for i, s in enumerate(tab.sets):
            member[i, list(s)] = True
        stay = np.where(member[None], tab.label, 0.0).sum(axis=-1)
        tally.add(stay[1:], stay[:-1], where=where, axes=[("t->t'", steps), ("S", names)],
                  side="stay_probability_non_increasing")
        chi = tab.set_weight[None] * (1.0 + d["chi2"][:, :, tab.full])
        tally.add(np.abs(stay - chi), 0.0, where=where, axes=[("t", t), ("S", names)],
                  side="stay_probability_chi_square_identity")
    return tally.result("dpi", "DPI: TV(p_t'^A, p_t'^B) <= TV(p_t^A, p_t^B) for t <= t', every "
                        "pair of sub-mixtures")


def lc24_lemma15(catalog) -> ClaimResult:
    """Lemma 15 of [LC24] (used in Corollaries 1 and 2 of [LKC25]): convexity of TV.

    Main: ``TV(p_t^theta, p_t^S) <= max_{phi in S} TV(p_t^theta, p_t^phi)`` for every
    component, set and time. Side check (joint convexity, theory.md §6 items 14-15):
    ``TV(p_t^A, p_t^B) <= max_{theta in A, phi in B} TV(p_t^theta, p_t^phi)``.
    """
    tally = Tally()
    for inst, tab in _general(catalog, tally):
        k = tab.weights.size
        names = [_name(s) for s in tab.sets]
        sing = [tab.index((c,)) for c in range(k)]
        member = np.zeros((len(tab.sets), k), bool)
        for i, s in enumerate(tab.sets):
            member[i, list(s)] = True
        tv = tab.div["tv"]
        tv_pp = tv[:, sing][:, :, sing]  # (n, K, K)
        # best[t, theta, S] = max_{phi in S} TV(p_t^theta, p_t^phi)
        best = np.where(member[None, None], tv_pp[:, :, None, :], -np.inf).max(axis=-1)
        where = {"instance": inst.name}
        tally.add(tv[:, sing, :], best, where=where,
                  axes=[("t", tab.times.tolist()), ("theta", list(range(k))), ("S", names)])
        # joint[t, A, B] = max_{theta in A} best[t, theta, B]
        joint = np.where(member[None, :, :, None], best[:, None, :, :], -np.inf).max(axis=2)
        tally.add(tv, joint, where=where, axes=[("t", tab.times.tolist()), ("A", names),
                                                ("B", names)], side="joint_convexity")
    return tally.result("lc24_lemma15", "[LC24] Lemma 15: TV(p_t^theta, p_t^S) <= "
                        "max_{phi in S} TV(p_t^theta, p_t^phi)")


def corollary2(catalog) -> ClaimResult:
    """Corollary 2 of [LKC25] (robustness of mixture trees).

    For each instance with a twin ``q`` (same weights), main:
    ``TV(p_t^S, q_t^S) <= max_{theta in S} TV(p^theta, q^theta)`` for every set and time
    (Lemma 15 of [LC24], then data processing; ``t = 0`` is the clean statement). Side check,
    for Example 7's tree (a 0-mixture tree for ``p``): with ``delta = 2 max_theta
    TV(p^theta, q^theta)`` the same tree is a ``sqrt(delta)``-mixture tree for ``q``.
    """
    from proofs_check.examples import tree_conditions

    tally = Tally()
    for inst in catalog:
        if "corollary2" not in inst.roles or inst.twin is None:
            continue
        tp, tq = tables.compute(inst), tables.compute(inst.twin)
        k = tp.weights.size
        names = [_name(s) for s in tp.sets]
        sing = [tp.index((c,)) for c in range(k)]
        per_comp = tables.divergence_rows(tp.pu[0, sing], tq.pu[0, sing], "tv")
        member = np.zeros((len(tp.sets), k), bool)
        for i, s in enumerate(tp.sets):
            member[i, list(s)] = True
        rhs = np.where(member, per_comp[None], -np.inf).max(axis=-1)
        noised = tables.divergence_rows(tp.pz, tq.pz, "tv")
        clean = tables.divergence_rows(tp.pu, tq.pu, "tv")
        where = {"instance": inst.name}
        axes = [("t", tp.times.tolist()), ("S", names)]
        tally.add(noised, rhs[None], where={**where, "laws": "noised"}, axes=axes)
        tally.add(clean, rhs[None], where={**where, "laws": "clean"}, axes=axes)
        tree = inst.params.get("tree")
        if tree is not None:
            delta = 2.0 * float(per_comp.max())
            tree_conditions(tally, tq, tree, math.sqrt(delta), {**where, "delta": delta},
                            side="q_tree")
    return tally.result("corollary2", "Corollary 2: TV(p_t^S, q_t^S) <= max_{theta in S} "
                        "TV(p^theta, q^theta); the tree stays an (eps + sqrt(delta))-tree")
