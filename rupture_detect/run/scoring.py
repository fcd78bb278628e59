"""Score transcripts: utterances through the pipeline, decisions into rows.

The unit of work is one :class:`~rupture_detect.readers.transcript.Transcript`. Its
utterances go through ``nlp.pipe`` in order as ``Doc`` objects whose
``doc._.prev_turn`` points at the last therapist turn, so the rupture rules see
what the client is answering. Rows come out per transcript, so a batch streams:
memory holds one transcript at a time, never the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spacy.language import Language
from spacy.tokens import Doc
from threadpoolctl import threadpool_limits

from ..decisions import Decision, Evidence
from ..nlp.conversation import client_units, gate, is_backchannel, join_pieces, talk_style
from ..readers.transcript import Transcript
from ..session import episodes as episodes_mod
from ..session import segments as segments_mod
from ..session.strain import SessionStrain, suggest
from ..taxonomy import load_taxonomy

UTTERANCE_COLUMNS = ["session_id", "turn", "speaker", "text", "marker", "subtype", "dimension",
                     "confidence", "p_marker", "evidence", "evidence_spans", "suggested_strategies", "start", "end"]

def rules_decision(doc: Doc) -> Decision:
    r = doc._.rupture
    if r is None or doc._.gate:
        top = max(doc._.marker_scores.values(), default=0.0) if doc._.marker_scores else 0.0
        why = Evidence(r.evidence, gate=doc._.gate) if doc._.gate and r else Evidence()
        return Decision("none", confidence=round(1.0 - top, 4), evidence=why)
    return Decision(r.family, r.subtype, r.dimension, r.confidence, Evidence(r.evidence))


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
    client-turn docs (see :mod:`rupture_detect.learn.classifier`); without one the
    rules decide alone.
    """

    def __init__(self, nlp: Language, model=None, batch_size: int = 256,
                 segment_minutes: float = segments_mod.SEGMENT_MINUTES,
                 segment_turns: int = segments_mod.SEGMENT_TURNS):
        from ..learn.strategy_model import StrategyDetector
        self.nlp = nlp
        self.model = model
        self.batch_size = batch_size
        self.marker_ids = load_taxonomy().marker_ids
        self.strategies = getattr(model, "strategy_detector", None) or StrategyDetector()
        self.segment_minutes, self.segment_turns = segment_minutes, segment_turns
        self.recipe_model = (None, None)       # (model spec, threshold) as make_scorer was given them

    @property
    def recipe(self) -> dict:
        """How to build this scorer again in another process (a Dask worker): see ``api.scorer_from_recipe``."""
        model, threshold = self.recipe_model
        return {"model": model, "threshold": threshold, "segment_minutes": self.segment_minutes,
                "segment_turns": self.segment_turns}

    def prepare(self, transcript: Transcript) -> tuple[list[Doc], list[tuple[Doc, tuple[int, ...]]]]:
        """Docs per utterance, and the client *units* to decide: ``(doc, utterance indices)``.

        Client lines are grouped into units (:func:`~rupture_detect.nlp.conversation.client_units`):
        the pieces of one utterance cut by overlaps or practitioner backchannels are judged
        together, as one doc of their joined words, and every piece gets that decision. Each
        client doc knows the practitioner turn its unit answers (``prev_turn``; backchannels
        do not count), the last three such turns (``prev_turns``) and the client's previous
        unit (``prev_client``); a unit that can carry no marker has ``gate`` set.
        """
        utts = transcript.utterances
        units = client_units([u.speaker for u in utts], [u.words for u in utts])
        unit_of = {i: k for k, unit in enumerate(units) for i in unit.pieces}
        made: list[Doc] = []
        substantive: list[int] = []          # indices of practitioner turns that are not backchannels

        def stream():
            last_client = None
            for i, u in enumerate(utts):
                doc = self.nlp.make_doc(u.words)
                doc.user_data[("rupture_detect", "text")] = u.words
                ext = doc._                      # one Underscore object, not one per attribute
                ext.cues, ext.role = u.cues, u.speaker
                if u.speaker == "client":
                    k = unit_of[i]
                    unit = units[k]
                    self._set_context(ext, made, substantive, unit.context)
                    if k > 0:
                        ext.prev_client = made[units[k - 1].pieces[-1]]
                    last_client = doc
                elif u.speaker == "therapist":
                    ext.prev_client = last_client
                    if not is_backchannel(u.words):
                        substantive.append(i)
                made.append(doc)
                yield doc
        docs = list(self.nlp.pipe(stream(), batch_size=self.batch_size))
        decided, joined = [], []
        for unit in units:
            if len(unit.pieces) == 1:
                decided.append((docs[unit.pieces[0]], unit.pieces))
                continue
            words = join_pieces([utts[i].words for i in unit.pieces])
            doc = self.nlp.make_doc(words)
            doc.user_data[("rupture_detect", "text")] = words
            first = docs[unit.pieces[0]]._
            ext = doc._
            ext.role, ext.n_pieces = "client", len(unit.pieces)
            ext.cues = tuple(c for i in unit.pieces for c in utts[i].cues)
            ext.prev_turn, ext.prev_turns, ext.prev_client = first.prev_turn, first.prev_turns, first.prev_client
            joined.append(doc)
            decided.append((doc, unit.pieces))
        if joined:
            list(self.nlp.pipe(joined, batch_size=self.batch_size))     # components work in place
        talk = talk_style([u.speaker for u in utts], [u.words for u in utts])
        for doc, pieces in decided:
            prev = doc._.prev_turn
            doc._.gate = gate([utts[i].words for i in pieces], prev._.acts if prev is not None else frozenset())
            doc._.talk = talk
        return docs, decided

    @staticmethod
    def _set_context(ext, made: list[Doc], substantive: list[int], context: int | None) -> None:
        if context is None:
            return
        ext.prev_turn = made[context]
        upto = [j for j in substantive if j <= context][-3:]
        ext.prev_turns = tuple(made[j] for j in reversed(upto))

    def score(self, transcript: Transcript) -> Scored:
        return self.score_many([transcript])[0]

    def score_many(self, transcripts: list[Transcript]) -> list[Scored]:
        """Score several transcripts with one model call for all their client units.

        scikit-learn's per-call overhead (tens of ms for the column transformer)
        would dominate if paid per transcript; batching makes it negligible. The models run on one
        thread: on a batch this size OpenMP's thread start-up costs the context model's trees twenty
        times their work (42 against 834 us per utterance measured), and parallelism comes from
        worker processes instead.
        """
        prepared = [self.prepare(t) for t in transcripts]
        units = [(k, doc, pieces) for k, (_, us) in enumerate(prepared) for doc, pieces in us]
        unit_docs = [doc for _, doc, _ in units]
        therapist = [(k, i) for k, t in enumerate(transcripts) for i, u in enumerate(t.utterances)
                     if u.speaker == "therapist"]
        with threadpool_limits(1):
            made = self.model.decide(unit_docs) if self.model is not None else [rules_decision(d) for d in unit_docs]
            found = self.strategies.detect([prepared[k][0][i] for k, i in therapist])
        decided: list[dict] = [{} for _ in transcripts]
        strategies: list[dict] = [{} for _ in transcripts]
        for (k, _, pieces), d in zip(units, made):
            for i in pieces:
                decided[k][i] = d
        for (k, i), f in zip(therapist, found):
            strategies[k][i] = f
        return [self._assemble(t, docs, dec, strat)
                for t, (docs, _), dec, strat in zip(transcripts, prepared, decided, strategies)]

    def _assemble(self, transcript: Transcript, docs: list[Doc], decided: dict, strategies: dict) -> Scored:
        suggestions: dict[int, list[str]] = {}
        strain = SessionStrain()
        counts = dict.fromkeys(self.marker_ids, 0)
        family_counts = {"withdrawal": 0, "confrontation": 0}
        rows = []
        last, recurring = None, False
        for i, u in enumerate(transcript.utterances):
            row = {"session_id": u.session_id, "turn": u.turn, "speaker": u.speaker, "text": u.text,
                   "marker": "", "subtype": "", "dimension": "", "confidence": None, "p_marker": None, "evidence": None,
                   "suggested_strategies": "", "start": u.start, "end": u.end}
            d = decided.get(i)
            if d is not None:
                flagged = d.family != "none"
                if d is not last:             # the pieces of one utterance share a decision: strain counts it once
                    recurring = strain.observe(d.subtype if flagged else None, d.dimension, d.confidence)
                    last = d
                row.update(marker=d.family, confidence=d.confidence, p_marker=d.p_marker, evidence=d.evidence)
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
            "utterances": len(rows), "client_turns": sum(u.speaker == "client" for u in transcript.utterances),
            "therapist_turns": sum(u.speaker == "therapist" for u in transcript.utterances),
            "flagged": sum(family_counts.values()), **family_counts,
            **{f"n_{m}": c for m, c in counts.items()}, **strain.scores(),
            **episodes_mod.summarise(episodes, factors),
        }
        return Scored(rows, session, episodes, segments)


UTTERANCE_TYPES = {"confidence": "float", "p_marker": "float", "start": "float", "end": "float"}

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
