"""The registry of toy distributions: each family builds a :class:`localize.Model` by name.

A family registers a builder with :func:`register`; ``build("finite", ...)`` and the CLI's
``[model]`` table go through here, and ``localize families`` prints :func:`families_info`.
Adding a distribution means writing one module with a builder and one ``register`` call.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from localize.errors import bad
from localize.model import Model


@dataclasses.dataclass(frozen=True)
class Family:
    """A registered family.

    Attributes:
        name: the name used in configs (``family = "..."``).
        builder: ``builder(process=..., order=..., **params) -> Model``.
        params: parameter name -> one-line description.
        processes: names of the observation processes the family supports.
        summary: one line on what it is and which example of the paper it serves.
        required: the parameters that must be given; ``None`` means all of ``params``.
    """

    name: str
    builder: Callable[..., Model]
    params: dict
    processes: tuple
    summary: str
    required: tuple | None = None


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family to the registry (its name must be new)."""
    if family.name in FAMILIES:
        raise bad("family", family.name, "a name not registered yet")
    FAMILIES[family.name] = family
    return family


def build(family: str, *, process: str | None = None, order=None, **params) -> Model:
    """Build a model of a registered family.

    Args:
        family: a registered name (see :func:`families_info`).
        process: the observation process's name, one of the family's ``processes``
            (``"truncation"``, ``"ordered_masking"``, ``"random_masking"``, or the Gaussian
            channels ``"ou"``, ``"ve"``, ``"channel"``).
        order: the masking order for ``ordered_masking``.
        **params: the family's parameters.

    Returns:
        The model.

    Raises:
        LocalizeError: for an unknown family, an unsupported process, unknown or missing
            parameters, or bad values.
    """
    if family not in FAMILIES:
        raise bad("model.family", family, f"one of {sorted(FAMILIES)}")
    fam = FAMILIES[family]
    if process is None:
        process = fam.processes[0]
    if process not in fam.processes:
        raise bad("process.kind", process, f"one of {list(fam.processes)} for family {family}")
    unknown = sorted(set(params) - set(fam.params))
    if unknown:
        raise bad(f"model.{unknown[0]}", params[unknown[0]],
                  f"a parameter of {family}: {sorted(fam.params)}")
    required = fam.params if fam.required is None else fam.required
    missing = sorted(p for p in required if p not in params)
    if missing:
        raise bad(f"model.{missing[0]}", None, f"a value (required by {family})")
    return fam.builder(process=process, order=order, **params)


def families_info() -> list[dict]:
    """Every family with its parameters and supported processes, for ``localize families``."""
    return [
        {"name": f.name, "summary": f.summary, "params": dict(f.params),
         "processes": list(f.processes),
         "required": list(f.params if f.required is None else f.required)}
        for f in FAMILIES.values()
    ]
