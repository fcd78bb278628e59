"""sinks.py: where a run's results go (tables in a folder, DataFrames in memory)."""

from __future__ import annotations

import pandas as pd

from rupture_detect.run.batch import FileResult
from rupture_detect.writers.sinks import FrameSink, TableSink


def test_a_session_that_cannot_be_written_is_left_out_of_every_table(tmp_path):
    ok = {"session_id": "A", "utterances": 1}
    bad = {"session_id": "B", "utterances": "not a number"}
    rows = [{"session_id": s, "turn": 1, "speaker": "client", "text": "hi", "marker": "none"} for s in "AB"]
    with TableSink(tmp_path, "parquet", charts=False) as sink:
        errors = sink.add(FileResult("f.csv", rows=rows, sessions=[ok, bad]))
    assert len(errors) == 1 and errors[0].startswith("f.csv: session B: could not be written")
    assert pd.read_parquet(tmp_path / "utterances.parquet")["session_id"].tolist() == ["A"]
    assert pd.read_parquet(tmp_path / "sessions.parquet")["session_id"].tolist() == ["A"]


def test_frame_sink_collects_tables_with_their_columns():
    sink = FrameSink()
    rows = [{"session_id": "A", "turn": 1, "speaker": "client", "text": "hi", "marker": "none"}]
    assert sink.add(FileResult("f.csv", rows=rows, sessions=[{"session_id": "A"}], warnings=["w"])) == []
    frames = sink.frames()
    assert frames["rows"]["text"].tolist() == ["hi"] and "confidence" in frames["rows"]
    assert frames["sessions"]["session_id"].tolist() == ["A"] and sink.warnings == ["w"]
    assert list(frames["episodes"].columns) and frames["episodes"].empty
