"""The decision for one client turn and its evidence, kept structured until a writer formats it.

A :class:`Decision` is what the rules (:func:`rupture_detect.run.scoring.rules_decision`) or the
fused model (:class:`rupture_detect.learn.classifier.FusedModel`) decide for a client unit; every
line of the transcript the unit was joined from carries it. Its :class:`Evidence` holds the rule
hits (rule id, matched text, character offsets in the unit's words), the model's probability and
why a gate held. Writers turn it into two columns of the utterances table: ``evidence`` (for people:
``DEN-01 "I'm fine"; model p=0.83``) and ``evidence_spans`` (for programs: JSON with the offsets of
each hit in that row's own ``text``), which the report and review pages read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

EVIDENCE_CHARS = 60      # a whole-turn check is shown by its opening words


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str            # rule id, as in the rule files
    text: str            # the matched words
    start: int = -1      # character offsets of the match in the text the rule ran on (-1: unknown)
    end: int = -1


@dataclass(frozen=True, slots=True)
class Evidence:
    hits: tuple[RuleHit, ...] = ()
    model_p: float | None = None      # the model's calibrated P(marker), when a model decided
    gate: str | None = None           # why the unit can carry no marker although the evidence says one

    def __bool__(self) -> bool:
        return bool(self.hits) or self.gate is not None or self.model_p is not None

    def format(self) -> str:
        """``RULE "matched text"`` pairs, then ``model p=…``, then ``gate: …``: the ``evidence`` column."""
        parts = [f'{h.rule} "{clip(h.text)}"' for h in self.hits]
        if self.model_p is not None:
            parts.append(f"model p={self.model_p:.2f}")
        if self.gate:
            parts.append(f"gate: {self.gate}")
        return "; ".join(parts)

    def spans(self, text: str) -> list[dict]:
        """Each hit located in ``text`` (a row of the transcript: the unit's words, or one of its pieces,
        with its notes): ``{"rule", "text", "start", "end"}``, offsets ``None`` where it is not in it."""
        out = []
        for h in self.hits:
            start, end = locate(text, h)
            out.append({"rule": h.rule, "text": h.text, "start": start, "end": end})
        return out

    def to_json(self, text: str) -> str:
        """The ``evidence_spans`` column for a row whose text is ``text`` (empty without evidence)."""
        if not self:
            return ""
        return json.dumps({"rules": self.spans(text), "model_p": self.model_p, "gate": self.gate},
                          ensure_ascii=False, separators=(",", ":"))


def read_spans(value) -> dict:
    """An ``evidence_spans`` cell back as ``{"rules": [...], "model_p": ..., "gate": ...}``."""
    if not isinstance(value, str) or not value.strip():
        return {"rules": [], "model_p": None, "gate": None}
    data = json.loads(value)
    return {"rules": list(data.get("rules") or []), "model_p": data.get("model_p"), "gate": data.get("gate")}


@dataclass(frozen=True)
class Decision:
    family: str                 # none | withdrawal | confrontation
    subtype: str = ""
    dimension: str = ""
    confidence: float = 0.0
    evidence: Evidence = field(default_factory=Evidence)
    p_marker: float | None = None     # the model's calibrated probability that the turn is a marker


def clip(text: str) -> str:
    return text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS].rsplit(" ", 1)[0] + " …"


def _pattern(words: str) -> re.Pattern | None:
    parts = ["".join("['’]" if ch in "'’" else re.escape(ch) for ch in w) for w in words.split()]
    if not parts:
        return None
    # between words a row may hold a note ("[laughs]") or other spacing than the words the rule saw
    return re.compile(r"(?:\s*[\[(][^\])]*[\])]\s*|\s+)".join(parts), re.IGNORECASE)


def locate(text: str, hit: RuleHit) -> tuple[int | None, int | None]:
    """Where ``hit`` is in ``text``: at its own offsets if the words are there, else the match nearest
    to them (a row with notes, or one piece of a joined unit), else ``(None, None)``."""
    if 0 <= hit.start < hit.end <= len(text) and text[hit.start:hit.end] == hit.text:
        return hit.start, hit.end
    pat = _pattern(hit.text)
    if pat is None:
        return None, None
    found = [m for m in pat.finditer(text) if m.end() > m.start()]
    if not found:
        return None, None
    best = min(found, key=lambda m: abs(m.start() - max(hit.start, 0)))
    return best.start(), best.end()
