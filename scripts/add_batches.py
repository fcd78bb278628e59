"""Add writers' batches to the shipped corpus, keeping every existing session's split (a one-off, kept for provenance).

    python scripts/add_batches.py RAW_DIR [--changes ADJUDICATION.jsonl ...]

Reads RAW_DIR/batch_*.jsonl and batch_*.sessions.jsonl (the verbatim-style
batches ``batch_v01`` ... written under rupture_detect/data/corpus/VERBATIM_BRIEF.md),
applies label changes (adjudicated disagreements with the second coder; to new
sessions and to those an earlier run added),
assigns a split per new session (70/15/15 by session, stratified by batch,
hash-ordered so it is stable), records each session's ``style`` (``textbook``,
``asr`` or ``verbatim``; older lines get it from their ``asr`` flag) and
rewrites corpus.jsonl and sessions.jsonl. Sessions already in the corpus are
left as they are; the raw batches are not kept in the repository.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from rupture_detect.learn.corpus import assign_splits, corpus_dir, write_jsonl

KEYS = ["session_id", "turn", "speaker", "text", "start", "marker", "subtype", "dimension", "strategy"]
SESSION_KEYS = ["session_id", "modality", "presenting_problem", "variety", "asr", "style", "session_number",
                "notes", "split"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw_dir", type=Path)
    ap.add_argument("--changes", type=Path, nargs="*", default=[], help="label changes to apply, in order")
    args = ap.parse_args()
    out = corpus_dir()
    utts = read_jsonl(out / "corpus.jsonl")
    metas = read_jsonl(out / "sessions.jsonl")
    for m in metas:
        m["style"] = m.get("style") or ("asr" if m.get("asr") else "textbook")
    known = {m["session_id"] for m in metas}
    new_utts, new_metas = [], []
    for f in sorted(args.raw_dir.glob("batch_*.jsonl")):
        if f.name.endswith(".sessions.jsonl"):
            continue
        batch_metas = read_jsonl(f.with_name(f.stem + ".sessions.jsonl"))
        fresh = {m["session_id"] for m in batch_metas} - known
        new_metas.extend(m for m in batch_metas if m["session_id"] in fresh)
        new_utts.extend(u for u in read_jsonl(f) if u["session_id"] in fresh)
    changes = {}
    for path in args.changes:
        for c in read_jsonl(path):
            changes[(c["session_id"], c["turn"])] = c["final"]
    applied = 0
    for u in utts + new_utts:          # changes may also settle sessions added by an earlier run
        final = changes.get((u["session_id"], u["turn"]))
        if final:
            u.update(final)
            applied += 1
    if new_metas:
        frame = pd.DataFrame(new_metas)
        frame["batch"] = frame["session_id"].str.split("_").str[0]
        frame["split"] = assign_splits(frame, by=["batch"])
        for m, split in zip(new_metas, frame["split"]):
            m["split"] = split
            m["style"] = m.get("style") or "verbatim"
    metas = [{k: m.get(k, "") for k in SESSION_KEYS} for m in metas + new_metas]
    write_jsonl(out / "corpus.jsonl", ({k: u.get(k, "") for k in KEYS} for u in utts + new_utts))
    write_jsonl(out / "sessions.jsonl", metas)
    added = pd.DataFrame(new_metas)
    print(f"added {len(new_metas)} sessions, {len(new_utts)} utterances, {applied} label changes applied; "
          f"new splits {added['split'].value_counts().to_dict() if len(added) else {}}")


if __name__ == "__main__":
    main()
