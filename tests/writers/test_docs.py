"""docs/outputs.md documents exactly the columns the code derives for each table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rupture_detect.taxonomy import load_taxonomy
from rupture_detect.writers.sinks import table_specs

DOC = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"


def documented(table: str) -> set[str]:
    text = DOC.read_text("utf-8")
    section = text.split(f"## `{table}.csv`", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z_<> ]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize("key", ["rows", "sessions", "episodes", "segments"])
def test_every_column_is_documented_and_nothing_else(key):
    table, columns, _ = table_specs()[key]
    doc = documented(table)
    markers = load_taxonomy().marker_ids
    expanded = set()
    for name in doc:                  # `n_<marker id>` stands for one column per marker
        expanded |= {name.replace("<marker id>", m) for m in markers} if "<marker id>" in name else {name}
    assert set(columns) - expanded == set(), f"{table}: columns the docs do not describe"
    assert expanded - set(columns) == set(), f"{table}: documented columns the code does not write"
