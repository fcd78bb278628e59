"""Review decisions in SQLite: one row per decision, never changed or deleted.

The database holds two tables. ``turns`` is a snapshot of every utterance the
review was started on (the scorer's columns as JSON, and a hash of the session
id, the turn id and the text), so that an export needs nothing but the
database. ``decisions`` gets one row per action of a reviewer on a client turn:
the reviewer, the time (UTC), the action, the reviewer's codes, the memo, the
tool's original decision and the model that made it, and the hash of the text
the reviewer saw. Triggers refuse any UPDATE or DELETE of a decision; an undo
is a row of its own that names the decision it takes back.

The latest live decision per reviewer and turn wins (live: not undone, and
made on the turn's current text). A decision whose text hash is not the
turn's current one is refused (:class:`StaleTurn`, HTTP 409 in the app).

Every call opens its own connection (WAL mode, a busy timeout, writes in
``BEGIN IMMEDIATE`` transactions), so threads and processes can write at once.
This module imports nothing heavier than the taxonomy.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ..taxonomy import DIMENSIONS, FAMILIES, NONE, load_taxonomy

SCHEMA_VERSION = "1"
CODING = ("accept", "reject", "relabel", "missed", "skip")     # actions that set (or, for skip, clear) the code
ACTIONS = (*CODING, "memo", "undo")
DONE = ("accept", "reject", "relabel", "missed")                 # actions that leave a code on the turn
BUSY_TIMEOUT_MS = 30_000
MAX_MEMO = 5000

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL, turn TEXT NOT NULL, session_pos INTEGER NOT NULL, pos INTEGER NOT NULL,
    speaker TEXT NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL, row TEXT NOT NULL,
    source TEXT NOT NULL, model TEXT NOT NULL, loaded_at TEXT NOT NULL,
    PRIMARY KEY (session_id, turn));
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reviewer TEXT NOT NULL, session_id TEXT NOT NULL, turn TEXT NOT NULL, text_hash TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ({", ".join(f"'{a}'" for a in ACTIONS)})),
    marker TEXT NOT NULL DEFAULT '', subtype TEXT NOT NULL DEFAULT '', dimension TEXT NOT NULL DEFAULT '',
    memo TEXT NOT NULL DEFAULT '',
    tool_marker TEXT NOT NULL DEFAULT '', tool_subtype TEXT NOT NULL DEFAULT '',
    tool_dimension TEXT NOT NULL DEFAULT '', tool_confidence TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '', undoes INTEGER REFERENCES decisions(id), created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_by_turn ON decisions (reviewer, session_id, turn);
CREATE INDEX IF NOT EXISTS decisions_by_undo ON decisions (undoes);
CREATE TRIGGER IF NOT EXISTS decisions_never_updated BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'review decisions are never changed: record a new one'); END;
CREATE TRIGGER IF NOT EXISTS decisions_never_deleted BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'review decisions are never deleted: undo records a new row'); END;
"""


class ReviewError(ValueError):
    """A decision that cannot be recorded as given (bad action, unknown id, wrong kind of turn)."""


class UnknownTurn(LookupError):
    """No such session and turn in the review database."""


class StaleTurn(RuntimeError):
    """The turn's text changed since the reviewer loaded it."""


class NothingToUndo(LookupError):
    """No live decision of this reviewer to undo (or the one named is already undone)."""


class StoreError(RuntimeError):
    """The database file cannot be used (not SQLite, newer schema, unwritable)."""


def text_hash(session_id: str, turn: str, text: str) -> str:
    """SHA-256 of the session id, the turn id and the text (unambiguously joined)."""
    return hashlib.sha256(json.dumps([session_id, turn, text], ensure_ascii=False).encode("utf-8")).hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_code(marker: str, subtype: str, dimension: str) -> tuple[str, str, str]:
    """A marker code from the taxonomy's ids: family, a subtype of that family, a dimension."""
    tax = load_taxonomy()
    if marker not in FAMILIES:
        raise ReviewError(f"family must be one of {', '.join(FAMILIES)}, not {marker!r}")
    if subtype not in tax.markers:
        raise ReviewError(f"unknown subtype {subtype!r}; subtypes are the taxonomy's 14 marker ids")
    if tax.family_of(subtype) != marker:
        raise ReviewError(f"subtype {subtype} belongs to {tax.family_of(subtype)}, not {marker}")
    if dimension not in DIMENSIONS:
        raise ReviewError(f"dimension must be one of {', '.join(DIMENSIONS)}, not {dimension!r}")
    return marker, subtype, dimension


class Store:
    """The review database at ``path`` (created on first use unless ``create=False``)."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no such review database")
        try:
            conn = self._open()
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StoreError(f"{self.path}: SQLite could not switch to WAL mode (got {mode})")
                conn.executescript(_SCHEMA)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a usable review database ({err})") from None
        if found != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: review database schema {found}, this version reads {SCHEMA_VERSION}")

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def connect(self) -> sqlite3.Connection:
        """A new connection (one per request or thread; close it when done)."""
        try:
            return self._open()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: cannot open ({err})") from None

    def _write(self, work):
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()

    def _read(self, sql: str, params=()) -> list[sqlite3.Row]:
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # ---------------------------------------------------------------- turns

    def sync_turns(self, rows: list[dict], source: str, model: str) -> list[tuple[str, str]]:
        """Record the utterances under review (dicts with session_id, turn, session_pos, pos, speaker, text,
        row). Returns the turns whose text changed although some reviewer had decided on the old text."""
        stamp = now()

        def work(conn):
            old = {(r["session_id"], r["turn"]): r["text_hash"]
                   for r in conn.execute("SELECT session_id, turn, text_hash FROM turns")}
            changed = []
            for r in rows:
                h = text_hash(r["session_id"], r["turn"], r["text"])
                key = (r["session_id"], r["turn"])
                if key in old and old[key] != h:
                    changed.append(key)
                conn.execute(
                    "INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (session_id, turn) DO UPDATE SET "
                    "session_pos=excluded.session_pos, pos=excluded.pos, speaker=excluded.speaker, text=excluded.text,"
                    " text_hash=excluded.text_hash, row=excluded.row, source=excluded.source, model=excluded.model, "
                    "loaded_at=excluded.loaded_at",
                    (r["session_id"], r["turn"], r["session_pos"], r["pos"], r["speaker"], r["text"], h,
                     json.dumps(r["row"], ensure_ascii=False), source, model, stamp))
            decided = {(d["session_id"], d["turn"]) for d in conn.execute(
                "SELECT DISTINCT session_id, turn FROM decisions")}
            return [k for k in changed if k in decided]
        return self._write(work)

    def turns(self) -> list[dict]:
        """Every utterance in the database, in session and turn order (``row``: the scorer's columns)."""
        rows = self._read("SELECT * FROM turns ORDER BY session_pos, session_id, pos")
        return [{**dict(r), "row": json.loads(r["row"])} for r in rows]

    # ---------------------------------------------------------------- decisions

    def record(self, *, reviewer: str, session_id: str, turn: str, text_hash: str, action: str,
               marker: str = "", subtype: str = "", dimension: str = "", memo: str = "") -> dict:
        """Record one decision on a client turn and return it (with its id)."""
        if action not in ACTIONS or action == "undo":
            raise ReviewError(f"action must be one of {', '.join(a for a in ACTIONS if a != 'undo')}, not {action!r}")
        if not isinstance(memo, str) or len(memo) > MAX_MEMO:
            raise ReviewError(f"memo must be text of at most {MAX_MEMO} characters")

        def work(conn):
            t = conn.execute("SELECT * FROM turns WHERE session_id = ? AND turn = ?", (session_id, turn)).fetchone()
            if t is None:
                raise UnknownTurn(f"no turn {turn!r} in session {session_id!r}")
            if t["text_hash"] != text_hash:
                raise StaleTurn(f"the text of session {session_id} turn {turn} changed since it was loaded (the "
                                "transcripts were scored again?); nothing was recorded: reload and decide again")
            if t["speaker"] != "client":
                raise ReviewError(f"session {session_id} turn {turn} is a {t['speaker']} turn: only client turns "
                                  "are coded")
            tool = json.loads(t["row"])
            flagged = tool.get("marker") in FAMILIES
            code = _code(action, flagged, tool, marker, subtype, dimension, session_id, turn)
            cur = conn.execute(
                "INSERT INTO decisions (reviewer, session_id, turn, text_hash, action, marker, subtype, dimension, "
                "memo, tool_marker, tool_subtype, tool_dimension, tool_confidence, model, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (reviewer, session_id, turn, text_hash, action, *code, memo, tool.get("marker", ""),
                 tool.get("subtype", ""), tool.get("dimension", ""), tool.get("confidence", ""), t["model"], now()))
            return dict(conn.execute("SELECT * FROM decisions WHERE id = ?", (cur.lastrowid,)).fetchone())
        return self._write(work)

    def undo(self, reviewer: str, decision_id: int | None = None) -> dict:
        """Take back this reviewer's latest live decision (or the one named), by recording an undo row."""
        def work(conn):
            live = _live(conn, reviewer)
            if decision_id is not None:
                target = next((r for r in live if r["id"] == decision_id), None)
                if target is None:
                    raise NothingToUndo(f"decision {decision_id} is not a live decision of {reviewer}: already "
                                        "undone, or someone else's")
            elif live:
                target = live[-1]
            else:
                raise NothingToUndo(f"{reviewer} has no decision to undo")
            cur = conn.execute(
                "INSERT INTO decisions (reviewer, session_id, turn, text_hash, action, model, undoes, created_at) "
                "VALUES (?,?,?,?,'undo',?,?,?)",
                (reviewer, target["session_id"], target["turn"], target["text_hash"], target["model"], target["id"],
                 now()))
            return {"undo_id": cur.lastrowid, "undone": dict(target)}
        return self._write(work)

    def state(self, reviewer: str | None = None) -> dict:
        """Live codes on current text: ``{reviewer: {(session_id, turn): entry}}`` (one reviewer's dict when
        ``reviewer`` is given). An entry holds action, marker, subtype, dimension, memo, id and at; a turn with
        only a memo has action None."""
        conn = self.connect()
        try:
            rows = _live(conn, reviewer, current_only=True)
        finally:
            conn.close()
        out: dict = {}
        for r in rows:
            e = out.setdefault(r["reviewer"], {}).setdefault((r["session_id"], r["turn"]), {
                "action": None, "marker": "", "subtype": "", "dimension": "", "memo": "", "id": None, "at": ""})
            e["memo"] = r["memo"]
            if r["action"] in CODING:
                e.update(action=r["action"], marker=r["marker"], subtype=r["subtype"], dimension=r["dimension"],
                         id=r["id"], at=r["created_at"], tool_marker=r["tool_marker"], tool_subtype=r["tool_subtype"],
                         tool_dimension=r["tool_dimension"], model=r["model"])
        return out.get(reviewer, {}) if reviewer is not None else out

    def history(self, session_id: str, turn: str) -> list[dict]:
        """Every decision on a turn, by every reviewer, oldest first (with ``undone`` and ``stale`` flags)."""
        rows = self._read(
            "SELECT d.*, EXISTS (SELECT 1 FROM decisions u WHERE u.undoes = d.id) AS undone, "
            "(t.text_hash IS NOT d.text_hash) AS stale FROM decisions d LEFT JOIN turns t "
            "ON t.session_id = d.session_id AND t.turn = d.turn WHERE d.session_id = ? AND d.turn = ? ORDER BY d.id",
            (session_id, turn))
        return [{**dict(r), "undone": bool(r["undone"]), "stale": bool(r["stale"])} for r in rows]

    def decisions(self) -> list[dict]:
        """The whole decision log, oldest first."""
        return [dict(r) for r in self._read("SELECT * FROM decisions ORDER BY id")]

    def stale_count(self) -> int:
        """Live decisions made on text that has changed since (they no longer count)."""
        conn = self.connect()
        try:
            return len(_live(conn, None)) - len(_live(conn, None, current_only=True))
        finally:
            conn.close()


def _live(conn: sqlite3.Connection, reviewer: str | None, current_only: bool = False) -> list[sqlite3.Row]:
    """Decisions (not undo rows) that no undo row names, oldest first; optionally only those on current text."""
    sql = ("SELECT d.* FROM decisions d" + (" JOIN turns t ON t.session_id = d.session_id AND t.turn = d.turn "
                                            "AND t.text_hash = d.text_hash" if current_only else "")
           + " WHERE d.action != 'undo' AND NOT EXISTS (SELECT 1 FROM decisions u WHERE u.undoes = d.id)")
    params: tuple = ()
    if reviewer is not None:
        sql += " AND d.reviewer = ?"
        params = (reviewer,)
    return conn.execute(sql + " ORDER BY d.id", params).fetchall()


def _code(action: str, flagged: bool, tool: dict, marker: str, subtype: str, dimension: str, session_id: str,
          turn: str) -> tuple[str, str, str]:
    where = f"session {session_id} turn {turn}"
    if action == "accept":
        if not flagged:
            raise ReviewError(f"{where} was not flagged: there is nothing to accept (mark a missed marker instead)")
        return tool["marker"], tool.get("subtype", ""), tool.get("dimension", "")
    if action == "reject":
        return NONE, "", ""
    if action == "relabel":
        if not flagged:
            raise ReviewError(f"{where} was not flagged: mark a missed marker instead of relabelling")
        return check_code(marker, subtype, dimension)
    if action == "missed":
        if flagged:
            raise ReviewError(f"{where} is already flagged: accept or relabel it")
        return check_code(marker, subtype, dimension)
    return "", "", ""          # skip, memo
