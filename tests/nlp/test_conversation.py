"""conversation.py: backchannels, fragments, client units, gates; and how the scorer uses them."""

from __future__ import annotations

import pytest

from rupture_detect.nlp.conversation import (
    client_units,
    gate,
    is_backchannel,
    is_closed_answer,
    is_cut_off,
    talk_style,
)
from rupture_detect.readers.transcript import Transcript, make_utterance


@pytest.mark.parametrize("text", ["Mm-hmm.", "Yeah.", "Right.", "Okay.", "Sure.", "Exactly.", "Yeah, yeah.",
                                  "Uh-huh", "Okay. [laughs]", "Oh, I see.", "Mm."])
def test_backchannels(text):
    assert is_backchannel(text)


@pytest.mark.parametrize("text", ["Fine.", "I guess.", "Dunno.", "Whatever.", "No.", "Yeah, but it's pointless.",
                                  "", "Okay okay okay okay okay."])
def test_not_backchannels(text):
    assert not is_backchannel(text)


def test_closed_answers_and_cut_offs():
    assert is_closed_answer("No, not really.") and is_closed_answer("Twice.") and is_closed_answer("10")
    assert not is_closed_answer("No, and I'm sick of being asked.")
    assert is_cut_off("I'm not some--") and is_cut_off("it was -") and not is_cut_off("well-known")


def test_units_join_pieces_across_practitioner_backchannels_and_dashes():
    speakers = ["therapist", "client", "therapist", "client", "therapist", "client", "client", "therapist", "client"]
    texts = ["What brings you in?", "My GP sent me, I'm not some--", "Mm-hmm.", "--some alcoholic.",
             "So what would you like to change?", "Yeah.", "-- nothing, really.", "Okay, so let's look at that.",
             "Fine."]
    units = client_units(speakers, texts)
    assert [u.pieces for u in units] == [(1, 3), (5, 6), (8,)]
    assert [u.context for u in units] == [0, 4, 7]


def test_a_client_backchannel_does_not_join_without_a_dash():
    speakers = ["therapist", "client", "therapist", "client"]
    units = client_units(speakers, ["Here's the plan.", "Okay.", "Mm.", "I don't think I can do that."])
    assert [u.pieces for u in units] == [(1,), (3,)]


def test_join_pieces():
    from rupture_detect.nlp.conversation import join_pieces
    assert join_pieces(["it's not like I'm--", "--I'm an alcoholic."]) == "it's not like I'm an alcoholic."
    assert join_pieces(["Well, my GP sent me -", "- about the liver."]) == "Well, my GP sent me about the liver."
    assert join_pieces(["I went there", "and it was shut."]) == "I went there and it was shut."


def test_gate():
    assert gate(["Yeah."], frozenset({"open_question"})) == "backchannel"
    assert gate(["No, not really."], frozenset({"closed_question", "question"})) == "answer to a closed question"
    assert gate(["No, not really."], frozenset({"open_question", "closed_question"})) is None
    assert gate(["Yeah.", "-- nothing, really."], frozenset()) is None
    assert gate(["Whatever."], frozenset({"open_question"})) is None


def test_talk_style_tells_verbatim_from_textbook():
    verbatim = talk_style(["therapist", "client", "therapist", "client"],
                          ["So, um, you know, the thing is--", "Mm-hmm.", "--it's your liver.", "Yeah."])
    textbook = talk_style(["therapist", "client"], ["How was the week?", "Busy, but I managed the diary."])
    assert verbatim["talk_backchannels"] == 1.0 and verbatim["talk_fragments"] == 0.5 and verbatim["talk_fillers"] > 10
    assert textbook == {"talk_backchannels": 0.0, "talk_fragments": 0.0, "talk_fillers": 0.0, "talk_unpunctuated": 0.0}


# ---------------------------------------------------------------- through the scorer (rules and shipped model)

def transcript(lines, sid="s"):
    return Transcript(sid, "<test>", [make_utterance(sid, i + 1, who, text) for i, (who, text) in enumerate(lines)])


LECTURE = ("therapist", "You need to stop drinking now, it's dangerous and you're putting yourself at risk.")


@pytest.fixture(scope="module")
def model_scorer():
    import rupture_detect
    return rupture_detect.make_scorer()


@pytest.mark.parametrize("which", ["scorer", "model_scorer"])
@pytest.mark.parametrize("reply", ["Mm-hmm.", "Yeah.", "Okay.", "Right.", "Sure.", "Exactly."])
def test_a_backchannel_is_never_flagged_on_its_own(request, which, reply):
    s = request.getfixturevalue(which)
    for before in (LECTURE, ("therapist", "What do you make of all this?"), ("therapist", "It sounds like it hurt.")):
        rows = s.score(transcript([before, ("client", reply)])).rows
        assert rows[1]["marker"] == "none", (before, reply)


@pytest.mark.parametrize("which", ["scorer", "model_scorer"])
@pytest.mark.parametrize("reply", ["No.", "Yes, twice.", "No, not really.", "About ten."])
def test_a_short_answer_to_a_closed_question_is_never_flagged(request, which, reply):
    s = request.getfixturevalue(which)
    for question in ("Did you go on Tuesday?", "How many a day are you smoking?", "Is that right?"):
        rows = s.score(transcript([("therapist", question), ("client", reply)])).rows
        assert rows[1]["marker"] == "none", (question, reply)


@pytest.mark.parametrize("which", ["scorer", "model_scorer"])
@pytest.mark.parametrize("first, second", [
    ("Look, just tell me what to do and stop--", "--stop going on at me about it, I'm tired of all these questions."),
    ("I only have a couple at the weekend, it's not like I'm--", "--I'm an alcoholic or anything."),
])
def test_every_piece_of_a_cut_off_turn_gets_the_turn_decision(request, which, first, second):
    s = request.getfixturevalue(which)
    rows = s.score(transcript([LECTURE, ("client", first), ("therapist", "Mm-hmm."), ("client", second)])).rows
    pieces = [rows[1], rows[3]]
    keys = ("marker", "subtype", "dimension", "confidence", "evidence")
    assert tuple(pieces[0][k] for k in keys) == tuple(pieces[1][k] for k in keys)
    if which == "scorer":      # the rules see the joined words exactly as if the turn had not been cut
        whole = s.score(transcript([LECTURE, ("client", first.rstrip("-") + " " + second.lstrip("-"))])).rows[1]
        assert pieces[0]["marker"] == whole["marker"] == "confrontation"
        assert pieces[0]["subtype"] == whole["subtype"]


@pytest.mark.parametrize("which", ["scorer", "model_scorer"])
def test_a_sessions_last_turn_is_judged_like_any_other(request, which):
    s = request.getfixturevalue(which)
    turn = ("client", "Look, just tell me what to do, I'm tired of all these questions.")
    last = s.score(transcript([("therapist", "What's been on your mind this week?"), turn])).rows[1]
    followed = s.score(transcript([("therapist", "What's been on your mind this week?"), turn,
                                   ("therapist", "Okay.")])).rows[1]
    keys = ("marker", "subtype", "dimension", "confidence")
    assert tuple(last[k] for k in keys) == tuple(followed[k] for k in keys)
    assert last["marker"] == "confrontation"
