"""The review queue: the flagged client turns of the scorer's tables, each in its context.

Built from an output folder of ``rupture-detect score`` or from the DataFrames
of :func:`rupture_detect.score` (through :mod:`rupture_detect.pages.report`'s
readers), with the report's helpers for the evidence (rule ids and the words
they matched, highlighted in the turn) and the suggested strategies. Nothing
here writes: decisions live in :mod:`rupture_detect.review.store`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..pages.report import (
    ReportTables,
    clock,
    evidence_of,
    highlight,
    read_outdir,
    strategy_items,
    tables_from_scores,
)
from ..taxonomy import FAMILIES, load_taxonomy
from .store import DONE, text_hash

TABLE_FILES = ("utterances", "episodes")
RULES_THRESHOLD = 0.5          # the rule component's default flagging threshold
SORTS = ("order", "uncertainty")
STATUSES = ("all", "open", "done", "skipped")


def cell(value) -> str:
    """A table cell as text: NaN/None -> "", 4.0 -> "4"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def number(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def model_label(info: dict | None) -> str:
    """``classifier (dda745095500)``, ``rules-only``, or ``unknown`` when the run did not say."""
    info = info or {}
    name = cell(info.get("id")) or "unknown"
    sha = cell(info.get("sha256"))[:12]
    return f"{name} ({sha})" if sha else name


def model_threshold(info: dict | None) -> float:
    """The flagging threshold on P(marker) of the model that ran (its card), else the rules' 0.5."""
    path = cell((info or {}).get("path"))
    card = Path(path) / "model_card.json" if path else None
    if card is not None and card.is_file():
        try:
            return float(json.loads(card.read_text("utf-8"))["thresholds"]["fused"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return RULES_THRESHOLD


def outdir_stamp(path: str | Path) -> tuple:
    """Size and modification time of the folder's tables: changes when ``score`` writes the folder again."""
    folder = Path(path)
    stamp = []
    for name in TABLE_FILES:
        for ext in ("csv", "jsonl", "parquet"):
            f = folder / f"{name}.{ext}"
            if f.exists():
                st = f.stat()
                stamp.append((f.name, st.st_size, st.st_mtime_ns))
    return tuple(stamp)


class ReviewSet:
    """Sessions (utterances in order) and the queue of flagged client turns, read-only once built."""

    def __init__(self, tables: ReportTables, model: str, threshold: float, context: int = 2):
        self.source, self.model, self.threshold, self.context = tables.source, model, threshold, context
        tax = load_taxonomy()
        self.sessions: dict[str, list[dict]] = {}
        self.index: dict[tuple[str, str], dict] = {}
        columns = [str(c) for c in tables.utterances.columns]
        for rec in tables.utterances.to_dict("records"):
            row = {c: cell(rec.get(c)) for c in columns}
            sid, turn = row.get("session_id", ""), row.get("turn", "")
            utts = self.sessions.setdefault(sid, [])
            if (sid, turn) in self.index:
                raise ValueError(f"{self.source}: session {sid!r} has turn {turn!r} more than once; a review needs "
                                 "one row per turn")
            u = {"session_id": sid, "turn": turn, "pos": len(utts), "speaker": row.get("speaker") or "other",
                 "text": row.get("text", ""), "marker": row.get("marker", ""), "subtype": row.get("subtype", ""),
                 "dimension": row.get("dimension", ""), "confidence": number(row.get("confidence")),
                 "time": clock(row.get("start")), "row": row}
            u["hash"] = text_hash(sid, turn, u["text"])
            utts.append(u)
            self.index[(sid, turn)] = u
        self.flagged = []
        for utts in self.sessions.values():
            for u in utts:
                if u["speaker"] == "client" and u["marker"] in FAMILIES:
                    ev = evidence_of(u["row"])
                    p = number(ev.model_p)
                    u["p_marker"] = p if p is not None else u["confidence"]
                    u["uncertainty"] = abs(u["p_marker"] - threshold) if u["p_marker"] is not None else 1.0
                    m = tax.markers.get(u["subtype"])
                    u["subtype_label"] = m.label if m else u["subtype"]
                    self.flagged.append(u)
        self.episodes = _episodes(tables.episodes)

    # ---------------------------------------------------------------- for the store

    def turn_rows(self) -> list[dict]:
        return [{"session_id": u["session_id"], "turn": u["turn"], "session_pos": i, "pos": u["pos"],
                 "speaker": u["speaker"], "text": u["text"], "row": u["row"]}
                for i, utts in enumerate(self.sessions.values()) for u in utts]

    # ---------------------------------------------------------------- the queue

    @staticmethod
    def status(entry: dict | None) -> str:
        action = (entry or {}).get("action")
        return "done" if action in DONE else "skipped" if action == "skip" else "open"

    def queue(self, state: dict, session: str = "", family: str = "", subtype: str = "", min_conf: float | None = None,
              max_conf: float | None = None, status: str = "all", sort: str = "order") -> list[dict]:
        """Flagged turns passing the filters (on the tool's decision), in session order or by uncertainty."""
        items = []
        for u in self.flagged:
            conf = u["confidence"]
            st = self.status(state.get((u["session_id"], u["turn"])))
            if (session and u["session_id"] != session) or (family and u["marker"] != family) or (
                    subtype and u["subtype"] != subtype) or (status != "all" and st != status):
                continue
            if (min_conf is not None and (conf is None or conf < min_conf)) or (
                    max_conf is not None and (conf is None or conf > max_conf)):
                continue
            entry = state.get((u["session_id"], u["turn"])) or {}
            items.append({"session_id": u["session_id"], "turn": u["turn"], "time": u["time"], "family": u["marker"],
                          "subtype": u["subtype"], "subtype_label": u["subtype_label"], "confidence": conf,
                          "p_marker": u["p_marker"], "status": st, "action": entry.get("action"),
                          "code": [entry.get("marker", ""), entry.get("subtype", ""), entry.get("dimension", "")]})
        if sort == "uncertainty":
            key = {(u["session_id"], u["turn"]): u["uncertainty"] for u in self.flagged}
            items.sort(key=lambda i: key[(i["session_id"], i["turn"])])      # stable: ties keep session order
        return items

    def progress(self, state: dict) -> dict:
        counts = {"done": 0, "skipped": 0}
        for u in self.flagged:
            st = self.status(state.get((u["session_id"], u["turn"])))
            if st in counts:
                counts[st] += 1
        missed = sum(1 for (sid, turn), e in state.items() if e.get("action") == "missed" and (sid, turn) in self.index)
        return {"total": len(self.flagged), **counts, "left": len(self.flagged) - counts["done"], "missed": missed}

    # ---------------------------------------------------------------- one turn

    def turn(self, session_id: str, turn: str) -> dict | None:
        return self.index.get((session_id, turn))

    def detail(self, session_id: str, turn: str, entry: dict | None, history: list[dict]) -> dict | None:
        """A client turn with its context, evidence, suggestions, what the practitioner did next, and the
        reviewer's decision and the turn's decision history."""
        u = self.turn(session_id, turn)
        if u is None:
            return None
        utts = self.sessions[session_id]
        ev = evidence_of(u["row"])
        step = self._next_step(u, utts)
        pos = u["pos"]
        first = max(0, pos - self.context)
        while first > 0 and first > pos - 8 and not any(c["speaker"] == "therapist" for c in utts[first:pos]):
            first -= 1                       # reach back to the practitioner turn the client answers
        last = min(len(utts) - 1, pos + self.context)
        response = step.get("response_pos")
        if response is not None:
            last = max(last, response)
        context = [{"turn": c["turn"], "speaker": c["speaker"], "time": c["time"],
                    "role": "turn" if c["pos"] == pos else ("before" if c["pos"] < pos else "after"),
                    "response": c["pos"] == response, "flagged": c["marker"] in FAMILIES,
                    "pieces": highlight(c["text"], ev.hits) if c["pos"] == pos else [(c["text"], "")]}
                   for c in utts[first:last + 1]]
        tax = load_taxonomy()
        m = tax.markers.get(u["subtype"])
        flagged = u["speaker"] == "client" and u["marker"] in FAMILIES
        return {"session_id": session_id, "turn": turn, "hash": u["hash"], "time": u["time"], "speaker": u["speaker"],
                "flagged": flagged, "family": u["marker"], "subtype": u["subtype"],
                "subtype_label": m.label if m else u["subtype"], "meaning": m.meaning if m else "",
                "dimension": u["dimension"], "confidence": u["confidence"], "p_marker": u.get("p_marker"),
                "threshold": self.threshold, "rules": ev.rules,
                "model_p": None if ev.model_p is None else f"{ev.model_p:.2f}",
                "other_evidence": [f"gate: {ev.gate}"] if ev.gate else [],
                "context": context, "next": {k: v for k, v in step.items() if k != "response_pos"},
                "suggested": strategy_items([s for s in u["row"].get("suggested_strategies", "").split(";") if s]),
                "decision": entry, "status": self.status(entry), "history": history}

    def _next_step(self, u: dict, utts: list[dict]) -> dict:
        positions = {c["turn"]: c["pos"] for c in utts}
        nxt = next((c for c in utts[u["pos"] + 1:] if c["speaker"] == "therapist"), None)
        ep = self.episodes.get((u["session_id"], u["turn"]))
        if ep is not None:
            response = ep["response_turn"]
            return {"kind": "episode", "episode": ep["episode"], "response_turn": response,
                    "response_pos": positions.get(response),
                    "strategies": strategy_items([s for s in ep["response_strategies"].split(";") if s]),
                    "fit": ep["strategy_fit"], "outcome": ep["outcome"], "reason": ep["outcome_reason"]}
        for ep in self.episodes.values():
            follow = [positions[t] for t in ep["next_client_turns"].split(";") if t in positions]
            if ep["session_id"] == u["session_id"] and ep["turn"] in positions and follow and \
                    positions[ep["turn"]] < u["pos"] <= max(follow):
                return {"kind": "recurrence", "episode": ep["episode"], "opening_turn": ep["turn"],
                        "outcome": ep["outcome"], "reason": ep["outcome_reason"],
                        "response_turn": nxt["turn"] if nxt else "", "response_pos": nxt["pos"] if nxt else None}
        if nxt is None:
            return {"kind": "session_ends"}
        return {"kind": "next_turn", "response_turn": nxt["turn"], "response_pos": nxt["pos"]}

    # ---------------------------------------------------------------- browsing and search

    def session_view(self, session_id: str, state: dict) -> list[dict] | None:
        utts = self.sessions.get(session_id)
        if utts is None:
            return None
        return [{"turn": u["turn"], "speaker": u["speaker"], "time": u["time"], "text": u["text"], "hash": u["hash"],
                 "flagged": u["speaker"] == "client" and u["marker"] in FAMILIES, "family": u["marker"],
                 "subtype": u["subtype"], "decision": state.get((session_id, u["turn"]))} for u in utts]

    def search(self, query: str, session: str = "", limit: int = 50) -> tuple[list[dict], int]:
        """Client turns whose text contains ``query`` (case-insensitive), first ``limit`` and the total."""
        q = query.casefold().strip()
        found = []
        if not q:
            return [], 0
        for sid, utts in self.sessions.items():
            if session and sid != session:
                continue
            for u in utts:
                if u["speaker"] == "client" and q in u["text"].casefold():
                    found.append({"session_id": sid, "turn": u["turn"], "time": u["time"], "text": u["text"],
                                  "flagged": u["marker"] in FAMILIES, "family": u["marker"], "subtype": u["subtype"]})
        return found[:limit], len(found)


def _episodes(frame) -> dict:
    if frame is None or frame.empty:
        return {}
    out = {}
    for rec in frame.to_dict("records"):
        row = {k: cell(v) for k, v in rec.items()}
        out[(row.get("session_id", ""), row.get("turn", ""))] = {
            k: row.get(k, "") for k in ("session_id", "episode", "turn", "response_turn", "response_strategies",
                                        "strategy_fit", "outcome", "outcome_reason", "next_client_turns")}
    return out


def from_outdir(path: str | Path, context: int = 2, threshold: float | None = None) -> ReviewSet:
    """The queue of an output folder of ``rupture-detect score`` (its manifest says which model ran)."""
    tables = read_outdir(path)
    info = (tables.manifest or {}).get("model")
    return ReviewSet(tables, model_label(info), threshold if threshold is not None else model_threshold(info), context)


def from_scores(scores, source: str, context: int = 2, threshold: float | None = None) -> ReviewSet:
    """The queue of :func:`rupture_detect.score`'s result."""
    info = getattr(scores, "model", None)
    return ReviewSet(tables_from_scores(scores, source=source), model_label(info),
                     threshold if threshold is not None else model_threshold(info), context)
