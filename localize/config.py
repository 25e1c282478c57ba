"""The TOML configuration of ``localize window`` (one experiment of [LKC25] §3).

A config has three tables and an optional fourth::

    [model]                      # family = "..." and that family's parameters
    family = "finite"
    alphabet = 2
    length = 3
    weights = [0.5, 0.3, 0.2]
    pmfs = [[...], [...], [...]]

    [process]
    kind = "truncation"          # or "ordered_masking" (with order = [...]) or "random_masking"

    [experiment]
    s_init = [0]
    s_target = [0, 1]
    eps = 0.1
    times = [0, 1, 2, 3]         # or an inline table {start = 0, stop = 1, num = 101}

    [estimate]                   # optional: Monte Carlo budget of continuous models
    samples = 100000             # outer samples per time and curve (>= 2)
    inner_samples = 64           # inner samples of the forward-reverse densities (>= 2)
    seed = 0                     # the same seed gives the same numbers

This module only reads and type-checks the file; it knows no family. The values of the
model's parameters are checked by the family that builds the model, and the sets, ``eps``
and the times against the model by :func:`localize.window_report`. Every problem raises a
:class:`localize.ConfigError` whose message names the key (``experiment.eps``) and what was
expected, which the command line prints as one ``error:`` line.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping

import numpy as np

from localize.continuous import EstimateConfig
from localize.errors import ConfigError

TABLES = ("model", "process", "experiment")
OPTIONAL_TABLES = ("estimate",)
ESTIMATE_KEYS = ("samples", "inner_samples", "seed")
# Budgets beyond these are typos (samples = 1e12 would never finish).
MAX_SAMPLES = 10**9
MAX_INNER_SAMPLES = 10**6
PROCESS_KEYS = ("kind", "order")
EXPERIMENT_KEYS = ("s_init", "s_target", "eps", "times")
TIME_GRID_KEYS = ("start", "stop", "num")
# A grid spec may not ask for more points than this (a typo like num = 1e9 would hang).
MAX_TIMES = 100_000


def _fail(key: str, value, expected: str) -> ConfigError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ConfigError(f"{key}: expected {expected}, got {shown}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """A parsed ``localize window`` configuration.

    Attributes:
        family: the registered family name (``model.family``).
        model_params: the other keys of ``[model]``, passed to the family's builder.
        process: ``process.kind``.
        order: ``process.order`` (a permutation of the coordinates) or ``None``.
        s_init: component indices of ``S_init``, or a sub-population name (``"all"``, or
            one the family defines, e.g. ``"signal"``).
        s_target: component indices of ``S_target``, or a sub-population name.
        eps: the error parameter in (0, 1).
        times: strictly increasing times, as floats.
        source: where the config came from (a path, or ``"<string>"``).
        estimate: the ``[estimate]`` table as an :class:`EstimateConfig`, or ``None`` when
            absent (the defaults of :class:`EstimateConfig` then apply).
    """

    family: str
    model_params: dict
    process: str
    order: list | None
    s_init: list | str
    s_target: list | str
    eps: float
    times: list
    source: str = "<string>"
    estimate: EstimateConfig | None = None


def _check_keys(table: Mapping, prefix: str, allowed, required) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{prefix}.{key}: unknown key; expected one of {', '.join(allowed)}"
            )
    for key in required:
        if key not in table:
            raise ConfigError(f"{prefix}.{key}: missing; expected a value for this key")


def _index_list(key: str, value) -> list | str:
    expected = "a non-empty list of component indices (integers), or a sub-population name"
    if isinstance(value, str) and value:
        # A name ("all", or one the family defines); the family resolves it.
        return value
    if not isinstance(value, list) or not value:
        raise _fail(key, value, expected)
    if not all(_is_int(i) for i in value):
        raise _fail(key, value, expected)
    return list(value)


def _times(value) -> list:
    key = "experiment.times"
    if isinstance(value, Mapping):
        _check_keys(value, key, TIME_GRID_KEYS, TIME_GRID_KEYS)
        start, stop, num = value["start"], value["stop"], value["num"]
        for name, v in (("start", start), ("stop", stop)):
            if not _is_number(v) or not math.isfinite(v):
                raise _fail(f"{key}.{name}", v, "a finite number")
        if not _is_int(num) or not 1 <= num <= MAX_TIMES:
            raise _fail(f"{key}.num", num, f"an integer in 1..{MAX_TIMES}")
        if num > 1 and not stop > start:
            raise _fail(f"{key}.stop", stop, f"a number greater than start = {start!r}")
        return np.linspace(float(start), float(stop), num).tolist()
    expected = "a non-empty list of numbers or a table {start, stop, num}"
    if not isinstance(value, list) or not value:
        raise _fail(key, value, expected)
    if not all(_is_number(t) for t in value):
        raise _fail(key, value, expected)
    times = [float(t) for t in value]
    if not all(math.isfinite(t) for t in times):
        raise _fail(key, value, "finite times (no NaN or inf)")
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise _fail(key, value, "strictly increasing times")
    return times


def _estimate(table: Mapping) -> EstimateConfig:
    _check_keys(table, "estimate", ESTIMATE_KEYS, ())
    defaults = EstimateConfig()
    values = {}
    for key, lo, hi in (("samples", 2, MAX_SAMPLES), ("inner_samples", 2, MAX_INNER_SAMPLES),
                        ("seed", 0, 2**63 - 1)):
        v = table.get(key, getattr(defaults, key))
        if not _is_int(v) or not lo <= v <= hi:
            raise _fail(f"estimate.{key}", v, f"an integer in {lo}..{hi}")
        values[key] = v
    return EstimateConfig(**values)


def _family_keys(spec) -> tuple[tuple, tuple]:
    """``(allowed, required)`` model keys from a ``families`` entry (see parse_config)."""
    if isinstance(spec, Mapping):
        params = tuple(spec.get("params", ()))
        required = spec.get("required")
        return params, params if required is None else tuple(required)
    return tuple(spec), ()


def parse_config(data: Mapping, source: str = "<string>", families=None) -> WindowConfig:
    """Check the structure and types of a config already read from TOML.

    Args:
        data: the TOML document as a dictionary.
        source: where it came from, for :attr:`WindowConfig.source`.
        families: optional mapping from family name to either its parameter names (any may
            be given, none is required here) or a mapping ``{"params": [...], "required":
            [...]}`` like the entries of ``synthetic.families_info()`` (``required`` ``None``
            means every parameter); when given, the family and the keys of ``[model]`` are
            checked against it here (the command line passes the registry of
            :mod:`synthetic`).

    Returns:
        A :class:`WindowConfig`.

    Raises:
        ConfigError: naming the first bad key.
    """
    if not isinstance(data, Mapping):
        raise _fail("config", data, "a TOML document")
    for key, value in data.items():
        if key not in TABLES + OPTIONAL_TABLES:
            raise ConfigError(f"{key}: unknown table; expected the tables {', '.join(TABLES)} "
                              f"and optionally {', '.join(OPTIONAL_TABLES)}")
        if not isinstance(value, Mapping):
            raise _fail(key, value, f"a table [{key}]")
    for key in TABLES:
        if key not in data:
            raise ConfigError(f"{key}: missing table; expected a [{key}] table")
    model, process, experiment = (data[k] for k in TABLES)

    if "family" not in model:
        raise ConfigError("model.family: missing; expected the name of a registered family")
    family = model["family"]
    if not isinstance(family, str):
        raise _fail("model.family", family, "a family name (a string)")
    params = {k: v for k, v in model.items() if k != "family"}
    if families is not None:
        if family not in families:
            raise _fail("model.family", family, f"one of {', '.join(sorted(families))}")
        params_allowed, params_required = _family_keys(families[family])
        _check_keys(model, "model", ("family",) + params_allowed,
                    ("family",) + params_required)

    _check_keys(process, "process", PROCESS_KEYS, ("kind",))
    kind = process["kind"]
    if not isinstance(kind, str):
        raise _fail("process.kind", kind, "a process name (a string)")
    order = process.get("order")
    if order is not None and (
        not isinstance(order, list) or not all(_is_int(i) for i in order)
    ):
        raise _fail("process.order", order, "a list of coordinate indices (integers)")

    _check_keys(experiment, "experiment", EXPERIMENT_KEYS, EXPERIMENT_KEYS)
    s_init = _index_list("experiment.s_init", experiment["s_init"])
    s_target = _index_list("experiment.s_target", experiment["s_target"])
    eps = experiment["eps"]
    if not _is_number(eps) or not 0.0 < eps < 1.0:
        raise _fail("experiment.eps", eps, "a number in (0, 1)")
    times = _times(experiment["times"])
    estimate = _estimate(data["estimate"]) if "estimate" in data else None
    return WindowConfig(family, params, kind, order, s_init, s_target, float(eps), times, source,
                        estimate)


def load_config(path, families=None) -> WindowConfig:
    """Read and check a TOML config file.

    Args:
        path: the file.
        families: see :func:`parse_config`.

    Returns:
        A :class:`WindowConfig`.

    Raises:
        ConfigError: for a missing or unreadable file, malformed TOML, or a bad key.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config: expected an existing TOML file, got {str(path)!r} "
                          "(no such file)") from None
    except IsADirectoryError:
        msg = f"config: expected a TOML file, got the directory {str(path)!r}"
        raise ConfigError(msg) from None
    except OSError as e:
        raise ConfigError(f"config: cannot read {str(path)!r} ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config: expected UTF-8 TOML in {str(path)!r}, got undecodable "
                          "bytes") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config: expected valid TOML in {str(path)!r}, got a syntax error: "
                          f"{e}") from None
    return parse_config(data, str(path), families)
