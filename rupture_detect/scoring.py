"""Score transcripts: utterances through the pipeline, decisions into rows.

The unit of work is one :class:`~rupture_detect.transcript.Transcript`. Its
utterances go through ``nlp.pipe`` in order as ``Doc`` objects whose
``doc._.prev_turn`` points at the last therapist turn, so the rupture rules see
what the client is answering. Rows come out per transcript, so a batch streams:
memory holds one transcript at a time, never the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spacy.language import Language
from spacy.tokens import Doc

from . import episodes as episodes_mod
from . import segments as segments_mod
from .strain import SessionStrain, suggest
from .taxonomy import load_taxonomy
from .transcript import Transcript

UTTERANCE_COLUMNS = ["session_id", "turn", "speaker", "text", "marker", "subtype", "dimension",
                     "confidence", "evidence", "suggested_strategies", "start", "end"]

@dataclass(frozen=True)
class Decision:
    family: str                 # none | withdrawal | confrontation
    subtype: str = ""
    dimension: str = ""
    confidence: float = 0.0
    evidence: str = ""
    p_marker: float | None = None     # the model's calibrated probability that the turn is a marker


EVIDENCE_CHARS = 60


def _clip(text: str) -> str:
    return text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS].rsplit(" ", 1)[0] + " …"


def format_evidence(evidence) -> str:
    """``RULE "matched text"`` pairs; whole-turn checks are clipped to their opening words."""
    return "; ".join(f'{rule} "{_clip(text)}"' for rule, text in evidence)


def rules_decision(doc: Doc) -> Decision:
    r = doc._.rupture
    if r is None:
        top = max(doc._.marker_scores.values(), default=0.0) if doc._.marker_scores else 0.0
        return Decision("none", confidence=round(1.0 - top, 4))
    return Decision(r.family, r.subtype, r.dimension, r.confidence, format_evidence(r.evidence))


@dataclass
class Scored:
    """Everything scored from one transcript: rows for each output table."""
    rows: list[dict]
    session: dict
    episodes: list[dict] = field(default_factory=list)
    segments: list[dict] = field(default_factory=list)


class Scorer:
    """Holds the pipeline (and, when given, a trained model) and scores transcripts.

    ``model`` is anything with ``decide(docs) -> list[Decision]`` for a list of
    client-turn docs (see :mod:`rupture_detect.classifier`); without one the
    rules decide alone.
    """

    def __init__(self, nlp: Language, model=None, batch_size: int = 256,
                 segment_minutes: float = segments_mod.SEGMENT_MINUTES, segment_turns: int = segments_mod.SEGMENT_TURNS):
        from .strategies import StrategyDetector
        self.nlp = nlp
        self.model = model
        self.batch_size = batch_size
        self.marker_ids = load_taxonomy().marker_ids
        self.strategies = getattr(model, "strategy_detector", None) or StrategyDetector()
        self.segment_minutes, self.segment_turns = segment_minutes, segment_turns

    def docs(self, transcript: Transcript) -> list[Doc]:
        """Processed docs in order; each client doc knows the therapist turn it answers
        (``prev_turn``), the client's own previous turn (``prev_client``) and the therapist
        turn that follows it (``next_turn``)."""
        def stream():
            prev = prev_client = None
            waiting: list = []
            for u in transcript.utterances:
                doc = self.nlp.make_doc(u.words)
                doc.user_data[("rupture_detect", "text")] = u.words
                ext = doc._                      # one Underscore object, not one per attribute
                ext.cues, ext.role = u.cues, u.speaker
                if u.speaker == "client":
                    ext.prev_turn, ext.prev_client = prev, prev_client
                    prev_client = doc
                    waiting.append(ext)
                elif u.speaker == "therapist":
                    prev = doc
                    ext.prev_client = prev_client
                    for w in waiting:
                        w.next_turn = doc
                    waiting = []
                yield doc
        return list(self.nlp.pipe(stream(), batch_size=self.batch_size))

    def score(self, transcript: Transcript) -> Scored:
        return self.score_many([transcript])[0]

    def score_many(self, transcripts: list[Transcript]) -> list[Scored]:
        """Score several transcripts with one model call for all their turns.

        scikit-learn's per-call overhead (tens of ms for the column transformer)
        would dominate if paid per transcript; batching makes it negligible.
        """
        all_docs = [self.docs(t) for t in transcripts]
        turns = [(k, i, u.speaker) for k, t in enumerate(transcripts) for i, u in enumerate(t.utterances)]
        client = [(k, i) for k, i, who in turns if who == "client"]
        therapist = [(k, i) for k, i, who in turns if who == "therapist"]
        client_docs = [all_docs[k][i] for k, i in client]
        made = self.model.decide(client_docs) if self.model is not None else [rules_decision(d) for d in client_docs]
        found = self.strategies.detect([all_docs[k][i] for k, i in therapist])
        decided: list[dict] = [{} for _ in transcripts]
        strategies: list[dict] = [{} for _ in transcripts]
        for (k, i), d in zip(client, made):
            decided[k][i] = d
        for (k, i), f in zip(therapist, found):
            strategies[k][i] = f
        return [self._assemble(t, docs, dec, strat)
                for t, docs, dec, strat in zip(transcripts, all_docs, decided, strategies)]

    def _assemble(self, transcript: Transcript, docs: list[Doc], decided: dict, strategies: dict) -> Scored:
        suggestions: dict[int, list[str]] = {}
        strain = SessionStrain()
        counts = dict.fromkeys(self.marker_ids, 0)
        family_counts = {"withdrawal": 0, "confrontation": 0}
        rows = []
        for i, u in enumerate(transcript.utterances):
            row = {"session_id": u.session_id, "turn": u.turn, "speaker": u.speaker, "text": u.text,
                   "marker": "", "subtype": "", "dimension": "", "confidence": None, "evidence": "",
                   "suggested_strategies": "", "start": u.start, "end": u.end}
            d = decided.get(i)
            if d is not None:
                flagged = d.family != "none"
                recurring = strain.observe(d.subtype if flagged else None, d.dimension, d.confidence)
                row.update(marker=d.family, confidence=d.confidence, evidence=d.evidence)
                if flagged:
                    counts[d.subtype] += 1
                    family_counts[d.family] += 1
                    suggestions[i] = suggest(d.subtype, d.dimension, recurring)
                    row.update(subtype=d.subtype, dimension=d.dimension,
                               suggested_strategies=";".join(suggestions[i]))
            rows.append(row)
        factors = episodes_mod.therapist_factors(transcript.utterances, docs, decided)
        episodes = episodes_mod.build(transcript, docs, decided, strategies, factors, suggestions)
        segments = segments_mod.build(transcript, decided, strategies, episodes,
                                      self.segment_minutes, self.segment_turns)
        session = {
            "session_id": transcript.session_id, "source": transcript.source,
            "utterances": len(rows), "client_turns": strain.client_turns,
            "therapist_turns": sum(u.speaker == "therapist" for u in transcript.utterances),
            "flagged": sum(family_counts.values()), **family_counts,
            **{f"n_{m}": c for m, c in counts.items()}, **strain.scores(),
            **episodes_mod.summarise(episodes, factors),
        }
        return Scored(rows, session, episodes, segments)


UTTERANCE_TYPES = {"confidence": "float", "start": "float", "end": "float"}

SESSION_COLUMNS = (["session_id", "source", "utterances", "client_turns", "therapist_turns", "flagged",
                    "withdrawal", "confrontation"]
                   + [f"n_{m}" for m in load_taxonomy().marker_ids]
                   + ["strain_bond", "strain_task", "strain_goal", "episodes", "resolved", "partly_resolved",
                      "unresolved", "resolution_rate"] + [f"tf_{f}" for f in episodes_mod.FACTORS])
SESSION_TYPES = {c: ("float" if c.startswith("strain_") or c == "resolution_rate" else "int")
                 for c in SESSION_COLUMNS if c not in ("session_id", "source")}
EPISODE_TYPES = {"episode": "int", "start": "float", "confidence": "float", "recurrences": "int"}
SEGMENT_TYPES = {"segment": "int", "start": "float", "end": "float", "client_turns": "int",
                 "withdrawal_significance": "int", "confrontation_significance": "int",
                 **{f"n_{m}": "int" for m in load_taxonomy().marker_ids}}
