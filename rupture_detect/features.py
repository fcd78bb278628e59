"""Features of a client turn in context, shared by training and scoring.

A client turn is described by its own words, the words of the therapist turn
it answers, and a few dense cues: what the therapist turn did (open or closed
question, reflection, interpretation, suggestion, frame talk), lengths, how
much the answer takes up what was asked, non-verbal notes, punctuation, and
(for the fused model) the rule scores per marker. Everything is computed from
the processed ``Doc`` objects, so training and scoring cannot drift apart.
"""

from __future__ import annotations

import math

import pandas as pd
from spacy.tokens import Doc

from .components import _View, content_lemmas
from .taxonomy import load_taxonomy

ACT_FEATURES = ("question", "open_question", "closed_question", "reflection", "empathy", "interpretation",
                "suggestion", "frame", "invitation")
CUE_GROUPS = {
    "laugh": ("laugh", "chuckl", "giggl", "smil", "grin"),
    "pause": ("pause", "silence", "quiet"),
    "sigh": ("sigh",),
    "cry": ("cry", "tear", "sob"),
}
TEXT_COLUMNS = ("text", "prev_text")


def rule_columns() -> list[str]:
    return [f"rule_{m}" for m in load_taxonomy().marker_ids]


def dense_columns(with_rules: bool) -> list[str]:
    cols = ["has_prev", *(f"act_{a}" for a in ACT_FEATURES), "log_words", "prev_log_words", "very_short",
            "short", "overlap", "shared", *(f"cue_{c}" for c in CUE_GROUPS), "qmark", "exclaim", "no_punct"]
    return cols + (rule_columns() if with_rules else [])


def _cue_flags(cues: tuple[str, ...]) -> dict[str, float]:
    return {f"cue_{name}": float(any(stem in c for c in cues for stem in stems)) for name, stems in CUE_GROUPS.items()}


def turn_row(doc: Doc) -> dict:
    """One client turn (with ``doc._.prev_turn`` set by the scorer) as a feature row."""
    prev = doc._.prev_turn
    view = _View(doc)
    n = view.n_words
    text = doc.text
    row = {"text": text, "prev_text": prev.text if prev is not None else "", "has_prev": float(prev is not None)}
    acts = prev._.acts if prev is not None else frozenset()
    row.update({f"act_{a}": float(a in acts) for a in ACT_FEATURES})
    row["log_words"] = math.log1p(n)
    row["prev_log_words"] = math.log1p(_View(prev).n_words) if prev is not None else 0.0
    row["very_short"] = float(0 < n <= 3)
    row["short"] = float(n <= 8)
    if prev is not None and n:
        asked = content_lemmas(prev)
        shared = len(asked & content_lemmas(doc))
        row["overlap"], row["shared"] = (shared / len(asked) if asked else 0.0), math.log1p(shared)
    else:
        row["overlap"] = row["shared"] = 0.0
    row.update(_cue_flags(doc._.cues))
    row["qmark"], row["exclaim"] = float("?" in text), float("!" in text)
    row["no_punct"] = float(n > 3 and not any(ch in text for ch in ".,?!;:"))
    scores = doc._.marker_scores or {}
    for m, col in zip(load_taxonomy().marker_ids, rule_columns()):
        row[col] = scores.get(m, 0.0)
    return row


def frame(docs: list[Doc]) -> pd.DataFrame:
    return pd.DataFrame([turn_row(d) for d in docs])
