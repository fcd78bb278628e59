"""Inter-coder agreement between the corpus labels and an independent second coding.

    python scripts/agreement.py rupture_detect/data/corpus/second_coding/*.jsonl [--json OUT.json] [--disagreements OUT.jsonl]

The corpus holds adjudicated labels; the first coder's original labels are
restored from ``rupture_detect/data/corpus/adjudication.jsonl`` (its ``first`` fields), so
the figures are the agreement *before* adjudication.

SECOND_CODER files hold one line per utterance: session_id, turn, marker,
subtype, dimension, strategy. Prints Cohen's kappa for the family
(none/withdrawal/confrontation), for the subtype (15 classes with none), for
each subtype as present/absent, for the dimension where both coders flagged a
marker, and for each strategy as present/absent on therapist turns.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
from sklearn.metrics import cohen_kappa_score

from rupture_detect.corpus import corpus_dir, read_corpus
from rupture_detect.taxonomy import marker_ids, strategy_ids


def agreement(first: pd.DataFrame, second: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    m = first.merge(second, on=["session_id", "turn"], suffixes=("_1", "_2"))
    client = m[m["speaker"] == "client"]
    ther = m[m["speaker"] == "therapist"]
    sub1 = client["subtype_1"].where(client["marker_1"] != "none", "none")
    sub2 = client["subtype_2"].where(client["marker_2"] != "none", "none")
    out = {
        "sessions": int(m["session_id"].nunique()), "client_turns": len(client), "therapist_turns": len(ther),
        "family_kappa": cohen_kappa_score(client["marker_1"], client["marker_2"]),
        "family_agreement": float((client["marker_1"] == client["marker_2"]).mean()),
        "marker_vs_none_kappa": cohen_kappa_score(client["marker_1"] != "none", client["marker_2"] != "none"),
        "subtype_kappa": cohen_kappa_score(sub1, sub2),
        "per_subtype_kappa": {s: cohen_kappa_score(sub1 == s, sub2 == s) for s in marker_ids()},
    }
    both = client[(client["marker_1"] != "none") & (client["marker_2"] != "none")]
    out["dimension_kappa_both_flagged"] = cohen_kappa_score(both["dimension_1"], both["dimension_2"])
    out["per_strategy_kappa"] = {
        s: cohen_kappa_score(ther["strategy_1"].str.split(";").map(lambda v: s in v),
                             ther["strategy_2"].str.split(";").map(lambda v: s in v)) for s in strategy_ids()}
    disagree = client[(sub1 != sub2) | ((client["marker_1"] != "none") & (client["dimension_1"] != client["dimension_2"]))]
    return out, disagree


def first_coding(corpus: pd.DataFrame) -> pd.DataFrame:
    """The corpus with the first coder's labels put back where adjudication changed them."""
    path = corpus_dir() / "adjudication.jsonl"
    first = corpus.copy()
    if path.exists():
        index = {(r.session_id, r.turn): i for i, r in zip(first.index, first.itertuples())}
        for line in path.open(encoding="utf-8"):
            c = json.loads(line)
            i = index[(c["session_id"], c["turn"])]
            for key in ("marker", "subtype", "dimension"):
                first.at[i, key] = c["first"][key]
    return first


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("second", nargs="+")
    ap.add_argument("--json")
    ap.add_argument("--disagreements")
    args = ap.parse_args()
    first = first_coding(read_corpus()[0])
    second = pd.concat([pd.read_json(p, lines=True, dtype=False) for p in args.second]).fillna("")
    result, disagree = agreement(first, second)
    for k, v in result.items():
        if isinstance(v, dict):
            print(k)
            for kk, vv in v.items():
                print(f"  {kk:<32} {vv:.2f}")
        else:
            print(f"{k:<32} {v:.3f}" if isinstance(v, float) else f"{k:<32} {v}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    if args.disagreements:
        cols = ["session_id", "turn", "text", "marker_1", "subtype_1", "dimension_1", "marker_2", "subtype_2",
                "dimension_2"]
        disagree[cols].to_json(args.disagreements, orient="records", lines=True, force_ascii=False)
        print(f"{len(disagree)} disagreements -> {args.disagreements}")


if __name__ == "__main__":
    main()
