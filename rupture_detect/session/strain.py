"""Alliance strain and repair suggestions, following the repair hierarchy.

Task and goal disagreements get the *immediate* strategies first (clarify,
illustrate the rationale, refocus on relevant and manageable tasks and goals).
Bond strains, covert markers (denial, appeasing, content/affect split) and
markers that come back after an earlier one in the same stretch of session get
the *exploratory* strategies first (metacommunication, acknowledging the
therapist's part, allowing assertion...). Linking to wider patterns is always
offered last: it fits only once the client recognises the strain.
"""

from __future__ import annotations

from collections import deque

from ..taxonomy import DIMENSIONS, load_taxonomy

MAX_SUGGESTIONS = 4
RECUR_WINDOW = 6        # client turns within which a marker counts as coming back


def wants_exploratory(subtype: str, dimension: str, recurring: bool) -> bool:
    marker = load_taxonomy().markers[subtype]
    return dimension == "bond" or marker.covert or recurring


def suggest(subtype: str, dimension: str, recurring: bool = False) -> list[str]:
    """Ordered strategy ids for a marker: the hierarchy's tier first, the marker's fit within it."""
    tax = load_taxonomy()
    fit = list(tax.markers[subtype].strategies)
    first = "exploratory" if wants_exploratory(subtype, dimension, recurring) else "immediate"
    extra = ["invite_discussion"] if first == "immediate" else ["acknowledge_contribution", "allow_assertion"]
    candidates = list(dict.fromkeys(fit + extra))
    ordered = sorted(candidates, key=lambda s: (s == "link_to_patterns", tax.strategies[s].tier != first))
    return ordered[:MAX_SUGGESTIONS]


class SessionStrain:
    """Walks one session's client turns in order: recurrence, and strain per dimension.

    ``strain_<dimension>`` is the summed confidence of markers on that dimension
    divided by the number of client turns: 0 means no strain was flagged, 0.25
    means a quarter of client turns (at full confidence) strained it.
    """

    def __init__(self) -> None:
        self.recent: deque[tuple[int, str, str]] = deque()
        self.client_turns = 0
        self.totals = dict.fromkeys(DIMENSIONS, 0.0)

    def observe(self, subtype: str | None, dimension: str | None, confidence: float) -> bool:
        """Count one client turn; returns whether its marker recurs (same subtype or dimension lately)."""
        self.client_turns += 1
        while self.recent and self.client_turns - self.recent[0][0] > RECUR_WINDOW:
            self.recent.popleft()
        if subtype is None:
            return False
        recurring = any(s == subtype or d == dimension for _, s, d in self.recent)
        self.recent.append((self.client_turns, subtype, dimension))
        self.totals[dimension] += confidence
        return recurring

    def scores(self) -> dict[str, float]:
        n = max(self.client_turns, 1)
        return {f"strain_{d}": round(self.totals[d] / n, 4) for d in DIMENSIONS}
