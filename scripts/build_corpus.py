"""Assemble the annotated corpus from the writers' batch files (a one-off, kept for provenance).

    python scripts/build_corpus.py RAW_DIR [--changes CHANGES.jsonl ...]

Reads RAW_DIR/batch_NN.jsonl and batch_NN.sessions.jsonl, applies the
label changes (adjudicated disagreements, then the corpus-wide corrections
that adjudication called for), assigns the fixed split by session (70/15/15,
stratified by batch and ASR style, hash-ordered so it is stable) and writes
rupture_detect/data/corpus/corpus.jsonl and rupture_detect/data/corpus/sessions.jsonl. The raw batches are
not kept in the repository: the corpus files are the artifact.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from rupture_detect.learn.corpus import assign_splits, corpus_dir, write_jsonl

KEYS = ["session_id", "turn", "speaker", "text", "start", "marker", "subtype", "dimension", "strategy"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw_dir", type=Path)
    ap.add_argument("--changes", type=Path, nargs="*",
                    default=[corpus_dir() / "adjudication.jsonl", corpus_dir() / "corrections.jsonl"],
                    help="label changes to apply, in order (adjudicated disagreements, then corrections)")
    args = ap.parse_args()
    utts, metas = [], []
    for f in sorted(args.raw_dir.glob("batch_*.jsonl")):
        if f.name.endswith(".sessions.jsonl"):
            continue
        utts.extend(json.loads(line) for line in f.open(encoding="utf-8") if line.strip())
        metas.extend(json.loads(line) for line in f.with_name(f.stem + ".sessions.jsonl").open(encoding="utf-8")
                     if line.strip())
    changes = {}
    for path in args.changes:
        if path.exists():
            for line in path.open(encoding="utf-8"):
                c = json.loads(line)
                changes[(c["session_id"], c["turn"])] = c["final"]
    applied = 0
    for u in utts:
        final = changes.get((u["session_id"], u["turn"]))
        if final:
            u.update(final)
            applied += 1
    sessions = pd.DataFrame(metas)
    sessions["batch"] = sessions["session_id"].str[:3]
    sessions["split"] = assign_splits(sessions, by=["batch", "asr"])
    out = corpus_dir()
    write_jsonl(out / "corpus.jsonl", ({k: u.get(k, "") for k in KEYS} for u in utts))
    write_jsonl(out / "sessions.jsonl", sessions.drop(columns="batch").to_dict("records"))
    print(f"{len(utts)} utterances, {len(sessions)} sessions, {applied} label changes applied; "
          f"split {sessions['split'].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
