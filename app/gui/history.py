"""Recent files and RTSP URLs in the window's settings, newest first."""

from __future__ import annotations

from PyQt6.QtCore import QSettings

MAX_HISTORY = 10


def history(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    return [value] if isinstance(value, str) else list(value or [])


def remember(settings: QSettings, key: str, text: str) -> None:
    items = [text] + [h for h in history(settings, key) if h != text]
    settings.setValue(key, items[:MAX_HISTORY])
