"""The ``localize`` command line: the composition root of the package.

``localize window CONFIG.toml`` builds a model from a registered family of :mod:`synthetic`
and prints its :class:`localize.WindowReport`; ``localize check`` runs the paper's claims
from :mod:`proofs_check`; ``localize families`` lists the families. This is the one module
of :mod:`localize` that imports those packages (lazily, so ``--version`` and usage errors
stay fast).

Exit codes: 0 success, 1 a claim failed (a ``check`` claim, or Theorem 2 on the grid of
``window``), 2 bad input. Bad input prints exactly one line ``error: ...`` on stderr that
names the parameter and what was expected, and nothing on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from localize.config import load_config
from localize.errors import LocalizeError

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# Library errors name parameters bare; in a config they live in a table.
_TABLE_OF = {
    "times": "experiment",
    "s_init": "experiment",
    "s_target": "experiment",
    "eps": "experiment",
    "order": "process",
    "length": "process",
}

EPILOG = """\
exit codes:
  0  success
  1  a claim failed: a claim of `check`, or Theorem 2 at a grid time of `window`
  2  bad input (one line `error: ...` on stderr, nothing on stdout)
"""

WINDOW_HELP = """\
Compute the curves of the forward-reverse experiment from S_init, the thresholds T_start
and T_end, the critical window [T_after_C, T_before_C] and the check of Theorem 2
([LKC25] Theorem 2 and Definition 4) for the model, process and sets of a TOML config.
Every curve says how it was obtained (exact, closed-form, quadrature, monte-carlo);
estimated curves come with standard errors and the thresholds with intervals.

config schema:
  [model]       family = "finite" | "point_masses" | "biased_coins" | "gaussian_mixture"
                | "markov_mixture" | "hmm_mixture" | "absorbing_walk" | "critical_tokens"
                | "structured_output" | ..., and its parameters (see `localize families`)
  [process]     kind = "truncation" | "ordered_masking" | "random_masking" (finite
                families; order = [...] for ordered_masking), or "ou" | "ve" |
                "channel" (gaussian_mixture: Ornstein-Uhlenbeck, variance exploding,
                stochastic-localization channel; times in [0, max])
  [experiment]  s_init = [...], s_target = [...] (component indices, S_init inside
                S_target; or a sub-population name: "all", or one the family
                defines), eps in (0, 1), times = [...] strictly increasing points of
                the index set, or times = {start = 0, stop = 1, num = 101}
  [estimate]    optional, for curves a continuous model or a sequence model too long
                to enumerate estimates by Monte Carlo: samples = 100000 (per time and
                curve, >= 2), inner_samples = 64 (forward-reverse densities, >= 2),
                seed = 0 (same seed, same numbers)

Exits 1 when Theorem 2 fails at a grid time in [T_end, T_start] (a failed claim; with
estimated curves, beyond 3 standard errors and the stated errors); a vacuous check (no
grid time in [T_end, T_start]) exits 0.
"""


class UsageError(Exception):
    """A bad command line, raised instead of argparse's multi-line usage message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    from localize import __version__

    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="localize",
        description="Exact critical windows of stochastic localization samplers on synthetic "
        "mixtures (Li, Karan & Chen, ICML 2025).",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"localize {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    win = sub.add_parser(
        "window", help="curves, thresholds, window and Theorem 2 check for one config",
        description=WINDOW_HELP, epilog=EPILOG, formatter_class=fmt,
    )
    win.add_argument("config", metavar="CONFIG.toml", help="the experiment's TOML config")
    win.add_argument("--json", action="store_true", help="print the report as one JSON object")
    win.add_argument("--out", metavar="FILE", help="write the output to FILE, not stdout")

    chk = sub.add_parser(
        "check", help="every claim of the paper on its catalog of instances",
        description="Run the paper's statements as executable claims (proofs_check) and "
        "print, for each, whether it held with its two sides, margin and instance count.",
        epilog=EPILOG, formatter_class=fmt,
    )
    chk.add_argument("--json", action="store_true",
                     help='print {"claims": [...], "all_hold": bool}')
    chk.add_argument("--only", metavar="NAME", help="run only the claim NAME")

    fam = sub.add_parser(
        "families", help="registered toy distributions and their parameters",
        description="List every registered family with its summary, parameters and the "
        "observation processes it supports.", epilog=EPILOG, formatter_class=fmt,
    )
    fam.add_argument("--json", action="store_true", help="print the list as JSON")
    return parser


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _qualify(message: str) -> str:
    key = message.split(":", 1)[0]
    if key in _TABLE_OF:
        return f"{_TABLE_OF[key]}.{message}"
    return message


def _check_out(path) -> None:
    if path is None:
        return
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(parent):
        raise LocalizeError(
            f"--out: expected a file path in an existing directory, got {path!r}"
        )


def _emit(text: str, out) -> None:
    if out is None:
        sys.stdout.write(text + "\n")
        return
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as e:
        msg = f"--out: expected a writable file, got {out!r} ({e.strerror})"
        raise LocalizeError(msg) from None


def _dumps(obj) -> str:
    return json.dumps(obj, allow_nan=False)


def _cmd_window(args) -> int:
    import localize
    import synthetic

    families = {f["name"]: {"params": list(f["params"]), "required": f["required"]}
                for f in synthetic.families_info()}
    cfg = load_config(args.config, families)
    _check_out(args.out)
    try:
        model = synthetic.build(cfg.family, process=cfg.process, order=cfg.order,
                                **cfg.model_params)
    except LocalizeError:
        raise
    except (TypeError, ValueError) as e:
        raise LocalizeError(f"model: expected valid parameters for family {cfg.family!r}, "
                            f"got an error: {e}") from None
    report = localize.window_report(model, cfg.s_init, cfg.s_target, cfg.eps, cfg.times,
                                    estimate=cfg.estimate)
    text = _dumps(report.to_json()) if args.json else report.to_text()
    _emit(text, args.out)
    return EXIT_CLAIM_FAILED if report.theorem2_holds is False else EXIT_OK


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _table(rows: list[dict], columns: list[str]) -> str:
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    rows_out = [columns, ["-" * w for w in widths]] + cells
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in rows_out
    )


def _cmd_check(args) -> int:
    import proofs_check

    # run_all refuses an unknown --only NAME with a LocalizeError listing the claims.
    progress = not args.json and sys.stderr.isatty()
    results = [r.to_json() for r in proofs_check.run_all(only=args.only, progress=progress)]
    all_hold = all(bool(r["holds"]) for r in results)
    if args.json:
        text = _dumps({"claims": results, "all_hold": all_hold})
    else:
        cols = ["name", "holds", "lhs", "rhs", "margin", "instances"]
        failed = sum(not r["holds"] for r in results)
        verdict = "all hold" if all_hold else f"{failed} FAILED"
        noun = "claim" if len(results) == 1 else "claims"
        text = _table(results, cols) + f"\n\n{len(results)} {noun}: {verdict}"
    _emit(text, None)
    return EXIT_OK if all_hold else EXIT_CLAIM_FAILED


def _cmd_families(args) -> int:
    import synthetic

    info = synthetic.families_info()
    if args.json:
        _emit(_dumps(info), None)
        return EXIT_OK
    lines = []
    for f in info:
        lines.append(f"{f['name']}: {f['summary']}")
        lines.append(f"  processes: {', '.join(f['processes'])}")
        lines.append("  parameters:")
        width = max((len(p) for p in f["params"]), default=0)
        lines += [f"    {p.ljust(width)}  {d}" for p, d in f["params"].items()]
        lines.append("")
    _emit("\n".join(lines).rstrip(), None)
    return EXIT_OK


COMMANDS = {"window": _cmd_window, "check": _cmd_check, "families": _cmd_families}


def main(argv=None) -> int:
    """Run the ``localize`` command line.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 success, 1 a claim failed, 2 bad input.
    """
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    except UsageError as e:
        message = _one_line(e)
    except LocalizeError as e:
        message = _one_line(_qualify(str(e)))
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
