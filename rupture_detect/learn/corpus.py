"""The annotated corpus: reading it, validating it, and its fixed split by session.

A corpus is an utterance table (the scorer's format: ``session_id, turn,
speaker, text`` and optional ``start, end``) plus label columns: ``marker,
subtype, dimension`` on client turns and ``strategy`` on therapist turns.
The project's own corpus lives in ``rupture_detect/data/corpus/`` (package data, so it ships in the
wheel): ``corpus.jsonl``
(utterances) and ``sessions.jsonl`` (one line per session: modality,
presenting problem, variety, ASR style, and the ``split``). A researcher's own
annotated table in CSV, TSV or JSONL works too; a ``split`` column there (or
none, for training on everything with cross-validation) is optional.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..taxonomy import DIMENSIONS, FAMILIES, load_taxonomy

LABEL_COLUMNS = ("marker", "subtype", "dimension", "strategy")
SPLITS = ("train", "dev", "test")
MODALITIES = ("CBT", "psychodynamic", "person-centred", "CAT", "MI", "counselling")
STYLES = ("textbook", "asr", "verbatim")
VARIETIES = ("en-GB", "en-US")


def corpus_dir() -> Path:
    """The shipped corpus (package data: the same in a checkout and in an installed wheel)."""
    return Path(__file__).resolve().parents[1] / "data" / "corpus"


def assign_splits(sessions: pd.DataFrame, by: list[str], test: float = 0.15, dev: float = 0.15) -> pd.Series:
    """A split per session (70/15/15 by default), stratified by the ``by`` columns.

    Within each group, sessions are ordered by a hash of their id (stable
    under re-runs and additions elsewhere); the first ``round(test * n)`` go
    to test, the next ``round(dev * n)`` to dev, the rest to train.
    """
    key = sessions["session_id"].map(lambda s: hashlib.sha1(str(s).encode()).hexdigest())
    order = sessions.assign(hash_key=key).sort_values([*by, "hash_key"])
    pos = order.groupby(by).cumcount()
    size = order.groupby(by)["session_id"].transform("size")
    n_test, n_dev = (size * test).round(), (size * dev).round()
    split = ["test" if p < t else "dev" if p < t + d else "train" for p, t, d in zip(pos, n_test, n_dev)]
    return pd.Series(split, index=order.index).loc[sessions.index]


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False)
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)


def read_corpus(path: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(utterances, sessions). ``path`` is a corpus folder or an annotated utterance table."""
    path = Path(path) if path else corpus_dir()
    if path.is_dir():
        utts = _read_table(path / "corpus.jsonl")
        meta_path = path / "sessions.jsonl"
        sessions = _read_table(meta_path) if meta_path.exists() else pd.DataFrame({"session_id": []})
    else:
        utts = _read_table(path)
        sessions = pd.DataFrame({"session_id": []})
    for col in LABEL_COLUMNS:
        if col in utts:
            utts[col] = utts[col].fillna("").astype(str)
    utts["line_no"] = range(2 if path.suffix == ".csv" else 1, len(utts) + (2 if path.suffix == ".csv" else 1))
    if "split" in utts and "split" not in sessions:
        sessions = utts.groupby("session_id", sort=False)["split"].first().reset_index()
    if sessions.empty and "session_id" in utts:
        sessions = pd.DataFrame({"session_id": utts["session_id"].drop_duplicates().tolist()})
    return utts, sessions


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(path: str | Path | None = None, max_problems: int = 200) -> Validation:
    """Schema, allowed ids and label consistency; label counts for the report."""
    path = Path(path) if path else corpus_dir()
    where = path / "corpus.jsonl" if path.is_dir() else path
    result = Validation()
    try:
        utts, sessions = read_corpus(path)
    except (OSError, ValueError) as err:
        result.problems.append(f"{where}: cannot read: {err}")
        return result

    def problem(line, msg):
        if len(result.problems) < max_problems:
            result.problems.append(f"{where}:{line}: {msg}")

    missing = [c for c in ("session_id", "turn", "speaker", "text", "marker", "subtype", "dimension")
               if c not in utts]
    if missing:
        result.problems.append(f"{where}: missing columns {missing}")
        return result
    if "strategy" not in utts:
        utts["strategy"] = ""
    tax = load_taxonomy()
    strategies = set(tax.strategy_ids)
    seen_turns: set = set()
    for r in utts.itertuples(index=False):
        line = r.line_no
        if (r.session_id, r.turn) in seen_turns:
            problem(line, f"duplicate turn {r.turn!r} in session {r.session_id!r}")
        seen_turns.add((r.session_id, r.turn))
        if not str(r.text).strip():
            problem(line, "empty text")
        if r.speaker == "client":
            if r.marker not in ("none", *FAMILIES):
                problem(line, f"client marker must be none/withdrawal/confrontation, not {r.marker!r}")
            elif r.marker == "none":
                if r.subtype or r.dimension:
                    problem(line, "marker none but subtype or dimension given")
            else:
                if r.subtype not in tax.markers:
                    problem(line, f"unknown subtype {r.subtype!r}")
                elif tax.family_of(r.subtype) != r.marker:
                    problem(line, f"subtype {r.subtype} belongs to {tax.family_of(r.subtype)}, not {r.marker}")
                if r.dimension not in DIMENSIONS:
                    problem(line, f"dimension must be one of {DIMENSIONS}, not {r.dimension!r}")
            if r.strategy:
                problem(line, "client turns carry no strategy")
        elif r.speaker == "therapist":
            if r.marker or r.subtype or r.dimension:
                problem(line, "therapist turns carry no marker, subtype or dimension")
            bad = [s for s in r.strategy.split(";") if s and s not in strategies]
            if bad:
                problem(line, f"unknown strategy ids {bad}")
        else:
            problem(line, f"speaker must be therapist or client, not {r.speaker!r}")
    _validate_sessions(sessions, utts, path, result)
    result.counts = label_counts(utts, sessions)
    return result


def _validate_sessions(sessions: pd.DataFrame, utts: pd.DataFrame, path: Path, result: Validation) -> None:
    where = path / "sessions.jsonl" if path.is_dir() else path
    known = set(sessions["session_id"])
    for sid in sorted(set(utts["session_id"]) - known):
        result.problems.append(f"{where}: session {sid!r} has utterances but no metadata line")
    checks = {"split": SPLITS, "modality": MODALITIES, "variety": VARIETIES, "style": STYLES}
    for i, row in enumerate(sessions.to_dict("records"), start=1):
        for col, allowed in checks.items():
            if col in row and row[col] not in allowed:
                result.problems.append(f"{where}:{i}: {col} must be one of {allowed}, not {row[col]!r}")


def label_counts(utts: pd.DataFrame, sessions: pd.DataFrame) -> dict:
    client = utts[utts["speaker"] == "client"]
    flagged = client[client["marker"] != "none"]
    strategies = Counter(s for v in utts.loc[utts["speaker"] == "therapist", "strategy"] for s in v.split(";") if s)
    counts = {
        "sessions": int(utts["session_id"].nunique()),
        "utterances": len(utts),
        "client_turns": len(client),
        "family": client["marker"].value_counts().to_dict(),
        "subtype": flagged["subtype"].value_counts().to_dict(),
        "dimension_by_family": {f"{f}/{d}": int(n)
                                for (f, d), n in flagged.groupby(["marker", "dimension"]).size().items()},
        "strategy": dict(strategies.most_common()),
    }
    for col in ("split", "style", "modality", "variety", "asr"):
        if col in sessions:
            counts[col] = {str(k): int(v) for k, v in sessions[col].value_counts().items()}
    return counts


def format_counts(counts: dict) -> str:
    lines = [f"sessions {counts['sessions']}, utterances {counts['utterances']}, client turns {counts['client_turns']}"]
    for key in ("family", "subtype", "dimension_by_family", "strategy", "split", "style", "modality", "variety",
                "asr"):
        if key in counts:
            lines.append(f"{key}:")
            lines.extend(f"  {k:<32} {v:>6}" for k, v in sorted(counts[key].items(), key=lambda kv: -kv[1]))
    return "\n".join(lines)


def write_jsonl(path: Path, records) -> None:
    """Atomically write records as JSON Lines."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)
