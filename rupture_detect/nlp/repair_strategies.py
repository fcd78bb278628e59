"""The ``repair_strategies`` component: resolution strategies and therapist factors in practitioner turns.

It tags practitioner turns with the rules in ``strategies.jsonl`` (spans in
``doc.spans["repair_strategies"]``, noisy-or scores per strategy id in
``doc._.strategy_scores``) and the therapist-factor cues in ``factors.jsonl``
(``doc._.factor_cues``); client turns are skipped. Which strategies a turn
performs is decided by :class:`~rupture_detect.learn.strategy_model.StrategyDetector`.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from .matching import RuleComponent, noisy_or, strongest_hits
from .rules import load_rules

SPANS_KEY = "repair_strategies"


class RepairStrategies(RuleComponent):
    """Strategy and therapist-factor rules over therapist turns (client turns are skipped)."""

    def __init__(self, nlp: Language, name: str = "repair_strategies", rules_path: str | None = None,
                 factors_path: str | None = None):
        self.factor_rules = load_rules("factor", factors_path)
        super().__init__(nlp, load_rules("strategy", rules_path) + self.factor_rules)
        self.factor_ids = {r.id for r in self.factor_rules}
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        if ext.role == "client":
            doc.spans[SPANS_KEY] = []
            ext.strategy_scores = {}
            return doc
        hits = self.hits(doc, None, ext.acts)
        doc.spans[SPANS_KEY] = [Span(doc, s.start, s.end, label=r.label, span_id=r.id) for r, s in hits]
        ext.strategy_scores = noisy_or([(r, s) for r, s in strongest_hits(hits) if r.id not in self.factor_ids])
        ext.factor_cues = frozenset(r.label for r, _ in hits if r.id in self.factor_ids)
        return doc


@Language.factory("repair_strategies", default_config={"rules_path": None, "factors_path": None})
def make_repair_strategies(nlp: Language, name: str, rules_path: str | None, factors_path: str | None):
    return RepairStrategies(nlp, name, rules_path, factors_path)

