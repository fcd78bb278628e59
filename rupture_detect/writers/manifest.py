"""``manifest.json``: what a run was, so that a table can be cited and reproduced.

Tool version, the model that decided (id and content hash, or ``rules-only``
and why), a hash of the rule files, every option, every input with its size
and SHA-256, counts, warnings and errors. Written beside the tables by the
same run, and shown at the top of the HTML report.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from .. import __version__

MANIFEST_NAME = "manifest.json"
MAX_LISTED = 1000          # warnings and errors listed in full up to this many (the counts are always exact)


def _update(h, path: str | Path) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    _update(h, path)
    return h.hexdigest()


def folder_digest(path: str | Path) -> str:
    """A content hash of every file in a folder (names and bytes), to say exactly which model ran."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0")
        _update(h, f)
    return h.hexdigest()


def rules_digest() -> str:
    """SHA-256 over the packaged rule files (names and contents), in name order."""
    h = hashlib.sha256()
    folder = resources.files("rupture_detect").joinpath("data/rules")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jsonl"):
            h.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return h.hexdigest()


def describe_inputs(paths: list[Path]) -> list[dict]:
    out = []
    for p in paths:
        try:
            out.append({"path": str(p), "bytes": p.stat().st_size, "sha256": file_digest(p)})
        except OSError as err:
            out.append({"path": str(p), "error": err.strerror or str(err)})
    return out


def build_manifest(*, command: str, options: dict, model: dict, inputs: list[Path], counts: dict,
                   warnings: list[str], errors: list[str], started: datetime) -> dict:
    return {
        "tool": "rupture-detect", "version": __version__, "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "model": model, "rules_sha256": rules_digest(),
        "options": options,
        "inputs": describe_inputs(inputs),
        "counts": {**counts, "warnings": len(warnings), "errors": len(errors)},
        "warnings": warnings[:MAX_LISTED], "errors": errors[:MAX_LISTED],
    }


def write_manifest(folder: Path, manifest: dict) -> Path:
    path = Path(folder) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of an output folder, or None (older runs had none; a broken one is reported as such)."""
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return {"error": f"{path}: unreadable manifest ({err})"}
    return data if isinstance(data, dict) else {"error": f"{path}: not a manifest"}
