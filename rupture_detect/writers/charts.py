"""Per-session timeline: markers by family over time (or turns), with the therapist's repairs.

Withdrawal and confrontation sit on two lanes with different shapes (down and
up triangles) as well as colours, sized by confidence; each episode's
response is a vertical line styled by outcome (solid resolved, dashed partly
resolved, dotted unresolved), so the chart reads in greyscale and print too.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from matplotlib.figure import Figure  # object API: no pyplot state, no backend switch for the caller

FAMILY_STYLE = {"withdrawal": ("v", "#1f5fa8", 1), "confrontation": ("^", "#b2361e", 2)}
OUTCOME_STYLE = {"resolved": ("-", "#2a7a3b"), "partly resolved": ("--", "#b07d12"),
                 "unresolved": (":", "#7a2a2a")}


def _num(value) -> float | None:
    """None for missing values, whether they come as None (rows) or NaN (DataFrame records)."""
    return None if value is None or value != value else float(value)


def _position(row, timed: bool) -> float:
    return _num(row["start"]) / 60 if timed else float(row["_index"])


def timeline(session_id: str, rows: list[dict], episodes: list[dict], out_dir: str | Path) -> list[Path]:
    """Draw one session's timeline to ``out_dir/<session_id>.png`` and ``.svg``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(rows):
        r["_index"] = i + 1
    timed = bool(rows) and all(_num(r.get("start")) is not None for r in rows)
    by_turn = {_turn_key(r["turn"]): r for r in rows}
    fig = Figure(figsize=(10, 2.6), dpi=110)
    ax = fig.subplots()
    for family, (shape, colour, lane) in FAMILY_STYLE.items():
        pts = [r for r in rows if r.get("marker") == family]
        ax.scatter([_position(r, timed) for r in pts], [lane] * len(pts),
                   s=[40 + 160 * (_num(r["confidence"]) or 0) for r in pts], marker=shape, color=colour,
                   edgecolors="black", linewidths=0.5, label=family, zorder=3)
    for outcome, (style, colour) in OUTCOME_STYLE.items():
        xs = [_position(by_turn[_turn_key(e["response_turn"])], timed) for e in episodes
              if e["outcome"] == outcome and _turn_key(e["response_turn"]) in by_turn]
        for j, x in enumerate(xs):
            ax.axvline(x, linestyle=style, color=colour, linewidth=1.2, zorder=1,
                       label=f"repair: {outcome}" if j == 0 else None)
    ax.set_yticks([1, 2], ["withdrawal", "confrontation"])
    ax.set_ylim(0.4, 2.6)
    ax.set_xlabel("minutes" if timed else "utterance")
    span = max((_position(r, timed) for r in rows), default=1)
    ax.set_xlim(0, span * 1.02 + (0.5 if timed else 1))
    ax.set_title(f"{session_id}: markers and repairs", fontsize=10, loc="left")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        path = out_dir / f"{chart_stem(session_id)}.{ext}"
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=ext)
        tmp.replace(path)
        paths.append(path)
    for r in rows:
        r.pop("_index", None)
    return paths


def _turn_key(turn) -> str:
    """Turn ids compare as text; 3 and 3.0 (a DataFrame's float column) are the same turn."""
    return str(int(turn)) if isinstance(turn, float) and turn == turn and turn.is_integer() else str(turn)


def chart_stem(session_id) -> str:
    """The file name (without extension) of a session's chart: safe on every file system for any id.

    Plain ids (letters, digits, ``-``, ``_``, up to 100 characters) are used as
    they are; any other id becomes a readable, shortened form plus a hash of
    the whole id, so two ids never share a chart and the report finds it again.
    """
    sid = str(session_id)
    if _PLAIN.fullmatch(sid):
        return sid
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", sid)[:60].strip("_") or "session"
    return f"{readable}-{hashlib.sha1(sid.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,100}")
