"""The rule files: strict validation, and each of the 14 markers with positive and hard-negative cases.

Each case is a two-turn exchange (therapist, then client) scored by the rules
alone, so the context gates (invitation vs closed question, negation, engaged
disagreement, exploring) are exercised as they are in real scoring.
"""

from __future__ import annotations

import json

import pytest

from rupture_detect.decisions import RuleHit
from rupture_detect.nlp.rules import load_rules, parse_rule
from rupture_detect.readers.transcript import Transcript, make_utterance
from rupture_detect.taxonomy import DataFileError, marker_ids


def exchange(scorer, therapist: str, client: str):
    """Rules-only decision (family, subtype, dimension, evidence) for the client's reply."""
    t = Transcript("case", "<test>", [make_utterance("case", 1, "therapist", therapist),
                                      make_utterance("case", 2, "client", client)])
    rows = scorer.score(t).rows
    r = rows[1]
    return r["marker"], r["subtype"], r["dimension"], r["evidence"].format()


POSITIVE = [
    ("denial", "It sounds like that really hurt when she didn't call.", "I'm fine. It doesn't bother me."),
    ("denial", "You seem upset today.", "It's nothing, honestly. It's in the past."),
    ("minimal_response", "What was that like for you, seeing him again?", "Dunno."),
    ("minimal_response", "It sounds like part of you was relieved.", "Maybe."),
    ("abstract_communication", "How did you feel when he said that?",
     "Well, people tend to react to criticism in all sorts of ways, it's human nature really."),
    ("abstract_communication", "What happens for you when she shouts?", "One tends to just get on with things."),
    ("avoidant_storytelling", "How did it feel telling your dad about the diagnosis?",
     "Anyway, did I tell you about the new neighbours? They've got this enormous dog."),
    ("deferential_appeasing", "I wonder whether the homework felt too much this week.",
     "Oh, whatever you think is best. You're the expert."),
    ("deferential_appeasing", "Shall we try the exposure step again?", "You know best, I'll do whatever you say."),
    ("content_affect_split", "What happened after the crash?",
     "[laughs] I ended up in hospital for a week, it was ridiculous really."),
    ("self_criticism_hopelessness", "What got in the way of trying it?",
     "What's the point. Nothing will change, I'm hopeless."),
    ("complaint_about_therapist", "Let's come back to your mum.",
     "You're not listening to me. You don't get it at all."),
    ("complaint_about_therapist", "How have things been?", "My last therapist actually gave me tools."),
    ("rejects_intervention", "I wonder if you're angry with me, like you were with your father.",
     "No, that's not it. That's a stretch."),
    ("complaint_about_activities", "Did you manage the thought record?",
     "Honestly the homework is pointless. These worksheets feel like being at school."),
    ("complaint_about_parameters", "We'll need to stop there for today.",
     "Fifty minutes is nothing. And why do I have to pay for missed sessions?"),
    ("complaint_about_progress", "How do you feel the sessions are going?",
     "We're going round in circles. Six weeks and nothing has changed."),
    ("defends_self", "I noticed the diary wasn't done again.", "I'm not avoiding it. I've been busy, that's not fair."),
    ("control_pressure", "What do you think might help?", "Just tell me what to do. Stop asking me questions."),
]


@pytest.mark.parametrize("subtype, therapist, client", POSITIVE, ids=[p[0] for p in POSITIVE])
def test_marker_positive(scorer, subtype, therapist, client):
    family, got, dimension, evidence = exchange(scorer, therapist, client)
    assert got == subtype, (family, got, evidence)
    assert family in ("withdrawal", "confrontation") and dimension in ("bond", "task", "goal")
    assert evidence, "a flagged turn carries the rule ids that fired"


def test_every_marker_has_a_positive_case():
    assert {p[0] for p in POSITIVE} == set(marker_ids())


HARD_NEGATIVE = [
    ("closed question answered briefly", "Did you go to the appointment on Tuesday?", "Yes."),
    ("closed question answered no", "Have you taken the tablets this week?", "No."),
    ("engaged disagreement", "It sounds like you were angry with her.",
     "I'm not sure that's quite it. I think it's more that I felt left out."),
    ("anger about someone outside the room", "What happened at work?",
     "My manager just doesn't listen. He never does, and I was furious, I went home and cried."),
    ("explored self-criticism", "What goes through your mind when you make a mistake?",
     "I notice that voice straight away, the part of me that says I'm useless. I think that's where it comes from."),
    ("ordinary scheduling talk", "Is the same time next week still okay?", "Yes, Thursday at four works for me."),
    ("negated complaint", "How are you finding the breathing exercises?", "I don't think they're pointless, actually."),
    ("engaged elaboration", "What was it like going back to the shop?",
     "Scary at first, but I stayed until the anxiety came down, like we practised, and I was proud of that."),
    ("reported criticism", "How did the visit go?", "Mum said I'm hopeless, as usual, but I let it wash over me."),
]


@pytest.mark.parametrize("case, therapist, client", HARD_NEGATIVE, ids=[h[0] for h in HARD_NEGATIVE])
def test_hard_negative_not_flagged(scorer, case, therapist, client):
    family, subtype, _, evidence = exchange(scorer, therapist, client)
    assert family == "none", (subtype, evidence)


def test_same_short_answer_depends_on_the_question(scorer):
    assert exchange(scorer, "Did you go?", "Dunno.")[0] == "none"
    assert exchange(scorer, "How was it, going back there?", "Dunno.")[1] == "minimal_response"


def test_a_backchannel_is_not_a_minimal_response_even_after_an_invitation(scorer):
    assert exchange(scorer, "How was it, going back there?", "Yeah.")[0] == "none"


def test_asr_question_without_question_mark_is_an_invitation(scorer):
    assert exchange(scorer, "so um how did you feel when she left", "dunno")[1] == "minimal_response"


def test_a_rule_matching_overlapping_phrases_counts_once(nlp):
    doc = nlp("Just tell me what to do.")          # CTL-01 matches three overlapping phrases
    assert len(doc.spans["rupture_markers"]) == 3
    assert doc._.rupture.confidence == 0.6
    assert doc._.rupture.evidence == (RuleHit("CTL-01", "Just tell me what to do", 0, 23),)


def test_rule_ids_travel_into_evidence(scorer):
    *_, evidence = exchange(scorer, "Let's look at the plan.", "Just tell me what to do.")
    assert 'CTL-01 "' in evidence


def test_packaged_rule_files_load_and_cover_every_marker():
    rules = load_rules("marker")
    assert {r.label for r in rules} == set(marker_ids())
    assert len({r.id for r in rules}) == len(rules)
    assert load_rules("act")


@pytest.mark.parametrize("bad, message", [
    ({"id": "X", "marker": "sulking", "phrases": ["hm"]}, "not one of"),
    ({"id": "X", "marker": "denial", "phrases": ["hm"], "colour": "red"}, "unknown keys"),
    ({"id": "X", "marker": "denial"}, "exactly one of"),
    ({"id": "X", "marker": "denial", "phrases": ["hm"], "weight": 1.5}, "weight"),
    ({"id": "X", "marker": "denial", "phrases": ["hm"], "when": {"after": ["shouting"]}}, "unknown acts"),
    ({"id": "X", "marker": "denial", "check": "vibes"}, "unknown check"),
    ({"id": "X", "marker": "denial", "phrases": ["hm"], "dimension": "spirit"}, "dimension"),
    ({"id": "X", "marker": "denial", "phrases": ["hm"], "suppress": ["sarcasm"]}, "modifier"),
])
def test_rule_validation_is_strict(bad, message):
    with pytest.raises(DataFileError, match=message):
        parse_rule(bad, "rules.jsonl:1", "marker")


def test_rule_file_errors_name_the_line(tmp_path):
    good = {"id": "A-1", "marker": "denial", "phrases": ["i'm fine"]}
    path = tmp_path / "rules.jsonl"
    path.write_text(json.dumps(good) + "\n" + "{not json\n")
    with pytest.raises(DataFileError, match=r"rules.jsonl:2"):
        load_rules("marker", path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(DataFileError, match="duplicate rule id"):
        load_rules("marker", path)
