"""What every figure script shares: the data cache with its metadata sidecar, and the style.

A figure script ``figures/fig_<x>.py`` defines ``NAME``, ``SOURCES``, ``params(fast)``,
``compute(fast) -> dict`` and ``plot(data, out_dir=None) -> Path``. ``compute`` returns
``{"params": params(fast), <name>: <array>, ...}``; :func:`load_or_compute` stores the arrays in
``<data dir>/<NAME>.npz`` and everything else in a JSON sidecar beside it: the parameters (with
the seed), the versions of jax / numpy / localize, a digest of the source files the numbers
depend on, the git commit and how long the computation took. The cache is reused only when the
parameters, the versions and the source digest all match, so a change of code or of a
parameter recomputes, and the same parameters always give the same numbers.

Real figures go to ``figures/<NAME>.png`` with their data in ``figures/data/``; ``--fast``
runs write to ``figures/fast/`` (PNG) and ``figures/fast/data/`` so they never overwrite the
real ones. Plotting code only reads the cached arrays; it never recomputes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FIG_DIR = Path(__file__).resolve().parent
REPO = FIG_DIR.parent
FAST_DIR = FIG_DIR / "fast"
SIDECAR_VERSION = 1

# The sources every figure depends on; a figure adds its own family modules in SOURCES.
CORE_SOURCES = (
    "localize/__init__.py",
    "localize/divergences.py",
    "localize/experiment.py",
    "localize/kernels.py",
    "localize/model.py",
    "localize/posterior.py",
    "localize/processes.py",
    "localize/report.py",
    "localize/windows.py",
    "synthetic/registry.py",
    "figures/_common.py",
)

# The Gaussian path of issue 3, which every Gaussian figure depends on.
GAUSSIAN_SOURCES = (
    "synthetic/gaussian_mixture.py",
    "synthetic/gaussian_exact.py",
    "localize/channels.py",
    "localize/continuous.py",
    "localize/continuous_report.py",
    "localize/estimate.py",
)


def output_dir(fast: bool, out_dir=None) -> Path:
    """Where the PNGs go: ``figures/`` for real runs, ``figures/fast/`` for ``--fast``."""
    if out_dir is not None:
        return Path(out_dir)
    return FAST_DIR if fast else FIG_DIR


def data_dir(fast: bool, out_dir=None) -> Path:
    """Where the cached arrays and sidecars go: ``<output dir>/data``."""
    return output_dir(fast, out_dir) / "data"


def versions() -> dict:
    """Versions that key the cache (jax, numpy, localize) plus a few recorded for provenance."""
    import jax
    import matplotlib
    import seaborn

    import localize

    return {
        "jax": jax.__version__,
        "numpy": np.__version__,
        "localize": localize.__version__,
        "python": platform.python_version(),
        "matplotlib": matplotlib.__version__,
        "seaborn": seaborn.__version__,
    }


KEYED_VERSIONS = ("jax", "numpy", "localize")


def source_digest(module_file: str, extra=()) -> str:
    """SHA-256 over the figure script, the core and the family modules the figure uses."""
    h = hashlib.sha256()
    paths = [REPO / rel for rel in sorted(set(CORE_SOURCES) | set(extra))]
    paths.append(Path(module_file).resolve())
    for p in paths:
        name = p.relative_to(REPO) if p.is_relative_to(REPO) else p
        h.update(str(name).encode())
        h.update(p.read_bytes() if p.exists() else b"<missing>")
    return h.hexdigest()


def git_info() -> dict:
    """The commit of the working tree and whether it had uncommitted changes."""
    def run(*args):
        try:
            res = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                 timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


def _cache_key(sidecar: dict) -> dict:
    return {
        "params": sidecar["params"],
        "versions": {k: sidecar["versions"].get(k) for k in KEYED_VERSIONS},
        "source_digest": sidecar["source_digest"],
    }


def load_or_compute(module, fast: bool, out_dir=None, force: bool = False):
    """Return a figure's data from the cache, or compute and cache it.

    Args:
        module: the figure script (``NAME``, ``SOURCES``, ``params``, ``compute``).
        fast: the small, quick variant (separate cache and outputs).
        out_dir: override the output directory (data go to ``<out_dir>/data``).
        force: recompute even when the cache matches.

    Returns:
        ``(data, status)``: ``data`` maps array names to NumPy arrays and ``"params"`` to the
        parameters; ``status`` is ``"cached"`` or ``"computed"``.
    """
    ddir = data_dir(fast, out_dir)
    npz, side = ddir / f"{module.NAME}.npz", ddir / f"{module.NAME}.json"
    params = _jsonable(module.params(fast))
    if "seed" not in params:
        raise ValueError(f"{module.NAME}: params must record a 'seed' (None when unused)")
    wanted = {
        "params": params,
        "versions": {k: v for k, v in versions().items() if k in KEYED_VERSIONS},
        "source_digest": source_digest(module.__file__, getattr(module, "SOURCES", ())),
    }
    if not force and npz.exists() and side.exists():
        try:
            meta = json.loads(side.read_text())
            if meta.get("sidecar_version") == SIDECAR_VERSION and _cache_key(meta) == wanted:
                with np.load(npz, allow_pickle=False) as f:
                    data = {k: f[k] for k in f.files}
                data["params"] = meta["params"]
                return data, "cached"
        except (OSError, ValueError, KeyError):
            pass
    start = time.perf_counter()
    data = module.compute(fast)
    elapsed = time.perf_counter() - start
    if _jsonable(data.get("params")) != params:
        raise ValueError(f"{module.NAME}: compute() must return params(fast) under 'params'")
    arrays = {k: np.asarray(v) for k, v in data.items() if k != "params"}
    for k, a in arrays.items():
        if a.dtype == object:
            raise ValueError(f"{module.NAME}: array {k!r} has dtype object; use numbers or str")
    ddir.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_name(npz.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(npz)
    meta = {
        "sidecar_version": SIDECAR_VERSION,
        "name": module.NAME,
        "fast": bool(fast),
        "params": params,
        "seed": params["seed"],
        "versions": versions(),
        "source_digest": wanted["source_digest"],
        "sources": sorted(set(CORE_SOURCES) | set(getattr(module, "SOURCES", ()))),
        "git": git_info(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "compute_seconds": round(elapsed, 3),
        "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in arrays.items()},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    side.write_text(json.dumps(_jsonable(meta), indent=2, sort_keys=True) + "\n")
    out = dict(arrays)
    out["params"] = params
    return out, "computed"


def progress(iterable, desc: str, total=None):
    """A tqdm progress bar on stderr (silent when stderr is not a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, disable=None)


def style():
    """The shared look: seaborn's whitegrid theme and colour-blind palette, Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind",
                  rc={"figure.dpi": 110, "savefig.dpi": 150, "axes.titlesize": 12,
                      "axes.labelsize": 11, "legend.fontsize": 9, "legend.framealpha": 0.9})
    return sns.color_palette("colorblind")


def save(fig, name: str, data: dict, script: str, out_dir=None, footer_y: float = 0.001,
         estimated: bool | str = False) -> Path:
    """Write ``<output dir>/<name>.png`` with a provenance footer and close the figure.

    Args:
        fig: the matplotlib figure.
        name: the figure's ``NAME``.
        data: the figure's data (its ``params`` say whether this is a fast run).
        script: the figure script's ``__file__``, named in the footer.
        out_dir: override the output directory.
        footer_y: height of the footer line in figure coordinates (below any bottom legend).
        estimated: whether the figure also shows Monte Carlo estimates (the footer then says
            "exact curves, estimated markers" instead of "all values exact"), or the footer's
            own words for what is estimated (e.g. ``"all values Monte Carlo"``).

    Returns:
        The path of the PNG.
    """
    import matplotlib.pyplot as plt

    import localize

    fast = bool(data["params"].get("fast", False))
    odir = output_dir(fast, out_dir)
    odir.mkdir(parents=True, exist_ok=True)
    path = odir / f"{name}.png"
    if isinstance(estimated, str):
        mode = estimated
    else:
        mode = "exact curves, estimated markers" if estimated else "all values exact"
    if fast:
        mode = "FAST PREVIEW (reduced sizes)"
    fig.text(0.995, footer_y, f"{mode}; localize {localize.__version__}; "
             f"python -m figures.make_all ({Path(script).name})",
             ha="right", va="bottom", fontsize=7, color="0.45")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
