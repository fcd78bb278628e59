"""Rupture episodes: the marker, what the therapist did next, and whether the alliance recovered.

An episode opens at a flagged client turn. It takes in the therapist turn the
client was answering, the therapist's response, and the client's next turns
(up to :data:`FOLLOW_UP`). A marker that comes back inside that follow-up is
a recurrence: it stays in the episode and the follow-up restarts after the
therapist's next response (up to :data:`MAX_CLIENT_TURNS` client turns in all).

The outcome is judged from the last client turns of the episode:

* ``unresolved``: the marker comes back at the end (withdraws or confronts
  again), or the client never speaks again;
* ``resolved``: no marker at the end, and the client elaborates (a longer
  turn) or voices the concern directly (first-person feeling or a direct
  reference to the therapy or therapist);
* ``partly resolved``: no marker at the end, but only brief re-engagement,
  or recovery after a recurrence.

Therapist factors are counted per therapist turn: ``critical`` and
``long_self_disclosure`` from the factor rules, ``presses_agenda`` when an
agenda-pressing cue follows a flagged client turn, ``repeats_rejected`` when
the therapist repeats much of a turn the client just rejected, and
``silence`` when timestamps show a gap of :data:`SILENCE_SECONDS` or more
before the therapist speaks (or the turn is a bracketed long pause).
"""

from __future__ import annotations

import re

from ..nlp.conversation import is_backchannel
from ..nlp.matching import content_lemmas
from ..readers.transcript import Transcript
from .strain import suggest

FOLLOW_UP = 3
MAX_CLIENT_TURNS = 12
ELABORATES_WORDS = 15
SILENCE_SECONDS = 15.0
WORDS_PER_SECOND = 2.5
REPEAT_OVERLAP = 0.5
FACTORS = ("critical", "repeats_rejected", "presses_agenda", "long_self_disclosure", "silence")
EPISODE_COLUMNS = ["session_id", "episode", "turn", "start", "marker", "subtype", "dimension", "confidence",
                   "prev_therapist_turn", "response_turn", "response_strategies", "response_evidence",
                   "suggested_strategies", "strategy_fit", "next_client_turns", "outcome", "outcome_reason",
                   "recurrences", "therapist_factors"]
_DIRECT = re.compile(r"\b(i felt|i feel|i was|it made me|annoy|upset|hurt|angry|frustrat|you\b|this therapy|"
                     r"these sessions|coming here|in here)", re.I)
_LONG_PAUSE = re.compile(r"long pause|silence", re.I)


def therapist_factors(utts, docs, decisions) -> dict[int, list[str]]:
    """Therapist factor ids per utterance index."""
    found: dict[int, list[str]] = {}
    last_client = last_therapist = None
    for i, (u, doc) in enumerate(zip(utts, docs)):
        if u.speaker == "client":
            last_client = i
            continue
        if u.speaker != "therapist":
            continue
        f = []
        cues = doc._.factor_cues
        if "critical" in cues:
            f.append("critical")
        if "long_self_disclosure" in cues:
            f.append("long_self_disclosure")
        d = decisions.get(last_client) if last_client is not None else None
        objected = d is not None and d.family != "none" and last_client == i - 1
        if objected and "presses_agenda" in cues:
            f.append("presses_agenda")
        if objected and d.subtype == "rejects_intervention" and last_therapist is not None:
            before = content_lemmas(docs[last_therapist])
            if before and len(before & content_lemmas(doc)) / len(before) >= REPEAT_OVERLAP:
                f.append("repeats_rejected")
        if _silence_before(utts, i) or any(_LONG_PAUSE.search(c) for c in u.cues):
            f.append("silence")
        if f:
            found[i] = f
        last_therapist = i
    return found


def _silence_before(utts, i: int) -> bool:
    if i == 0 or utts[i].start is None or utts[i - 1].start is None:
        return False
    prev = utts[i - 1]
    spoken_until = prev.end if prev.end is not None else prev.start + len(prev.words.split()) / WORDS_PER_SECOND
    return utts[i].start - spoken_until >= SILENCE_SECONDS


def build(transcript: Transcript, docs, decisions: dict, strategies: dict, factors: dict,
          suggestions: dict) -> list[dict]:
    """Episode rows for one transcript.

    ``decisions``: utterance index -> Decision (client turns); ``strategies``:
    utterance index -> (ids, evidence) (therapist turns); ``factors``: index ->
    factor ids; ``suggestions``: index -> suggested strategy ids.
    """
    utts = transcript.utterances
    flagged = [i for i, d in sorted(decisions.items()) if d.family != "none"]
    episodes, covered = [], set()
    for i in flagged:
        if i in covered:
            continue
        ep = _follow(utts, decisions, i)
        covered.update(ep["flagged"])
        episodes.append(_row(transcript, utts, decisions, strategies, factors, suggestions, ep, len(episodes) + 1))
    return episodes


def _follow(utts, decisions, start: int) -> dict:
    """Walk forward from a flagged client turn: responses, follow-up client turns, recurrences."""
    prev_t = next((j for j in range(start - 1, -1, -1) if utts[j].speaker == "therapist"
                   and not is_backchannel(utts[j].words)), None)
    response, judged, flagged, therapist_turns = None, [], [start], []
    client_seen, window = 0, 0
    same_turn = True                   # pieces of the flagged utterance (one decision) are not a recurrence
    for j in range(start + 1, len(utts)):
        sp = utts[j].speaker
        if sp == "therapist":
            if is_backchannel(utts[j].words):       # "Mm-hmm." while the client holds the floor: no response
                continue
            same_turn = False
            therapist_turns.append(j)
            if response is None:
                response = j
            continue
        if sp != "client":
            continue
        if same_turn and decisions.get(j) is decisions[start]:
            flagged.append(j)
            continue
        client_seen += 1
        d = decisions.get(j)
        if d is not None and d.family != "none":
            flagged.append(j)
            judged, window = [j], 0        # recurrence: the follow-up restarts after the next response
        else:
            judged.append(j)
            window += 1
        if window >= FOLLOW_UP or client_seen >= MAX_CLIENT_TURNS:
            break
    return {"start": start, "prev_therapist": prev_t, "response": response, "judged": judged,
            "flagged": flagged, "therapist_turns": therapist_turns}


def _outcome(utts, decisions, ep) -> tuple[str, str]:
    judged = [j for j in ep["judged"] if j != ep["start"]]
    if not judged:
        return "unresolved", "no client turn after the marker"
    last = decisions.get(judged[-1])
    if judged[-1] in ep["flagged"] and last is not None:
        return "unresolved", f"marker recurs: {last.subtype}"
    recurred = any(decisions.get(j) is not decisions[ep["start"]] for j in ep["flagged"])
    clean = [j for j in judged if j not in ep["flagged"]]
    words = max(len(utts[j].words.split()) for j in clean)
    direct = any(_DIRECT.search(utts[j].words) for j in clean)
    if recurred:
        return "partly resolved", "re-engages after the marker came back"
    if direct and words >= 6:
        return "resolved", "voices concern directly"
    if words >= ELABORATES_WORDS:
        return "resolved", "client elaborates"
    return "partly resolved", "brief re-engagement"


def _row(transcript, utts, decisions, strategies, factors, suggestions, ep, number) -> dict:
    i = ep["start"]
    d = decisions[i]
    resp = ep["response"]
    used, evidence = strategies.get(resp, ([], "")) if resp is not None else ([], "")
    suggested = suggestions.get(i) or suggest(d.subtype, d.dimension)
    fit = "suggested" if set(used) & set(suggested) else "other" if used else "none"
    outcome, reason = _outcome(utts, decisions, ep)
    tf = sorted({f for j in ep["therapist_turns"] for f in factors.get(j, [])})

    def turn(j):
        return "" if j is None else utts[j].turn

    return {
        "session_id": transcript.session_id, "episode": number, "turn": utts[i].turn, "start": utts[i].start,
        "marker": d.family, "subtype": d.subtype, "dimension": d.dimension, "confidence": d.confidence,
        "prev_therapist_turn": turn(ep["prev_therapist"]), "response_turn": turn(resp),
        "response_strategies": ";".join(used), "response_evidence": evidence,
        "suggested_strategies": ";".join(suggested), "strategy_fit": fit,
        "next_client_turns": ";".join(str(utts[j].turn) for j in ep["judged"] if j != i),
        "outcome": outcome, "outcome_reason": reason,
        "recurrences": sum(decisions.get(j) is not decisions[i] for j in ep["flagged"]),
        "therapist_factors": ";".join(tf),
    }


def summarise(episodes: list[dict], factors: dict) -> dict:
    """The session-level columns: episode counts, resolution rate, therapist factors."""
    n = len(episodes)
    by = {o: sum(e["outcome"] == o for e in episodes) for o in ("resolved", "partly resolved", "unresolved")}
    counts = {f"tf_{f}": sum(f in v for v in factors.values()) for f in FACTORS}
    rate = round((by["resolved"] + 0.5 * by["partly resolved"]) / n, 4) if n else None
    return {"episodes": n, "resolved": by["resolved"], "partly_resolved": by["partly resolved"],
            "unresolved": by["unresolved"], "resolution_rate": rate, **counts}
