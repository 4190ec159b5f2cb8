"""The rules file: masks, zones and lines, validated (an unknown key, a bad polygon or an unknown class is an
error naming it).

    anchor: bottom_center            # center, top_center, or [fx, fy]: a point of the box as fractions
    masks:
      - polygon: [[0.70, 0.05], [0.80, 0.05], [0.80, 0.20], [0.70, 0.20]]
    zones:
      - name: entrance
        polygon: [[100, 300], [400, 300], [400, 560], [100, 560]]   # pixels; all values <= 1 means fractions
        classes: [person]
        loiter_s: 10
        occupancy: 5
    lines:
      - name: path
        points: [[120, 400], [650, 380]]   # 'in' = from the left of the line to its right, seen from the first point
        classes: [person, bicycle]
        count: once                        # once per object and direction (default), or every crossing
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from detector.errors import KestrelError

ANCHORS = {"bottom_center": (0.5, 1.0), "center": (0.5, 0.5), "top_center": (0.5, 0.0)}


class RulesError(KestrelError):
    """A rules file that cannot be used as written."""


@dataclass(frozen=True)
class Zone:
    name: str
    points: np.ndarray  # (K, 2) as written: pixels, or fractions of the frame
    classes: tuple[str, ...] = ()
    loiter_s: float = 0.0
    occupancy: int = 0


@dataclass(frozen=True)
class Line:
    name: str
    points: np.ndarray  # (2, 2)
    classes: tuple[str, ...] = ()
    count: str = "once"


@dataclass(frozen=True)
class Rules:
    anchor: tuple[float, float] = ANCHORS["bottom_center"]
    masks: tuple[np.ndarray, ...] = ()
    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = field(default=())

    def in_pixels(self, width: int, height: int, where: str = "rules") -> Rules:
        """Every shape in frame pixels (fractions scaled); a point outside the frame is an error naming it."""

        def scale(points: np.ndarray, what: str) -> np.ndarray:
            fractional = bool((np.abs(points) <= 1.0).all())
            out = points * [width, height] if fractional else points.astype(np.float64)
            bad = (out[:, 0] < 0) | (out[:, 0] > width) | (out[:, 1] < 0) | (out[:, 1] > height)
            if bad.any():
                x, y = points[np.argmax(bad)]
                raise RulesError(f"{where}: {what} has the point ({x:g}, {y:g}) outside the {width}x{height} frame")
            return out

        return Rules(self.anchor, tuple(scale(m, f"masks[{i}]") for i, m in enumerate(self.masks)),
                     tuple(Zone(z.name, scale(z.points, f"zone '{z.name}'"), z.classes, z.loiter_s, z.occupancy)
                           for z in self.zones),
                     tuple(Line(ln.name, scale(ln.points, f"line '{ln.name}'"), ln.classes, ln.count)
                           for ln in self.lines))  # fmt: skip


def load_rules(path: Path, class_names: tuple[str, ...]) -> Rules:
    path = Path(path)
    if not path.is_file():
        raise RulesError(f"rules file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_rules(data, class_names, str(path))


def parse_rules(data: object, class_names: tuple[str, ...], where: str = "rules") -> Rules:
    if not isinstance(data, dict):
        raise RulesError(f"{where}: the top level must be a mapping")
    _known(data, {"anchor", "masks", "zones", "lines"}, where)
    anchor = _anchor(data.get("anchor", "bottom_center"), where)
    masks = tuple(_polygon(_mapping(m, {"polygon"}, f"{where}: masks[{i}]").get("polygon"), f"{where}: masks[{i}]")
                  for i, m in enumerate(_list(data.get("masks", []), f"{where}: masks")))  # fmt: skip
    zones, lines, names = [], [], set()
    for i, z in enumerate(_list(data.get("zones", []), f"{where}: zones")):
        z = _mapping(z, {"name", "polygon", "classes", "loiter_s", "occupancy"}, f"{where}: zones[{i}]")
        name = _name(z, f"{where}: zones[{i}]", names)
        here = f"{where}: zone '{name}'"
        zones.append(Zone(name, _polygon(z.get("polygon"), here), _classes(z.get("classes"), class_names, here),
                          _number(z.get("loiter_s", 0), f"{here}: loiter_s"),
                          int(_number(z.get("occupancy", 0), f"{here}: occupancy"))))  # fmt: skip
    for i, ln in enumerate(_list(data.get("lines", []), f"{where}: lines")):
        ln = _mapping(ln, {"name", "points", "classes", "count"}, f"{where}: lines[{i}]")
        name = _name(ln, f"{where}: lines[{i}]", names)
        here = f"{where}: line '{name}'"
        points = _points(ln.get("points"), here)
        if len(points) != 2:
            raise RulesError(f"{here}: a line needs exactly 2 points, got {len(points)}")
        if np.allclose(points[0], points[1]):
            raise RulesError(f"{here}: its two points are the same")
        count = ln.get("count", "once")
        if count not in ("once", "every"):
            raise RulesError(f"{here}: count must be 'once' or 'every', got {count!r}")
        lines.append(Line(name, points, _classes(ln.get("classes"), class_names, here), count))
    return Rules(anchor, masks, tuple(zones), tuple(lines))


def _known(data: dict, keys: set[str], where: str) -> None:
    unknown = sorted(set(data) - keys)
    if unknown:
        raise RulesError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(keys))})")


def _mapping(value: object, keys: set[str], where: str) -> dict:
    if not isinstance(value, dict):
        raise RulesError(f"{where}: expected a mapping, got {value!r}")
    _known(value, keys, where)
    return value


def _list(value: object, where: str) -> list:
    if not isinstance(value, list):
        raise RulesError(f"{where}: expected a list, got {value!r}")
    return value


def _name(item: dict, where: str, seen: set[str]) -> str:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise RulesError(f"{where}: needs a name")
    if name in seen:
        raise RulesError(f"{where}: the name '{name}' is used twice")
    seen.add(name)
    return name


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or not np.isfinite(value):
        raise RulesError(f"{where}: expected a number >= 0, got {value!r}")
    return float(value)


def _points(value: object, where: str) -> np.ndarray:
    try:
        points = np.array(value, np.float64)
    except (TypeError, ValueError):
        points = np.zeros((0,))
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise RulesError(f"{where}: expected a list of [x, y] points, got {value!r}")
    return points


def _polygon(value: object, where: str) -> np.ndarray:
    points = _points(value, where)
    if len(points) < 3:
        raise RulesError(f"{where}: a polygon needs at least 3 points, got {len(points)}")
    x, y = points[:, 0], points[:, 1]
    if abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) < 1e-9:
        raise RulesError(f"{where}: the polygon has no area")
    return points


def _classes(value: object, class_names: tuple[str, ...], where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(_list(value, f"{where}: classes"))
    unknown = [n for n in names if n not in class_names]
    if unknown:
        raise RulesError(f"{where}: unknown class '{unknown[0]}' (the model knows {len(class_names)} classes)")
    return names


def _anchor(value: object, where: str) -> tuple[float, float]:
    if isinstance(value, str) and value in ANCHORS:
        return ANCHORS[value]
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in value):
        return float(value[0]), float(value[1])
    raise RulesError(f"{where}: anchor must be one of {', '.join(ANCHORS)} or [fx, fy] in 0..1, got {value!r}")
