"""The ``Doc`` extensions the components read and write, registered once, and the decision type.

Set by the caller (the scorer sets them; without them context-dependent rules
simply do not fire): ``role``, ``prev_turn``, ``prev_turns``, ``prev_client``,
``next_turn``, ``cues``, ``n_pieces``, ``gate``, ``talk``. Written by the
components: ``acts`` (dialogue_acts), ``marker_scores`` and ``rupture``
(rupture_markers), ``strategy_scores`` and ``factor_cues`` (repair_strategies).
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc

from ..decisions import RuleHit

for _name, _default in (("prev_turn", None), ("acts", frozenset()), ("rupture", None),
                        ("marker_scores", None), ("cues", ()), ("role", None),
                        ("next_turn", None), ("prev_client", None),
                        ("prev_turns", ()),      # the last (up to 3) substantive practitioner turns, newest first
                        ("n_pieces", 1),         # lines of the transcript this client unit was joined from
                        ("gate", None),          # why this unit can carry no marker (conversation.gate)
                        ("talk", None)):         # the transcript's talk style (conversation.talk_style)
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=_default)
for _name, _default in (("strategy_scores", None), ("factor_cues", frozenset())):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=_default)


@dataclass(frozen=True, slots=True)
class Rupture:
    """The decision for one client turn."""
    family: str
    subtype: str
    dimension: str
    confidence: float
    evidence: tuple[RuleHit, ...]     # rule id, matched text, character offsets in the turn

