"""All-or-nothing detection and Theorem 6's window ([LKC25] Theorem 5, Definition 7, Theorem 6).

Planted sparse regression (theory.md §3.5): ``theta`` uniform over the ``k``-sparse vectors of
``{0,1}^s``, observations ``y = <theta, x> + xi``, against the null ``y ~ N(0, k + sigma2)``.
Every value is **estimated** (Monte Carlo over datasets, the likelihood ratio itself exact by
enumerating all ``C(s, k)`` supports) and drawn with its ``+-2`` standard-error band or
interval.

* (a) The detection curve ``TV(planted^(n), null^(n))`` against ``n / N*`` for several ``s``
  (``k = 2``, ``sigma2 = 0.1``): the transition narrows in units of ``N*`` as ``s`` grows, the
  finite-size trace of Theorem 5's all-or-nothing; dashed, the posterior overlap
  ``E<theta, theta_hat>/k`` (``theta_hat`` the exact posterior mean) on the same datasets'
  law. The legend gives the 0.25-0.75 width of each curve in units of ``N*``
  (:func:`proofs_check.planted.check_sharpening`).
* (b) Definition 7's mixture (``k = 2``, ``sigma2 = 0.5``, ``N = ceil(3 N*)``, ``eps = 0.1``):
  the exact (Monte Carlo) critical window of ``"signal"`` inside ``"all"`` in visible
  observations ``n = N + 2 - t``, a bar from ``n_before`` to ``n_after`` per ``s`` (thin
  whiskers: the Monte Carlo intervals), against Theorem 6's prediction ``n ~ N*`` (the
  marker), with the smallest ``delta`` for which ``[(1 - delta) N*, (1 + delta) N*]``
  contains the window annotated (:func:`proofs_check.planted.check_window`).
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "planted_detection"
SOURCES = ("synthetic/planted.py", "synthetic/planted_icl.py", "proofs_check/planted.py",
           "localize/continuous.py", "localize/continuous_report.py", "localize/estimate.py")


def params(fast: bool) -> dict:
    """Sizes, Monte Carlo budgets and the seed of both panels."""
    return {
        "fast": bool(fast),
        "seed": 2025,
        "k": 2,
        "sigma2_detection": 0.1,
        "s_detection": [16, 64] if fast else [16, 64, 256],
        "n_factor_detection": 2.5,
        "datasets": 200 if fast else 600,
        "overlap_datasets": 100 if fast else 300,
        "sigma2_window": 0.5,
        "s_window": [8] if fast else [8, 16, 32, 64],
        "n_factor_window": 3.0,
        "eps": 0.1,
        "window_samples": 200 if fast else 1000,
    }


def _pad(rows, length):
    out = np.full((len(rows), length), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def compute(fast: bool) -> dict:
    """Detection curves, overlaps and windows from :mod:`proofs_check.planted`."""
    import jax

    from proofs_check import planted as pp
    from synthetic.planted import posterior_overlap

    p = params(fast)
    det_cases = tuple(pp.PlantedCase(s, p["k"], p["sigma2_detection"],
                                     n_factor=p["n_factor_detection"])
                      for s in p["s_detection"])
    _, rows = pp.check_sharpening(det_cases, p["datasets"], p["seed"])
    overlaps, overlap_se = [], []
    keys = jax.random.split(jax.random.key(p["seed"] + 1), len(det_cases))
    for case, key in zip(_common.progress(det_cases, "overlap"), keys, strict=True):
        _, ov, ov_se = posterior_overlap(key, case.model(), p["overlap_datasets"])
        overlaps.append(ov)
        overlap_se.append(ov_se)
    length = max(r["N"] for r in rows) + 1
    win_cases = tuple(pp.PlantedCase(s, p["k"], p["sigma2_window"],
                                     n_factor=p["n_factor_window"]) for s in p["s_window"])
    _, wrows = pp.check_window(win_cases, p["eps"], p["window_samples"], p["seed"])
    nan = lambda v: math.nan if v is None else float(v)  # noqa: E731
    return {
        "params": p,
        "det_s": np.asarray([r["s"] for r in rows]),
        "det_n_star": np.asarray([r["n_star"] for r in rows]),
        "det_N": np.asarray([r["N"] for r in rows]),
        "det_tv": _pad([r["tv"] for r in rows], length),
        "det_se": _pad([r["se"] for r in rows], length),
        "det_width": np.asarray([nan(r["width"]) for r in rows]),
        "overlap": _pad(overlaps, length),
        "overlap_se": _pad(overlap_se, length),
        "win_s": np.asarray([r["s"] for r in wrows]),
        "win_N": np.asarray([r["N"] for r in wrows]),
        "win_n_star": np.asarray([r["n_star"] for r in wrows]),
        "win_n_after": np.asarray([nan(r.get("n_after")) for r in wrows]),
        "win_n_before": np.asarray([nan(r.get("n_before")) for r in wrows]),
        "win_n_after_max": np.asarray([nan(r.get("n_after_max")) for r in wrows]),
        "win_n_before_min": np.asarray([nan(r.get("n_before_min")) for r in wrows]),
        "win_delta_min": np.asarray([nan(r["delta_min"]) for r in wrows]),
        "win_after_by_answer": np.asarray([bool(r.get("after_by_answer")) for r in wrows]),
        "win_theorem2": np.asarray([r["theorem2_before"] is not False
                                    and r["theorem2_after"] is not False for r in wrows]),
    }


def plot(data: dict, out_dir=None):
    """Two panels: detection curves with overlaps, and windows against Theorem 6."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.5, 4.8))

    for i, s in enumerate(data["det_s"]):
        c = colors[i % len(colors)]
        ns = float(data["det_n_star"][i])
        tv, se = data["det_tv"][i], data["det_se"][i]
        keep = np.isfinite(tv)
        x = np.arange(tv.size)[keep] / ns
        width = float(data["det_width"][i])
        ax.plot(x, tv[keep], "-o", ms=3, color=c,
                label=f"s = {int(s)} (N* = {ns:.2f}; width {width:.2f} N*)")
        ax.fill_between(x, tv[keep] - 2 * se[keep], tv[keep] + 2 * se[keep], color=c,
                        alpha=0.2, lw=0)
        ov, ov_se = data["overlap"][i][keep], data["overlap_se"][i][keep]
        ax.plot(x, ov, "--", color=c, lw=1.3)
        ax.fill_between(x, ov - 2 * ov_se, ov + 2 * ov_se, color=c, alpha=0.1, lw=0)
    ax.axvline(1.0, color="0.3", lw=1, ls=":")
    for lvl in (0.25, 0.75):
        ax.axhline(lvl, color="0.6", lw=0.7, ls=":")
    ax.plot([], [], "-", color="0.3", label="TV(planted$^{(n)}$, null$^{(n)}$) ± 2 se")
    ax.plot([], [], "--", color="0.3", label=r"overlap E$\langle\theta,\hat\theta\rangle$/k")
    ax.set_xlabel("observations n / N*")
    ax.set_ylabel("TV  /  overlap")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"(a) all-or-nothing sharpens: k = {p['k']}, "
                 f"$\\sigma^2$ = {p['sigma2_detection']} (Thm 5)")
    ax.legend(loc="lower right", fontsize=8)

    s_w = data["win_s"]
    y = np.arange(len(s_w))
    for i in range(len(s_w)):
        ns = float(data["win_n_star"][i])
        nb, na = float(data["win_n_before"][i]), float(data["win_n_after"][i])
        nbm, nam = float(data["win_n_before_min"][i]), float(data["win_n_after_max"][i])
        dm = float(data["win_delta_min"][i])
        if math.isfinite(nb) and math.isfinite(na):
            bx.plot([nbm, nam], [i, i], color="0.4", lw=1)
            bx.barh(i, na - nb, left=nb, height=0.45, color=colors[0], alpha=0.75,
                    label="exact window [n_before, n_after]" if i == 0 else None)
            if math.isfinite(dm):
                bx.barh(i, 2 * dm * ns, left=(1 - dm) * ns, height=0.7, fill=False,
                        edgecolor=colors[1], ls="--",
                        label="Theorem 6: [(1-δ)N*, (1+δ)N*] at δ_min" if i == 0 else None)
            extra = "\n(after end: answer token;\n not within N obs.)" \
                if data["win_after_by_answer"][i] else ""
            bx.annotate(f"δ_min = {dm:.2f}{extra}", (max(nam, (1 + dm) * ns), i), xytext=(6, -3),
                        textcoords="offset points", fontsize=8)
        bx.plot([ns], [i], "kD", ms=6, label="N*" if i == 0 else None)
        bx.plot([data["win_N"][i]], [i], "|", color="0.2", ms=14,
                label="N (all observations)" if i == 0 else None)
    bx.set_yticks(y, [f"s = {int(s)}" for s in s_w])
    bx.set_xlabel("visible observations n = N + 2 − t")
    bx.set_xlim(left=-0.5)
    bx.set_title(f"(b) Definition 7 window vs Theorem 6 (ε = {p['eps']}, "
                 f"$\\sigma^2$ = {p['sigma2_window']}, N = ⌈3N*⌉)")
    bx.set_ylim(-0.6, len(s_w) - 0.4 + 0.9)
    bx.legend(loc="upper left", fontsize=8, ncol=2)
    bx.margins(x=0.25)
    fig.text(0.005, 0.001, "all values Monte Carlo (exact likelihood ratios): bands ± 2 se; "
             "window whiskers: Monte Carlo intervals; δ_min from their widest ends",
             ha="left", va="bottom", fontsize=7, color="0.45")
    fig.tight_layout()
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.03,
                        estimated="Monte Carlo over datasets, exact likelihood ratios")
