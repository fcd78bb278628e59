"""The annotated corpus and its validator."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rupture_detect.cli import main
from rupture_detect.learn.corpus import assign_splits, read_corpus, validate
from rupture_detect.taxonomy import marker_ids, strategy_ids


@pytest.fixture(scope="module")
def project_corpus():
    return validate()


def test_project_corpus_is_valid(project_corpus):
    assert project_corpus.ok, project_corpus.problems[:10]


def test_project_corpus_meets_its_size_and_variety_targets(project_corpus):
    c = project_corpus.counts
    assert c["sessions"] >= 200 and c["client_turns"] >= 2500
    assert set(c["subtype"]) == set(marker_ids()) and min(c["subtype"].values()) >= 60
    assert set(c["strategy"]) == set(strategy_ids())
    for fam in ("withdrawal", "confrontation"):
        for dim in ("bond", "task", "goal"):
            assert c["dimension_by_family"].get(f"{fam}/{dim}", 0) > 0
    assert set(c["modality"]) == {"CBT", "psychodynamic", "person-centred", "CAT", "MI", "counselling"}
    assert set(c["variety"]) == {"en-GB", "en-US"} and c["asr"].get("True", 0) >= 20
    assert c["style"] == {"textbook": 156, "asr": 54, "verbatim": 150}


def test_marker_base_rate_by_style(project_corpus):
    """Textbook excerpts are dense with markers by design; verbatim sessions have a real session's base rate."""
    utts, sessions = read_corpus()
    style = utts["session_id"].map(sessions.set_index("session_id")["style"])
    client = utts["speaker"] == "client"
    rate = (utts.loc[client, "marker"] != "none").groupby(style[client]).mean()
    assert 0.3 <= rate["textbook"] <= 0.6 and 0.08 <= rate["verbatim"] <= 0.2


def test_split_is_by_session_and_fixed():
    utts, sessions = read_corpus()
    per_session = sessions.set_index("session_id")["split"]
    assert set(per_session) == {"train", "dev", "test"}
    assert utts["session_id"].map(per_session).notna().all()
    again = assign_splits(sessions.assign(batch=sessions["session_id"].str[:3]), by=["batch", "asr"])
    assert (again == sessions["split"]).all(), "the stored split is the one the build script assigns"


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_validator_reports_each_problem_with_its_line(tmp_path):
    rows = [
        {"session_id": "s1", "turn": 1, "speaker": "therapist", "text": "How was it?", "marker": "", "subtype": "",
         "dimension": "", "strategy": ""},
        {"session_id": "s1", "turn": 2, "speaker": "client", "text": "Fine.", "marker": "withdrawal",
         "subtype": "control_pressure", "dimension": "bond", "strategy": ""},
        {"session_id": "s1", "turn": 3, "speaker": "client", "text": "Eh.", "marker": "sulk", "subtype": "",
         "dimension": "", "strategy": ""},
        {"session_id": "s1", "turn": 4, "speaker": "therapist", "text": "Hm.", "marker": "", "subtype": "",
         "dimension": "", "strategy": "hug_it_out"},
        {"session_id": "s1", "turn": 4, "speaker": "client", "text": "No.", "marker": "withdrawal",
         "subtype": "denial", "dimension": "spirit", "strategy": ""},
    ]
    result = validate(_write_jsonl(tmp_path / "coded.jsonl", rows))
    text = "\n".join(result.problems)
    assert "coded.jsonl:2: subtype control_pressure belongs to confrontation" in text
    assert "coded.jsonl:3: client marker must be" in text
    assert "coded.jsonl:4: unknown strategy ids ['hug_it_out']" in text
    assert "coded.jsonl:5: duplicate turn" in text and "coded.jsonl:5: dimension must be" in text
    assert not result.ok


def test_cli_validate_exit_codes(tmp_path):
    good = [{"session_id": "s1", "turn": 1, "speaker": "client", "text": "Dunno.", "marker": "withdrawal",
             "subtype": "minimal_response", "dimension": "task", "strategy": ""}]
    ok = CliRunner().invoke(main, ["corpus", "validate", str(_write_jsonl(tmp_path / "a.jsonl", good))])
    assert ok.exit_code == 0 and "minimal_response" in ok.output
    bad = CliRunner().invoke(main, ["corpus", "validate",
                                    str(_write_jsonl(tmp_path / "b.jsonl", [{**good[0], "subtype": "x"}]))])
    assert bad.exit_code == 1 and "unknown subtype 'x'" in bad.output
