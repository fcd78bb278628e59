"""The clinical ids (markers, families, dimensions, strategies), loaded from package data.

Every other module takes its ids from here, so a typo in a rule file or a
training table is caught against one source of truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

FAMILIES = ("withdrawal", "confrontation")
DIMENSIONS = ("bond", "task", "goal")
TIERS = ("immediate", "exploratory")
NONE = "none"


class DataFileError(ValueError):
    """A packaged or user-supplied data file does not follow its schema."""


@dataclass(frozen=True)
class Marker:
    id: str
    family: str
    dimension: str
    covert: bool
    label: str
    meaning: str
    strategies: tuple[str, ...]


@dataclass(frozen=True)
class Strategy:
    id: str
    tier: str
    label: str
    rationale: str


@dataclass(frozen=True)
class Taxonomy:
    markers: dict[str, Marker]
    strategies: dict[str, Strategy]

    @property
    def marker_ids(self) -> tuple[str, ...]:
        return tuple(self.markers)

    @property
    def strategy_ids(self) -> tuple[str, ...]:
        return tuple(self.strategies)

    def family_of(self, marker_id: str) -> str:
        return self.markers[marker_id].family


def require(obj: dict, keys: set[str], where: str) -> None:
    missing = keys - obj.keys()
    extra = obj.keys() - keys
    if missing or extra:
        raise DataFileError(f"{where}: missing keys {sorted(missing)}, unknown keys {sorted(extra)}")


def parse_taxonomy(data: dict, where: str = "taxonomy.json") -> Taxonomy:
    require(data, {"families", "dimensions", "markers", "strategies"}, where)
    if tuple(data["families"]) != FAMILIES or tuple(data["dimensions"]) != DIMENSIONS:
        raise DataFileError(f"{where}: families/dimensions differ from {FAMILIES}/{DIMENSIONS}")
    strategies: dict[str, Strategy] = {}
    for i, s in enumerate(data["strategies"]):
        require(s, {"id", "tier", "label", "rationale"}, f"{where}: strategies[{i}]")
        if s["tier"] not in TIERS:
            raise DataFileError(f"{where}: strategy {s['id']!r} has unknown tier {s['tier']!r}")
        strategies[s["id"]] = Strategy(**s)
    markers: dict[str, Marker] = {}
    for i, m in enumerate(data["markers"]):
        require(m, {"id", "family", "dimension", "covert", "label", "meaning", "strategies"},
                 f"{where}: markers[{i}]")
        if m["family"] not in FAMILIES or m["dimension"] not in DIMENSIONS:
            raise DataFileError(f"{where}: marker {m['id']!r} has a bad family or dimension")
        unknown = [s for s in m["strategies"] if s not in strategies]
        if unknown:
            raise DataFileError(f"{where}: marker {m['id']!r} names unknown strategies {unknown}")
        markers[m["id"]] = Marker(**{**m, "strategies": tuple(m["strategies"])})
    if len(markers) != 14 or len(strategies) != 10:
        raise DataFileError(f"{where}: expected 14 markers and 10 strategies, "
                            f"found {len(markers)} and {len(strategies)}")
    return Taxonomy(markers=markers, strategies=strategies)


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    text = resources.files("rupture_detect").joinpath("data/taxonomy.json").read_text("utf-8")
    return parse_taxonomy(json.loads(text))


def marker_ids() -> tuple[str, ...]:
    return load_taxonomy().marker_ids


def strategy_ids() -> tuple[str, ...]:
    return load_taxonomy().strategy_ids
