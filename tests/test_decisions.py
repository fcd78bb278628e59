"""Structured evidence: formatted for people, located for programs, read back without parsing text."""

from __future__ import annotations

import json

import rupture_detect as rd
from rupture_detect.decisions import Evidence, RuleHit, locate, read_spans


def test_evidence_formats_rules_model_and_gate():
    e = Evidence((RuleHit("DEN-01", "I'm fine", 0, 8),), 0.834, "backchannel")
    assert e.format() == 'DEN-01 "I\'m fine"; model p=0.83; gate: backchannel'
    assert Evidence().format() == "" and not Evidence()
    long = RuleHit("AVS-01", "word " * 40)
    assert Evidence((long,)).format().endswith(' …"')


def test_hits_are_located_in_the_row_text_not_only_in_the_unit():
    hit = RuleHit("CTL-01", "tell me what to do", 30, 48)
    assert locate("no, no. Honestly just, um, -- tell me what to do", hit) == (30, 48)
    piece = "--tell me what to do."                  # one piece of a joined unit: other offsets
    assert locate(piece, hit) == (2, 20)
    assert locate("I'm fine [laughs] really", RuleHit("DEN-01", "I'm fine really", 0, 15)) == (0, 24)
    assert locate("nothing like it", hit) == (None, None)


def test_to_json_round_trips_through_read_spans():
    text = "You’re the expert."
    e = Evidence((RuleHit("APP-01", "You're the expert", 0, 17),), 0.7)
    data = read_spans(e.to_json(text))
    assert data["model_p"] == 0.7 and data["gate"] is None
    (span,) = data["rules"]
    assert text[span["start"]:span["end"]] == "You’re the expert" and span["rule"] == "APP-01"
    assert Evidence().to_json(text) == "" and read_spans("") == {"rules": [], "model_p": None, "gate": None}
    assert json.loads(e.to_json(text))["rules"][0]["text"] == "You're the expert"


def test_scored_rows_carry_spans_that_point_at_the_evidence():
    frame = rd.score("sample_transcripts", model=None).utterances
    flagged = frame[frame["marker"].isin(["withdrawal", "confrontation"])]
    assert len(flagged) > 0
    located = 0
    for row in flagged.itertuples():
        data = read_spans(row.evidence_spans)
        assert {s["rule"] for s in data["rules"]} <= set(row.evidence.replace(";", " ").split()) | {""}
        for s in data["rules"]:
            if s["start"] is not None:
                located += 1
                assert row.text[s["start"]:s["end"]].lower().split()[0][:3] == s["text"].lower().split()[0][:3]
    assert located >= len(flagged) * 0.8
