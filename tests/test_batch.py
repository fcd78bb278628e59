"""batch.py: expanding inputs, rosters, per-file failures, parallel scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from rupture_detect.batch import (FileResult, ReadOptions, expand_inputs, iter_results, read_roster,
                                  roles_for, score_files)
from rupture_detect.transcript import TranscriptError

GOOD = "T: How was the week?\nC: You're not listening to me. You never listen.\n"


def names(files):
    return [p.name for p, _ in files]


# ---------------------------------------------------------------- expand_inputs

def test_expand_single_file_any_extension(write):
    path = write("notes.dat", GOOD)
    files, missing = expand_inputs([path])
    assert files == [(path, {})]
    assert missing == []


def test_expand_several_files_keeps_the_given_order(write):
    b, a = write("b.txt", GOOD), write("a.txt", GOOD)
    files, missing = expand_inputs([str(b), str(a)])
    assert names(files) == ["b.txt", "a.txt"]
    assert missing == []


def test_expand_folder_is_recursive_sorted_and_skips_non_transcripts(write, tmp_path):
    write("corpus/b.txt", GOOD)
    write("corpus/a.csv", "speaker,text\nT,Hi.\n")
    write("corpus/sub/c.vtt", "WEBVTT\n")
    write("corpus/readme.md", "# not a transcript")
    write("corpus/.hidden.txt", GOOD)
    write("corpus/.cache/x.txt", GOOD)
    write("corpus/speakers.csv", "name,role\nAnna,therapist\n")
    files, missing = expand_inputs([tmp_path / "corpus"])
    assert [p.relative_to(tmp_path / "corpus").as_posix() for p, _ in files] == ["a.csv", "b.txt", "sub/c.vtt"]
    assert all(roster == {"Anna": "therapist"} for _, roster in files)
    assert missing == []


def test_expand_glob(write, tmp_path):
    write("g/one.txt", GOOD)
    write("g/two.txt", GOOD)
    write("g/three.srt", "1\n")
    write("g/speakers.csv", "name,role\n")
    files, missing = expand_inputs([str(tmp_path / "g" / "*.txt"), str(tmp_path / "g" / "*")])
    assert names(files) == ["one.txt", "two.txt", "one.txt", "three.srt", "two.txt"]   # never speakers.csv
    assert all(roster == {} for _, roster in files)
    assert missing == []
    files, missing = expand_inputs([str(tmp_path / "g" / "**" / "*.srt")])
    assert names(files) == ["three.srt"]


def test_expand_missing_inputs_are_reported_not_raised(tmp_path):
    (tmp_path / "empty").mkdir()
    files, missing = expand_inputs([tmp_path / "nope.txt", str(tmp_path / "*.zzz"), tmp_path / "empty"])
    assert files == []
    assert all(isinstance(m, FileResult) for m in missing)
    assert [m.path for m in missing] == [str(tmp_path / "nope.txt"), str(tmp_path / "*.zzz"),
                                         str(tmp_path / "empty")]
    assert "no such file or folder" in missing[0].error
    assert "no files match" in missing[1].error
    assert "no transcript files" in missing[2].error
    assert all(m.rows == [] and m.sessions == [] for m in missing)


# ---------------------------------------------------------------- rosters and roles

def test_read_roster(write):
    path = write("roster.csv", "\ufeffname,role\n Dr Okafor ,therapist\nPriya, client\n,other\n")
    assert read_roster(path) == {"Dr Okafor": "therapist", "Priya": "client"}


def test_read_roster_header_in_any_case(write):
    """The header check accepts 'Name, Role' (case and spaces ignored), so its rows must be read too."""
    path = write("roster.csv", "Name, Role\nDr Okafor,therapist\nPriya,client\n")
    assert read_roster(path) == {"Dr Okafor": "therapist", "Priya": "client"}


def test_read_roster_needs_name_and_role(write):
    path = write("roster.csv", "who,role\nAnna,therapist\n")
    with pytest.raises(TranscriptError) as info:
        read_roster(path)
    assert str(info.value).startswith(f"{path}:1: ")


def test_roles_for_precedence():
    roles = roles_for(ReadOptions(speakers={"Ben": "other", "Cara": "therapist"}, therapists=("Cara", "Dan")),
                      {"Ben": "client", "Anna": "therapist"})
    assert roles.resolve("Anna") == "therapist"      # from the folder roster
    assert roles.resolve("Ben") == "other"           # explicit --speaker beats the roster
    assert roles.resolve("Dan") == "therapist"       # --therapist
    assert roles.resolve("Eve") == "client"          # with --therapist, other names are clients
    no_therapist = roles_for(ReadOptions(), {"Anna": "therapist"})
    assert no_therapist.resolve("Eve") is None


def test_folder_roster_is_applied(write, tmp_path, scorer):
    write("calls/speakers.csv", "name,role\nDr Okafor,therapist\nPriya,client\n")
    write("calls/c1.srt", ("1\n00:00:01,000 --> 00:00:02,000\nDr Okafor: Where would you like to start?\n\n"
                           "2\n00:00:03,000 --> 00:00:04,000\nPriya: You never listen to me.\n"))
    (path, roster), = expand_inputs([tmp_path / "calls"])[0]
    result, = score_files([(path, roster, ReadOptions())], scorer)
    assert result.error is None
    assert [(r["speaker"], r["text"]) for r in result.rows] == [
        ("therapist", "Where would you like to start?"), ("client", "You never listen to me.")]
    # the same file given on its own has no roster, so the names are unknown
    alone, = score_files([(path, {}, ReadOptions())], scorer)
    assert alone.rows == [] and alone.sessions == []
    assert alone.error.startswith(f"{path}:3: unknown speaker 'Dr Okafor'")


# ---------------------------------------------------------------- failures and parallel runs

def test_one_bad_file_in_a_folder(write, tmp_path, scorer):
    write("f/a.txt", GOOD)
    bad = write("f/b.txt", "T: Hello.\nC: Hi.\nBob: Who?\n")
    write("f/c.csv", "session_id,turn,speaker,text\nS,7,T,How are you?\nS,8,C,Fine.\n")
    files, missing = expand_inputs([tmp_path / "f"])
    results = list(iter_results(files, ReadOptions(), model_spec=None))
    assert [Path(r.path).name for r in results] == ["a.txt", "b.txt", "c.csv"]
    assert results[1].error.startswith(f"{bad}:3: unknown speaker 'Bob'")
    assert results[1].rows == [] and results[1].sessions == []
    assert results[0].error is None and len(results[0].rows) == 2
    assert results[2].error is None
    assert [(r["session_id"], r["turn"]) for r in results[2].rows] == [("S", 7), ("S", 8)]


def rows_of(results):
    return [(r.path, r.error, r.rows, r.sessions) for r in results]


def test_jobs_2_gives_the_same_rows_as_jobs_1(write, tmp_path):
    write("j/a.txt", GOOD)
    write("j/b.txt", "T: Let's try the exercise.\nC: I don't see how this is meant to help.\n")
    write("j/c.txt", "T: Hi.\nZed: ?\n")
    write("j/d.jsonl", '{"session_id": "x", "speaker": "T", "text": "Hi."}\n'
                       '{"session_id": "y", "speaker": "C", "text": "Hello."}\n')
    files, _ = expand_inputs([tmp_path / "j"])
    serial = rows_of(iter_results(files, ReadOptions(), model_spec=None, jobs=1))
    parallel = rows_of(iter_results(files, ReadOptions(), model_spec=None, jobs=2))
    assert parallel == serial
    assert [Path(p).name for p, *_ in serial] == ["a.txt", "b.txt", "c.txt", "d.jsonl"]
    assert serial[2][1] is not None and sum(len(r) for _, _, r, _ in serial) == 6
