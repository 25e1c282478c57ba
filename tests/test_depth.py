"""Hierarchy depth (:mod:`proofs_check.depth`): known answers, the core as oracle, bad input.

The depths of the hand-made mixtures below are worked out by hand from Definition 4 (each
case says how); the fast point-mass path is held to :func:`localize.window_report` (the
core's exact window reports) link by link; the Gaussian paths are held to a hand-made
mixture whose hierarchy has two levels by construction, and the certified bounds to the
exact depth.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import localize
from localize.processes import OrderedMasking, RandomMasking, Truncation
from proofs_check import depth as dp
from synthetic.gaussian_mixture import gaussian_mixture
from synthetic.point_masses import point_masses

FOUR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


# --------------------------------------------------------------------------------------
# The longest chain


def test_longest_chain_on_hand_made_links():
    full = [0, 1, 2, 3]
    links = [(full, [0, 1, 2]), ([0, 1, 2], [0, 1]), ([0, 1], [0]), (full, [0, 1]),
             (full, [0])]
    assert dp.longest_chain(4, 0, links) == (3, ((0, 1, 2, 3), (0, 1, 2), (0, 1), (0,)))
    # Without the last link of the long chain only the direct one reaches {0}.
    assert dp.longest_chain(4, 0, links[:2] + links[3:]) == (1, ((0, 1, 2, 3), (0,)))
    # A chain must start at Theta: a link between smaller sets alone gives nothing.
    assert dp.longest_chain(4, 0, [([0, 1], [0])]) == (0, ())
    assert dp.longest_chain(4, 2, []) == (0, ())
    assert dp.longest_chain(1, 0, []) == (0, ((0,),))
    # Skipping a level is allowed when the level's own link is missing.
    assert dp.longest_chain(4, 0, [(full, [0, 1, 2]), ([0, 1, 2], [0])])[0] == 2


# --------------------------------------------------------------------------------------
# Point masses: hand-made answers and the core as oracle


def test_four_points_under_truncation_have_depth_two():
    # {00, 01, 10, 11}, equal weights: the first character splits Theta in two halves
    # (visible at t <= 1), the second splits each half (visible at t = 0), so the chain
    # Theta > {0x} > {00} has the windows [1, 2] and [0, 1].
    proc = Truncation(2)
    for theta in range(4):
        family = dp.prefix_family(FOUR, [0, 1], theta)
        win = dp.point_mass_windows(np.full(4, 0.25), FOUR, proc, family, 0.1)
        rep = dp.depth_from_windows(4, theta, win, 0.1)
        assert rep.depth == 2 and rep.exact
        assert rep.chain == ((0, 1, 2, 3), tuple(sorted({theta, theta ^ 1})), (theta,))
        assert rep.windows == ((1.0, 2.0), (0.0, 1.0))


def test_two_points_differing_everywhere_have_depth_one():
    # 00 and 11: the first character already decides everything, so the only chain is
    # Theta > {theta}, with the window [1, 2] (separated once one character is visible).
    x = np.array([[0, 0], [1, 1]])
    win = dp.point_mass_windows([0.5, 0.5], x, Truncation(2), dp.prefix_family(x, [0, 1], 0),
                                0.1)
    rep = dp.depth_from_windows(2, 0, win, 0.1)
    assert (rep.depth, rep.chain, rep.windows) == (1, ((0, 1), (0,)), ((1.0, 2.0),))


def test_a_large_eps_inverts_the_windows():
    # Four points, eps = 0.6 (eps^2 = 0.36). {00} is "separated" at t = 1 already (the rest
    # puts 1/3 <= 0.36 on the prefix 0), so T^C_after({00}) = 1, while TV(p^{00}, p^{0x}) =
    # 1/2 <= 0.6 at t = 0 gives T^C_before({00}, {0x}) = 0: inverted. Theta > {0x} inverts
    # the same way (TV(p^{0x}, p) = 1/2 at t = 0), and Theta > {00} has [1, 1]: depth 1.
    family = dp.prefix_family(FOUR, [0, 1], 0)
    win = dp.point_mass_windows(np.full(4, 0.25), FOUR, Truncation(2), family, 0.6)
    assert win[((0, 1, 2, 3), (0,))] == (1.0, 1.0)
    assert win[((0, 1), (0,))] == (1.0, 0.0)
    assert win[((0, 1, 2, 3), (0, 1))] == (1.0, 0.0)
    assert dp.depth_from_windows(4, 0, win, 0.6).depth == 1


@pytest.mark.parametrize("eps", [0.05, 0.3, 0.6])
def test_point_mass_windows_equal_the_window_reports(eps):
    rng = np.random.default_rng(3)
    points = dp.example7_points(3)
    weights = rng.dirichlet(np.ones(8))
    order = [2, 0, 1]
    family = sorted(set(dp.prefix_family(points, order, 0))
                    | set(dp.prefix_family(points, order, 5)))
    model = point_masses(weights, points, 2, "ordered_masking", order=order)
    fast = dp.point_mass_windows(weights, points, OrderedMasking(3, tuple(order)), family, eps)
    core = dp.report_windows(model, family, eps, [0, 1, 2, 3])
    assert fast == core
    assert len(core) == len(dp.nested_pairs(family))


# --------------------------------------------------------------------------------------
# Example 7 and the structured toy


def test_example7_depth_is_the_length():
    depths, reps = dp.example7_series(tuple(range(1, 7)), dp.EPS)
    assert depths == tuple(range(1, 7))
    for length, rep in zip(range(1, 7), reps, strict=True):
        assert rep.windows == tuple((float(length - i - 1), float(length - i))
                                    for i in range(length))
    # Every component alike (uniform weights).
    assert [r.depth for r in dp.example7_depth(5, dp.EPS, thetas=(0, 13, 31))] == [5, 5, 5]


def test_example7_depth_saturates_at_a_coarse_eps():
    # L = 9, eps = 0.1: S_9 = {theta} is "separated" once 7 coordinates are visible (the rest
    # puts (2^-7 - 2^-9) / (1 - 2^-9) < 0.01 on theta's prefix), so T^C_after = 2 > 1 =
    # T^C_before(S_9, S_8): the last link inverts; S_7 > S_9 has [2, 2], so the depth is 8.
    rep = dp.example7_depth(9, dp.EPS_COARSE)[0]
    assert rep.depth == 8
    assert [len(s) for s in rep.chain] == [512, 256, 128, 64, 32, 16, 8, 4, 1]
    assert rep.windows[-1] == (2.0, 2.0)


def test_structured_toy_depth_is_the_number_of_choices():
    toy, reps = dp.structured_depth(3)
    assert toy.texts[0] == ("1. The Pirate jumped across the ship. 2. She adopted a Dog from "
                            "the shelter. 3. The River sparkled under the sun.")
    assert math.isclose(toy.weights.sum(), 1.0)
    assert math.isclose(toy.weights[0], 0.35 * 0.6 * 0.4)
    for rep in reps:
        assert rep.depth == 3
        pos = toy.first_letter[rep.theta]
        # [LKC25] §6.1: the window of blank i runs from the prefix holding the chosen word's
        # first letter (t = L - pos - 1) to the prefix ending just before it (t = L - pos).
        assert rep.windows == tuple((float(toy.length - q - 1), float(toy.length - q))
                                    for q in pos)
    json.dumps(reps[0].to_json())


# --------------------------------------------------------------------------------------
# Gaussian mixtures


def test_two_gaussians_depth_by_closed_form():
    # N(+-mu, I): separated at t = 0 iff 2 Phi(-||mu||) <= eps^2; then Theta > {theta}.
    far = gaussian_mixture([[10.0, 0, 0], [-10.0, 0, 0]], process="ou")
    near = gaussian_mixture([[0.5, 0, 0], [-0.5, 0, 0]], process="ou")
    assert [r.depth for r in dp.gaussian_depth(far, 0.01)] == [1, 1]
    assert [r.depth for r in dp.gaussian_depth(near, 0.01)] == [0, 0]
    for model, want in ((far, 1), (near, 0)):
        for r in dp.gaussian_depth_bounds(model, 0.01):
            assert (r.depth, r.depth_upper) == (want, want)


def test_three_gaussians_with_a_planted_two_level_hierarchy():
    # m0 = 0, m1 = 20 e1 (close pair), m2 = 20000 e1 (far; collinear, so the family's exact
    # quadrature is 1-D, whose compilation is cheap). {0, 1} splits from {2} around
    # ln(20000) and 0 from 1 around ln(20): when 1/2 TV(p^0, p^1) falls to eps (t ~ 6),
    # {0, 1} is still far from {2}, and {0} no longer separated: the link {0,1} > {0} has a
    # window, so 0 and 1 have depth 2 (Theta > {0,1} > {theta}); 2 has depth 1.
    model = gaussian_mixture([[0.0, 0.0], [20.0, 0.0], [20000.0, 0.0]], process="ou")
    exact = dp.gaussian_depth(model, 0.01)
    assert [r.depth for r in exact] == [2, 2, 1]
    assert all(r.exact for r in exact)
    assert exact[0].chain == ((0, 1, 2), (0, 1), (0,))
    assert exact[2].chain == ((0, 1, 2), (2,))
    for e, b in zip(exact, dp.gaussian_depth_bounds(model, 0.01), strict=True):
        assert b.depth <= e.depth <= b.depth_upper


# --------------------------------------------------------------------------------------
# The claim


def test_claim_holds_on_small_lists_and_reports_its_numbers():
    # The K = 3 quadrature of random means is 2-D (its compilation alone costs seconds);
    # the test runs the claim's logic with the bounds there, the quadrature is tested above.
    res = dp.hierarchy_depth(None, lengths=(1, 2, 3, 4), choices=(1, 2, 3), dims=(4, 2048),
                             seeds=(0,), exact_method="bounds")
    assert res.holds, res.detail
    d = res.detail
    assert d["example7_depth_by_L"] == {"1": 1, "2": 2, "3": 3, "4": 4}
    assert d["toy_depth_by_choices"]["3"]["min_depth"] == 3
    assert d["gaussian_depth_by_d"]["K=3 (bounds)"]["2048"] == {"1": 3}
    assert d["gaussian_depth_by_d"]["K=3 (bounds)"]["4"] == {"0": 3}
    assert d["gaussian_depth_by_d"]["K=8 (bounds)"]["2048"] == {"1": 8}
    for side in ("windows_ordered_in_time", "example7_windows", "toy_windows_at_first_letters",
                 "gaussian_depth_exactly_1", "exact_inside_bounds"):
        assert d["side_checks"][side]["holds"], side
    json.dumps(res.to_json())


def test_claim_fails_when_eps_is_too_coarse_for_the_deepest_levels():
    res = dp.hierarchy_depth(None, lengths=tuple(range(1, 11)), choices=(1, 2), dims=(),
                             eps=0.1)
    assert not res.holds
    assert res.detail["worst_at"]["family"] == "example7"
    assert res.lhs == 2.0  # depth 8 at L = 10


# --------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("eps", [0.0, 1.0, -0.1, "0.1", True, float("nan")])
def test_bad_eps_is_refused(eps):
    with pytest.raises(ValueError, match="^eps:"):
        dp.example7_depth(2, eps)


def test_bad_chain_input_is_refused():
    with pytest.raises(ValueError, match="^k:"):
        dp.longest_chain(0, 0, [])
    with pytest.raises(ValueError, match="^theta:"):
        dp.longest_chain(3, 3, [])
    with pytest.raises(ValueError, match=r"^edges\[0\]:.*proper subset"):
        dp.longest_chain(3, 0, [([0, 1], [0, 2])])
    with pytest.raises(ValueError, match=r"^edges\[0\]:.*containing theta"):
        dp.longest_chain(3, 0, [([0, 1, 2], [1])])
    with pytest.raises(ValueError, match=r"^edges\[1\]\[0\]:"):
        dp.longest_chain(3, 0, [([0, 1, 2], [0]), ([0, 7], [0])])
    with pytest.raises(ValueError, match="^windows:"):
        dp.depth_from_windows(2, 0, [((0, 1), (0,))], 0.1)


def test_bad_point_mass_input_is_refused():
    fam = [(0, 1, 2, 3), (0,)]
    w = np.full(4, 0.25)
    with pytest.raises(ValueError, match="^process:"):
        dp.point_mass_windows(w, FOUR, RandomMasking(2), fam, 0.1)
    with pytest.raises(ValueError, match="^process.length:"):
        dp.point_mass_windows(w, FOUR, Truncation(3), fam, 0.1)
    with pytest.raises(ValueError, match="^points:"):
        dp.point_mass_windows(w, FOUR.astype(float), Truncation(2), fam, 0.1)
    with pytest.raises(ValueError, match="^weights:"):
        dp.point_mass_windows([0.5, 0.5, 0.0, 0.0], FOUR, Truncation(2), fam, 0.1)
    with pytest.raises(ValueError, match=r"^sets\[1\]:"):
        dp.point_mass_windows(w, FOUR, Truncation(2), [(0, 1), (9,)], 0.1)
    with pytest.raises(ValueError, match="^model:"):
        dp.report_windows("not a model", fam, 0.1, [0, 1, 2])
    with pytest.raises(ValueError, match="^choices:"):
        dp.structured_toy(len(dp.TOY_SENTENCES) + 1)
    with pytest.raises(ValueError, match="^p_first:"):
        dp.structured_toy(2, p_first=[0.5, 1.0])
    with pytest.raises(ValueError, match="^length:"):
        dp.example7_depth(0)


def test_bad_gaussian_input_is_refused():
    four = gaussian_mixture(np.eye(4) * 30.0, process="ou")
    with pytest.raises(ValueError, match="^model.components:"):
        dp.gaussian_depth(four)
    full = gaussian_mixture([[0.0, 0.0], [9.0, 0.0]], covariances=[np.eye(2), 2 * np.eye(2)])
    with pytest.raises(ValueError, match="^model.covariance:"):
        dp.gaussian_depth_bounds(full)
    with pytest.raises(ValueError, match="^model:"):
        dp.gaussian_depth(point_masses([0.5, 0.5], [[0], [1]], 2))
    with pytest.raises(ValueError, match="^thetas:"):
        dp.gaussian_depth_bounds(four, thetas=[4])
    with pytest.raises(localize.LocalizeError, match="^method:"):
        dp.gaussian_series((4,), (0,), 3, 0.01, "monte-carlo")
