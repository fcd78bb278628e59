"""Features of a client turn in context, shared by training and scoring.

A client turn is described by its own words (and characters), the words of
the therapist turn it answers and of the therapist turn that follows it (a
repair attempt there is telling; coders read it too), and a few dense cues: what the therapist turn did (open or closed
question, reflection, interpretation, suggestion, frame talk), lengths, how
much the answer takes up what was asked, non-verbal notes, punctuation, and
(for the fused model) the rule scores per marker. Everything is computed from
the processed ``Doc`` objects, so training and scoring cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from spacy.tokens import Doc

from .components import _View, content_lemmas, text_of
from .taxonomy import load_taxonomy

ACT_FEATURES = ("question", "open_question", "closed_question", "reflection", "empathy", "interpretation",
                "suggestion", "frame", "invitation")
CUE_GROUPS = {
    "laugh": ("laugh", "chuckl", "giggl", "smil", "grin"),
    "pause": ("pause", "silence", "quiet"),
    "sigh": ("sigh",),
    "cry": ("cry", "tear", "sob"),
}


def rule_columns() -> list[str]:
    return [f"rule_{m}" for m in load_taxonomy().marker_ids]


def dense_columns() -> list[str]:
    return ["has_prev", "has_next", *(f"act_{a}" for a in ACT_FEATURES), "log_words", "prev_log_words", "very_short",
            "short", "overlap", "shared", *(f"cue_{c}" for c in CUE_GROUPS), "qmark", "exclaim", "no_punct"]


def _cue_flags(cues: tuple[str, ...]) -> dict[str, float]:
    return {f"cue_{name}": float(any(stem in c for c in cues for stem in stems)) for name, stems in CUE_GROUPS.items()}


def turn_row(doc: Doc) -> dict:
    """One client turn (with ``prev_turn`` and ``next_turn`` set by the scorer) as a feature row."""
    ext = doc._
    prev, nxt = ext.prev_turn, ext.next_turn
    view = _View(doc)
    n = view.n_words
    text = text_of(doc)
    row = {"text": text, "prev_text": text_of(prev), "next_text": text_of(nxt),
           "has_prev": float(prev is not None), "has_next": float(nxt is not None)}
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
    row.update(_cue_flags(ext.cues))
    row["qmark"], row["exclaim"] = float("?" in text), float("!" in text)
    row["no_punct"] = float(n > 3 and not any(ch in text for ch in ".,?!;:"))
    scores = ext.marker_scores or {}
    for m, col in zip(load_taxonomy().marker_ids, rule_columns()):
        row[col] = scores.get(m, 0.0)
    return row


def frame(docs: list[Doc]) -> pd.DataFrame:
    return pd.DataFrame([turn_row(d) for d in docs])


class CompactTfidfVectorizer(TfidfVectorizer):
    """A ``TfidfVectorizer`` whose saved state keeps the vocabulary as one string array.

    skops writes a dict as one JSON node per entry: a 100k-term vocabulary made
    a 35 MB schema that took seconds to parse. As a numpy string array it is a
    few hundred kB and loads at once. Behaviour is unchanged.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())
        vocab = state.pop("vocabulary_", None)
        state.pop("stop_words_", None)          # introspection only, and the largest attribute
        if vocab is not None:
            state["vocabulary_terms_"] = np.array(sorted(vocab, key=vocab.__getitem__), dtype=str)
        return state

    def __setstate__(self, state):
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        super().__setstate__(state)
        if terms is not None:
            self.vocabulary_ = {t: i for i, t in enumerate(terms.tolist())}
