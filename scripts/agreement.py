"""Inter-coder agreement of the corpus and of the AnnoMI development set (figures before adjudication).

    python scripts/agreement.py corpus [--style textbook|verbatim] [--json OUT.json]
    python scripts/agreement.py annomi [--json OUT.json]

corpus: the corpus holds adjudicated labels; the first coder's original
labels are restored from the adjudication file of that style
(``adjudication.jsonl`` for the textbook and speech-recognition sessions,
``adjudication_verbatim.jsonl`` for the verbatim ones), and compared with the
independent second coding in ``second_coding/`` (``coder2_set_*.jsonl``,
``coder2_verbatim.jsonl``).

annomi: coder A against coder B on the double-coded turns of
``rupture_detect/data/annomi/codes.csv`` (ids and codes only; no AnnoMI text
is needed or read).

Prints Cohen's kappa and Gwet's AC1 for the family and the subtype, kappa per
subtype, for the dimension where both flagged and (where coded) per strategy.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from rupture_detect.learn.agreement import coder_agreement
from rupture_detect.learn.annomi import read_codes
from rupture_detect.learn.corpus import corpus_dir, read_corpus

SECOND = {"textbook": ["coder2_set_A.jsonl", "coder2_set_B.jsonl"], "verbatim": ["coder2_verbatim.jsonl"]}
ADJUDICATION = {"textbook": "adjudication.jsonl", "verbatim": "adjudication_verbatim.jsonl"}


def first_coding(corpus: pd.DataFrame, style: str) -> pd.DataFrame:
    """The corpus with the first coder's labels put back where adjudication changed them."""
    first = corpus.copy()
    index = {(r.session_id, r.turn): i for i, r in zip(first.index, first.itertuples())}
    for line in (corpus_dir() / ADJUDICATION[style]).open(encoding="utf-8"):
        c = json.loads(line)
        i = index[(c["session_id"], c["turn"])]
        for key in ("marker", "subtype", "dimension"):
            first.at[i, key] = c["first"][key]
    return first


def corpus_agreement(style: str) -> dict:
    second = pd.concat([pd.read_json(corpus_dir() / "second_coding" / name, lines=True, dtype=False)
                        for name in SECOND[style]]).fillna("")
    first = first_coding(read_corpus()[0], style)       # the first coding says who spoke
    return coder_agreement(first, second.drop(columns=[c for c in ("speaker", "text") if c in second]))


def annomi_agreement() -> dict:
    codes = read_codes()
    a, b = codes[codes["coder"] == "A"], codes[codes["coder"] == "B"]
    return coder_agreement(a.drop(columns="coder"), b.drop(columns="coder"), keys=("transcript_id", "utterance_id"))


def show(result: dict) -> None:
    for k, v in result.items():
        if isinstance(v, dict):
            print(k)
            for kk, vv in v.items():
                print(f"  {kk:<32} {vv:.2f}")
        else:
            print(f"{k:<32} {v:.3f}" if isinstance(v, float) else f"{k:<32} {v}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["corpus", "annomi"])
    ap.add_argument("--style", choices=sorted(SECOND), default="textbook")
    ap.add_argument("--json")
    args = ap.parse_args()
    result = corpus_agreement(args.style) if args.what == "corpus" else annomi_agreement()
    show(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
