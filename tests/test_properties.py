"""Property tests (hypothesis): any input gives a result or the project's own error, never another exception.

Every reader gets arbitrary text shaped like its format (and arbitrary bytes);
read-then-score runs the rules-only scorer on whatever was read; a table with
one bad row in one session still scores every session. The example budget is
fixed so CI stays fast and runs are reproducible (``derandomize``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rupture_detect.readers.formats import read_file
from rupture_detect.readers.inputs import InputFile, ReadOptions
from rupture_detect.readers.transcript import ReadLog, TranscriptError, parse_time
from rupture_detect.run.batch import score_files

BUDGET = settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SPEAKERS = st.sampled_from(["T", "C", "Therapist", "Client", "", "Bob", "t", "C ", "3"])
WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
TIMES = st.one_of(st.just(""), st.sampled_from(["00:00:01", "00:09:025", "99:99", "-1", "inf", "nan", "1e300",
                                                  "12:34", "0:00:00.5"]), WORDS)


def _read(name: str, data: bytes, strict: bool = False):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        log = ReadLog(path, strict=strict)
        try:
            transcripts = read_file(path, log=log)
        except TranscriptError as err:
            assert str(err).startswith(str(path))          # located: names the file
            return None, log.warnings
        return transcripts, log.warnings


def _lines(draw_rows, sep: str) -> str:
    return "\n".join(sep.join(r) for r in draw_rows)


text_lines = st.lists(st.tuples(st.one_of(st.just(""), TIMES), SPEAKERS, WORDS), max_size=12).map(
    lambda rows: "\n".join(f"{t} {s}: {w}" if s else w for t, s, w in rows))
table_rows = st.lists(st.tuples(st.sampled_from(["a", "b", ""]), SPEAKERS, WORDS, TIMES), max_size=12)
jsonl_values = st.recursive(st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), WORDS),
                            lambda kids: st.lists(kids, max_size=3) | st.dictionaries(WORDS, kids, max_size=3),
                            max_leaves=8)


@BUDGET
@given(body=text_lines)
def test_text_reader_never_raises_anything_else(body):
    transcripts, _ = _read("s.txt", body.encode("utf-8"))
    assert transcripts is None or all(t.utterances for t in transcripts)


@BUDGET
@given(rows=table_rows, sep=st.sampled_from([",", "\t"]))
def test_table_readers_never_raise_anything_else(rows, sep):
    header = sep.join(["session_id", "speaker", "text", "start"])
    body = header + "\n" + "\n".join(sep.join(r) for r in rows)
    _read("s.csv" if sep == "," else "s.tsv", body.encode("utf-8"))


@BUDGET
@given(objs=st.lists(st.one_of(
    st.fixed_dictionaries({"speaker": SPEAKERS, "text": jsonl_values, "start": jsonl_values}), jsonl_values),
    max_size=8))
def test_jsonl_reader_never_raises_anything_else(objs):
    body = "\n".join(json.dumps(o) for o in objs)
    _read("s.jsonl", body.encode("utf-8"))


@BUDGET
@given(cues=st.lists(st.tuples(TIMES, TIMES, SPEAKERS, WORDS), max_size=8), vtt=st.booleans())
def test_caption_readers_never_raise_anything_else(cues, vtt):
    blocks = [f"{i + 1}\n{a} --> {b}\n{s}: {w}" for i, (a, b, s, w) in enumerate(cues)]
    body = ("WEBVTT\n\n" if vtt else "") + "\n\n".join(blocks)
    _read("s.vtt" if vtt else "s.srt", body.encode("utf-8"))


@BUDGET
@given(data=st.binary(max_size=300), ext=st.sampled_from(["txt", "csv", "tsv", "jsonl", "vtt", "srt", "dat"]))
def test_any_bytes_give_a_result_or_a_located_error(data, ext):
    _read(f"s.{ext}", data)


@BUDGET
@given(value=st.one_of(WORDS, st.floats(), st.integers(), st.none()))
def test_parse_time_gives_a_possible_time_none_or_valueerror(value):
    try:
        t = parse_time(value)
    except ValueError:
        return
    assert t is None or 0 <= t <= 48 * 3600


@BUDGET
@given(rows=table_rows)
def test_read_then_score_gives_rows_or_reported_errors(rows, scorer):
    body = "session_id,speaker,text,start\n" + "\n".join(",".join(r) for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.csv"
        path.write_text(body, encoding="utf-8")
        result, = score_files([(InputFile(path, {}, "s"), ReadOptions())], scorer)
    if result.error is None:
        assert len({s["session_id"] for s in result.sessions}) == len(result.sessions)
        assert not result.errors
    else:
        assert result.error.startswith(str(path)) and not result.rows


@BUDGET
@given(bad_session=st.integers(0, 4), bad_value=st.sampled_from(["00:09:025", "soon", "-3", "inf", "25:99:00"]),
       strict=st.booleans())
def test_one_bad_row_in_one_session_never_costs_the_others(bad_session, bad_value, strict, scorer):
    lines = ["session_id,speaker,text,start"]
    for s in range(5):
        for u in range(4):
            stamp = bad_value if (s, u) == (bad_session, 2) else f"00:00:{u * 5:02d}"
            lines.append(f"s{s},{'T' if u % 2 == 0 else 'C'},Turn {u} of session {s}.,{stamp}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result, = score_files([(InputFile(path, {}, "table"), ReadOptions(strict=strict))], scorer)
    if strict:
        assert result.error.startswith(f"{path}:{2 + bad_session * 4 + 2}:") and not result.sessions
    else:
        assert [s["session_id"] for s in result.sessions] == [f"s{i}" for i in range(5)]
        assert len(result.rows) == 20 and len(result.warnings) == 1


@pytest.mark.parametrize("ext", ["txt", "csv", "jsonl", "vtt"])
def test_property_helpers_do_catch_foreign_exceptions(ext, monkeypatch):
    """The harness itself can fail: an exception other than TranscriptError escapes ``_read``."""
    import rupture_detect.readers.formats as formats

    def broken(*a, **k):
        raise KeyError("not ours")
    monkeypatch.setattr(formats, "_read_as", broken)
    with pytest.raises(KeyError):
        _read(f"s.{ext}", b"T: hi\n")
