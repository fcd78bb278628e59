"""Features of a client turn in context, shared by training and scoring.

A client turn (a *unit*: the pieces of one utterance cut by overlaps or
backchannels, see :mod:`rupture_detect.nlp.conversation`) is described by its own
words and characters (disfluencies folded away, so verbatim and textbook talk
read alike), the words of the practitioner turn it answers, and dense cues:

* what that practitioner turn did (open or closed question, reflection,
  interpretation, suggestion, frame talk; and its *style*: asked permission,
  advised or directed, warned or judged, talked at length);
* how directive the practitioner has been over the last three turns, and
  whether they pressed on after the client pushed back (the client's previous
  turn carried rule evidence of a marker);
* lengths, how much the answer takes up what was asked, non-verbal notes,
  punctuation, how many pieces the turn came in;
* for the fused model, the rule scores per marker.

Nothing looks at what comes *after* the turn, so a session's last turn is
judged like any other (transcripts end, and are cut, anywhere). Everything is
computed from the processed ``Doc`` objects, so training and scoring cannot
drift apart.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from spacy.tokens import Doc

from ..nlp.conversation import TALK_CUES
from ..nlp.matching import View, content_lemmas, text_of
from ..nlp.rules import ACTS
from ..taxonomy import load_taxonomy

ACT_FEATURES = ACTS
DIRECTIVE = frozenset({"advice", "warning"})
CUE_GROUPS = {
    "laugh": ("laugh", "chuckl", "giggl", "smil", "grin"),
    "pause": ("pause", "silence", "quiet"),
    "sigh": ("sigh",),
    "cry": ("cry", "tear", "sob"),
}
_DISFLUENT = re.compile(r"\b(?:um+|uh+|erm+|er|ah+|mm+|hmm+|uh-huh|mm-hmm)\b[,.]?\s*", re.I)
_REPEAT = re.compile(r"\b([\w']+)(?:[-\s]+\1\b)+", re.I)
_DASHES = re.compile(r"\s*(?:--+|–|—)\s*|(?<=\w)-(?=\s|$)|(?<=\s)-(?=\w)")


def clean_text(text: str) -> str:
    """Words as a reader takes them: fillers (um, uh, mm), stutters ("I-I", "it's it's") and cut-off dashes go."""
    text = _DASHES.sub(" ", text)
    text = _DISFLUENT.sub("", text)
    return _REPEAT.sub(r"\1", text).strip()


def rule_columns() -> list[str]:
    return [f"rule_{m}" for m in load_taxonomy().marker_ids]


def dense_columns() -> list[str]:
    return ["has_prev", *(f"act_{a}" for a in ACT_FEATURES), "directive_recent", "permission_recent",
            "pushback_before", "presses", "log_words", "prev_log_words", "very_short", "short", "pieces",
            "overlap", "shared", *(f"cue_{c}" for c in CUE_GROUPS), "qmark", "exclaim", "no_punct", *TALK_CUES]


def _cue_flags(cues: tuple[str, ...]) -> dict[str, float]:
    return {f"cue_{name}": float(any(stem in c for c in cues for stem in stems)) for name, stems in CUE_GROUPS.items()}


def _cleaned(doc: Doc | None) -> str:
    """``clean_text`` of a doc, once per doc (a practitioner turn is the context of several client turns)."""
    if doc is None:
        return ""
    key = ("rupture_detect", "clean")
    cached = doc.user_data.get(key)
    if cached is None:
        cached = doc.user_data[key] = clean_text(text_of(doc))
    return cached


def _n_words(doc: Doc) -> int:
    key = ("rupture_detect", "n_words")
    cached = doc.user_data.get(key)
    if cached is None:
        cached = doc.user_data[key] = View(doc).n_words
    return cached


def turn_row(doc: Doc) -> dict:
    """One client unit (with ``prev_turn``, ``prev_turns`` and ``prev_client`` set by the scorer) as a row."""
    ext = doc._
    prev = ext.prev_turn
    n = _n_words(doc)
    text = text_of(doc)
    row = {"text": _cleaned(doc), "prev_text": _cleaned(prev), "has_prev": float(prev is not None)}
    acts = prev._.acts if prev is not None else frozenset()
    row.update({f"act_{a}": float(a in acts) for a in ACT_FEATURES})
    recent = [t._.acts for t in ext.prev_turns] or [acts]
    row["directive_recent"] = sum(bool(DIRECTIVE & a) for a in recent) / 3.0
    row["permission_recent"] = float(any("permission" in a for a in recent))
    before = ext.prev_client
    row["pushback_before"] = max((before._.marker_scores or {}).values(), default=0.0) if before is not None else 0.0
    row["presses"] = row["pushback_before"] * float(bool(DIRECTIVE & acts))
    row["log_words"] = math.log1p(n)
    row["prev_log_words"] = math.log1p(_n_words(prev)) if prev is not None else 0.0
    row["very_short"] = float(0 < n <= 3)
    row["short"] = float(n <= 8)
    row["pieces"] = math.log(max(ext.n_pieces, 1))
    if prev is not None and n:
        asked = content_lemmas(prev)
        shared = len(asked & content_lemmas(doc))
        row["overlap"], row["shared"] = (shared / len(asked) if asked else 0.0), math.log1p(shared)
    else:
        row["overlap"] = row["shared"] = 0.0
    row.update(_cue_flags(ext.cues))
    row["qmark"], row["exclaim"] = float("?" in text), float("!" in text)
    row["no_punct"] = float(n > 3 and not any(ch in text for ch in ".,?!;:"))
    row.update(ext.talk or dict.fromkeys(TALK_CUES, 0.0))
    scores = ext.marker_scores or {}
    for m, col in _rule_pairs():
        row[col] = scores.get(m, 0.0)
    return row


def _rule_pairs() -> list[tuple[str, str]]:
    global _RULE_PAIRS
    if _RULE_PAIRS is None:
        _RULE_PAIRS = list(zip(load_taxonomy().marker_ids, rule_columns()))
    return _RULE_PAIRS


_RULE_PAIRS = None


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
