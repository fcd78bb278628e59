"""cli.py through click's CliRunner: the output contract, formats, exit codes, options."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import rupture_detect
from rupture_detect.cli import main
from rupture_detect.run.scoring import SESSION_COLUMNS
from rupture_detect.taxonomy import DIMENSIONS, load_taxonomy, strategy_ids

CONTRACT = ["session_id", "turn", "speaker", "text", "marker", "subtype", "dimension", "confidence",
            "p_marker", "evidence", "evidence_spans", "suggested_strategies", "start", "end"]
FAMILIES = {"withdrawal", "confrontation"}
GOOD = "T: How was the week?\nC: You're not listening to me. You never listen.\n"
BAD = "T: Hello.\nC: Hi.\nBob: Who?\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def read_csv(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def expected_sessions(samples) -> Counter:
    """Utterances per session, counted from the raw sample files without the package's readers."""
    counts: Counter = Counter()
    label = re.compile(r"^(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?\s*)?(T|C|Therapist|Client|Counsellor|Patient):")
    for f in samples.glob("*.txt"):
        counts[f.stem] = sum(bool(label.match(line)) for line in f.read_text(encoding="utf-8").splitlines())
    for f in [*samples.glob("*.vtt"), *samples.glob("*.srt")]:
        names = re.findall(r"^([A-Z][\w ]{0,30}):", f.read_text(encoding="utf-8"), re.M)
        counts[f.stem] = sum(1 for i, n in enumerate(names) if i == 0 or names[i - 1] != n)
    for f in samples.glob("sessions.*"):
        df = pd.read_json(f, lines=True) if f.suffix == ".jsonl" else pd.read_csv(f, sep=None, engine="python")
        counts.update(df["session_id"].value_counts().to_dict())
    return counts


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, samples):
    out = tmp_path_factory.mktemp("samples_out")
    result = run("score", samples, "-o", out, "--rules-only", "-q", "--charts")
    assert result.exit_code == 0, result.output
    return out


def test_samples_write_the_tables_with_the_contract_columns(sample_run):
    assert sorted(p.name for p in sample_run.iterdir()) == [
        "charts", "episodes.csv", "manifest.json", "segments.csv", "sessions.csv", "utterances.csv"]
    charts = sorted(p.name for p in (sample_run / "charts").iterdir())
    assert len(charts) == 18 and "cbt_homework.png" in charts and "cbt_homework.svg" in charts
    with open(sample_run / "utterances.csv", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\r\n").split(",") == CONTRACT
    assert list(read_csv(sample_run / "sessions.csv").columns) == SESSION_COLUMNS


def test_samples_one_row_per_input_utterance(sample_run, samples):
    u = read_csv(sample_run / "utterances.csv")
    expected = expected_sessions(samples)
    assert len(expected) == 9
    assert Counter(u["session_id"]) == expected
    # table rows keep the input's own session ids, turns and order
    table = pd.read_csv(samples / "sessions.csv", dtype=str)
    mine = u[u["session_id"].isin(set(table["session_id"]))]
    assert mine[["session_id", "turn", "text"]].values.tolist() == table[["session_id", "turn", "text"]].values.tolist()
    # text files: session id is the file name, turns count from 1
    cbt = u[u["session_id"] == "cbt_homework"]
    assert cbt["turn"].tolist() == [str(i) for i in range(1, len(cbt) + 1)]
    assert cbt["start"].iloc[0] == "5.0"


def test_samples_sessions_table_matches_utterances(sample_run):
    u = read_csv(sample_run / "utterances.csv")
    s = pd.read_csv(sample_run / "sessions.csv")
    assert s["session_id"].is_unique and len(s) == 9
    per_session = u.groupby("session_id").size()
    assert all(per_session[row.session_id] == row.utterances for row in s.itertuples())
    for row in s.itertuples():
        rows = u[u["session_id"] == row.session_id]
        assert row.client_turns == (rows["speaker"] == "client").sum()
        assert row.withdrawal == (rows["marker"] == "withdrawal").sum()
        assert row.confrontation == (rows["marker"] == "confrontation").sum()
        assert row.flagged == row.withdrawal + row.confrontation
    assert s["flagged"].sum() > 0
    for d in DIMENSIONS:
        assert s[f"strain_{d}"].between(0, 1).all()


def test_samples_marker_values_are_valid(sample_run):
    u = read_csv(sample_run / "utterances.csv")
    tax = load_taxonomy()
    valid_strategies = set(strategy_ids())
    assert set(u["speaker"]) <= {"therapist", "client", "other"}
    client = u["speaker"] == "client"
    assert set(u.loc[client, "marker"]) <= {"none", *FAMILIES}
    assert set(u.loc[~client, "marker"]) == {""}
    assert (u.loc[~client, "confidence"] == "").all()
    assert u.loc[client, "confidence"].astype(float).between(0, 1).all()
    flagged = u["marker"].isin(FAMILIES)
    assert flagged.sum() > 0
    for col in ("subtype", "dimension", "suggested_strategies"):
        assert (u.loc[flagged, col] != "").all(), col
        assert (u.loc[~flagged, col] == "").all(), col
    assert (u.loc[~flagged, "evidence"] == "").all()
    for row in u[flagged].itertuples():
        assert tax.family_of(row.subtype) == row.marker
        assert row.dimension in DIMENSIONS
        ids = row.suggested_strategies.split(";")
        assert ids and set(ids) <= valid_strategies and len(ids) == len(set(ids))
        assert row.evidence != ""


def test_no_inputs_scores_the_bundled_samples(sample_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("score", "-o", "out", "--rules-only", "-q")
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out" / "utterances.csv").equals(read_csv(sample_run / "utterances.csv"))


def test_jsonl_output(sample_run, samples, tmp_path):
    result = run("score", samples, "-o", tmp_path, "--rules-only", "-q", "--format", "jsonl", "--no-charts")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "episodes.jsonl", "manifest.json", "segments.jsonl", "sessions.jsonl", "utterances.jsonl"]
    lines = (tmp_path / "utterances.jsonl").read_text(encoding="utf-8").splitlines()
    assert list(json.loads(lines[0])) == CONTRACT
    u = pd.read_json(tmp_path / "utterances.jsonl", lines=True, dtype=False)
    ref = read_csv(sample_run / "utterances.csv")
    assert len(u) == len(ref)
    assert u["text"].tolist() == ref["text"].tolist()
    assert u["marker"].fillna("").tolist() == ref["marker"].tolist()
    s = pd.read_json(tmp_path / "sessions.jsonl", lines=True)
    assert list(s.columns) == SESSION_COLUMNS and len(s) == 9


def test_parquet_output_single_file(write, tmp_path):
    path = write("one.txt", GOOD)
    result = run("score", path, "-o", tmp_path / "out", "--rules-only", "-q", "--format", "parquet")
    assert result.exit_code == 0, result.output
    u = pd.read_parquet(tmp_path / "out" / "utterances.parquet")
    assert list(u.columns) == CONTRACT
    assert u["marker"].tolist() == ["", "confrontation"]
    assert list(pd.read_parquet(tmp_path / "out" / "sessions.parquet").columns) == SESSION_COLUMNS


def test_parquet_output_bundled_samples(sample_run, samples, tmp_path):
    result = run("score", samples, "-o", tmp_path, "--rules-only", "-q", "--format", "parquet")
    assert result.exit_code == 0, result.output
    u = pd.read_parquet(tmp_path / "utterances.parquet")
    assert list(u.columns) == CONTRACT
    assert u["text"].tolist() == read_csv(sample_run / "utterances.csv")["text"].tolist()
    assert len(pd.read_parquet(tmp_path / "sessions.parquet")) == 9


# ---------------------------------------------------------------- exit codes

def test_exit_0_when_everything_scored(write, tmp_path):
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "--rules-only")
    assert result.exit_code == 0
    assert "1 session(s), 2 utterances" in result.output


def test_exit_1_when_some_inputs_failed(write, tmp_path):
    bad, good = write("bad.txt", BAD), write("good.txt", GOOD)
    result = run("score", bad, good, "-o", tmp_path / "out", "--rules-only", "-q")
    assert result.exit_code == 1
    assert f"{bad}:3: unknown speaker 'Bob'" in result.stderr
    u = read_csv(tmp_path / "out" / "utterances.csv")
    assert u["session_id"].tolist() == ["good", "good"]
    assert read_csv(tmp_path / "out" / "sessions.csv")["session_id"].tolist() == ["good"]


def test_exit_3_when_nothing_scored(write, tmp_path):
    bad = write("bad.txt", BAD)
    empty = write("empty.csv", "")
    result = run("score", bad, empty, tmp_path / "missing.vtt", "-o", tmp_path / "out", "--rules-only", "-q")
    assert result.exit_code == 3
    for where in (f"{bad}:3:", f"{empty}: empty file", f"{tmp_path / 'missing.vtt'}: no such file"):
        assert where in result.stderr
    assert "3 input(s) failed; nothing scored" in result.stderr
    assert not (tmp_path / "out").exists()                    # nothing written, not even empty tables
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []    # no work folder left


@pytest.mark.parametrize("args", [["--format", "xlsx"], ["--speaker", "no-equals-sign"],
                                  ["--column", "text"], ["--jobs", "65"], ["--jobs", "-1"],
                                  ["--no-such-option"]])
def test_exit_2_on_usage_errors(write, tmp_path, args):
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "--rules-only", *args)
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_exit_2_on_an_invalid_role(write, tmp_path):
    """--speaker C=boss is a usage error (exit 2), not a file that failed to score (exit 3)."""
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "--rules-only", "--speaker", "C=boss")
    assert result.exit_code == 2
    assert "boss" in result.output


def test_unknown_speaker_hint_names_only_existing_options(write, tmp_path):
    result = run("score", write("bad.txt", BAD), "-o", tmp_path / "out", "--rules-only", "-q")
    hinted = set(re.findall(r"--[a-z][a-z-]+", result.stderr))
    assert hinted, result.stderr
    help_text = run("score", "--help").output
    assert {opt for opt in hinted if opt not in help_text} == set()


# ---------------------------------------------------------------- options

VTT = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAnna: How was the week?\n\n"
       "00:00:03.000 --> 00:00:04.000\nBen: You never listen to me.\n\n"
       "00:00:04.500 --> 00:00:05.000\nBen: Never.\n")


def test_therapist_name_for_a_vtt_file(write, tmp_path):
    path = write("call.vtt", VTT)
    assert run("score", path, "-o", tmp_path / "o1", "--rules-only", "-q").exit_code == 3
    result = run("score", path, "-o", tmp_path / "o2", "--rules-only", "-q", "--therapist", "Anna")
    assert result.exit_code == 0, result.output
    u = read_csv(tmp_path / "o2" / "utterances.csv")
    assert u[["session_id", "turn", "speaker", "start", "end"]].values.tolist() == [
        ["call", "1", "therapist", "1.0", "2.0"], ["call", "2", "client", "3.0", "5.0"]]
    assert u["text"].tolist() == ["How was the week?", "You never listen to me. Never."]
    assert u["marker"].tolist() == ["", "confrontation"]


def test_speakers_file_option(write, tmp_path):
    path = write("call.vtt", VTT)
    roster = write("roster.csv", "name,role\nAnna,therapist\nBen,other\n")
    result = run("score", path, "-o", tmp_path / "out", "--rules-only", "-q", "--speakers", roster)
    assert result.exit_code == 0, result.output
    u = read_csv(tmp_path / "out" / "utterances.csv")
    assert u["speaker"].tolist() == ["therapist", "other"]
    assert u["marker"].tolist() == ["", ""]


def test_column_and_speaker_mapping(write, tmp_path):
    path = write("t.csv", "sid,n,who,utt,t0\nS1,5,0,Let's try the exercise again.,1\n"
                          "S1,6,1,You're not listening to me. You never listen.,2\n")
    args = ["score", path, "-o", tmp_path / "out", "--rules-only", "-q"]
    assert run(*args).exit_code == 3             # no speaker/text columns without the mapping
    result = run(*args, "--column", "session_id=sid", "--column", "turn=n", "--column", "speaker=who",
                 "--column", "text=utt", "--column", "start=t0",
                 "--speaker", "0=therapist", "--speaker", "1=client")
    assert result.exit_code == 0, result.output
    u = read_csv(tmp_path / "out" / "utterances.csv")
    assert u[["session_id", "turn", "speaker", "start"]].values.tolist() == [
        ["S1", "5", "therapist", "1.0"], ["S1", "6", "client", "2.0"]]
    assert u["marker"].tolist() == ["", "confrontation"]


def test_input_format_option(write, tmp_path):
    path = write("table.txt", "speaker,text\nT,Hello.\nC,Hi.\n")
    assert run("score", path, "-o", tmp_path / "o1", "--rules-only", "-q").exit_code == 3
    result = run("score", path, "-o", tmp_path / "o2", "--rules-only", "-q", "--input-format", "csv")
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "o2" / "utterances.csv")["speaker"].tolist() == ["therapist", "client"]


def test_jobs_option_gives_the_same_tables(write, tmp_path):
    for name in ("a", "b", "c"):
        write(f"in/{name}.txt", GOOD.replace("week", name))
    r1 = run("score", tmp_path / "in", "-o", tmp_path / "o1", "--rules-only", "-q")
    r2 = run("score", tmp_path / "in", "-o", tmp_path / "o2", "--rules-only", "-q", "-j", "2")
    assert r1.exit_code == r2.exit_code == 0
    for name in ("utterances.csv", "sessions.csv"):
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes()


# ---------------------------------------------------------------- help

def all_commands(group, path=()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))


def test_every_command_help_mentions_its_options():
    commands = list(all_commands(main))
    assert ("score",) in [path for path, _ in commands]
    group_help = run("--help")
    assert group_help.exit_code == 0
    assert "--version" in group_help.output and "-h, --help" in group_help.output
    for path, command in commands:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert f" {' '.join(path)} [OPTIONS]" in result.output.splitlines()[0], path
        assert "-h, --help" in result.output, path
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts + param.secondary_opts:
                    assert flag in result.output, f"{' '.join(path)} --help does not mention {flag}"
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
            elif isinstance(param, click.Argument):
                assert param.human_readable_name in result.output, (path, param.name)
        if isinstance(command, click.Group):
            for sub in command.commands:
                assert sub in result.output, (path, sub)
    for name in main.commands:
        assert name in group_help.output
    assert run("score", "-h").output == run("score", "--help").output


# ---------------------------------------------------------------- robustness: nothing lost, clear errors

def annomi_shaped_table(n_sessions=40, turns=30, bad_at=(17, 9)) -> str:
    """A multi-session utterance table in AnnoMI's shape (written for the project), one malformed timestamp."""
    lines = ["transcript_id,utterance_id,interlocutor,timestamp,utterance_text"]
    for s in range(n_sessions):
        for u in range(turns):
            who = "therapist" if u % 2 == 0 else "client"
            stamp = "00:09:025" if (s, u) == bad_at else f"00:{u // 6:02d}:{(u * 10) % 60:02d}"
            text = "How have things been since we last met?" if who == "therapist" else "Mm-hmm. About the same."
            lines.append(f"{s},{u},{who},{stamp},{text}")
    return "\n".join(lines) + "\n"


def test_a_big_table_with_one_malformed_timestamp_scores_every_session(write, tmp_path):
    path = write("annomi_like.csv", annomi_shaped_table())
    result = run("score", path, "-o", tmp_path / "out", "--rules-only", "-q", "--no-charts")
    assert result.exit_code == 0, result.output
    sessions = read_csv(tmp_path / "out" / "sessions.csv")
    assert len(sessions) == 40
    u = read_csv(tmp_path / "out" / "utterances.csv")
    assert len(u) == 1200 and u.loc[(u["session_id"] == "17") & (u["turn"] == "9"), "start"].tolist() == [""]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["warnings"] == 1 and manifest["counts"]["sessions"] == 40
    line = 1 + 17 * 30 + 9 + 1
    assert manifest["warnings"][0].startswith(f"{path}:{line}: start: ") and "00:09:025" in manifest["warnings"][0]
    strict = run("score", path, "-o", tmp_path / "strict", "--rules-only", "-q", "--strict")
    assert strict.exit_code == 3 and f"{path}:{line}:" in strict.stderr


def test_the_manifest_says_what_ran(sample_run, samples):
    m = json.loads((sample_run / "manifest.json").read_text())
    assert m["tool"] == "rupture-detect" and m["command"] == "score"
    assert m["model"]["id"] == "rules-only" and len(m["rules_sha256"]) == 64
    assert m["options"]["rules_only"] is True and m["options"]["format"] == "csv"
    assert len(m["inputs"]) == 8 and all(len(i["sha256"]) == 64 and i["bytes"] > 0 for i in m["inputs"])
    assert m["counts"]["sessions"] == 9 and m["counts"]["utterances"] == 365 and m["counts"]["errors"] == 0


def test_a_run_that_scores_nothing_leaves_the_previous_results_untouched(sample_run, tmp_path, write):
    import shutil
    out = tmp_path / "out"
    shutil.copytree(sample_run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    result = run("score", tmp_path / "mistyped_path", "-o", out, "--rules-only", "-q")
    assert result.exit_code == 3
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert len(list((out / "charts").iterdir())) == 18


def test_a_new_run_replaces_old_charts_too(sample_run, tmp_path, write):
    import shutil
    out = tmp_path / "out"
    shutil.copytree(sample_run, out)
    result = run("score", write("one.txt", GOOD), "-o", out, "--rules-only", "-q", "--charts")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["one.png", "one.svg"]
    result = run("score", write("one.txt", GOOD), "-o", out, "--rules-only", "-q")     # charts are opt-in
    assert result.exit_code == 0 and not (out / "charts").exists()


@pytest.mark.parametrize("where", ["inside_input", "input_inside"])
def test_output_and_input_folders_must_be_separate(write, tmp_path, where):
    write("in/a.txt", GOOD)
    out = tmp_path / "in" / "results" if where == "inside_input" else tmp_path / "out"
    if where == "input_inside":
        write("out/sessions.csv", "session_id\n")
        write("out/utterances.csv", "session_id\n")
        inputs = [tmp_path / "out" / "sessions.csv"]
    else:
        inputs = [tmp_path / "in"]
    result = run("score", *inputs, "-o", out, "--rules-only", "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "inside" in result.stderr


def test_a_folder_with_foreign_files_is_never_replaced(write, tmp_path):
    precious = write("mine/thesis.docx", b"...")
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "mine", "--rules-only", "-q")
    assert result.exit_code == 2 and "did not write" in result.stderr
    assert precious.read_bytes() == b"..."


def test_unwritable_output_is_a_usage_error(write, tmp_path):
    blocker = write("afile", "x")
    result = run("score", write("a.txt", GOOD), "-o", blocker / "out", "--rules-only", "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot write the output folder" in result.stderr


@pytest.mark.parametrize("make", ["empty", "broken", "refused"])
def test_bad_model_folder_is_a_usage_error(write, tmp_path, make):
    model = tmp_path / "model"
    model.mkdir()
    if make != "empty":
        shipped = Path(rupture_detect.__file__).parent / "models" / "classifier"
        card = json.loads((shipped / "model_card.json").read_text())
        (model / "model_card.json").write_text(json.dumps(card))
        if make == "broken":
            (model / "fused.skops").write_bytes(b"not a zip file")
        else:
            import skops.io as sio
            sio.dump({"f": os.system}, model / "fused.skops")
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "--model", model, "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--model" in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"name,role\nAnna,therapist\nB\x80,client\n", b"name,role\nAnna,boss\n",
                                     b"who,what\n"])
def test_bad_speakers_file_is_a_usage_error(write, tmp_path, content):
    roster = write("speakers_in.csv", content)
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "--speakers", roster, "-q")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(roster) in result.stderr


def test_a_missing_model_is_said_loudly(write, tmp_path, monkeypatch):
    monkeypatch.setenv("RUPTURE_DETECT_MODELS", str(tmp_path / "no_models"))
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0
    assert "no trained model found" in result.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["model"]["id"] == "rules-only" and "no trained model found" in m["model"]["reason"]


def test_ctrl_c_ends_quietly_and_keeps_previous_results(write, tmp_path, monkeypatch):
    import rupture_detect.run.batch as batch

    def interrupted(*a, **k):
        raise KeyboardInterrupt
        yield
    monkeypatch.setattr(batch, "iter_results", interrupted)
    result = run("score", write("a.txt", GOOD), "-o", tmp_path / "out", "--rules-only", "-q")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert "interrupted" in result.stderr and not (tmp_path / "out").exists()


def test_exit_codes_are_in_the_help():
    for args in (["--help"], ["score", "--help"]):
        text = run(*args).output
        assert "Exit codes" in text and "130" in text


def test_long_and_odd_session_ids_get_safe_charts_the_report_finds(write, tmp_path):
    long_id = "x" * 300
    write("t.csv", f"session_id,speaker,text\n{long_id},T,How was it?\n{long_id},C,Fine.\n"
                   "s 1/é?,T,How was it?\ns 1/é?,C,You never listen.\n")
    result = run("score", tmp_path / "t.csv", "-o", tmp_path / "out", "--rules-only", "-q", "--charts")
    assert result.exit_code == 0, result.output
    charts = sorted(p.name for p in (tmp_path / "out" / "charts").iterdir())
    assert len(charts) == 4 and all(len(c.encode()) < 120 for c in charts)
    from rupture_detect.pages.report import read_outdir
    assert set(read_outdir(tmp_path / "out").charts) == {long_id, "s 1/é?"}


def test_report_on_a_corrupt_folder_is_a_usage_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "utterances.parquet").write_bytes(b"garbage")
    result = run("report", tmp_path / "bad", "-o", tmp_path / "r.html")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not a readable score output folder" in result.stderr


@pytest.mark.slow
def test_a_real_ctrl_c_with_workers_ends_quietly(tmp_path, samples):
    """SIGINT to the whole process group mid-run, as a terminal sends it: no worker traceback, exit 130."""
    import signal
    import subprocess
    import sys
    import time
    src = (samples / "cbt_homework.txt").read_text()
    (tmp_path / "in").mkdir()
    for i in range(400):
        (tmp_path / "in" / f"s{i:03d}.txt").write_text(src)
    proc = subprocess.Popen([sys.executable, "-m", "rupture_detect.cli", "score", str(tmp_path / "in"), "-o",
                             str(tmp_path / "out"), "-j", "2", "-q"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(8)
    assert proc.poll() is None, "finished before the interrupt: give it more files"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert not (tmp_path / "out").exists()


def test_score_and_report_share_their_reading_model_and_run_options():
    shared = ["--input-format", "--therapist", "--client", "--speaker", "--speakers", "--column", "--strict",
              "--model", "--rules-only", "--jobs", "--dask"]
    for command in ("score", "report"):
        text = run(command, "--help").output
        assert all(opt in text for opt in shared), command


def test_report_scores_transcripts_with_the_shared_options(write, tmp_path):
    path = write("named.txt", "Anna: How was the week?\nBen: You never listen to me.\n")
    result = run("report", path, "-o", tmp_path / "r.html", "--therapist", "Anna", "--rules-only")
    assert result.exit_code == 0, result.output
    assert "1 session(s)" in result.output and (tmp_path / "r.html").exists()
    bad = run("report", path, "-o", tmp_path / "r2.html", "--speaker", "no-equals", "--rules-only")
    assert bad.exit_code == 2
