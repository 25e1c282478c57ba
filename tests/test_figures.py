"""The figure pipeline: cache semantics, sidecar metadata, and the fast run end to end.

The end-to-end tests run ``python -m figures.make_all --fast --out DIR`` in a subprocess (as
``make figures-fast`` does, but into a temporary directory so the repository's figures are never
touched), then check the PNGs, the sidecars, that a second run reuses the cache, and that a
forced recomputation gives the very same numbers.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# ``figures`` is a directory of scripts beside the installed packages, run from the repo root.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from figures import FIGURES, _common  # noqa: E402

NAMES = {
    "fig_absorbing_walk": "absorbing_walk_window",
    "fig_example3": "example3_window",
    "fig_example5": "example5_windows",
    "fig_gaussian_example1": "gaussian_example1",
    "fig_gaussian_example2": "gaussian_example2",
    "fig_gaussian_hierarchy": "gaussian_hierarchy",
    "fig_gaussian_speciation": "gaussian_speciation",
    "fig_hierarchy_depth": "hierarchy_depth",
    "fig_icl": "icl_window",
    "fig_jailbreak": "jailbreak_window",
    "fig_planted": "planted_detection",
    "fig_structured": "structured_staircase",
    "fig_structured_estimator": "structured_estimator",
    "fig_theorem2": "theorem2_bound",
}


def _make_all(out: Path, *extra: str) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [sys.executable, "-m", "figures.make_all", "--fast", "--out", str(out), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert res.returncode == 0, f"make_all failed:\n{res.stdout}\n{res.stderr[-4000:]}"
    return res


def _png_size(path: Path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _arrays(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs_fast")
    first = _make_all(out)
    return out, first


def test_every_figure_is_registered():
    assert sorted(FIGURES) == sorted(NAMES)


def test_fast_run_writes_pngs_and_sidecars(fast_run):
    out, first = fast_run
    for module, name in NAMES.items():
        assert f"{module}" in first.stdout and "computed" in first.stdout
        png = out / f"{name}.png"
        assert png.exists(), f"missing {png}"
        assert png.stat().st_size > 30_000, f"{png} looks empty ({png.stat().st_size} bytes)"
        width, height = _png_size(png)
        assert width >= 800 and height >= 500
        meta = json.loads((out / "data" / f"{name}.json").read_text())
        assert meta["name"] == name and meta["fast"] is True
        assert meta["params"]["fast"] is True
        assert "seed" in meta and meta["seed"] == meta["params"]["seed"]
        for pkg in ("jax", "numpy", "localize"):
            assert meta["versions"][pkg], f"{name}: no version of {pkg}"
        assert len(meta["source_digest"]) == 64
        assert "commit" in meta["git"]
        arrays = _arrays(out / "data" / f"{name}.npz")
        assert set(arrays) == set(meta["arrays"])
        assert meta["params"] == json.loads(json.dumps(meta["params"]))


def test_fast_numbers_agree_with_the_paper_and_the_closed_forms(fast_run):
    out, _ = fast_run
    ex3 = _arrays(out / "data" / "example3_window.npz")
    eps = 0.1
    d = ex3["d"].astype(float)
    assert np.max(ex3["max_dev_closed_form"]) < 1e-12
    # Definition 4 on the grid: the last grid time <= eps^(2/d), the first >= (1-2 eps)^(1/d).
    assert np.all(ex3["T_after_C"] <= eps ** (2 / d) + 1e-12)
    assert np.all(ex3["T_after_C"] > eps ** (2 / d) - 0.05 / d)
    assert np.all(ex3["T_before_C"] >= (1 - 2 * eps) ** (1 / d) - 1e-12)
    assert np.all(ex3["T_before_C"] < (1 - 2 * eps) ** (1 / d) + 0.05 / d)

    ex5 = _arrays(out / "data" / "example5_windows.npz")
    np.testing.assert_array_equal(ex5["n_after"], ex5["grid_n_after"])
    np.testing.assert_array_equal(ex5["n_before"], ex5["grid_n_before"])
    ok = ex5["n_after"] >= 0
    assert ok.any() and np.all(ex5["n_before"][ok] < ex5["n_after"][ok])
    eps5 = 0.015
    fin = np.isfinite(ex5["overlap_at_paper_after"])
    assert np.all(ex5["overlap_at_paper_after"][fin] <= eps5**2)  # paper's after end holds
    fin = np.isfinite(ex5["tv_pm_at_paper_before"])
    assert np.all(ex5["tv_pm_at_paper_before"][fin] <= 3 * eps5)  # Roos, theory.md §6 item 20

    st = _arrays(out / "data" / "structured_staircase.npz")
    assert float(st["max_dev_product"]) < 1e-12
    length, pos = int(st["length"]), st["first_letter_pos"]
    np.testing.assert_array_equal(length - st["T_before_C"], pos)
    np.testing.assert_array_equal(length - st["T_after_C"], pos + 1)

    th = _arrays(out / "data" / "theorem2_bound.npz")
    fin = np.isfinite(th["bound_stated"])
    assert fin.sum() > 50
    assert np.all(th["lhs"][fin] <= th["bound_stated"][fin] + 1e-12)
    assert np.all(th["lhs"] <= th["bound_c"] + 1e-12)
    assert int(th["report_checks"]) == int(th["report_consistent"]) == int(th["report_holds"])
    assert int(th["report_checks"]) > 0


def test_fast_gaussian_numbers_agree_with_the_closed_forms(fast_run):
    out, _ = fast_run
    eps = 0.1
    # Example 1 (theory.md §3.1): the exact window is ln(||mu|| / Phi^-1(1 - eps^2/2)),
    # ln(||mu|| / Phi^-1(1/2 + eps)) for every d; the paper's endpoints contain it.
    g1 = _arrays(out / "data" / "gaussian_example1.npz")
    assert float(g1["max_dev_across_d"]) < 1e-12
    assert float(g1["max_dev_closed_form"]) < 1e-10
    np.testing.assert_allclose(g1["T_after_C"], 1.3564135510977757, atol=1e-8)
    np.testing.assert_allclose(g1["T_before_C"], 3.675579874357647, atol=1e-8)
    assert float(g1["paper_T_after_C"]) < g1["T_after_C"].min()
    assert g1["T_before_C"].max() < float(g1["paper_T_before_C"])
    t = g1["times"]
    for d in g1["dims"]:
        # Theorem 2 on both sides of the window (W = 1 after, S_before = Theta before).
        assert g1[f"d{d}_fr_tv_init"][t <= g1["T_after_C"][0]].max() <= eps / np.sqrt(2)
        assert g1[f"d{d}_fr_tv_full"][t >= g1["T_before_C"][0]].max() <= eps
    assert np.all(np.abs(g1["mc_z"]) < 4.0)  # full-d Monte Carlo vs exact, in se

    # Example 2: the width is bounded; at d = 1e4 both ends sit at 1/2 ln(2d) + O(1).
    g2 = _arrays(out / "data" / "gaussian_example2.npz")
    big = list(g2["dims"]).index(10_000)
    width = g2["T_before_C"][big] - g2["T_after_C"][big]
    off_a, off_b = g2["equilateral_offsets"]
    assert 2.4 < off_b - off_a < 2.6
    np.testing.assert_allclose(width, off_b - off_a, atol=0.1)
    np.testing.assert_allclose(g2["T_after_C"][big] - 0.5 * np.log(2e4), off_a, atol=0.1)
    fin = np.isfinite(g2["T_before_C"])
    assert np.all(g2["T_before_C"][fin] <= g2["paper_T_before_C"][fin])
    assert np.all(width < g2["paper_T_before_C"][big] - g2["paper_T_after_C"][big])

    # The hierarchy: one window per level, disjoint and in order; the staircase ends at w.
    gh = _arrays(out / "data" / "gaussian_hierarchy.npz")
    ta, tb = gh["T_after_C"], gh["T_before_C"]
    assert np.all(ta < tb) and np.all(tb[:-1] < ta[1:])
    np.testing.assert_allclose(gh["label_law"].sum(axis=1), 1.0, atol=1e-10)
    for level in range(3):
        assert gh[f"stay_{level}"][0] > 1 - 1e-9
        assert abs(gh[f"stay_{level}"][-1] - gh["weights"][level]) < 0.01

    # Speciation: P_same is the forward-reverse label law; t_S lies inside the window; the
    # cloning estimate agrees with it within a few binomial standard errors.
    sp = _arrays(out / "data" / "gaussian_speciation.npz")
    assert np.max(sp["max_dev_oracle"]) < 1e-10
    shift = np.log(sp["norms"] / 10.0)
    np.testing.assert_allclose(sp["T_after_C"], 1.3564135510977757 + shift, atol=1e-6)
    np.testing.assert_allclose(sp["T_before_C"], 3.675579874357647 + shift, atol=1e-6)
    assert np.all((sp["T_after_C"] < sp["t_S"]) & (sp["t_S"] < sp["T_before_C"]))
    assert np.all(sp["max_abs_z"] < 4.0)


def test_fast_sequence_numbers_agree_with_the_paper(fast_run):
    out, _ = fast_run
    # Structured output (theory.md §5.1): each blank's exact window is the one character
    # of its first letter, and the paper's estimator is within 4 standard errors.
    se = _arrays(out / "data" / "structured_estimator.npz")
    np.testing.assert_array_equal(se["length_padded"] - se["T_before_C"], se["first_letter_pos"])
    np.testing.assert_array_equal(se["length_padded"] - se["T_after_C"],
                                  se["first_letter_pos"] + 1)
    assert np.all(se["overlay_max_abs_z"] < 4)

    # Example 4 (theory.md §3.3): before fine-tuning the exact window lies inside the
    # paper's [T - T' - k, T - T']; after fine-tuning on corrections with late recoveries
    # there is no window, and Theorem 2 holds in every variant.
    jb = _arrays(out / "data" / "jailbreak_window.npz")
    meta = json.loads((out / "data" / "jailbreak_window.json").read_text())
    p = meta["params"]
    top = p["length"] - p["shared"]
    assert top - p["critical"] <= float(jb["before_T_after_C"]) <= float(
        jb["before_T_before_C"]) <= top
    assert float(jb["late_T_after_C"]) == -1.0
    for v in ("before", "late", "fast"):
        assert float(jb[f"{v}_theorem2"]) == 1.0

    # Example 5 with absorbing boundaries: below the gambler's-ruin ceiling A* = 26.4 there
    # is no separation (no T^C_after); above it the after end needs at least as many visible
    # tokens as without absorption (largest A), and the before end does not move.
    aw = _arrays(out / "data" / "absorbing_walk_window.npz")
    a, n_after, n_before = aw["boundaries"], aw["n_after"], aw["n_before"]
    assert np.all(n_after[a < 26.4] == -1) and np.all(n_after[a > 26.4] > 0)
    free = n_after[np.argmax(a)]
    assert np.all(n_after[a > 26.4] >= free)
    assert len(set(n_before.tolist())) == 1

    # Hierarchy depth: Example 7 and the structured toy have depth equal to their length
    # (number of choices); Gaussians with random means have depth at most 1.
    hd = _arrays(out / "data" / "hierarchy_depth.npz")
    meta = json.loads((out / "data" / "hierarchy_depth.json").read_text())["params"]
    np.testing.assert_array_equal(hd["ex7_depth"], meta["lengths"])
    np.testing.assert_array_equal(hd["toy_min"], meta["choices"])
    np.testing.assert_array_equal(hd["toy_max"], meta["choices"])
    assert np.all(hd["g_exact_hi"] <= 1) and np.all(hd["g_bounds_hi"] <= 1)


def test_second_run_reuses_the_cache(fast_run):
    out, _ = fast_run
    before = {n: (out / "data" / f"{n}.json").read_text() for n in NAMES.values()}
    arrays = {n: _arrays(out / "data" / f"{n}.npz") for n in NAMES.values()}
    second = _make_all(out)
    for module in NAMES:
        line = next(ln for ln in second.stdout.splitlines() if ln.startswith(module))
        assert "cached" in line, line
    for n in NAMES.values():
        assert (out / "data" / f"{n}.json").read_text() == before[n]
        again = _arrays(out / "data" / f"{n}.npz")
        assert again.keys() == arrays[n].keys()
        for k in again:
            np.testing.assert_array_equal(again[k], arrays[n][k])


def test_recomputation_gives_identical_numbers(fast_run, tmp_path):
    # theorem2 draws its random mixtures from a seed (as the Monte Carlo figures do): the
    # same seed must give the same numbers.
    out, _ = fast_run
    _make_all(tmp_path, "--force", "--only", "theorem2")
    for n in ["theorem2_bound"]:
        a, b = _arrays(out / "data" / f"{n}.npz"), _arrays(tmp_path / "data" / f"{n}.npz")
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{n}:{k}")
        ma = json.loads((out / "data" / f"{n}.json").read_text())
        mb = json.loads((tmp_path / "data" / f"{n}.json").read_text())
        assert ma["params"] == mb["params"] and ma["source_digest"] == mb["source_digest"]


# The cache logic alone, on a dummy figure (no JAX work).

def _dummy(tmp_path, calls):
    src = tmp_path / "fig_dummy.py"
    src.write_text("# dummy figure\n")
    mod = types.SimpleNamespace(NAME="dummy", SOURCES=(), __file__=str(src))
    mod.scale = 1.0

    def params(fast):
        return {"fast": fast, "seed": 7, "scale": mod.scale}

    def compute(fast):
        calls.append(fast)
        rng = np.random.default_rng(params(fast)["seed"])
        return {"params": params(fast), "x": rng.normal(size=5) * mod.scale,
                "label": np.asarray("text")}

    mod.params, mod.compute = params, compute
    return mod, src


def test_cache_is_keyed_on_params_versions_and_sources(tmp_path):
    calls = []
    mod, src = _dummy(tmp_path, calls)
    out = tmp_path / "out"
    d1, s1 = _common.load_or_compute(mod, True, out)
    d2, s2 = _common.load_or_compute(mod, True, out)
    assert (s1, s2) == ("computed", "cached") and len(calls) == 1
    np.testing.assert_array_equal(d1["x"], d2["x"])
    assert str(d2["label"]) == "text" and d2["params"] == d1["params"]

    mod.scale = 2.0  # a parameter changes: recompute
    _, s3 = _common.load_or_compute(mod, True, out)
    assert s3 == "computed" and len(calls) == 2

    side = out / "data" / "dummy.json"
    meta = json.loads(side.read_text())
    meta["versions"]["jax"] = "0.0.0"  # a keyed version changes: recompute
    side.write_text(json.dumps(meta))
    _, s4 = _common.load_or_compute(mod, True, out)
    assert s4 == "computed" and len(calls) == 3

    src.write_text("# dummy figure, edited\n")  # the script changes: recompute
    _, s5 = _common.load_or_compute(mod, True, out)
    assert s5 == "computed" and len(calls) == 4

    side.write_text("{not json")  # a damaged sidecar: recompute, never crash
    _, s6 = _common.load_or_compute(mod, True, out)
    assert s6 == "computed" and len(calls) == 5

    _, s7 = _common.load_or_compute(mod, True, out, force=True)
    assert s7 == "computed" and len(calls) == 6


def test_fast_and_real_outputs_are_separate():
    assert _common.output_dir(True) != _common.output_dir(False)
    assert _common.data_dir(False) == REPO / "figures" / "data"
    assert _common.output_dir(False) == REPO / "figures"
    assert _common.data_dir(True).is_relative_to(REPO / "figures" / "fast")


def test_compute_must_return_its_params(tmp_path):
    calls = []
    mod, _ = _dummy(tmp_path, calls)
    mod.compute = lambda fast: {"params": {"other": 1}, "x": np.zeros(2)}
    with pytest.raises(ValueError, match="params"):
        _common.load_or_compute(mod, True, tmp_path / "o")


def test_example5_curves_match_the_window_report():
    # fig_example5 skips the report's forward-reverse law (costly at L = 3e5) and computes the
    # noised curves itself; on a small model both must give the same numbers.
    import localize
    from figures import fig_example5
    from synthetic.biased_coins import biased_coins

    length, delta = 300, 0.05
    model = biased_coins([0.5, 0.5], [delta, -delta], length, "truncation")
    times = np.arange(0, length + 1, 25, dtype=np.float64)
    tv_pm, log_ov, tv_pf, stay = fig_example5._evaluate(
        fig_example5._curve_fn(), model, length, length - times)
    rep = localize.window_report(model, [0], [0, 1], 0.015, times, progress=False)
    stay_rep = localize.window_report(model, [0], [0], 0.015, times, progress=False)
    np.testing.assert_allclose(tv_pm, rep.tv_init_rest, atol=1e-12)
    np.testing.assert_allclose(log_ov, rep.log_overlap_init_rest, atol=1e-9)
    np.testing.assert_allclose(tv_pf, rep.tv_init_target, atol=1e-12)
    np.testing.assert_allclose(stay, stay_rep.label_mass_target, atol=1e-12)
