"""strain.py: the repair hierarchy in suggest(), and SessionStrain's recurrence and strain scores."""

from __future__ import annotations

import pytest

from rupture_detect.session.strain import MAX_SUGGESTIONS, RECUR_WINDOW, SessionStrain, suggest, wants_exploratory
from rupture_detect.taxonomy import DIMENSIONS, load_taxonomy

TAX = load_taxonomy()
OVERT_TASK_GOAL = [m.id for m in TAX.markers.values() if not m.covert and m.dimension in ("task", "goal")]
COVERT = [m.id for m in TAX.markers.values() if m.covert]
BOND = [m.id for m in TAX.markers.values() if m.dimension == "bond"]


def tiers(ids):
    return [TAX.strategies[s].tier for s in ids]


def assert_tier_first(ids, first):
    t = tiers(ids)
    assert t[0] == first, (ids, t)
    # the preferred tier forms one block at the front: no preferred strategy after the other tier
    assert t == sorted(t, key=lambda x: x != first), (ids, t)


def test_marker_groups_are_not_empty():
    assert OVERT_TASK_GOAL and COVERT and BOND
    assert {"denial", "deferential_appeasing"} <= set(COVERT)


@pytest.mark.parametrize("subtype", OVERT_TASK_GOAL)
def test_overt_task_or_goal_marker_gets_immediate_first(subtype):
    marker = TAX.markers[subtype]
    ids = suggest(subtype, marker.dimension)
    assert not wants_exploratory(subtype, marker.dimension, False)
    assert_tier_first(ids, "immediate")


def test_immediate_example():
    assert suggest("complaint_about_activities", "task") == [
        "illustrate_rationale", "change_tasks_goals", "clarify_misunderstanding", "invite_discussion"]


@pytest.mark.parametrize("subtype", BOND)
def test_bond_marker_gets_exploratory_first(subtype):
    assert_tier_first(suggest(subtype, "bond"), "exploratory")


def test_task_marker_placed_on_bond_dimension_turns_exploratory():
    """The dimension passed in (a rule may re-assign it) decides, not only the marker's default."""
    assert_tier_first(suggest("rejects_intervention", "task"), "immediate")
    assert_tier_first(suggest("rejects_intervention", "bond"), "exploratory")


@pytest.mark.parametrize("subtype", ["denial", "deferential_appeasing", "content_affect_split"])
@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_covert_marker_gets_exploratory_first_on_any_dimension(subtype, dimension):
    assert wants_exploratory(subtype, dimension, False)
    assert_tier_first(suggest(subtype, dimension), "exploratory")


@pytest.mark.parametrize("subtype", OVERT_TASK_GOAL)
def test_recurring_marker_gets_exploratory_first(subtype):
    dimension = TAX.markers[subtype].dimension
    assert_tier_first(suggest(subtype, dimension, recurring=True), "exploratory")
    assert suggest(subtype, dimension, recurring=True) != suggest(subtype, dimension, recurring=False)


def test_exploratory_suggestions_add_acknowledge_and_assertion():
    ids = suggest("denial", "bond")
    assert ids[0] == "invite_discussion"
    ids = suggest("minimal_response", "task", recurring=True)
    assert "acknowledge_contribution" in ids and "allow_assertion" in ids


@pytest.mark.parametrize("subtype", list(TAX.markers))
@pytest.mark.parametrize("dimension", DIMENSIONS)
@pytest.mark.parametrize("recurring", [False, True])
def test_link_to_patterns_never_first_and_lists_are_valid(subtype, dimension, recurring):
    ids = suggest(subtype, dimension, recurring)
    assert 1 <= len(ids) <= MAX_SUGGESTIONS
    assert len(set(ids)) == len(ids)
    assert set(ids) <= set(TAX.strategy_ids)
    assert ids[0] != "link_to_patterns"
    if "link_to_patterns" in ids:
        assert ids[-1] == "link_to_patterns"


def test_link_to_patterns_is_offered_last_when_it_fits():
    # deferential_appeasing lists link_to_patterns among its own strategies, before others
    assert "link_to_patterns" in TAX.markers["deferential_appeasing"].strategies
    assert "link_to_patterns" not in suggest("deferential_appeasing", "bond")[:3]


def test_unknown_marker_is_an_error():
    with pytest.raises(KeyError):
        suggest("not_a_marker", "bond")


# ---------------------------------------------------------------- SessionStrain

def test_no_markers_means_no_strain():
    s = SessionStrain()
    for _ in range(5):
        assert s.observe(None, None, 0.0) is False
    assert s.client_turns == 5
    assert s.scores() == {"strain_bond": 0.0, "strain_task": 0.0, "strain_goal": 0.0}


def test_empty_session_scores_zero():
    assert SessionStrain().scores() == {"strain_bond": 0.0, "strain_task": 0.0, "strain_goal": 0.0}


def test_strain_is_summed_confidence_over_client_turns():
    s = SessionStrain()
    s.observe("complaint_about_therapist", "bond", 0.9)
    s.observe(None, None, 0.2)
    s.observe("minimal_response", "task", 0.75)
    s.observe("denial", "bond", 0.6)
    s.observe(None, None, 0.0)
    s.observe(None, None, 0.0)
    assert s.client_turns == 6
    assert s.scores() == {"strain_bond": round(1.5 / 6, 4), "strain_task": round(0.75 / 6, 4), "strain_goal": 0.0}


def test_recurrence_same_subtype_or_same_dimension():
    s = SessionStrain()
    assert s.observe("minimal_response", "task", 0.7) is False        # first marker
    assert s.observe("denial", "bond", 0.6) is False                  # different subtype and dimension
    assert s.observe("minimal_response", "task", 0.7) is True         # same subtype again
    assert s.observe("complaint_about_activities", "task", 0.5) is True   # same dimension
    assert s.observe("self_criticism_hopelessness", "goal", 0.5) is False


def test_recurrence_window():
    s = SessionStrain()
    s.observe("denial", "bond", 0.6)                                 # client turn 1
    for _ in range(RECUR_WINDOW - 1):
        s.observe(None, None, 0.0)
    assert s.observe("denial", "bond", 0.6) is True                  # turn 1 + RECUR_WINDOW: still recent

    s = SessionStrain()
    s.observe("denial", "bond", 0.6)
    for _ in range(RECUR_WINDOW):
        s.observe(None, None, 0.0)
    assert s.observe("denial", "bond", 0.6) is False                 # turn 2 + RECUR_WINDOW: too long ago


def test_recurring_marker_in_a_session_changes_the_suggestions(scorer, write):
    from rupture_detect.readers.formats import read_file
    pointless = "Honestly the homework is pointless. These worksheets feel like being at school."
    t = read_file(write("s.txt", f"T: Let's try the exercise again.\nC: {pointless}\n"
                                 f"T: Shall we do the worksheet then?\nC: {pointless}\n"))[0]
    scored = scorer.score(t)
    rows, session = scored.rows, scored.session
    first, second = rows[1]["suggested_strategies"].split(";"), rows[3]["suggested_strategies"].split(";")
    assert rows[1]["subtype"] == rows[3]["subtype"] == "complaint_about_activities"
    assert TAX.strategies[first[0]].tier == "immediate"
    assert TAX.strategies[second[0]].tier == "exploratory"
    assert session["strain_task"] == pytest.approx((rows[1]["confidence"] + rows[3]["confidence"]) / 2, abs=1e-4)
