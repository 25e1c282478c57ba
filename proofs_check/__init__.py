"""The paper's claims as executable checks (``localize check``).

Each claim of Li, Karan & Chen, *Blink of an eye* (ICML 2025) [LKC25], and Lemma 15 of
Li & Chen (ICML 2024) [LC24], is a function ``claim(catalog) -> ClaimResult`` that checks an
inequality on every case of a catalog of exact instances (:mod:`proofs_check.catalog`) and
reports the worst one (:mod:`proofs_check.result`). The Gaussian claims
(:mod:`proofs_check.gaussian`) build their own exact instances and ignore the catalog.
:data:`CLAIMS` maps the stable names used by ``localize check --only NAME`` to the functions;
:func:`run_all` runs them.
"""

from __future__ import annotations

from tqdm.auto import tqdm

import localize  # noqa: F401  (float64 before any array is made)
from localize.errors import bad
from proofs_check import tables
from proofs_check.absorbing_walk import example5_absorbing
from proofs_check.catalog import Instance, default_catalog
from proofs_check.claims import (
    corollary2,
    dpi,
    lc24_lemma15,
    lemma1,
    lemma3,
    lemma4,
    lemma7,
    remark2,
    theorem2,
    theorem2_sharp_a,
    theorem2_sharp_b,
    theorem2_sharp_c,
)
from proofs_check.critical_tokens import example4, example4_finetune
from proofs_check.depth import CLAIMS as DEPTH_CLAIMS
from proofs_check.examples import example3, example5, example7
from proofs_check.gaussian import CLAIMS as GAUSSIAN_CLAIMS
from proofs_check.icl import CLAIMS as ICL_CLAIMS
from proofs_check.planted import CLAIMS as PLANTED_CLAIMS
from proofs_check.result import TOL, ClaimResult, Tally
from proofs_check.structured import CLAIMS as STRUCTURED_CLAIMS

CLAIMS = {
    "theorem2": theorem2,
    "theorem2_sharp_a": theorem2_sharp_a,
    "theorem2_sharp_b": theorem2_sharp_b,
    "theorem2_sharp_c": theorem2_sharp_c,
    "lemma1": lemma1,
    "lemma3": lemma3,
    "lemma4": lemma4,
    "lemma7": lemma7,
    "remark2": remark2,
    "dpi": dpi,
    "lc24_lemma15": lc24_lemma15,
    "corollary2": corollary2,
    "example3": example3,
    "example4": example4,
    "example4_finetune": example4_finetune,
    "example5": example5,
    "example7": example7,
    "example5_absorbing": example5_absorbing,
    # Gaussian mixtures under diffusion ([LKC25] §4.1, §5): their own exact instances.
    **GAUSSIAN_CLAIMS,
    # Hierarchy depth ([LKC25] §5) and sequence models (§4.2, §6.1): their own instances.
    **DEPTH_CLAIMS,
    **STRUCTURED_CLAIMS,
    **ICL_CLAIMS,
    # The all-or-nothing planted signal ([LKC25] §4.2.2, Theorems 5-6).
    **PLANTED_CLAIMS,
}


def run_all(only: str | None = None, progress: bool = False, catalog=None) -> list[ClaimResult]:
    """Run the claims on the catalog.

    Args:
        only: the name of one claim (a key of :data:`CLAIMS`), or ``None`` for all of them.
        progress: show a progress bar over the claims.
        catalog: the instances (default: :func:`proofs_check.catalog.default_catalog`).

    Returns:
        One :class:`ClaimResult` per claim, in the order of :data:`CLAIMS`.

    Raises:
        LocalizeError: when ``only`` is not the name of a claim (the message names ``--only``
            and lists the valid names).
    """
    if only is not None and only not in CLAIMS:
        raise bad("--only", only, f"one of {', '.join(CLAIMS)}")
    names = list(CLAIMS) if only is None else [only]
    if catalog is None:
        catalog = default_catalog()
    if progress:
        # The exact tables are the heavy part: compute them first, with their own bar.
        heavy = [i for i in catalog if i.roles & {"general", "example3", "example7", "corollary2"}]
        heavy += [i.twin for i in heavy if i.twin is not None and "corollary2" in i.roles]
        for inst in tqdm(heavy, desc="instances", leave=False):
            tables.compute(inst)
    results = []
    for name in tqdm(names, desc="claims", disable=not progress, leave=False):
        results.append(CLAIMS[name](catalog))
    return results


__all__ = [
    "CLAIMS",
    "TOL",
    "ClaimResult",
    "Instance",
    "Tally",
    "default_catalog",
    "run_all",
]
