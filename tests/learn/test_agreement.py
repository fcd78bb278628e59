"""agreement.py: kappa and Gwet's AC1 on small hand-checked tables; the shipped agreement figures are reproducible."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rupture_detect.learn.agreement import coder_agreement, gwet_ac1

ROOT = Path(__file__).resolve().parents[2]


def test_gwet_ac1_by_hand():
    a = ["none"] * 8 + ["w", "c"]
    b = ["none"] * 8 + ["w", "none"]
    # po = 0.9; pi = (0.85, 0.1, 0.05); pe = (0.85*0.15 + 0.1*0.9 + 0.05*0.95) / 2 = 0.1325
    assert gwet_ac1(a, b) == pytest.approx((0.9 - 0.1325) / (1 - 0.1325))
    assert gwet_ac1(["x", "x"], ["x", "x"]) == 1.0


def test_ac1_stays_high_where_kappa_collapses_on_skewed_labels():
    a = ["none"] * 98 + ["w", "none"]
    b = ["none"] * 98 + ["none", "w"]
    first = pd.DataFrame({"session_id": "s", "turn": range(100), "speaker": "client", "marker": a,
                          "subtype": ["" if x == "none" else "denial" for x in a], "dimension": ""})
    second = first.assign(marker=b, subtype=["" if x == "none" else "denial" for x in b]).drop(columns="speaker")
    out = coder_agreement(first, second)
    assert out["family_kappa"] < 0 and out["family_ac1"] > 0.95


@pytest.mark.parametrize("args, stored", [
    (["corpus", "--style", "textbook"], "rupture_detect/data/corpus/agreement.json"),
    (["corpus", "--style", "verbatim"], "rupture_detect/data/corpus/agreement_verbatim.json"),
    (["annomi"], "rupture_detect/data/annomi/agreement.json"),
])
def test_shipped_agreement_figures_are_what_the_script_computes(tmp_path, args, stored):
    out = tmp_path / "a.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "agreement.py"), *args, "--json", str(out)],
                   check=True, capture_output=True)
    assert json.loads(out.read_text()) == json.loads((ROOT / stored).read_text())
