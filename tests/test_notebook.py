"""The researcher walkthrough runs top to bottom, so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "notebooks"
    work.mkdir()
    (tmp_path / "sample_transcripts").symlink_to(NOTEBOOK.parent.parent / "sample_transcripts")
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "9 sessions" in text and "errors: []" in text
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs), "the timeline is displayed"
    assert (work / "charts").is_dir()
