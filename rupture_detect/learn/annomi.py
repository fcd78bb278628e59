"""The real-talk development set: the project's codes for AnnoMI transcripts, joined with a user's copy.

AnnoMI (public repository ``uccollab/AnnoMI``, file ``AnnoMI-simple.csv``)
holds real, verbatim-transcribed motivational-interviewing sessions. Its
licence is unclear, so none of its text is in this project: the package ships
only ``data/annomi/codes.csv`` (``transcript_id, utterance_id, marker,
subtype, dimension, coder``: coder ``A``, ``B`` where a second coder coded the
turn, and ``final``, the adjudicated gold) and ``data/annomi/adjudication.jsonl``.
:func:`join` puts the codes beside the text of a copy the user points to, in
the annotated-table format ``evaluate`` reads.

It is a development and evaluation set only: no parameter of the shipped model
is fitted to it. AnnoMI's ``mi_quality``, ``client_talk_type`` and therapist
behaviour columns are not rupture codes and are never used. Transcripts
reserved for an independent check (:data:`RESERVED`) are never coded, read or
scored here.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pandas as pd

from ..readers.transcript import TranscriptError, decode

RESERVED = frozenset({2, 3, 4, 6, 8, 9, 17, 19, 20, 31, 40, 43, 50, 55, 67, 72, 74, 77, 82, 90, 91, 103, 112,
                      115, 120, 123, 126, 129})
CODERS = ("final", "A", "B")
PREFIX = "annomi:"
_ROLES = {"therapist": "therapist", "client": "client"}


def read_codes(coder: str | None = None) -> pd.DataFrame:
    """The shipped codes (all coders, or one of :data:`CODERS`)."""
    text = resources.files("rupture_detect").joinpath("data/annomi/codes.csv").read_text("utf-8")
    codes = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    codes["transcript_id"] = codes["transcript_id"].astype(int)
    codes["utterance_id"] = codes["utterance_id"].astype(int)
    if set(codes["transcript_id"]) & RESERVED:
        raise ValueError("the AnnoMI codes include a reserved transcript; they must never be coded")
    return codes if coder is None else codes[codes["coder"] == coder].reset_index(drop=True)


def join(annomi_csv: str | Path, coder: str = "final", codes: pd.DataFrame | None = None) -> pd.DataFrame:
    """An annotated utterance table of the coded transcripts: text from ``annomi_csv``, codes from the package.

    Columns: ``session_id`` (the transcript id), ``turn`` (the utterance id),
    ``speaker``, ``text``, ``start``, ``marker``, ``subtype``, ``dimension``,
    ``video`` (sessions of one source video belong together in any split) and
    ``style`` (``annomi``). Raises :class:`TranscriptError` if the copy does not
    match the codes (a coded client turn missing, or not a client turn there).
    ``codes`` replaces the shipped codes (all coders, as :func:`read_codes` gives them).
    """
    if coder not in CODERS:
        raise ValueError(f"coder must be one of {CODERS}, not {coder!r}")
    path = Path(annomi_csv)
    try:
        text = decode(path.read_bytes(), path)
    except OSError as err:
        raise TranscriptError(path, None, f"cannot read AnnoMI file: {err.strerror}") from None
    codes = read_codes(coder) if codes is None else codes[codes["coder"] == coder]
    if set(codes["transcript_id"]) & RESERVED:
        raise ValueError("codes for a reserved AnnoMI transcript: those are never coded")
    wanted = set(codes["transcript_id"])
    by_key = {(r.transcript_id, r.utterance_id): r for r in codes.itertuples(index=False)}
    reader = csv.DictReader(io.StringIO(text))
    need = {"transcript_id", "utterance_id", "interlocutor", "utterance_text", "timestamp", "video_url"}
    if not reader.fieldnames or need - set(reader.fieldnames):
        raise TranscriptError(path, 1, f"not AnnoMI-simple.csv: columns {sorted(need)} are needed")
    rows, seen = [], set()
    for r in reader:
        try:
            tid, uid = int(r["transcript_id"]), int(r["utterance_id"])
        except ValueError:
            raise TranscriptError(path, reader.line_num, "transcript_id and utterance_id must be integers") from None
        if tid not in wanted or tid in RESERVED:
            continue
        speaker = _ROLES.get(r["interlocutor"].strip().lower(), "other")
        code = by_key.get((tid, uid))
        if code is not None and speaker != "client":
            raise TranscriptError(path, reader.line_num, f"transcript {tid} utterance {uid} is coded as a client "
                                                         "turn but is not one in this file: another AnnoMI version?")
        seen.add((tid, uid))
        rows.append({"session_id": str(tid), "turn": uid, "speaker": speaker, "text": r["utterance_text"],
                     "start": r["timestamp"], "marker": code.marker if code else "",
                     "subtype": code.subtype if code else "", "dimension": code.dimension if code else "",
                     "video": r["video_url"], "style": "annomi"})
    missing = sorted(set(by_key) - seen)
    if missing:
        raise TranscriptError(path, None, f"{len(missing)} coded utterance(s) are not in this file, e.g. "
                                          f"transcript {missing[0][0]} utterance {missing[0][1]}: "
                                          "another AnnoMI version?")
    table = pd.DataFrame(rows)
    client = table["speaker"] == "client"
    table.loc[client & (table["marker"] == ""), "marker"] = "none"     # every coded transcript is coded in full
    return table


def gold_path(spec: str, folder: Path, coder: str = "final") -> Path:
    """``annomi:PATH`` -> a temporary annotated table in ``folder`` (never inside the repository)."""
    table = join(spec[len(PREFIX):], coder)
    out = Path(folder) / f"annomi_{coder}.jsonl"
    table.to_json(out, orient="records", lines=True, force_ascii=False)
    return out
