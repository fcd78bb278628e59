"""Episodes, outcomes, strategy detection, therapist factors, segments and charts (rules only)."""

from __future__ import annotations

import pytest

from rupture_detect.learn.strategy_model import StrategyDetector
from rupture_detect.readers.transcript import Transcript, make_utterance
from rupture_detect.session.segments import assign, significance
from rupture_detect.writers.charts import timeline


def transcript(*turns, times=None):
    utts = []
    for i, (speaker, text) in enumerate(turns):
        utts.append(make_utterance("s1", i + 1, speaker, text, start=None if times is None else times[i]))
    return Transcript("s1", "<test>", utts)


REPAIRED = transcript(
    ("therapist", "It sounds like the week was hard."),
    ("client", "Just tell me what to do. Stop asking me questions."),
    ("therapist", "I'm sorry, I think I pushed too hard there. How did that land for you?"),
    ("client", "It felt like you were lecturing me, and I got annoyed, to be honest, because I already feel stupid."),
    ("therapist", "Thank you for telling me. I'd rather you told me."),
    ("client", "Okay. I can try to say what I need instead."),
)
UNREPAIRED = transcript(
    ("therapist", "What was it like when she left?"),
    ("client", "Dunno."),
    ("therapist", "Let's get back to the homework as I was saying, you should have done the diary."),
    ("client", "Whatever. I don't care about that."),
    ("therapist", "How did the diary go?"),
    ("client", "Dunno."),
)


def test_repaired_rupture_is_one_resolved_episode_with_detected_strategies(scorer):
    scored = scorer.score(REPAIRED)
    assert len(scored.episodes) == 1
    ep = scored.episodes[0]
    assert (ep["turn"], ep["subtype"], ep["prev_therapist_turn"], ep["response_turn"]) == (2, "control_pressure", 1, 3)
    assert "acknowledge_contribution" in ep["response_strategies"].split(";")
    assert 'STR-AC-01 "' in ep["response_evidence"]
    assert ep["strategy_fit"] == "suggested"
    assert ep["outcome"] == "resolved" and ep["next_client_turns"] == "4;6"
    assert scored.session["episodes"] == 1 and scored.session["resolution_rate"] == 1.0


def test_marker_that_keeps_coming_back_is_unresolved_with_therapist_factors(scorer):
    scored = scorer.score(UNREPAIRED)
    assert len(scored.episodes) == 1, "recurrences stay inside the episode"
    ep = scored.episodes[0]
    assert ep["recurrences"] == 2
    assert ep["outcome"] == "unresolved" and ep["outcome_reason"].startswith("marker recurs")
    assert set(ep["therapist_factors"].split(";")) >= {"critical", "presses_agenda"}
    assert scored.session["tf_critical"] == 1 and scored.session["tf_presses_agenda"] == 1


def test_session_without_markers_has_no_episodes(scorer):
    clean = transcript(("therapist", "Did you go on Tuesday?"), ("client", "Yes."),
                       ("therapist", "How was it?"), ("client", "Better than I expected, I stayed the whole time."))
    scored = scorer.score(clean)
    assert scored.episodes == [] and scored.session["resolution_rate"] is None


def test_silence_from_timestamps_is_a_therapist_factor(scorer):
    t = transcript(("therapist", "How are you?"), ("client", "Not great, honestly."),
                   ("therapist", "Mm."), times=[0.0, 3.0, 40.0])
    assert scorer.score(t).session["tf_silence"] == 1


def test_repeating_a_rejected_interpretation(scorer):
    t = transcript(("therapist", "I wonder if you are angry with your father and bringing that anger here."),
                   ("client", "No, that's not it. That's a stretch."),
                   ("therapist", "But I still wonder whether the anger at your father comes here."))
    assert scorer.score(t).session["tf_repeats_rejected"] == 1


@pytest.mark.parametrize("text, expected", [
    ("Coming back to what you said about your sister, can we stay with that?", "redirect_refocus"),
    ("It makes sense that you'd want to protect yourself. Take your time.", "validate_defensive_posture"),
    ("I wonder if this is the same pattern as with your dad.", "link_to_patterns"),
])
def test_strategy_rules_positive(nlp, text, expected):
    doc = nlp(text)
    ids, evidence = StrategyDetector().detect([doc])[0]
    assert expected in ids and evidence


@pytest.mark.parametrize("text", ["Did you go to the appointment?", "Same time next week then.",
                                  "Tell me about your weekend."])
def test_strategy_rules_negative(nlp, text):
    assert StrategyDetector().detect([nlp(text)])[0] == ([], "")


def test_segments_from_timestamps_and_from_turn_windows(scorer):
    utts = transcript(*[("therapist" if i % 2 == 0 else "client", "Okay.") for i in range(6)],
                      times=[0, 100, 200, 310, 400, 650]).utterances
    assert assign(utts) == ([1, 1, 1, 2, 2, 3], True)
    untimed = transcript(*[("client", "Okay.")] * 5).utterances
    assert assign(untimed, turns=2) == ([1, 1, 2, 2, 3], False)
    scored = scorer.score(UNREPAIRED)
    assert len(scored.segments) == 1 and scored.segments[0]["withdrawal_significance"] == 5
    assert scored.segments[0]["n_minimal_response"] >= 2 and scored.segments[0]["start"] is None


@pytest.mark.parametrize("confidences, client_turns, escalated, expected", [
    ([], 10, False, 1), ([0.4], 10, False, 2), ([0.9], 10, False, 3), ([0.9], 10, True, 4),
    ([0.9, 0.5], 10, False, 4), ([0.5, 0.5, 0.5], 10, False, 5), ([0.9, 0.9], 6, False, 5),
])
def test_significance_scale(confidences, client_turns, escalated, expected):
    assert significance(confidences, client_turns, escalated) == expected


def test_timeline_chart_written_as_png_and_svg(scorer, tmp_path):
    scored = scorer.score(REPAIRED)
    paths = timeline("s1", scored.rows, scored.episodes, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert "<svg" in svg and "confrontation" in svg and "repair: resolved" in svg
