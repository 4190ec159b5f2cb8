"""Overlay renderer: boxes, labels and scores in stable per-class colours. One function for every sink."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from detector.detections import Detections


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per class id (golden-ratio hue steps)."""
    hue = (class_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def annotate(frame: np.ndarray, detections: Detections, thickness: int = 2, font_scale: float = 0.5) -> np.ndarray:
    """Draw ``detections`` onto a copy of ``frame`` (HxWx3 BGR) and return it."""
    out = frame.copy()
    labels = detections.labels
    for i in range(len(detections)):
        x1, y1, x2, y2 = (int(round(v)) for v in detections.boxes[i])
        colour = class_colour(int(detections.class_ids[i]))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"{labels[i]} {detections.scores[i]:.2f}"
        if detections.track_ids is not None and detections.track_ids[i] >= 0:
            text = f"#{int(detections.track_ids[i])} " + text
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = y1 - 4 if y1 - th - base - 4 >= 0 else y1 + th + base + 4
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw + 4, ty + base - 2), colour, cv2.FILLED)
        cv2.putText(out, text, (x1 + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def draw_hud(image: np.ndarray, lines: list[str], font_scale: float = 0.5) -> np.ndarray:
    """Text lines on a dark translucent box in the top-left corner, in place."""
    if not lines:
        return image
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)[0] for t in lines]
    line_h = max(h for _, h in sizes) + 8
    w, h = max(w for w, _ in sizes) + 12, line_h * len(lines) + 6
    w, h = min(w, image.shape[1]), min(h, image.shape[0])
    roi = image[:h, :w]
    roi[...] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(image, text, (6, (i + 1) * line_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1,
                    cv2.LINE_AA)  # fmt: skip
    return image


def draw_rules(image: np.ndarray, rules) -> np.ndarray:
    """Zones and masks translucent, lines with an arrow towards their 'in' side (in place; rules in pixels)."""
    if rules is None:
        return image
    layer = image.copy()
    for polygon in rules.masks:
        cv2.fillPoly(layer, [polygon.astype(np.int32)], (60, 60, 60))
    for zone in rules.zones:
        cv2.fillPoly(layer, [zone.points.astype(np.int32)], (255, 160, 0))
    cv2.addWeighted(layer, 0.3, image, 0.7, 0, dst=image)
    for zone in rules.zones:
        cv2.polylines(image, [zone.points.astype(np.int32)], True, (255, 160, 0), 1, cv2.LINE_AA)
        x, y = zone.points.min(axis=0).astype(int)
        cv2.putText(image, zone.name, (x + 4, y + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 160, 0), 1, cv2.LINE_AA)
    for line in rules.lines:
        (x1, y1), (x2, y2) = line.points
        cv2.line(image, (int(x1), int(y1)), (int(x2), int(y2)), (0, 255, 255), 2, cv2.LINE_AA)
        mx, my, dx, dy = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        length = max(np.hypot(dx, dy), 1e-9)
        nx, ny = -dy / length, dx / length  # towards the right of the line (y down): its 'in' side
        tip = (int(mx + 25 * nx), int(my + 25 * ny))
        cv2.arrowedLine(image, (int(mx), int(my)), tip, (0, 255, 255), 2, cv2.LINE_AA, tipLength=0.4)
        cv2.putText(image, line.name, (int(x1) + 4, int(y1) - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1,
                    cv2.LINE_AA)  # fmt: skip
    return image
