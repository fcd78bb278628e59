"""The review server over real sockets: tokens, bind address, every action, undo, 409, concurrency, restart, logs."""

from __future__ import annotations

import csv
import io
import logging
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime

import pandas as pd
import pytest
from review_support import serving, workspace
from test_report import write_outdir

from rupture_detect.review.server import ReviewServer
from rupture_detect.review.store import Store


@pytest.fixture
def outdir(tmp_path):
    return write_outdir(tmp_path / "out")


@pytest.fixture
def db(tmp_path):
    return tmp_path / "review.sqlite"


@pytest.fixture
def api(outdir, db):
    with serving(outdir, db) as a:
        yield a


def rows(db, sql="SELECT * FROM decisions ORDER BY id", params=()):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def rewrite_text(outdir, session, turn, text):
    path = outdir / "utterances.csv"
    u = pd.read_csv(path, dtype=str, keep_default_na=False)
    u.loc[(u["session_id"] == session) & (u["turn"] == str(turn)), "text"] = text
    u.to_csv(path, index=False)


# ---------------------------------------------------------------- the token, the bind address, the headers

def test_requests_without_the_token_are_refused(api, db):
    for method, path in (("GET", "/"), ("GET", "/api/items"), ("GET", "/static/review.js"),
                         ("GET", "/api/export.csv"), ("POST", "/api/undo")):
        assert api.raw(method, path, {} if method == "POST" else None, token=False).status == 403, path
    body = {"session_id": "s1", "turn": "2", "hash": "x", "action": "accept"}
    assert api.raw("POST", "/api/decisions", body, token=False).status == 403
    assert api.raw("GET", "/api/items", headers={"X-Review-Token": "wrong"}, token=False).status == 403
    assert api.raw("GET", "/api/items", headers={"Authorization": "Token wrong"}, token=False).status == 403
    wrong = {"Cookie": f"rupture_review_token_{api.port}=wrong"}
    assert api.raw("GET", "/api/items", headers=wrong, token=False).status == 403
    assert api.raw("GET", "/?token=wrong", token=False).status == 403
    assert api.raw("GET", f"/api/items?token={api.token}", token=False).status == 403   # ?token= on the page only
    refused = api.raw("GET", "/api/items", token=False)
    assert "token" in refused.json()["error"]
    assert rows(db) == []


def test_first_load_sets_a_strict_httponly_cookie_and_drops_the_token_from_the_address(api):
    first = api.raw("GET", f"/?token={api.token}", token=False)
    assert first.status == 303 and first.headers["Location"] == "/"
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"rupture_review_token_{api.port}={api.token};")     # one cookie per server
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    page = api.raw("GET", "/", headers={"Cookie": f"rupture_review_token_{api.port}={api.token}"}, token=False)
    assert page.status == 200
    html = page.body.decode()
    assert api.token not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert re.findall(r'(?:src|href)="([^"]+)"', html) and all(
        ref.startswith(("/", "#", "data:")) for ref in re.findall(r'(?:src|href)="([^"]+)"', html))
    for header in ("Authorization", "X-Review-Token"):
        value = f"Token {api.token}" if header == "Authorization" else api.token
        assert api.raw("GET", "/api/items", headers={header: value}, token=False).status == 200


def test_every_response_carries_a_strict_content_security_policy(api):
    for path in ("/", "/api/items", "/static/review.js", "/static/review.css", "/api/nope"):
        reply = api.raw("GET", path)
        csp = reply.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Cache-Control"] == "no-store"


def test_the_server_binds_127_0_0_1_only(outdir, db, api):
    assert api.server.server.socket.getsockname()[0] == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError):                      # another loopback address: nobody listens
        socket.create_connection(("127.0.0.2", api.port), timeout=5).close()
    others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for address in others:
        with pytest.raises(OSError):
            socket.create_connection((address, api.port), timeout=5).close()
    for host in ("0.0.0.0", "localhost", "::", "192.168.1.10"):
        with pytest.raises(ValueError, match="127.0.0.1 only"):
            ReviewServer(workspace(outdir, db), "alice", host=host)
    rebound = api.raw("GET", "/api/items", headers={"Host": f"attacker.example:{api.port}"})
    assert rebound.status == 403 and "loopback" in rebound.json()["error"]
    assert api.raw("GET", "/api/items", headers={"Host": f"localhost:{api.port}"}).status == 200


def test_posts_must_be_json(api, db):
    reply = api.raw("POST", "/api/decisions", "session_id=s1&turn=2&action=accept",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415
    assert rows(db) == []


# ---------------------------------------------------------------- actions

def test_every_action_is_recorded_with_reviewer_time_tool_decision_and_model(api, db):
    api.decide("s1", 2, "accept", memo="quick agreement masks it")
    api.decide("s1", 4, "reject")
    api.decide("s1", 8, "relabel", marker="withdrawal", subtype="denial", dimension="bond")
    api.decide("s2", 2, "skip")
    api.decide("s2", 4, "memo", memo="ask the supervisor")
    api.decide("s1", 6, "missed", marker="withdrawal", subtype="minimal_response", dimension="task")
    log = rows(db)
    assert [(r["session_id"], r["turn"], r["action"]) for r in log] == [
        ("s1", "2", "accept"), ("s1", "4", "reject"), ("s1", "8", "relabel"), ("s2", "2", "skip"),
        ("s2", "4", "memo"), ("s1", "6", "missed")]
    assert {r["reviewer"] for r in log} == {"alice"} and all(r["model"] == "unknown" for r in log)
    assert all(datetime.fromisoformat(r["created_at"]).tzinfo is not None for r in log)
    accept, reject, relabel, skip, memo, missed = log
    assert (accept["marker"], accept["subtype"], accept["dimension"]) == ("withdrawal", "deferential_appeasing", "bond")
    assert accept["memo"] == "quick agreement masks it" and accept["tool_confidence"] == "0.82"
    assert (reject["marker"], reject["subtype"], reject["tool_marker"], reject["tool_subtype"]) == (
        "none", "", "confrontation", "complaint_about_activities")
    assert (relabel["marker"], relabel["subtype"], relabel["dimension"]) == ("withdrawal", "denial", "bond")
    assert relabel["tool_subtype"] == "control_pressure"
    assert skip["marker"] == "" and memo["memo"] == "ask the supervisor"
    assert (missed["marker"], missed["subtype"], missed["tool_marker"]) == ("withdrawal", "minimal_response", "none")
    assert all(len(r["text_hash"]) == 64 for r in log)

    listed = api.get("/api/items")
    status = {(i["session_id"], i["turn"]): i["status"] for i in listed["items"]}
    assert status == {("s1", "2"): "done", ("s1", "4"): "done", ("s1", "8"): "done", ("s2", "2"): "skipped",
                      ("s2", "4"): "open"}
    assert listed["progress"] == {"total": 5, "done": 3, "skipped": 1, "left": 2, "missed": 1}
    detail = api.item("s1", 8)
    assert detail["decision"]["action"] == "relabel" and detail["decision"]["subtype"] == "denial"
    assert [h["action"] for h in api.item("s2", 4)["history"]] == ["memo"]
    assert api.item("s2", 4)["decision"]["memo"] == "ask the supervisor"


@pytest.mark.parametrize(("turn", "action", "fields", "status", "message"), [
    (8, "relabel", {"marker": "withdrawal", "subtype": "control_pressure", "dimension": "bond"}, 400, "belongs to"),
    (8, "relabel", {"marker": "withdrawal", "subtype": "sulking", "dimension": "bond"}, 400, "unknown subtype"),
    (8, "relabel", {"marker": "withdrawal", "subtype": "denial", "dimension": "trust"}, 400, "dimension"),
    (8, "relabel", {"marker": "anger", "subtype": "denial", "dimension": "bond"}, 400, "family"),
    (6, "accept", {}, 400, "not flagged"),
    (6, "relabel", {"marker": "withdrawal", "subtype": "denial", "dimension": "bond"}, 400, "not flagged"),
    (2, "missed", {"marker": "withdrawal", "subtype": "denial", "dimension": "bond"}, 400, "already flagged"),
    (1, "reject", {}, 400, "therapist turn"),
    (2, "delete", {}, 400, "action"),
    (2, "undo", {}, 400, "action"),
    (2, "accept", {"memo": "x" * 5001}, 400, "memo"),
    (2, "accept", {"reviewer": "\x00"}, 400, "reviewer"),
    (99, "accept", {}, 404, "no turn"),
])
def test_codes_and_actions_are_validated_server_side(api, db, turn, action, fields, status, message):
    text_hash = api.item("s1", turn)["hash"] if turn != 99 else "0" * 64
    reply = api.raw("POST", "/api/decisions", {"session_id": "s1", "turn": str(turn), "hash": text_hash,
                                               "action": action, "reviewer": "alice", **fields})
    assert reply.status == status and message in reply.json()["error"]
    assert rows(db) == []


def test_undo_is_a_recorded_row_that_restores_the_earlier_decision(api, db):
    api.decide("s1", 2, "accept")
    relabel = api.decide("s1", 2, "relabel", marker="confrontation", subtype="defends_self", dimension="bond")
    assert api.item("s1", 2)["decision"]["action"] == "relabel"
    undone = api.undo()
    assert undone["undone"]["id"] == relabel["decision"]["id"] and undone["progress"]["done"] == 1
    assert api.item("s1", 2)["decision"]["action"] == "accept"
    api.undo()
    assert api.item("s1", 2)["decision"] is None
    nothing = api.undo(expect=409)
    assert "no decision to undo" in nothing["error"]
    log = rows(db)
    assert [r["action"] for r in log] == ["accept", "relabel", "undo", "undo"]
    assert [r["undoes"] for r in log[2:]] == [log[1]["id"], log[0]["id"]]
    history = api.item("s1", 2)["history"]
    assert [(h["action"], h["undone"]) for h in history] == [("accept", True), ("relabel", True), ("undo", False),
                                                             ("undo", False)]
    conn = sqlite3.connect(db)
    for sql in ("UPDATE decisions SET marker = 'none'", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="never"):
            conn.execute(sql)
    conn.close()
    assert len(rows(db)) == 4


def test_undo_of_a_named_decision_and_of_someone_elses(api):
    mine = api.decide("s1", 2, "accept")["decision"]["id"]
    theirs = api.decide("s1", 4, "reject", reviewer="bob")["decision"]["id"]
    assert "not a live decision of alice" in api.undo(expect=409, id=theirs)["error"]
    assert api.undo(id=mine)["undone"]["id"] == mine
    assert "already undone" in api.undo(expect=409, id=mine)["error"]
    assert api.undo(expect=400, id="1")["error"].startswith("id must be")
    assert api.item("s1", 4, reviewer="bob")["decision"]["action"] == "reject"


def test_the_latest_decision_per_reviewer_wins_and_reviewers_stay_apart(api):
    api.decide("s1", 2, "accept")
    api.decide("s1", 2, "reject", reviewer="bob")
    api.decide("s1", 2, "relabel", marker="withdrawal", subtype="denial", dimension="bond")
    assert api.item("s1", 2)["decision"]["subtype"] == "denial"
    assert api.item("s1", 2, reviewer="bob")["decision"]["marker"] == "none"
    assert api.get("/api/items", reviewer="carol")["progress"]["done"] == 0
    table = pd.read_csv(io.StringIO(api.get("/api/export.csv", reviewer="").decode()), dtype=str,
                        keep_default_na=False)
    coded = table[table["decision"] != ""]
    assert sorted(zip(coded["reviewer"], coded["marker"], coded["subtype"])) == [
        ("alice", "withdrawal", "denial"), ("bob", "none", "")]


# ---------------------------------------------------------------- changed source text: 409

def test_a_decision_on_text_that_changed_since_is_refused_with_409(api, outdir, db):
    old = api.item("s1", 4)["hash"]
    api.decide("s1", 2, "accept")
    rewrite_text(outdir, "s1", 4, "These worksheets are fine, honestly.")
    rewrite_text(outdir, "s1", 2, "Fine. You are the expert.")
    refused = api.decide("s1", 4, "reject", expect=409, text_hash=old)
    assert "changed since it was loaded" in refused["error"] and "session s1 turn 4" in refused["error"]
    assert [r["action"] for r in rows(db)] == ["accept"]
    fresh = api.item("s1", 4)
    turn = next(c for c in fresh["context"] if c["role"] == "turn")
    assert fresh["hash"] != old and "".join(t for t, _ in turn["pieces"]) == "These worksheets are fine, honestly."
    api.decide("s1", 4, "reject", text_hash=fresh["hash"])
    # the accept was made on s1 turn 2's old text: it no longer counts, and stays in the history as stale
    assert api.item("s1", 2)["decision"] is None and api.item("s1", 2)["history"][0]["stale"]
    assert api.get("/api/items")["progress"]["done"] == 1


# ---------------------------------------------------------------- concurrency and restart

WRITER = """
import sys
from rupture_detect.review.store import Store
store = Store(sys.argv[1])
hashes = {(t["session_id"], t["turn"]): t["text_hash"] for t in store.turns()}
for i in range(int(sys.argv[3])):
    turn = ("s1", "2") if i % 2 else ("s2", "4")
    store.record(reviewer=sys.argv[2], session_id=turn[0], turn=turn[1], text_hash=hashes[turn],
                 action="accept" if i % 3 else "skip")
"""


def test_concurrent_writers_lose_nothing(outdir, db):
    threads_n, per_thread, procs_n, per_proc = 8, 15, 2, 25
    turns = [("s1", "2"), ("s1", "4"), ("s1", "8"), ("s2", "2"), ("s2", "4")]
    with serving(outdir, db) as one, serving(outdir, db) as two:       # two servers (two tabs' worth) on one db
        hashes = {t: one.item(*t)["hash"] for t in turns}
        made: dict[str, list[int]] = {}
        errors = []

        def post(k):
            api = one if k % 2 else two
            ids = []
            try:
                for i in range(per_thread):
                    t = turns[(k + i) % len(turns)]
                    action = ("accept", "reject", "skip")[i % 3]
                    ids.append(api.decide(*t, action, reviewer=f"r{k}", text_hash=hashes[t])["decision"]["id"])
            except AssertionError as err:          # noqa: PERF203 - reported below
                errors.append(err)
            made[f"r{k}"] = ids

        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"p{k}", str(per_proc)])
                 for k in range(procs_n)]
        threads = [threading.Thread(target=post, args=(k,)) for k in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert [p.wait(120) for p in procs] == [0] * procs_n
        assert not errors, errors[:1]
    log = rows(db)
    assert len(log) == threads_n * per_thread + procs_n * per_proc
    assert len({r["id"] for r in log}) == len(log)
    for reviewer, ids in made.items():
        assert len(ids) == per_thread and {r["id"] for r in log if r["reviewer"] == reviewer} == set(ids)
    for k in range(procs_n):
        assert sum(r["reviewer"] == f"p{k}" for r in log) == per_proc
    assert rows(db, "PRAGMA journal_mode")[0]["journal_mode"] == "wal"


def test_a_restart_on_the_same_database_keeps_every_decision(outdir, db):
    with serving(outdir, db) as first:
        first.decide("s1", 2, "accept", memo="first run")
        first.decide("s1", 6, "missed", marker="withdrawal", subtype="minimal_response", dimension="task")
        first.decide("s2", 2, "skip")
        first.undo()
        before = first.get("/api/items")
        old_token = first.token
    with serving(outdir, db) as second:
        assert second.token != old_token
        assert second.raw("GET", "/api/items", headers={"X-Review-Token": old_token}, token=False).status == 403
        after = second.get("/api/items")
        assert after["progress"] == before["progress"] == {"total": 5, "done": 1, "skipped": 0, "left": 4, "missed": 1}
        assert after["items"] == before["items"]
        assert second.item("s1", 2)["decision"]["memo"] == "first run"
        assert [h["action"] for h in second.item("s2", 2)["history"]] == ["skip", "undo"]
        second.decide("s1", 4, "reject")
    assert [r["action"] for r in rows(db)] == ["accept", "missed", "skip", "undo", "reject"]


# ---------------------------------------------------------------- reading: queue, item, filters, search, export

def test_filters_and_the_uncertainty_order(api):
    keys = lambda data: [(i["session_id"], i["turn"]) for i in data["items"]]   # noqa: E731
    assert keys(api.get("/api/items")) == [("s1", "2"), ("s1", "4"), ("s1", "8"), ("s2", "2"), ("s2", "4")]
    # P(marker) from the evidence: .91, .70, .41, .60, .52; threshold .5 (no manifest: the rules' own)
    assert keys(api.get("/api/items", sort="uncertainty")) == [("s2", "4"), ("s1", "8"), ("s2", "2"), ("s1", "4"),
                                                               ("s1", "2")]
    assert keys(api.get("/api/items", family="confrontation")) == [("s1", "4"), ("s1", "8")]
    assert keys(api.get("/api/items", subtype="minimal_response")) == [("s2", "2")]
    assert keys(api.get("/api/items", session="s2")) == [("s2", "2"), ("s2", "4")]
    assert keys(api.get("/api/items", min_conf="0.5", max_conf="0.85")) == [("s1", "2"), ("s2", "2")]
    api.decide("s1", 2, "accept")
    assert keys(api.get("/api/items", status="open"))[0] == ("s1", "4")
    assert keys(api.get("/api/items", status="done")) == [("s1", "2")]
    for bad in ({"sort": "random"}, {"family": "anger"}, {"min_conf": "2"}, {"max_conf": "x"}, {"status": "all!"}):
        assert api.raw("GET", "/api/items?" + "&".join(f"{k}={v}" for k, v in bad.items())).status == 400


def test_an_item_comes_with_its_context_evidence_suggestions_and_what_came_next(api):
    d = api.item("s1", 2)
    assert [(c["turn"], c["speaker"], c["role"]) for c in d["context"]] == [
        ("1", "therapist", "before"), ("2", "client", "turn"), ("3", "therapist", "after"), ("4", "client", "after")]
    assert [c["response"] for c in d["context"]] == [False, False, True, False]
    marked = [text for text, rules in d["context"][1]["pieces"] if rules]
    assert marked == ["You’re the expert", "whatever you think"]
    assert d["rules"] == ["APP-01"] and d["model_p"] == "0.91" and d["confidence"] == 0.82
    assert [s["id"] for s in d["suggested"]][:2] == ["invite_discussion", "allow_assertion"]
    assert d["next"]["kind"] == "episode" and d["next"]["response_turn"] == "3"
    assert d["next"]["outcome"] == "partly resolved" and d["next"]["strategies"][0]["id"] == "invite_discussion"
    assert api.item("s1", 4)["next"]["kind"] == "recurrence"
    assert api.item("s2", 2)["next"] == {"kind": "next_turn", "response_turn": "3"}
    assert api.get("/api/item", expect=404, session="s9", turn="1")["error"].startswith("no turn")


def test_search_and_session_browsing_reach_unflagged_turns(api):
    found = api.get("/api/search", q="BUS")
    assert found["total"] == 1 and found["results"][0]["turn"] == "6" and not found["results"][0]["flagged"]
    assert api.get("/api/search", q="n", session="s2")["total"] == 2           # Dunno. / People just get on…
    assert api.get("/api/search", q="   ")["total"] == 0
    view = api.get("/api/session", session="s1")
    assert [t["turn"] for t in view["turns"]] == [str(i) for i in range(1, 9)]
    six = view["turns"][5]
    assert six["speaker"] == "client" and not six["flagged"] and len(six["hash"]) == 64
    api.decide("s1", 6, "missed", marker="confrontation", subtype="defends_self", dimension="bond",
               text_hash=six["hash"])
    assert api.get("/api/session", session="s1")["turns"][5]["decision"]["action"] == "missed"
    assert api.get("/api/session", expect=404, session="nope")


def test_export_from_the_page_is_the_annotated_table(api):
    api.decide("s1", 2, "accept")
    api.decide("s1", 6, "missed", marker="withdrawal", subtype="minimal_response", dimension="task")
    reply = api.raw("GET", "/api/export.csv")
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in reply.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(reply.body.decode())))
    assert [r["turn"] for r in table] == [str(i) for i in range(1, 9)]         # all of s1, none of s2
    by_turn = {r["turn"]: r for r in table}
    assert (by_turn["2"]["marker"], by_turn["2"]["decision"], by_turn["2"]["tool_marker"]) == (
        "withdrawal", "accept", "withdrawal")
    assert (by_turn["6"]["marker"], by_turn["6"]["subtype"], by_turn["6"]["tool_marker"]) == (
        "withdrawal", "minimal_response", "none")
    assert by_turn["4"]["marker"] == "" and by_turn["4"]["tool_marker"] == "confrontation"
    assert by_turn["1"]["speaker"] == "therapist" and {r["reviewer"] for r in table} == {"alice"}
    assert api.raw("GET", "/api/export.csv?reviewer=zed").status == 404


def test_the_request_log_holds_no_text_no_query_and_no_token(api):
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger("rupture_detect.review"), logging.getLogger("werkzeug")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        api.raw("GET", f"/?token={api.token}", token=False)
        api.get("/api/search", q="worksheets are pointless")
        api.decide("s1", 2, "accept", memo="a private memo")
        api.raw("GET", "/api/items", token=False)
        api.raw("GET", "/nowhere?x=secret-ish")
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    text = "\n".join(seen)
    assert "GET /api/search 200" in text and "POST /api/decisions 201" in text and "GET /api/items 403" in text
    for secret in (api.token, "worksheets", "pointless", "private memo", "secret-ish", "?", "expert"):
        assert secret not in text


def test_the_store_refuses_a_file_that_is_not_a_review_database(tmp_path):
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database at all, just words" * 100)
    with pytest.raises(Exception, match=r"notes\.sqlite"):
        Store(bad)
    with pytest.raises(Exception, match="no such review database"):
        Store(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()

