"""3RS-style segments: five-minute stretches (or windows of turns) with 1-5 significance ratings.

3RS raters mark, per five-minute segment, which markers occur and how
significant withdrawal and confrontation are on a 1-5 scale. The tool's
rating follows the scale's logic from what it detected:

1. no marker of that family;
2. one marker, detected with low confidence (< :data:`CLEAR`);
3. one clear marker;
4. two markers, or one marker whose episode recurs or stays unresolved;
5. three or more markers, or clear markers in at least a quarter of the
   segment's client turns: the family dominates the segment.
"""

from __future__ import annotations

from ..taxonomy import load_taxonomy

SEGMENT_MINUTES = 5.0
SEGMENT_TURNS = 40
CLEAR = 0.6
TIMED_SHARE = 0.8     # a session counts as timed when this share of utterances has a start time


def segment_columns() -> list[str]:
    return (["session_id", "segment", "first_turn", "last_turn", "start", "end", "client_turns"]
            + [f"n_{m}" for m in load_taxonomy().marker_ids]
            + ["withdrawal_significance", "confrontation_significance", "strategies"])


def assign(utts, minutes: float = SEGMENT_MINUTES, turns: int = SEGMENT_TURNS) -> tuple[list[int], bool]:
    """A segment number (from 1) per utterance, and whether times were used."""
    starts = [u.start for u in utts]
    timed = sum(s is not None for s in starts) >= TIMED_SHARE * max(len(utts), 1) and len(utts) > 0
    if not timed:
        return [i // turns + 1 for i in range(len(utts))], False
    seg, last = [], 1
    for s in starts:                        # untimed utterances stay in the segment of the one before
        if s is not None:
            last = int(s // (minutes * 60)) + 1
        seg.append(last)
    first = seg[0] if seg else 1
    return [s - first + 1 for s in seg], True


def significance(confidences: list[float], client_turns: int, escalated: bool) -> int:
    n = len(confidences)
    if n == 0:
        return 1
    clear = sum(c >= CLEAR for c in confidences)
    if n >= 3 or (clear and clear >= 0.25 * max(client_turns, 1) and client_turns >= 4):
        return 5
    if n == 2 or escalated:
        return 4
    return 3 if clear else 2


def build(transcript, decisions: dict, strategies: dict, episodes: list[dict],
          minutes: float = SEGMENT_MINUTES, turns: int = SEGMENT_TURNS) -> list[dict]:
    utts = transcript.utterances
    if not utts:
        return []
    numbers, timed = assign(utts, minutes, turns)
    markers = load_taxonomy().marker_ids
    escalated_turns = {e["turn"] for e in episodes if e["recurrences"] or e["outcome"] == "unresolved"}
    rows: dict[int, dict] = {}
    for i, (u, seg) in enumerate(zip(utts, numbers)):
        row = rows.get(seg)
        if row is None:
            row = rows[seg] = {"session_id": transcript.session_id, "segment": seg, "first_turn": u.turn,
                               "last_turn": u.turn, "client_turns": 0, **{f"n_{m}": 0 for m in markers},
                               "_conf": {"withdrawal": [], "confrontation": []}, "_esc": set(), "_strat": []}
            if timed:
                row["start"], row["end"] = (seg - 1) * minutes * 60, seg * minutes * 60
            else:
                row["start"] = row["end"] = None
        row["last_turn"] = u.turn
        d = decisions.get(i)
        if u.speaker == "client":
            row["client_turns"] += 1
            if d is not None and d.family != "none":
                row[f"n_{d.subtype}"] += 1
                row["_conf"][d.family].append(d.confidence)
                if u.turn in escalated_turns:
                    row["_esc"].add(d.family)
        for s in strategies.get(i, ([], ""))[0]:
            if s not in row["_strat"]:
                row["_strat"].append(s)
    out = []
    for seg in sorted(rows):
        row = rows[seg]
        conf, esc = row.pop("_conf"), row.pop("_esc")
        for fam in ("withdrawal", "confrontation"):
            row[f"{fam}_significance"] = significance(conf[fam], row["client_turns"], fam in esc)
        row["strategies"] = ";".join(row.pop("_strat"))
        out.append(row)
    return out
