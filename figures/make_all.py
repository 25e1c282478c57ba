"""Make every figure: ``python -m figures.make_all [--fast] [--force] [--only NAME] [--out DIR]``.

Each figure's exact arrays are read from its cache when the parameters, the versions and the
sources match, and computed (then cached) otherwise; the PNG is always redrawn from the cached
arrays. ``--fast`` makes small previews in ``figures/fast/`` and never touches the real figures.
Exit status: 0 when every figure was made, 1 when one failed (the others are still made).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from figures import FIGURES, _common


def _modules(only):
    names = list(FIGURES)
    if only:
        wanted = {n if n.startswith("fig_") else f"fig_{n}" for n in only}
        by_name = {}
        for n in names:
            by_name[n] = n
        unknown = sorted(w for w in wanted if w not in by_name)
        if unknown:
            raise SystemExit(f"error: --only: unknown figure(s) {unknown}; choose from {names}")
        names = [n for n in names if n in wanted]
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m figures.make_all", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help="small previews in figures/fast/ (never overwrites the real ones)")
    parser.add_argument("--force", action="store_true", help="recompute even if cached")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="only these scripts, e.g. example3 or fig_theorem2")
    parser.add_argument("--out", metavar="DIR",
                        help="write PNGs to DIR and data to DIR/data instead")
    args = parser.parse_args(argv)
    names = _modules(args.only)
    failed = []
    total = time.perf_counter()
    for name in names:
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"figures.{name}")
            data, status = _common.load_or_compute(module, args.fast, args.out, args.force)
            path = module.plot(data, args.out)
        except Exception:  # noqa: BLE001  (report and go on with the other figures)
            failed.append(name)
            print(f"{name:16s} FAILED after {time.perf_counter() - start:.1f} s", flush=True)
            traceback.print_exc()
            continue
        print(f"{name:16s} {status:8s} {time.perf_counter() - start:6.1f} s  {path}", flush=True)
    print(f"{len(names) - len(failed)}/{len(names)} figures in "
          f"{time.perf_counter() - total:.1f} s" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
