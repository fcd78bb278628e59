"""Agreement between two codings of the same client turns: Cohen's kappa and Gwet's AC1.

Used for the corpus's second coding (textbook and verbatim sessions), the
AnnoMI development set (coder A against coder B) and, by ``evaluate``, the
tool against a gold coding. When ``none`` dominates, as it does in real
sessions, kappa punishes every rare disagreement; Gwet's AC1 is reported
beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from ..taxonomy import marker_ids, strategy_ids


def gwet_ac1(a, b) -> float:
    """Gwet's AC1 for two raters on nominal labels: chance agreement is ``sum_k pi_k (1 - pi_k) / (K - 1)``,
    with ``pi_k`` the mean share of label k over both raters and K the labels either rater used."""
    a, b = np.asarray(a), np.asarray(b)
    if not len(a):
        return float("nan")
    labels = np.union1d(a, b)
    if len(labels) < 2:
        return 1.0
    po = float((a == b).mean())
    pi = np.array([((a == k).mean() + (b == k).mean()) / 2 for k in labels])
    pe = float((pi * (1 - pi)).sum() / (len(labels) - 1))
    return (po - pe) / (1 - pe)


def _kappa(a, b) -> float:
    return float(cohen_kappa_score(a, b)) if len(set(a) | set(b)) > 1 else 1.0


def coder_agreement(first: pd.DataFrame, second: pd.DataFrame, keys=("session_id", "turn")) -> dict:
    """Agreement on the client turns both codings hold (columns marker, subtype, dimension; ``speaker``
    optional, and ``strategy`` on therapist turns when both codings have it)."""
    m = first.merge(second, on=list(keys), suffixes=("_1", "_2"))
    who = "speaker_1" if "speaker_1" in m else "speaker" if "speaker" in m else None
    client = m[m[who] == "client"] if who else m[m["marker_1"] != ""]
    sub1 = client["subtype_1"].where(client["marker_1"] != "none", "none")
    sub2 = client["subtype_2"].where(client["marker_2"] != "none", "none")
    both = client[(client["marker_1"] != "none") & (client["marker_2"] != "none")]
    out = {
        "sessions": int(client[keys[0]].nunique()), "client_turns": len(client),
        "family_kappa": _kappa(client["marker_1"], client["marker_2"]),
        "family_ac1": gwet_ac1(client["marker_1"], client["marker_2"]),
        "family_agreement": float((client["marker_1"] == client["marker_2"]).mean()),
        "marker_rate": {"first": float((client["marker_1"] != "none").mean()),
                        "second": float((client["marker_2"] != "none").mean())},
        "subtype_kappa": _kappa(sub1, sub2), "subtype_ac1": gwet_ac1(sub1, sub2),
        "per_subtype_kappa": {s: _kappa(sub1 == s, sub2 == s) for s in marker_ids()
                              if (sub1 == s).any() or (sub2 == s).any()},
        "dimension_kappa_both_flagged": _kappa(both["dimension_1"], both["dimension_2"]) if len(both) else float("nan"),
        "both_flagged": len(both),
    }
    if "strategy_1" in m and "strategy_2" in m and who:
        ther = m[m[who] == "therapist"]
        out["therapist_turns"] = len(ther)
        first_ids = ther["strategy_1"].str.split(";").map(set)
        second_ids = ther["strategy_2"].str.split(";").map(set)
        out["per_strategy_kappa"] = {s: _kappa([s in v for v in first_ids], [s in v for v in second_ids])
                                     for s in strategy_ids()}
    return out


def disagreements(first: pd.DataFrame, second: pd.DataFrame, keys=("session_id", "turn")) -> pd.DataFrame:
    m = first.merge(second, on=list(keys), suffixes=("_1", "_2"))
    differs = (m["marker_1"] != m["marker_2"]) | (m["subtype_1"] != m["subtype_2"]) | (
        (m["marker_1"] != "none") & (m["dimension_1"] != m["dimension_2"]))
    return m[differs]
