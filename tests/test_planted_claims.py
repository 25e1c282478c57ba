"""Claims on planted sparse regression ([LKC25] Theorem 5, Definition 7, Theorem 6).

The claims of :mod:`proofs_check.planted` on small instances (the catalog sizes take a minute;
``localize check`` runs them), and each claim fed a corrupted input must fail: a detection
curve made decreasing, a transition that widens, a Theorem 2 verdict that is false. The
per-claim helpers take plain numbers, so the failures need no new Monte Carlo.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import localize
from localize.errors import LocalizeError
from proofs_check import planted as pp
from proofs_check.result import Tally
from synthetic.planted import PlantedRegression, detection_curve

SMALL = pp.PlantedCase(8, 2, 0.5, N=6)


@pytest.fixture(scope="module")
def small_paths():
    return pp.detection_paths(jax.random.key(3), SMALL.model(), 200)


def test_paths_reproduce_detection_curve(small_paths):
    # Same key split and draws: the per-dataset integrands average to detection_curve's values.
    _, tv, se = detection_curve(jax.random.key(3), SMALL.model(), 200)
    ours, ours_se = pp.curve_from_paths(*small_paths)
    np.testing.assert_allclose(ours, tv, atol=1e-12)
    np.testing.assert_allclose(ours_se, se, rtol=1e-9, atol=1e-15)


def test_monotone_holds_and_paired_se_is_sharper(small_paths):
    result = pp.check_monotone((SMALL,), 200, seed=1)
    assert result.holds, result.to_json()
    assert result.name == "planted_detection_monotone" and result.instances == SMALL.N
    num = pp.monotone_numbers(*small_paths)
    # Common random numbers: the paired error of a difference is below the naive sum.
    assert np.all(num["se_diff"][1:] < num["se_sum"][1:])
    assert num["tv"][-1] > num["tv"][1] > 0.0


def test_monotone_fails_on_a_decreasing_curve(small_paths):
    hp, hq = small_paths
    tally = Tally()
    pp.add_monotone(tally, hp[::-1], hq[::-1], {"instance": "reversed"})
    result = tally.result("planted_detection_monotone", "")
    assert not result.holds and result.margin < 0


def test_window_holds_on_a_small_case():
    result, rows = pp.check_window((pp.PlantedCase(8, 2, 0.5, n_factor=3.0),), samples=200)
    assert result.holds, result.to_json()
    (row,) = rows
    assert row["theorem2_before"] is not False and row["theorem2_after"] is not False
    # The window is a window: fewer observations at T_before than at T_after.
    assert row["n_before_min"] <= row["n_before"] <= row["n_after"] <= row["n_after_max"]
    assert row["delta_min"] == pytest.approx(pp.delta_min(row["n_after_max"],
                                                          row["n_before_min"], row["n_star"]))
    assert row["delta_min"] >= row["delta_min_point"] >= 0.0
    assert "8" in result.detail["delta_min_by_s"]


def test_window_fails_on_a_false_theorem2():
    fake = {"s": 8, "k": 2, "sigma2": 0.5, "N": 11, "theorem2_before": False,
            "margin_before": -0.05, "theorem2_after": True, "margin_after": 0.1}
    tally = Tally()
    pp.add_window(tally, fake)
    assert not tally.result("theorem6_window", "").holds
    # A verdict False with a (wrongly) positive margin still fails.
    tally = Tally()
    pp.add_window(tally, {**fake, "margin_before": 0.2})
    assert not tally.result("theorem6_window", "").holds
    # Both vacuous: no case checked, so the claim does not hold either.
    tally = Tally()
    pp.add_window(tally, {**fake, "theorem2_before": None, "theorem2_after": None})
    assert not tally.result("theorem6_window", "").holds


def test_delta_min_values():
    assert pp.delta_min(10.0, 10.0, 10.0) == 0.0
    assert pp.delta_min(15.0, 8.0, 10.0) == pytest.approx(0.5)
    assert pp.delta_min(11.0, 2.0, 10.0) == pytest.approx(0.8)


def test_sharpening_holds_on_small_sizes():
    cases = tuple(pp.PlantedCase(s, 2, 0.5, n_factor=2.5) for s in (8, 32))
    result, rows = pp.check_sharpening(cases, 400, seed=5)
    assert result.holds, result.to_json()
    assert rows[0]["width"] > rows[1]["width"] > 0


def test_sharpening_fails_when_the_transition_widens():
    n = np.arange(6)
    sharp = np.array([0.0, 0.1, 0.2, 0.8, 0.9, 1.0])
    slow = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    w_sharp, w_slow = pp.transition_width(n, sharp, 2.0), pp.transition_width(n, slow, 2.0)
    assert w_sharp == pytest.approx((0.55 / 0.6 - 0.05 / 0.6) / 2)
    assert w_slow == pytest.approx((3.75 - 1.25) / 2)
    for widths in ([w_sharp, w_slow], [w_sharp, w_sharp], [w_slow, None]):
        tally = Tally()
        pp.add_sharpening(tally, widths, ["small", "large"])
        assert not tally.result("planted_sharpening", "").holds, widths
    tally = Tally()
    pp.add_sharpening(tally, [w_slow, w_sharp], ["small", "large"])
    assert tally.result("planted_sharpening", "").holds


def test_crossing_interpolates_and_may_not_exist():
    assert pp.crossing([0, 1, 2], [0.0, 0.5, 1.0], 0.25) == pytest.approx(0.5)
    assert pp.crossing([0, 1, 2], [0.0, 0.1, 0.2], 0.25) is None
    assert pp.transition_width([0, 1, 2], [0.0, 0.1, 0.2], 1.0) is None


@pytest.mark.parametrize("call, param", [
    (lambda: pp.detection_paths(jax.random.key(0), SMALL.model(), 5), "n_datasets"),
    (lambda: pp.detection_paths(jax.random.key(0), SMALL.model(), 2), "n_datasets"),
    (lambda: pp.monotone_numbers(np.zeros((3, 4)), np.zeros((4, 4))), r"\(hp, hq\)"),
    (lambda: pp.monotone_numbers(np.full((3, 4), np.nan), np.zeros((3, 4))), r"\(hp, hq\)"),
    (lambda: pp.delta_min(3.0, 1.0, 0.0), "nstar"),
    (lambda: pp.delta_min(math.nan, 1.0, 2.0), "n_after"),
    (lambda: pp.crossing([0, 1], [0.0, 0.5, 1.0], 0.5), r"\(n, tv\)"),
    (lambda: pp.transition_width([0, 1], [0.0, 1.0], -1.0), "nstar"),
    (lambda: pp.add_sharpening(Tally(), [0.5], ["one"]), "widths"),
    (lambda: pp.PlantedCase(8, 9, 0.5).model(), "k"),
])
def test_bad_input_names_the_parameter(call, param):
    with pytest.raises(LocalizeError, match=rf"^{param}:"):
        call()
    assert issubclass(LocalizeError, ValueError)


def test_claims_registry():
    assert set(pp.CLAIMS) == {"planted_detection_monotone", "theorem6_window",
                              "planted_sharpening"}
    assert all(callable(f) for f in pp.CLAIMS.values())
    assert isinstance(SMALL.model(), PlantedRegression) and localize is not None
