"""Review codes out of the database, in the annotated-table format ``train`` and ``evaluate`` read.

One block of rows per reviewer: every utterance of each session in which that
reviewer coded at least one client turn, in session order, with the scorer's
columns, where ``marker, subtype, dimension`` are the reviewer's codes (empty
on client turns the reviewer did not code: ``train`` and ``evaluate`` leave
those out) and the tool's decision moves to ``tool_marker, tool_subtype,
tool_dimension``; then ``decision`` (accept, reject, relabel, missed), ``memo``,
``reviewer``, ``reviewed_at`` (UTC) and ``model``. Decisions made on text that
has changed since are not exported (they are counted).

:func:`coder_table` narrows an export to one reviewer (what ``train`` and
``evaluate`` use with ``--coder``), and :func:`review_agreement` compares two
reviewers, or a reviewer and the tool's decisions as reviewed, with
:func:`rupture_detect.learn.agreement.coder_agreement` (kappa, Gwet's AC1, per
subtype).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from ..learn.agreement import coder_agreement
from ..taxonomy import FAMILIES, NONE
from .store import Store

CODE_COLUMNS = ("marker", "subtype", "dimension")
TOOL_COLUMNS = ("tool_marker", "tool_subtype", "tool_dimension")
REVIEW_COLUMNS = (*TOOL_COLUMNS, "decision", "memo", "reviewer", "reviewed_at", "model")
TOOL = "tool"


def export_frame(store: Store, reviewers=None, unflagged_as_none: bool = False) -> tuple[pd.DataFrame, dict]:
    """The review table and counts (reviewers, sessions, coded turns, stale decisions left out).

    With ``unflagged_as_none``, client turns the tool did not flag and the reviewer did not mark as missed
    are coded ``none`` in every session the reviewer worked in (say so only when reviewers read whole
    sessions); flagged turns the reviewer did not decide stay uncoded either way.
    """
    state = store.state()
    wanted = list(reviewers) if reviewers else sorted(state)
    unknown = [r for r in wanted if r not in state]
    if unknown:
        raise ValueError(f"{store.path}: no decisions by {', '.join(unknown)}; reviewers: "
                         f"{', '.join(sorted(state)) or 'none yet'}")
    turns = store.turns()
    columns = list(dict.fromkeys(c for t in turns for c in t["row"]))
    for c in ("session_id", "turn", "speaker", "text", *CODE_COLUMNS):
        if c not in columns:
            columns.append(c)
    rows, sessions, coded = [], set(), 0
    for reviewer in wanted:
        codes = {k: e for k, e in state[reviewer].items() if e["action"] in ("accept", "reject", "relabel", "missed")}
        worked = {sid for sid, _ in codes}
        for t in turns:
            if t["session_id"] not in worked:
                continue
            tool = t["row"]
            row = {c: tool.get(c, "") for c in columns}
            row.update(session_id=t["session_id"], turn=t["turn"], speaker=t["speaker"], text=t["text"])
            row.update({f"tool_{c}": tool.get(c, "") for c in CODE_COLUMNS})
            e = codes.get((t["session_id"], t["turn"]))
            mine = dict.fromkeys(CODE_COLUMNS, "")
            extra = {"decision": "", "memo": "", "reviewed_at": "", "model": ""}
            if e is not None:
                mine = {c: e[c] for c in CODE_COLUMNS}
                extra = {"decision": e["action"], "memo": e["memo"], "reviewed_at": e["at"], "model": e["model"]}
                coded += 1
            elif unflagged_as_none and t["speaker"] == "client" and tool.get("marker") not in FAMILIES:
                mine = {"marker": NONE, "subtype": "", "dimension": ""}
                extra["decision"] = "unflagged"
            row.update(mine, **extra, reviewer=reviewer)
            rows.append(row)
            sessions.add(t["session_id"])
    frame = pd.DataFrame(rows, columns=[*columns, *REVIEW_COLUMNS])
    return frame, {"reviewers": len(wanted), "sessions": len(sessions), "coded": coded,
                   "stale": store.stale_count(), "rows": len(frame)}


def write_table(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write a CSV atomically: a temporary file beside ``out``, then ``os.replace``."""
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ValueError(f"{out}: the review export is written as CSV (name the file .csv)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False).fillna("").astype(str)
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)


def reviewers_in(path: str | Path) -> list[str] | None:
    """The reviewers of a review export, in order of appearance; None for a table without a reviewer column."""
    path = Path(path)
    if path.is_dir():
        return None
    try:
        head = read_table(path)
    except (OSError, ValueError):
        return None
    if "reviewer" not in head:
        return None
    return list(dict.fromkeys(r for r in head["reviewer"] if r))


def _pick(path: Path, coder: str | None, reviewers: list[str]) -> str:
    if coder is None:
        if len(reviewers) == 1:
            return reviewers[0]
        raise ValueError(f"{path} holds the codes of {len(reviewers)} reviewers ({', '.join(reviewers)}): "
                         "choose one with --coder NAME")
    if coder not in reviewers:
        raise ValueError(f"{path}: no codes by reviewer {coder!r}; reviewers: {', '.join(reviewers) or 'none'}")
    return coder


def coder_table(path: str | Path, coder: str | None, folder: str | Path) -> tuple[Path, str]:
    """One reviewer's rows of a review export, written as a table in ``folder``: (its path, the reviewer)."""
    path = Path(path)
    reviewers = reviewers_in(path) or []
    coder = _pick(path, coder, reviewers)
    table = read_table(path)
    out = Path(folder) / f"{path.stem}.csv"          # the export's own name: it is what the model card records
    table[table["reviewer"] == coder].to_csv(out, index=False)
    return out, coder


def _codes(table: pd.DataFrame, who: str) -> pd.DataFrame:
    if who == TOOL:
        rows = table.drop_duplicates(["session_id", "turn"])
        codes = rows[["session_id", "turn", "speaker", *TOOL_COLUMNS]].rename(
            columns=dict(zip(TOOL_COLUMNS, CODE_COLUMNS)))
    else:
        codes = table.loc[table["reviewer"] == who, ["session_id", "turn", "speaker", *CODE_COLUMNS]]
    return codes[(codes["speaker"] == "client") & (codes["marker"] != "")]


def review_agreement(path: str | Path, first: str | None, second: str) -> dict:
    """Agreement on the client turns both coded: two reviewers, or a reviewer and ``tool`` (the decisions
    the reviewer saw, as the export's tool columns record them)."""
    path = Path(path)
    reviewers = reviewers_in(path)
    if reviewers is None:
        raise ValueError(f"{path}: not a review export (no reviewer column); export one with "
                         "`rupture-detect review export`")
    if second != TOOL:
        _pick(path, second, reviewers)
    first = _pick(path, first, [r for r in reviewers if r != second] if first is None else reviewers)
    if first == second:
        raise ValueError(f"{path}: compare two different coders, not {first} with itself")
    table = read_table(path)
    a, b = _codes(table, first), _codes(table, second)
    if second == TOOL:
        b = b[b.set_index(["session_id", "turn"]).index.isin(a.set_index(["session_id", "turn"]).index)]
    both = a.merge(b[["session_id", "turn"]], on=["session_id", "turn"])
    if both.empty:
        raise ValueError(f"{path}: {first} and {second} coded no client turn in common")
    result = coder_agreement(a, b.drop(columns="speaker"))
    result["subtype_counts"] = {
        s: {"first": int(((a["marker"] != NONE) & (a["subtype"] == s)).sum()),
            "second": int(((b["marker"] != NONE) & (b["subtype"] == s)).sum())}
        for s in sorted(set(a["subtype"]) | set(b["subtype"])) if s}
    return {"table": str(path), "first": first, "second": second, **result}


def format_agreement(result: dict) -> str:
    lines = [f"agreement: {result['first']} vs {result['second']} on {result['client_turns']} client turns both "
             f"coded ({result['sessions']} sessions) in {result['table']}", ""]
    for key, label in (("family_kappa", "family Cohen's kappa"), ("family_ac1", "family Gwet's AC1"),
                       ("family_agreement", "family raw agreement"), ("subtype_kappa", "subtype Cohen's kappa"),
                       ("subtype_ac1", "subtype Gwet's AC1"),
                       ("dimension_kappa_both_flagged", "dimension kappa (both flagged)")):
        lines.append(f"{label:<34}{result[key]:>8.3f}")
    lines.append(f"{'marker rate':<34}{result['marker_rate']['first']:>8.3f}{result['marker_rate']['second']:>8.3f}")
    lines += ["", f"{'per subtype':<34}{'kappa':>8}{result['first'][:8]:>10}{result['second'][:8]:>10}"]
    for s, k in result["per_subtype_kappa"].items():
        n = result["subtype_counts"].get(s, {"first": 0, "second": 0})
        lines.append(f"  {s:<32}{k:>8.3f}{n['first']:>10}{n['second']:>10}")
    return "\n".join(lines)
