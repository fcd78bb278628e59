"""``rupture-detect review`` (serve, the default, and export), and train/evaluate reading a review export."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from review_support import workspace
from test_report import write_outdir

from rupture_detect.cli import main
from rupture_detect.review.export import REVIEW_COLUMNS, write_table
from rupture_detect.review.store import Store
from rupture_detect.run.scoring import UTTERANCE_COLUMNS

SAMPLES = Path(__file__).resolve().parents[2] / "sample_transcripts"


@pytest.fixture
def outdir(tmp_path):
    return write_outdir(tmp_path / "out")


@pytest.fixture
def db(tmp_path):
    return tmp_path / "review.sqlite"


def record(store: Store, reviewer, session, turn, action, marker="", subtype="", dimension="", memo=""):
    hashes = {(t["session_id"], t["turn"]): t["text_hash"] for t in store.turns()}
    return store.record(reviewer=reviewer, session_id=session, turn=str(turn), text_hash=hashes[(session, str(turn))],
                        action=action, marker=marker, subtype=subtype, dimension=dimension, memo=memo)


def two_reviewers(outdir, db) -> Store:
    """alice accepts every flagged turn; bob accepts all but s1 turn 8, which he rejects."""
    store = workspace(outdir, db).store
    for session, turn in (("s1", 2), ("s1", 4), ("s1", 8), ("s2", 2), ("s2", 4)):
        record(store, "alice", session, turn, "accept")
        record(store, "bob", session, turn, "reject" if (session, turn) == ("s1", 8) else "accept")
    return store


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------- export

def test_review_export_writes_the_annotated_table(outdir, db, tmp_path):
    store = workspace(outdir, db).store
    record(store, "alice", "s1", 2, "accept", memo="appeasing, clearly")
    record(store, "alice", "s1", 6, "missed", "withdrawal", "minimal_response", "task")
    record(store, "bob", "s2", 2, "relabel", "withdrawal", "abstract_communication", "task")
    record(store, "bob", "s2", 4, "skip")
    out = tmp_path / "codes.csv"
    out.write_text("an older export\n")
    result = run("review", "export", "--db", db, "-o", out)
    assert result.exit_code == 0, result.output
    assert "2 reviewer(s), 3 coded client turn(s) in 2 session(s), 14 rows" in result.output
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(table.columns) == UTTERANCE_COLUMNS + list(REVIEW_COLUMNS)
    assert list(zip(table["reviewer"], table["session_id"])) == [("alice", "s1")] * 8 + [("bob", "s2")] * 6
    coded = table[table["decision"] != ""]
    assert coded[["reviewer", "turn", "marker", "subtype", "dimension", "decision"]].values.tolist() == [
        ["alice", "2", "withdrawal", "deferential_appeasing", "bond", "accept"],
        ["alice", "6", "withdrawal", "minimal_response", "task", "missed"],
        ["bob", "2", "withdrawal", "abstract_communication", "task", "relabel"]]
    assert coded["memo"].tolist() == ["appeasing, clearly", "", ""]
    assert all(coded["reviewed_at"].str.endswith("+00:00")) and set(coded["model"]) == {"unknown"}
    s2_4 = table[(table["reviewer"] == "bob") & (table["turn"] == "4")].iloc[0]
    assert (s2_4["marker"], s2_4["tool_marker"], s2_4["tool_subtype"]) == ("", "withdrawal", "abstract_communication")
    assert table.loc[table["speaker"] == "therapist", "marker"].eq("").all()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".codes")] == []

    only_bob = run("review", "export", "--db", db, "-o", tmp_path / "bob.csv", "--reviewer", "bob")
    assert only_bob.exit_code == 0
    assert set(pd.read_csv(tmp_path / "bob.csv", dtype=str)["reviewer"]) == {"bob"}


def test_review_export_refusals_name_the_file_and_write_nothing(outdir, db, tmp_path):
    missing = run("review", "export", "--db", tmp_path / "nope.sqlite", "-o", tmp_path / "c.csv")
    assert missing.exit_code == 2 and "nope.sqlite: no such review database" in missing.output
    assert not (tmp_path / "nope.sqlite").exists()
    workspace(outdir, db)
    empty = run("review", "export", "--db", db, "-o", tmp_path / "c.csv")
    assert empty.exit_code == 1 and "no coded turns yet" in empty.output and not (tmp_path / "c.csv").exists()
    record(Store(db), "alice", "s1", 2, "accept")
    nobody = run("review", "export", "--db", db, "-o", tmp_path / "c.csv", "--reviewer", "zed")
    assert nobody.exit_code == 2 and "no decisions by zed; reviewers: alice" in nobody.output
    wrong = run("review", "export", "--db", db, "-o", tmp_path / "c.txt")
    assert wrong.exit_code == 2 and "c.txt" in wrong.output and "CSV" in wrong.output
    assert not list(tmp_path.glob("c.*"))


def test_a_failed_export_leaves_the_previous_file_as_it_was(outdir, db, tmp_path, monkeypatch):
    store = workspace(outdir, db).store
    record(store, "alice", "s1", 2, "accept")
    out = tmp_path / "codes.csv"
    out.write_text("the previous export\n")

    def broken(self, fh, **kw):
        fh.write("session_id,turn\ns1,")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    from rupture_detect.review.export import export_frame
    frame, _ = export_frame(store)
    with pytest.raises(OSError):
        write_table(frame, out)
    assert out.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir() if "codes" in p.name] == ["codes.csv"]      # no temporary file left


def test_unflagged_as_none_codes_the_rest_of_the_sessions_a_reviewer_worked_in(outdir, db, tmp_path):
    store = workspace(outdir, db).store
    record(store, "alice", "s1", 2, "accept")
    assert run("review", "export", "--db", db, "-o", tmp_path / "c.csv", "--unflagged-as-none").exit_code == 0
    table = pd.read_csv(tmp_path / "c.csv", dtype=str, keep_default_na=False)
    client = table[table["speaker"] == "client"]
    assert client[["turn", "marker", "decision"]].values.tolist() == [
        ["2", "withdrawal", "accept"], ["4", "", ""], ["6", "none", "unflagged"], ["8", "", ""]]
    assert set(table["session_id"]) == {"s1"}


# ---------------------------------------------------------------- evaluate and train read the export

def test_evaluate_reports_agreement_between_reviewers_and_with_the_tool(outdir, db, tmp_path):
    two_reviewers(outdir, db)
    codes = tmp_path / "codes.csv"
    assert run("review", "export", "--db", db, "-o", codes).exit_code == 0
    text = run("evaluate", codes, "--coder", "alice", "--against", "bob")
    assert text.exit_code == 0, text.output
    assert "alice vs bob on 5 client turns both coded (2 sessions)" in text.output
    assert re.search(r"family Gwet's AC1\s+-?\d\.\d{3}", text.output) and "per subtype" in text.output
    assert re.search(r"control_pressure\s+0\.000\s+1\s+0", text.output)     # bob rejected the one control_pressure
    data = json.loads(run("evaluate", codes, "--coder", "alice", "--against", "bob", "--json").output)
    assert data["client_turns"] == 5 and data["family_agreement"] == pytest.approx(0.8)
    assert data["per_subtype_kappa"]["deferential_appeasing"] == 1.0
    tool = json.loads(run("evaluate", codes, "--coder", "alice", "--against", "tool", "--json").output)
    assert tool["family_kappa"] == 1.0 and tool["family_ac1"] == 1.0 and tool["client_turns"] == 5
    bob = json.loads(run("evaluate", codes, "--coder", "bob", "--against", "tool", "--json").output)
    assert bob["family_agreement"] == pytest.approx(0.8) and bob["marker_rate"] == {"first": 0.8, "second": 1.0}
    assert "alice vs bob" in run("evaluate", codes, "--against", "bob").output     # the only other reviewer
    for args, message in ((["--coder", "zed", "--against", "bob"], "zed"), (["--against", "zed"], "zed"),
                          (["--coder", "bob", "--against", "bob"], "itself")):
        refused = run("evaluate", codes, *args)
        assert refused.exit_code == 2 and message in refused.output
    not_export = tmp_path / "plain.csv"
    pd.read_csv(codes).drop(columns="reviewer").to_csv(not_export, index=False)
    assert "not a review export" in run("evaluate", not_export, "--coder", "a", "--against", "b").output


def test_evaluate_the_tool_against_one_reviewer_leaves_uncoded_turns_out(outdir, db, tmp_path):
    two_reviewers(outdir, db)
    codes = tmp_path / "codes.csv"
    run("review", "export", "--db", db, "-o", codes)
    several = run("evaluate", codes)
    assert several.exit_code == 2 and "2 reviewers (alice, bob): choose one with --coder NAME" in several.output
    result = run("evaluate", codes, "--coder", "bob", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["gold"] == f"{codes} (reviewer bob)" and data["sessions"] == 2
    assert data["rules"]["n_client_turns"] == 5                      # s1 turn 6 and s2 turn 6 were not coded
    assert data["rules"]["family"]["none"]["support"] == 1           # bob's one rejection
    assert run("train", codes, "-o", tmp_path / "m").exit_code == 2
    plain = tmp_path / "plain.csv"
    pd.read_csv(codes).drop(columns="reviewer").to_csv(plain, index=False)
    refused = run("train", plain, "-o", tmp_path / "m", "--coder", "bob")
    assert refused.exit_code == 2 and "no reviewer column" in refused.output
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------- the command group

def test_review_input_means_review_serve_input(tmp_path):
    helped = run("review", "--help")
    assert helped.exit_code == 0 and "serve" in helped.output and "export" in helped.output
    assert "Usage" in run("review").output
    short = run("review", tmp_path / "nothing_here", "--db", tmp_path / "r.sqlite")
    long = run("review", "serve", tmp_path / "nothing_here", "--db", tmp_path / "r.sqlite")
    assert short.exit_code == long.exit_code == 2
    assert short.output == long.output and "nothing_here" in short.output
    assert not (tmp_path / "r.sqlite").exists()


class Served:
    """``python -m rupture_detect.cli review ...`` in a subprocess, until its address is printed."""

    def __init__(self, *args):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "rupture_detect.cli", "review", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout], daemon=True).start()
        self.out = []
        while True:
            line = lines.get(timeout=120)
            self.out.append(line)
            m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
            if m:
                self.port, self.token = int(m.group(1)), m.group(2)
                break

    def call(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        hdrs = {"X-Review-Token": self.token, **(headers or {})}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, json.dumps(body) if body is not None else None, hdrs)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.headers, data

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def test_the_review_command_serves_prints_its_address_and_stops_cleanly(outdir, db):
    served = Served(outdir, "--db", db, "--port", "0", "--reviewer", "carol")
    try:
        assert "2 session(s), 5 flagged client turn(s); decisions go to" in "".join(served.out)
        status, headers, _ = served.call("GET", f"/?token={served.token}", headers={"X-Review-Token": ""})
        assert status == 303 and "HttpOnly" in headers["Set-Cookie"]
        assert served.call("GET", "/api/items", headers={"X-Review-Token": "no"})[0] == 403
        status, _, data = served.call("GET", "/api/item?session=s1&turn=2")
        hash_ = json.loads(data)["hash"]
        body = {"session_id": "s1", "turn": "2", "hash": hash_, "action": "accept"}
        assert served.call("POST", "/api/decisions", body)[0] == 201
    finally:
        code, err = served.stop()
    assert code == 0 and "review server stopped" in err
    assert "expert" not in "".join(served.out) + err                 # no transcript text on the terminal
    again = Served(outdir, "--db", db, "--port", "0")
    try:
        assert again.token != served.token
        decision = json.loads(again.call("GET", "/api/item?session=s1&turn=2&reviewer=carol")[2])["decision"]
        assert decision["action"] == "accept"
    finally:
        again.stop()
    assert [r["reviewer"] for r in Store(db).decisions()] == ["carol"]


def test_the_review_command_scores_transcripts_first(tmp_path):
    served = Served(SAMPLES / "cbt_homework.txt", "--db", tmp_path / "r.sqlite", "--port", "0", "--rules-only")
    try:
        status, _, data = served.call("GET", "/api/items")
        items = json.loads(data)["items"]
        assert status == 200 and items and {i["session_id"] for i in items} == {"cbt_homework"}
        status, _, data = served.call("GET", "/")
        assert status == 200 and b"rules-only" in data
    finally:
        code, _ = served.stop()
    assert code == 0
