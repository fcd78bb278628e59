"""batch.py: expanding inputs, rosters, per-file failures, parallel scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from rupture_detect.readers.inputs import InputFile, MissingInput, ReadOptions, expand_inputs, read_roster, roles_for
from rupture_detect.readers.transcript import TranscriptError
from rupture_detect.run.batch import iter_results, score_files

GOOD = "T: How was the week?\nC: You're not listening to me. You never listen.\n"


def names(files):
    return [f.path.name for f in files]


# ---------------------------------------------------------------- expand_inputs

def test_expand_single_file_any_extension(write):
    path = write("notes.dat", GOOD)
    files, missing = expand_inputs([path])
    assert files == [InputFile(path, {}, "notes")]
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
    assert [f.path.relative_to(tmp_path / "corpus").as_posix() for f in files] == ["a.csv", "b.txt", "sub/c.vtt"]
    assert all(f.roster == {"Anna": "therapist"} for f in files)
    assert missing == []


def test_expand_glob(write, tmp_path):
    write("g/one.txt", GOOD)
    write("g/two.txt", GOOD)
    write("g/three.srt", "1\n")
    write("g/speakers.csv", "name,role\n")
    files, missing = expand_inputs([str(tmp_path / "g" / "*.txt"), str(tmp_path / "g" / "*")])
    assert names(files) == ["one.txt", "two.txt", "three.srt"]   # each file once; never speakers.csv
    assert all(f.roster == {} for f in files)
    assert missing == []
    files, missing = expand_inputs([str(tmp_path / "g" / "**" / "*.srt")])
    assert names(files) == ["three.srt"]


def test_expand_missing_inputs_are_reported_not_raised(tmp_path):
    (tmp_path / "empty").mkdir()
    files, missing = expand_inputs([tmp_path / "nope.txt", str(tmp_path / "*.zzz"), tmp_path / "empty"])
    assert files == []
    assert all(isinstance(m, MissingInput) for m in missing)
    assert [m.path for m in missing] == [str(tmp_path / "nope.txt"), str(tmp_path / "*.zzz"),
                                         str(tmp_path / "empty")]
    assert "no such file or folder" in missing[0].error
    assert "no files match" in missing[1].error
    assert "no transcript files" in missing[2].error


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
    item, = expand_inputs([tmp_path / "calls"])[0]
    path = item.path
    result, = score_files([(item, ReadOptions())], scorer)
    assert result.error is None
    assert [(r["speaker"], r["text"]) for r in result.rows] == [
        ("therapist", "Where would you like to start?"), ("client", "You never listen to me.")]
    # the same file given on its own has no roster, so the names are unknown
    alone, = score_files([(InputFile(path, {}, "c1"), ReadOptions())], scorer)
    assert alone.rows == [] and alone.sessions == []
    assert alone.error.startswith(f"{path}:3: unknown speaker 'Dr Okafor'")


# ---------------------------------------------------------------- failures and parallel runs

def test_one_bad_file_in_a_folder(write, tmp_path, scorer):
    write("f/a.txt", GOOD)
    bad = write("f/b.txt", "T: Hello.\nC: Hi.\nBob: Who?\n")
    write("f/c.csv", "session_id,turn,speaker,text\nS,7,T,How are you?\nS,8,C,Fine.\n")
    files, missing = expand_inputs([tmp_path / "f"])
    results = list(iter_results(files, ReadOptions(), scorer))
    assert [Path(r.path).name for r in results] == ["a.txt", "b.txt", "c.csv"]
    assert results[1].error.startswith(f"{bad}:3: unknown speaker 'Bob'")
    assert results[1].rows == [] and results[1].sessions == []
    assert results[0].error is None and len(results[0].rows) == 2
    assert results[2].error is None
    assert [(r["session_id"], r["turn"]) for r in results[2].rows] == [("S", 7), ("S", 8)]


def rows_of(results):
    return [(r.path, r.error, r.rows, r.sessions) for r in results]


def test_jobs_2_gives_the_same_rows_as_jobs_1(write, tmp_path, scorer):
    write("j/a.txt", GOOD)
    write("j/b.txt", "T: Let's try the exercise.\nC: I don't see how this is meant to help.\n")
    write("j/c.txt", "T: Hi.\nZed: ?\n")
    write("j/d.jsonl", '{"session_id": "x", "speaker": "T", "text": "Hi."}\n'
                       '{"session_id": "y", "speaker": "C", "text": "Hello."}\n')
    files, _ = expand_inputs([tmp_path / "j"])
    serial = rows_of(iter_results(files, ReadOptions(), scorer, jobs=1))
    parallel = rows_of(iter_results(files, ReadOptions(), scorer, jobs=2))
    assert parallel == serial
    assert [Path(p).name for p, *_ in serial] == ["a.txt", "b.txt", "c.txt", "d.jsonl"]
    assert serial[2][1] is not None and sum(len(r) for _, _, r, _ in serial) == 6


# ---------------------------------------------------------------- robustness (issue: no lost batches)

def test_the_same_file_through_a_symlinked_folder_is_scored_once(write, tmp_path):
    write("real/s1.txt", GOOD)
    (tmp_path / "real" / "loop").symlink_to(tmp_path / "real")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    files, missing = expand_inputs([str(tmp_path / "**" / "*.txt"), tmp_path / "real", tmp_path / "alias"])
    assert len(files) == 1 and missing == []


def test_same_file_name_in_two_folders_gives_two_session_ids(write, tmp_path, scorer):
    write("sites/a/s1.txt", GOOD)
    write("sites/b/s1.txt", GOOD)
    files, _ = expand_inputs([tmp_path / "sites"])
    assert [f.name for f in files] == ["a/s1", "b/s1"]
    results = list(iter_results(files, ReadOptions(), scorer))
    assert [r.sessions[0]["session_id"] for r in results] == ["a/s1", "b/s1"]
    assert {r["session_id"] for r in results[1].rows} == {"b/s1"}


def test_session_ids_colliding_across_tables_are_qualified_with_a_warning(write, tmp_path, scorer):
    table = "session_id,speaker,text\nS,T,How was it?\nS,C,Fine.\n"
    write("x/one.csv", table)
    write("x/two.csv", table)
    files, _ = expand_inputs([tmp_path / "x"])
    first, second = iter_results(files, ReadOptions(), scorer)
    assert first.sessions[0]["session_id"] == "S"
    new = second.sessions[0]["session_id"]
    assert new != "S" and new.endswith(":S") and "two" in new
    assert {r["session_id"] for r in second.rows} == {new}
    assert "used by another input" in second.warnings[0]


class _Exploding:
    """A scorer that fails on one session, as an unforeseen bug would."""

    def __init__(self, inner, bad):
        self.inner, self.bad = inner, bad

    def score_many(self, transcripts):
        if any(t.session_id == self.bad for t in transcripts):
            raise RuntimeError("boom")
        return self.inner.score_many(transcripts)

    def score(self, transcript):
        return self.score_many([transcript])[0]


def test_a_session_that_fails_to_score_is_left_out_alone(write, tmp_path, scorer):
    write("m/big.csv", "session_id,speaker,text\nA,T,Hi.\nA,C,Hello.\nB,T,Hi.\nB,C,Hey.\nC,T,So.\nC,C,Well.\n")
    write("m/other.txt", GOOD)
    files, _ = expand_inputs([tmp_path / "m"])
    big, other = iter_results(files, ReadOptions(), _Exploding(scorer, "B"))
    assert [s["session_id"] for s in big.sessions] == ["A", "C"]
    assert {r["session_id"] for r in big.rows} == {"A", "C"}
    assert big.error is None and len(big.errors) == 1
    assert big.errors[0].startswith(f"{tmp_path / 'm' / 'big.csv'}: session B: could not be scored")
    assert other.sessions and not other.problems()


def test_a_bad_roster_is_reported_with_file_and_line(write, tmp_path):
    write("r/speakers.csv", b"name,role\nAnna,therapist\nB\x80b,client\n")
    write("r/a.txt", GOOD)
    files, missing = expand_inputs([tmp_path / "r"])
    assert files == [] and "speakers.csv:3: cannot decode" in missing[0].error
    write("r2/speakers.csv", "name,role\nAnna,boss\n")
    with pytest.raises(TranscriptError, match=r"speakers.csv:2: role must be one of"):
        read_roster(tmp_path / "r2" / "speakers.csv")


def _big_table(n_sessions=12, turns=6, interleave=False):
    rows = [(s, u) for u in range(turns) for s in range(n_sessions)] if interleave else \
        [(s, u) for s in range(n_sessions) for u in range(turns)]
    lines = ["session_id,turn,speaker,text"]
    for s, u in rows:
        text = "How was the week?" if u % 2 == 0 else ("I'm fine." if s % 3 else "You never listen to me.")
        lines.append(f"S{s:02d},{u + 1},{'T' if u % 2 == 0 else 'C'},{text}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("interleave", [False, True])
def test_one_big_table_is_scored_in_session_batches_identically_for_any_jobs(write, tmp_path, scorer, monkeypatch,
                                                                              interleave):
    import rupture_detect.run.batch as batch
    monkeypatch.setattr(batch, "BATCH_UTTERANCES", 10)           # several batches from one file
    path = write("big.csv", _big_table(interleave=interleave))
    files, _ = expand_inputs([path])
    serial = list(iter_results(files, ReadOptions(), scorer, jobs=1))
    parallel = list(iter_results(files, ReadOptions(), scorer, jobs=2))
    def flat(results):
        return [r for res in results for r in res.rows]
    assert flat(parallel) == flat(serial)
    assert len(flat(serial)) == 72
    if interleave:          # interleaved sessions: one result, rows in input order
        assert len(serial) == 1
        assert [r["session_id"] for r in flat(serial)][:13] == [f"S{s:02d}" for s in range(12)] + ["S00"]
    else:                   # contiguous sessions: streamed as they are scored, one result per batch
        assert len(serial) > 1 and all(res.path == str(path) for res in serial)
        assert [s["session_id"] for res in serial for s in res.sessions] == [f"S{s:02d}" for s in range(12)]


def test_a_folder_of_small_files_is_scored_in_batches_of_many_files(tmp_path, monkeypatch, scorer):
    """One model call per batch of about BATCH_UTTERANCES utterances, not one per file; rows as per file."""
    import rupture_detect.run.batch as batch
    monkeypatch.setattr(batch, "BATCH_UTTERANCES", 12)
    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(9):                       # nine files of four utterances: three batches of three files
        (folder / f"s{i}.txt").write_text("T: How was the week?\nC: You never listen to me.\n"
                                          "T: Say more?\nC: Fine.\n")
    calls = []
    real = batch.score_batch
    monkeypatch.setattr(batch, "score_batch", lambda ts, scorer=None: calls.append(len(ts)) or real(ts, scorer))
    files, _ = expand_inputs([folder])
    results = list(iter_results(files, ReadOptions(), scorer))
    assert calls == [3, 3, 3]
    assert [Path(r.path).name for r in results] == [f"s{i}.txt" for i in range(9)]
    assert all(len(r.rows) == 4 and {row["session_id"] for row in r.rows} == {f"s{i}"}
               for i, r in enumerate(results))
