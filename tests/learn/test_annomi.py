"""annomi.py: the shipped codes hold no text and no reserved transcript; the join, on a fixture written
for the project."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from rupture_detect.cli import main
from rupture_detect.learn.annomi import RESERVED, join, read_codes
from rupture_detect.readers.transcript import TranscriptError

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def codes():
    return pd.read_csv(FIXTURES / "annomi_codes.csv", dtype=str, keep_default_na=False).astype(
        {"transcript_id": int, "utterance_id": int})


def test_shipped_codes_are_ids_and_codes_only():
    codes = read_codes()
    assert list(codes.columns) == ["transcript_id", "utterance_id", "marker", "subtype", "dimension", "coder"]
    final = codes[codes["coder"] == "final"]
    assert final["transcript_id"].nunique() >= 45 and len(final) >= 1300
    assert not set(codes["transcript_id"]) & RESERVED
    assert set(codes["marker"]) <= {"none", "withdrawal", "confrontation"}
    double = set(zip(*codes[codes["coder"] == "B"][["transcript_id", "utterance_id"]].values.T))
    assert len(double) >= 0.4 * len(final)


def test_join_puts_codes_beside_the_text(codes):
    table = join(FIXTURES / "annomi_like.csv", codes=codes)
    assert table["session_id"].tolist() == ["900"] * 6 + ["901"] * 2
    client = table[table["speaker"] == "client"]
    assert client["marker"].tolist() == ["none", "confrontation", "confrontation", "none"]
    assert table.loc[table["turn"] == 2, "marker"].tolist() == [""]       # practitioner turns carry no code
    assert set(table["style"]) == {"annomi"} and table["video"].nunique() == 2


def test_join_refuses_a_different_version(codes, tmp_path):
    text = (FIXTURES / "annomi_like.csv").read_text().replace("900,high,Invented demo,https://example.invalid/a,"
                                                                 "reducing alcohol consumption,5,client",
                                                                 "900,high,Invented demo,https://example.invalid/a,"
                                                                 "reducing alcohol consumption,5,therapist")
    (tmp_path / "other.csv").write_text(text)
    with pytest.raises(TranscriptError, match="not one in this file"):
        join(tmp_path / "other.csv", codes=codes)
    with pytest.raises(TranscriptError, match="not AnnoMI-simple.csv"):
        (tmp_path / "x.csv").write_text("a,b\n1,2\n")
        join(tmp_path / "x.csv", codes=codes)


def test_join_refuses_reserved_transcripts(codes):
    bad = pd.concat([codes, pd.DataFrame([{"transcript_id": 2, "utterance_id": 1, "marker": "none", "subtype": "",
                                           "dimension": "", "coder": "final"}])])
    with pytest.raises(ValueError, match="reserved"):
        join(FIXTURES / "annomi_like.csv", codes=bad)


def test_evaluate_reads_annomi_gold_through_the_join(codes, monkeypatch):
    import rupture_detect.learn.annomi as annomi
    monkeypatch.setattr(annomi, "read_codes", lambda coder=None: codes if coder is None else
                        codes[codes["coder"] == coder].reset_index(drop=True))
    result = CliRunner().invoke(main, ["evaluate", f"annomi:{FIXTURES / 'annomi_like.csv'}", "--json"])
    assert result.exit_code == 0, result.output
    import json
    metrics = json.loads(result.output)
    assert metrics["sessions"] == 2 and metrics["fused"]["n_client_turns"] == 4
    assert metrics["gold"].startswith("annomi:")
    bad = CliRunner().invoke(main, ["evaluate", "annomi:/no/such/file.csv"])
    assert bad.exit_code == 2 and "cannot read" in bad.output
