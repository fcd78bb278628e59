"""Shared fixtures: the spaCy pipeline, a rules-only scorer, and a tiny-file writer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import rupture_detect

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "sample_transcripts"
# modules other test folders import: the report's tiny score folder (pages/test_report.py) and the
# review server helpers (review/review_support.py), importable whatever order pytest collects in
sys.path[:0] = [str(HERE / "pages"), str(HERE / "review")]


@pytest.fixture(scope="session")
def nlp():
    """The shipped pipeline: blank English + sentencizer + lemmatizer + the two rupture components."""
    return rupture_detect.load_pipeline()


@pytest.fixture(scope="session")
def scorer(nlp):
    """Rules only: no trained model, so decisions are deterministic and come from the rule files."""
    return rupture_detect.make_scorer(model=None)


@pytest.fixture(scope="session")
def samples() -> Path:
    assert SAMPLES.is_dir(), f"bundled samples missing at {SAMPLES}"
    return SAMPLES


@pytest.fixture
def write(tmp_path):
    """``write(name, content, encoding="utf-8")`` -> Path of a new file under tmp_path.

    ``content`` may be text (encoded with ``encoding``) or bytes (written as-is);
    ``name`` may contain sub-folders, which are created.
    """
    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path
    return _write
