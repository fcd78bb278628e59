"""output.py: TableWriter round-trips through pandas, and writes atomically."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from rupture_detect.writers.tables import TableWriter, write_table

COLUMNS = ["session_id", "turn", "speaker", "text", "confidence", "start"]
ROWS = [
    {"session_id": "s1", "turn": 1, "speaker": "therapist", "text": "Hello, there.", "confidence": None,
     "start": 1.5},
    {"session_id": "s1", "turn": 2, "speaker": "client", "text": 'She said "no".\nTwo lines.',
     "confidence": 0.75, "start": None, "not_a_column": "dropped"},
]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_csv_round_trip(tmp_path):
    path = tmp_path / "out" / "t.csv"           # parent folder is created
    with TableWriter(path, COLUMNS, "csv") as w:
        w.write(ROWS[:1])
        w.write([])
        w.write(ROWS[1:])
    assert w.rows_written == 2
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(df.columns) == COLUMNS
    assert df.to_dict("records") == [
        {"session_id": "s1", "turn": "1", "speaker": "therapist", "text": "Hello, there.", "confidence": "",
         "start": "1.5"},
        {"session_id": "s1", "turn": "2", "speaker": "client", "text": 'She said "no".\nTwo lines.',
         "confidence": "0.75", "start": ""}]
    assert leftovers(path.parent) == []


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [dict(ROWS[0], confidence=float("nan")), ROWS[1]]
    with TableWriter(path, COLUMNS, "jsonl") as w:
        w.write(rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first) == COLUMNS                 # only the declared columns, in order
    assert first["confidence"] is None            # NaN written as null, not as invalid JSON
    df = pd.read_json(path, lines=True)
    assert list(df.columns) == COLUMNS
    assert df["text"].tolist() == ["Hello, there.", 'She said "no".\nTwo lines.']
    assert df["turn"].tolist() == [1, 2]
    assert df["confidence"].isna().tolist() == [True, False]
    assert leftovers(tmp_path) == []


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "t.parquet"
    with TableWriter(path, COLUMNS, "parquet") as w:
        w.write([ROWS[0], dict(ROWS[1], turn="t2")])   # turn ids may be numbers or text
    df = pd.read_parquet(path)
    assert list(df.columns) == COLUMNS
    assert df["turn"].tolist() == ["1", "t2"]
    assert df["text"].tolist() == ["Hello, there.", 'She said "no".\nTwo lines.']
    assert df["start"].iloc[0] == 1.5 and pd.isna(df["start"].iloc[1])
    assert pd.isna(df["confidence"].iloc[0]) and df["confidence"].iloc[1] == 0.75
    assert leftovers(tmp_path) == []


def test_parquet_batches_with_different_turn_types(tmp_path):
    path = tmp_path / "t.parquet"
    full = [dict(r, confidence=0.5, start=1.0) for r in ROWS]
    with TableWriter(path, COLUMNS, "parquet") as w:
        w.write([full[0]])
        w.write([dict(full[1], turn="t2")])
    assert w.rows_written == 2
    assert pd.read_parquet(path)["turn"].tolist() == ["1", "t2"]


def test_parquet_column_empty_in_first_batch_then_filled(tmp_path):
    """A column that is all-empty in the first file (e.g. no end times) and filled in a later one.

    Parquet fixes the schema at the first write, so streaming callers declare numeric columns."""
    path = tmp_path / "t.parquet"
    with TableWriter(path, COLUMNS, "parquet", types={"start": "float"}) as w:
        w.write([dict(ROWS[0], start=None)])
        w.write([dict(ROWS[1], start=3.0)])
    df = pd.read_parquet(path)
    assert pd.isna(df["start"].iloc[0])
    assert df["start"].iloc[1] == 3.0


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_no_rows_still_writes_a_readable_table(tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    with TableWriter(path, COLUMNS, fmt):
        pass
    assert path.exists()
    if fmt == "csv":
        assert list(pd.read_csv(path).columns) == COLUMNS
    elif fmt == "parquet":
        df = pd.read_parquet(path)
        assert list(df.columns) == COLUMNS and len(df) == 0
    else:
        assert path.read_text() == ""


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_exception_inside_with_leaves_nothing(tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    with pytest.raises(RuntimeError, match="boom"):
        with TableWriter(path, COLUMNS, fmt) as w:
            w.write(ROWS)
            assert leftovers(tmp_path) != []      # rows go to a temporary file beside the target ...
            assert not path.exists()               # ... never to the target itself
            raise RuntimeError("boom")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_existing_target_untouched_on_failure(tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(b"previous results")
    with pytest.raises(KeyboardInterrupt):
        with TableWriter(path, COLUMNS, fmt) as w:
            w.write(ROWS)
            raise KeyboardInterrupt
    assert path.read_bytes() == b"previous results"
    assert leftovers(tmp_path) == []


def test_existing_target_replaced_only_on_close(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old\n")
    w = TableWriter(path, COLUMNS, "csv")
    w.write(ROWS)
    assert path.read_text() == "old\n"
    assert w.close() == path
    assert path.read_text().startswith(",".join(COLUMNS))
    assert leftovers(tmp_path) == []


def test_written_file_has_normal_permissions(tmp_path):
    path = write_table(tmp_path / "t.csv", ROWS, COLUMNS)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_unknown_format_rejected_before_any_file(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        TableWriter(tmp_path / "t.xlsx", COLUMNS, "xlsx")
    assert list(tmp_path.iterdir()) == []
