"""api.py: score() on DataFrames and paths, the pipeline and the rules-only scorer."""

from __future__ import annotations

import pandas as pd
import pytest

import rupture_detect
from rupture_detect import Scores, score
from rupture_detect.readers.formats import read_file
from rupture_detect.run.scoring import SESSION_COLUMNS, UTTERANCE_COLUMNS
from rupture_detect.taxonomy import load_taxonomy

CONTRACT = ["session_id", "turn", "speaker", "text", "marker", "subtype", "dimension", "confidence",
            "p_marker", "evidence", "evidence_spans", "suggested_strategies", "start", "end"]

DIALOGUE = pd.DataFrame({
    "speaker": ["T", "C", "T", "C", "T", "C", "T", "C"],
    "text": ["How has the week been?", "I went to the shop twice this week, and it went better than I expected.",
             "What was that like for you?",
             "It was strange at first, but I talked to my sister about it and felt calmer.",
             "Let's try the breathing exercise again.",
             "Honestly the homework is pointless. These worksheets feel like being at school.",
             "Could you say more?", "You're not listening to me. You never listen."],
})
GOOD = "T: How was the week?\nC: You're not listening to me. You never listen.\n"


def test_pipeline_is_blank_english_with_the_rupture_components(nlp):
    assert nlp.lang == "en"
    assert nlp.pipe_names == ["sentencizer", "lemmatizer", "dialogue_acts", "repair_strategies", "rupture_markers"]
    doc = nlp("They were walking. Then they stopped.")
    assert len(list(doc.sents)) == 2
    assert doc[1].lemma_ == "be"


def test_rules_only_scorer_rows(scorer, write):
    t = read_file(write("s.txt", "T: Let's try the breathing exercise again.\n"
                                 "C: Honestly the homework is pointless. These worksheets feel like being at school.\n"
                                 "Interpreter: (translates)\n"))[0]
    scored = scorer.score(t)
    rows, session = scored.rows, scored.session
    assert scorer.model is None
    # the typed result keeps evidence structured; the writer derives the evidence_spans column from it
    assert [list(r) for r in rows] == [[c for c in UTTERANCE_COLUMNS if c != "evidence_spans"]] * 3
    therapist, client, other = rows
    assert therapist["marker"] == "" and therapist["confidence"] is None
    assert other["speaker"] == "other" and other["marker"] == ""
    assert (client["marker"], client["subtype"], client["dimension"]) == (
        "confrontation", "complaint_about_activities", "task")
    assert 0.5 <= client["confidence"] <= 1
    assert "pointless" in client["evidence"].format()
    assert session["utterances"] == 3 and session["client_turns"] == 1 and session["therapist_turns"] == 1
    assert session["confrontation"] == session["flagged"] == session["n_complaint_about_activities"] == 1


def test_score_dataframe():
    result = score(DIALOGUE, model=None)
    assert isinstance(result, Scores)
    assert result.errors == []
    u, s = result.utterances, result.sessions
    assert list(u.columns) == CONTRACT == UTTERANCE_COLUMNS
    assert list(s.columns) == SESSION_COLUMNS
    assert len(u) == len(DIALOGUE) and len(s) == 1
    assert u["text"].tolist() == DIALOGUE["text"].tolist()
    assert u["turn"].tolist() == list(range(1, 9))
    assert u["speaker"].tolist() == ["therapist", "client"] * 4
    assert u["marker"].tolist() == ["", "none", "", "none", "", "confrontation", "", "confrontation"]
    assert u.loc[5, "subtype"] == "complaint_about_activities" and u.loc[5, "dimension"] == "task"
    assert u.loc[7, "subtype"] == "complaint_about_therapist" and u.loc[7, "dimension"] == "bond"
    assert u.loc[7, "suggested_strategies"].split(";")[0] == "acknowledge_contribution"
    assert u.loc[5, "suggested_strategies"].split(";")[0] == "illustrate_rationale"
    assert result.flagged().index.tolist() == [5, 7]
    row = s.iloc[0]
    assert (row["utterances"], row["client_turns"], row["therapist_turns"]) == (8, 4, 4)
    assert (row["flagged"], row["withdrawal"], row["confrontation"]) == (2, 0, 2)
    assert sum(row[f"n_{m}"] for m in load_taxonomy().marker_ids) == 2
    for dim in ("bond", "task", "goal"):
        expected = float(u.loc[u["dimension"] == dim, "confidence"].sum()) / 4
        assert row[f"strain_{dim}"] == pytest.approx(expected, abs=1e-4)
    assert row["strain_bond"] > 0 and row["strain_task"] > 0 and row["strain_goal"] == 0


def test_score_dataframe_with_its_own_ids_columns_and_speaker_values():
    df = pd.DataFrame({"conv": ["a", "a", "b", "b"], "n": [10, 11, 1, 2], "who": ["doc", "pt", "doc", "pt"],
                       "said": ["Hi.", "Hello.", "Again.", "You never listen."]})
    result = score(df, columns={"session_id": "conv", "turn": "n", "speaker": "who", "text": "said"},
                   speakers={"doc": "therapist"}, model=None)
    u = result.utterances
    assert list(zip(u["session_id"], u["turn"], u["speaker"])) == [
        ("a", 10, "therapist"), ("a", 11, "client"), ("b", 1, "therapist"), ("b", 2, "client")]
    assert result.sessions["session_id"].tolist() == ["a", "b"]


def test_score_dataframe_bad_row_raises_with_row_number():
    df = pd.DataFrame({"speaker": ["T", "Q"], "text": ["Hi.", "Hello."]})
    with pytest.raises(ValueError, match=r":2: unknown speaker 'Q'"):
        score(df, model=None)


def test_session_and_turn_from_file_name_or_from_input(write, tmp_path):
    write("in/first_session.txt", GOOD)
    write("in/table.csv", "session_id,turn,speaker,text\nS-9,41,T,Hi.\nS-9,43,C,Fine.\n")
    write("in/no_ids.csv", "speaker,text\nT,Hi.\nC,Fine.\nT,Good.\n")
    u = score(tmp_path / "in", model=None).utterances
    assert list(zip(u["session_id"], u["turn"])) == [
        ("first_session", 1), ("first_session", 2),
        ("no_ids", 1), ("no_ids", 2), ("no_ids", 3),
        ("S-9", 41), ("S-9", 43)]


def test_input_order_of_files_preserved(write):
    b = write("b.txt", GOOD)
    a = write("a.txt", "C: Fine.\nT: Okay.\nC: Really.\n")
    u = score([b, a], model=None).utterances
    assert u["session_id"].tolist() == ["b", "b", "a", "a", "a"]
    assert u["text"].tolist() == ["How was the week?", "You're not listening to me. You never listen.",
                                  "Fine.", "Okay.", "Really."]


def test_input_order_preserved_for_interleaved_table_rows(write):
    """The contract: one output row per input utterance, in input order, even when sessions interleave."""
    path = write("mixed.csv", "session_id,turn,speaker,text\nA,1,T,a1\nB,1,T,b1\nA,2,C,a2\nB,2,C,b2\n")
    u = score(path, model=None).utterances
    assert u["text"].tolist() == ["a1", "b1", "a2", "b2"]


def test_partial_failure_is_reported_and_the_rest_scored(write, tmp_path):
    write("d/good.txt", GOOD)
    bad = write("d/bad.jsonl", '{"speaker": "T", "text": "Hi."}\n{oops}\n')
    result = score([tmp_path / "d", tmp_path / "missing.txt"], model=None)
    assert result.errors[0].startswith(f"{tmp_path / 'missing.txt'}: no such file")
    assert len(result.errors) == 1
    assert result.warnings == [f"{bad}:2: malformed JSON (Expecting property name enclosed in double quotes); "
                               "row skipped"]
    assert result.utterances["session_id"].unique().tolist() == ["bad", "good"]     # folder order
    assert result.sessions["session_id"].tolist() == ["bad", "good"]
    with pytest.raises(ValueError, match=rf"{bad}:2: malformed JSON"):
        score(bad, model=None, strict=True)


def test_nothing_scored_raises(write):
    bad = write("bad.txt", "Zed: hi\n")
    with pytest.raises(ValueError, match=rf"^{bad}:1: unknown speaker"):
        score(bad, model=None)


def test_therapist_name_for_captions(write):
    path = write("call.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAnna: Hello.\n\n"
                             "00:00:03.000 --> 00:00:04.000\nBen: You never listen.\n")
    u = score(path, therapist="Anna", model=None).utterances
    assert u["speaker"].tolist() == ["therapist", "client"]
    assert u["start"].tolist() == [1.0, 3.0] and u["end"].tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="unknown speaker 'Anna'"):
        score(path, model=None)


def test_jobs_2_same_rows_as_jobs_1(write, tmp_path):
    write("j/a.txt", GOOD)
    write("j/b.txt", "T: Let's try it.\nC: I don't see how this is meant to help.\n")
    write("j/c.csv", "session_id,turn,speaker,text\nx,1,T,Hi.\nx,2,C,Fine.\n")
    one = score(tmp_path / "j", model=None, jobs=1)
    two = score(tmp_path / "j", model=None, jobs=2)
    pd.testing.assert_frame_equal(one.utterances, two.utterances)
    pd.testing.assert_frame_equal(one.sessions, two.sessions)
    assert len(one.utterances) == 6


def test_threshold_does_not_leak_into_later_calls(nlp):
    pipe = nlp.get_pipe("rupture_markers")
    original = pipe.threshold
    df = DIALOGUE.iloc[4:6]
    try:
        assert score(df, model=None).utterances["marker"].tolist() == ["", "confrontation"]
        assert score(df, model=None, threshold=0.99).utterances["marker"].tolist() == ["", "none"]
        assert score(df, model=None).utterances["marker"].tolist() == ["", "confrontation"]
    finally:
        pipe.threshold = original


def test_public_api_exports():
    for name in ("score", "Scores", "make_scorer", "build_pipeline", "load_pipeline", "load_taxonomy"):
        assert hasattr(rupture_detect, name)


def test_score_of_a_dataframe_gives_the_cli_rows(tmp_path, monkeypatch):
    """One scoring run: the table scored from Python and by the CLI gives the same rows, in batches."""
    from click.testing import CliRunner

    import rupture_detect.run.batch as batch
    from rupture_detect.cli import main
    monkeypatch.setattr(batch, "BATCH_UTTERANCES", 8)           # several batches, as a big table has
    lines = ["session_id,turn,speaker,text"]
    for s in range(6):
        for u, (who, text) in enumerate([("T", "How was the week?"), ("C", "You never listen to me."),
                                         ("T", "Say more?"), ("C", "Fine.")]):
            lines.append(f"S{s},{u + 1},{who},{text}")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    calls = []
    real = batch.score_batch
    monkeypatch.setattr(batch, "score_batch", lambda ts, scorer=None: calls.append(len(ts)) or real(ts, scorer))
    frame = score(pd.read_csv(path, dtype=str), model=None).utterances
    assert len(calls) == 3                                          # one model call per batch of sessions
    result = CliRunner().invoke(main, ["score", str(path), "-o", str(tmp_path / "out"), "--rules-only", "-q"])
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(tmp_path / "out" / "utterances.csv", dtype=str, keep_default_na=False)
    cols = ["session_id", "turn", "speaker", "text", "marker", "subtype", "dimension", "evidence"]
    assert frame[cols].astype(str).values.tolist() == cli[cols].values.tolist()
