"""The session report: one self-contained HTML page (no network) from scored output.

Input is either an output folder written by ``rupture-detect score`` (see
docs/outputs.md) or the DataFrames of :func:`rupture_detect.score`. Everything
is rendered server-side with autoescaping Jinja2 templates; the page's own
script only filters, sorts and moves between exchanges. Nothing here logs
transcript text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree as ET

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..decisions import read_spans
from ..taxonomy import DIMENSIONS, FAMILIES, load_taxonomy
from ..writers.charts import chart_stem
from ..writers.manifest import read_manifest

TABLE_EXTS = ("csv", "jsonl", "parquet")
SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
DISCLAIMER = ("Each flag marks a moment worth a second look in supervision, research or training. The tool "
              "does not diagnose, it can misread context, and a flag says nothing final about client or therapist.")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The package's template environment: autoescaping on for everything."""
    env = Environment(loader=PackageLoader("rupture_detect.pages", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(disclaimer=DISCLAIMER, families=FAMILIES, dimensions=DIMENSIONS)
    return env


@dataclass
class ReportTables:
    utterances: pd.DataFrame
    sessions: pd.DataFrame
    episodes: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None
    charts: dict[str, str] = field(default_factory=dict)     # session_id -> SVG text
    source: str = ""
    manifest: dict | None = None                               # the run's manifest.json, when there is one


# ---------------------------------------------------------------- reading

def _table(folder: Path, name: str) -> pd.DataFrame | None:
    for ext in TABLE_EXTS:
        path = folder / f"{name}.{ext}"
        if not path.exists():
            continue
        if ext == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if ext == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_parquet(path)
    return None


def is_outdir(path: str | Path) -> bool:
    """A folder written by ``rupture-detect score`` (it holds an utterances table)."""
    path = Path(path)
    return path.is_dir() and any((path / f"utterances.{e}").exists() for e in TABLE_EXTS)


def read_outdir(path: str | Path) -> ReportTables:
    folder = Path(path)
    utts, sessions = _table(folder, "utterances"), _table(folder, "sessions")
    if utts is None:
        raise FileNotFoundError(f"{folder}: no utterances.csv/.jsonl/.parquet (not a score output folder)")
    if sessions is None:
        sessions = pd.DataFrame({"session_id": pd.unique(utts["session_id"])})
    charts = {}
    chart_dir = folder / "charts"
    if chart_dir.is_dir():
        for sid in sessions["session_id"]:
            svg = chart_dir / f"{chart_stem(sid)}.svg"
            if svg.is_file():
                charts[str(sid)] = svg.read_text("utf-8", errors="replace")
    return ReportTables(utts, sessions, _table(folder, "episodes"), _table(folder, "segments"), charts, str(folder),
                        read_manifest(folder))


def tables_from_scores(scores, source: str = "") -> ReportTables:
    """Tables from :func:`rupture_detect.score` (uses ``.episodes``/``.segments`` when present)."""
    return ReportTables(scores.utterances, scores.sessions, getattr(scores, "episodes", None),
                        getattr(scores, "segments", None), {}, source)


# ---------------------------------------------------------------- small helpers

def _str(value) -> str:
    """Cell as text: NaN/None -> "", 4.0 -> "4"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _float(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def clock(seconds) -> str:
    s = _float(seconds)
    if s is None:
        return ""
    s = int(round(s))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _ids(value) -> list[str]:
    return [v.strip() for v in _str(value).split(";") if v.strip()]


def strategy_items(ids, used=()) -> list[dict]:
    """Strategy ids -> label, tier and one-line rationale from the repair hierarchy."""
    tax = load_taxonomy()
    return [{"id": s, "label": tax.strategies[s].label, "tier": tax.strategies[s].tier,
             "rationale": tax.strategies[s].rationale, "used": s in used}
            for s in ids if s in tax.strategies]


# ---------------------------------------------------------------- evidence

@dataclass
class Evidence:
    """An ``evidence_spans`` cell as the page needs it: rule hits with offsets in the row's text."""
    hits: list[dict]
    model_p: float | None
    gate: str | None

    @property
    def rules(self) -> list[str]:
        return list(dict.fromkeys(h["rule"] for h in self.hits))


def evidence_of(row: dict) -> Evidence:
    """The structured evidence of an utterances row (``evidence_spans``; ``p_marker`` as the model's p)."""
    try:
        data = read_spans(row.get("evidence_spans"))
    except ValueError:                     # a hand-edited cell: no highlight rather than no page
        data = {"rules": [], "model_p": None, "gate": None}
    p = data["model_p"] if data["model_p"] is not None else _float(row.get("p_marker"))
    return Evidence(data["rules"], p, data["gate"])


def highlight(text: str, hits: list[dict]) -> list[tuple[str, str]]:
    """Split ``text`` into (segment, rule ids) pieces by the hits' offsets; rule ids are empty outside them."""
    spans = sorted((h["start"], h["end"], h["rule"]) for h in hits
                   if isinstance(h.get("start"), int) and isinstance(h.get("end"), int)
                   and 0 <= h["start"] < h["end"] <= len(text))
    merged: list[list] = []
    for start, end, rule in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if rule not in merged[-1][2]:
                merged[-1][2].append(rule)
        else:
            merged.append([start, end, [rule]])
    pieces, pos = [], 0
    for start, end, rules in merged:
        if start > pos:
            pieces.append((text[pos:start], ""))
        pieces.append((text[start:end], " ".join(rules)))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], ""))
    return pieces


# ---------------------------------------------------------------- charts

_DROP = {"script", "foreignObject", "iframe", "image", "metadata", "set", "animate", "animateMotion",
         "animateTransform", "handler", "listener"}


def sanitize_svg(svg: str, prefix: str, label: str) -> Markup | None:
    """An SVG chart made safe to inline: no scripts, handlers or external links; ids prefixed."""
    if "<!ENTITY" in svg:
        return None
    svg = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>", "", svg)
    try:
        root = ET.fromstring(svg)
    except ET.ParseError:
        return None
    if root.tag != f"{{{SVG_NS}}}svg":
        return None
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag.split("}")[-1] in _DROP:
                parent.remove(child)
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for el in root.iter():
        for key in list(el.attrib):
            name, value = key.split("}")[-1], el.attrib[key]
            if name.lower().startswith("on"):
                del el.attrib[key]
            elif name == "href":
                if value.startswith("#") and value[1:] in ids:
                    el.attrib[key] = f"#{prefix}{value[1:]}"
                else:
                    del el.attrib[key]
            elif name == "id":
                el.attrib[key] = prefix + value
            elif "url(" in value:
                el.attrib[key] = _local_urls(value, prefix, ids)
    if not root.get("id"):
        root.set("id", f"{prefix}root")
    for el in root.iter(f"{{{SVG_NS}}}style"):          # scoped to this chart: inline styles apply page-wide
        el.text = _scope_css(_local_urls(el.text or "", prefix, ids), f"#{root.get('id')}")
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("width", "100%")
    if root.get("viewBox"):
        root.attrib.pop("height", None)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return Markup(ET.tostring(root, encoding="unicode"))


def _local_urls(value: str, prefix: str, ids: set[str]) -> str:
    def repl(m):
        target = m.group(1)
        return f"url(#{prefix}{target})" if target in ids else "none"
    value = re.sub(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)", repl, value)
    return re.sub(r"url\(\s*['\"]?(?!#)[^)]*\)", "none", value)


def _scope_css(css: str, scope: str) -> str:
    css = re.sub(r"@[^{;]*(?:;|\{[^}]*\})", "", css)                 # no @import, @font-face, @media...
    return re.sub(r"([^{}]+)\{", lambda m: ", ".join(f"{scope} {sel.strip()}" for sel in m.group(1).split(",")
                                                     if sel.strip()) + " {", css)


def timeline(utts: list[dict], flagged: list[dict], width: int = 1000) -> dict:
    """Coordinates for the fallback timeline: markers by family (rows) over turns (x)."""
    n = max(len(utts), 1)
    left, right = 120, 20

    def x(i):
        return round(left + (width - left - right) * (i + 0.5) / n, 1)

    rows = {"confrontation": 38, "withdrawal": 88}
    points = [{"x": x(ex["pos"]), "y": rows[ex["family"]], "family": ex["family"], "href": f"#{ex['id']}",
               "size": round(4 + 6 * (ex["confidence"] or 0), 1),
               "title": f"Turn {ex['turn']}: {ex['subtype_label']} ({ex['family']}, {ex['dimension']}), "
                        f"confidence {ex['conf_pct']}%"} for ex in flagged]
    timed = any(u["time"] for u in utts)
    ticks = []
    for k in range(6):
        i = round(k * (n - 1) / 5) if n > 1 else 0
        if utts and (not ticks or ticks[-1]["i"] != i):
            u = utts[i]
            ticks.append({"i": i, "x": x(i), "label": u["time"] if timed and u["time"] else f"turn {u['turn']}"})
    return {"width": width, "height": 130, "left": left, "right": width - right, "rows": rows,
            "points": points, "ticks": ticks, "axis": "time (m:ss)" if timed else "turn"}


# ---------------------------------------------------------------- building the page

def _episode_index(episodes: pd.DataFrame | None, sid: str, positions: dict[str, int]):
    """Opening turn -> episode row, and a list of (first pos, last pos, row) spans for recurrences."""
    opening, spans = {}, []
    if episodes is None or episodes.empty:
        return opening, spans
    for row in episodes[episodes["session_id"].map(_str) == sid].to_dict("records"):
        turn = _str(row.get("turn"))
        opening[turn] = row
        follow = [positions[t] for t in _ids(row.get("next_client_turns")) if t in positions]
        if turn in positions and follow:
            spans.append((positions[turn], max(follow), row))
    return opening, spans


def _next_step(row: dict | None, spans, pos: int, utts: list[dict]) -> dict:
    if row is not None:
        return {"kind": "episode", "episode": _str(row.get("episode")),
                "response_turn": _str(row.get("response_turn")),
                "strategies": strategy_items(_ids(row.get("response_strategies"))),
                "fit": _str(row.get("strategy_fit")), "outcome": _str(row.get("outcome")),
                "reason": _str(row.get("outcome_reason")), "factors": _ids(row.get("therapist_factors"))}
    nxt = next((u["turn"] for u in utts[pos + 1:] if u["speaker"] == "therapist"), "")
    for first, last, ep in spans:
        if first < pos <= last:
            return {"kind": "recurrence", "episode": _str(ep.get("episode")), "opening_turn": _str(ep.get("turn")),
                    "outcome": _str(ep.get("outcome")), "reason": _str(ep.get("outcome_reason")), "turn": nxt}
    return {"kind": "next_turn", "turn": nxt} if nxt else {"kind": "session_ends"}


def _session(idx: int, sid: str, frame: pd.DataFrame, meta: dict, tables: ReportTables, context: int) -> dict:
    tax = load_taxonomy()
    utts = []
    for pos, r in enumerate(frame.to_dict("records")):
        utts.append({"pos": pos, "turn": _str(r.get("turn")), "speaker": _str(r.get("speaker")) or "other",
                     "text": _str(r.get("text")), "time": clock(r.get("start")),
                     "marker": _str(r.get("marker")), "subtype": _str(r.get("subtype")), "row": r})
    positions = {u["turn"]: u["pos"] for u in utts}
    opening, spans = _episode_index(tables.episodes, sid, positions)
    exchanges = []
    for u in utts:
        if u["speaker"] != "client" or u["marker"] not in FAMILIES or u["subtype"] not in tax.markers:
            continue
        r, pos = u["row"], u["pos"]
        ev = evidence_of(r)
        conf = _float(r.get("confidence"))
        step = _next_step(opening.get(u["turn"]), spans, pos, utts)
        response = step.get("response_turn") or step.get("turn")
        end = pos + context
        if response in positions:
            end = max(end, positions[response])
        ctx = []
        for c in utts[max(0, pos - context):min(len(utts), end + 1)]:
            ctx.append({"turn": c["turn"], "speaker": c["speaker"], "time": c["time"],
                        "role": "flagged" if c["pos"] == pos else ("before" if c["pos"] < pos else "after"),
                        "response": c["turn"] == response and c["pos"] > pos,
                        "other_flag": c["pos"] != pos and c["marker"] in FAMILIES,
                        "pieces": highlight(c["text"], ev.hits) if c["pos"] == pos else [(c["text"], "")]})
        used = set(_ids(opening[u["turn"]].get("response_strategies"))) if u["turn"] in opening else set()
        exchanges.append({
            "id": f"ex-{idx}-{pos}", "pos": pos, "turn": u["turn"], "time": u["time"], "family": u["marker"],
            "subtype": u["subtype"], "subtype_label": tax.markers[u["subtype"]].label,
            "meaning": tax.markers[u["subtype"]].meaning, "dimension": _str(r.get("dimension")),
            "confidence": conf, "conf_pct": round(100 * conf) if conf is not None else "–",
            "rules": ev.rules, "model_p": None if ev.model_p is None else f"{ev.model_p:.2f}",
            "other_evidence": [f"gate: {ev.gate}"] if ev.gate else [], "context": ctx, "next": step,
            "suggested": strategy_items(_ids(r.get("suggested_strategies")), used)})
    chart = tables.charts.get(sid)
    label = f"Timeline of session {sid}: markers by family over the session"
    chart = sanitize_svg(chart, f"c{idx}-", label) if chart else None
    strain = {d: _float(meta.get(f"strain_{d}")) or 0.0 for d in DIMENSIONS}
    per_dim = {d: sum(ex["dimension"] == d for ex in exchanges) for d in DIMENSIONS}
    segs = None
    if tables.segments is not None and not tables.segments.empty:
        seg = tables.segments[tables.segments["session_id"].map(_str) == sid]
        segs = [{k: _str(v) for k, v in s.items()} for s in seg.to_dict("records")] or None
    outcomes = {k: _str(meta.get(k)) for k in ("episodes", "resolved", "partly_resolved", "unresolved")
                if _str(meta.get(k))}
    return {"idx": idx, "id": sid, "anchor": f"s-{idx}", "source": _str(meta.get("source")), "chart": chart,
            "timeline": None if chart else timeline(utts, exchanges), "strain": strain, "per_dim": per_dim,
            "n_utts": len(utts), "n_client": sum(u["speaker"] == "client" for u in utts),
            "counts": {f: sum(ex["family"] == f for ex in exchanges) for f in FAMILIES},
            "exchanges": exchanges, "segments": segs, "outcomes": outcomes}


def build_context(tables: ReportTables, title: str | None = None, context: int = 2) -> dict:
    """Everything the report template needs (plain dicts and lists)."""
    utts = tables.utterances.copy()
    utts["session_id"] = utts["session_id"].map(_str)
    meta = {_str(r["session_id"]): r for r in tables.sessions.to_dict("records")}
    order = list(dict.fromkeys(utts["session_id"]))
    sessions = [_session(i, sid, utts[utts["session_id"] == sid], meta.get(sid, {}), tables, context)
                for i, sid in enumerate(order, start=1)]
    tax = load_taxonomy()
    all_ex = [ex for s in sessions for ex in s["exchanges"]]
    strain_max = max([v for s in sessions for v in s["strain"].values()] + [0.05])
    return {"title": title or "Alliance rupture report", "sessions": sessions, "n_exchanges": len(all_ex),
            "strain_max": strain_max, "has_episodes": tables.episodes is not None, "source": tables.source,
            "subtypes": [{"id": m.id, "label": m.label, "family": m.family,
                          "count": sum(ex["subtype"] == m.id for ex in all_ex)} for m in tax.markers.values()],
            "dimension_counts": {d: sum(ex["dimension"] == d for ex in all_ex) for d in DIMENSIONS},
            "family_counts": {f: sum(ex["family"] == f for ex in all_ex) for f in FAMILIES},
            "run": run_summary(tables.manifest)}


def run_summary(manifest: dict | None) -> dict | None:
    """The lines of the run's manifest a reader of the report needs (the full file is beside the tables)."""
    if not manifest:
        return None
    if "error" in manifest:
        return {"error": manifest["error"]}
    model = manifest.get("model") or {}
    counts = manifest.get("counts") or {}
    return {"version": _str(manifest.get("version")), "started": _str(manifest.get("started")),
            "model": _str(model.get("id")), "model_sha": _str(model.get("sha256"))[:12],
            "model_note": _str(model.get("reason")), "rules_sha": _str(manifest.get("rules_sha256"))[:12],
            "inputs": len(manifest.get("inputs") or []), "warnings": int(counts.get("warnings") or 0),
            "errors": int(counts.get("errors") or 0)}


def render_report(tables: ReportTables, title: str | None = None, context: int = 2) -> str:
    return environment().get_template("report.html.j2").render(**build_context(tables, title, context))


def write_page(html: str, out: str | Path) -> Path:
    """Write atomically (a temporary file beside the target, then rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
