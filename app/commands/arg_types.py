"""argparse value types that refuse nonsense with a one-line message (argparse prints it, exit 2)."""

from __future__ import annotations

import argparse
import math


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def fraction(text: str) -> float:
    """A threshold in [0, 1] (scores, IoU)."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1")
    return value


def non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (1..65535)")
    return value


def model_ref(text: str):
    """A model package path, or a model on a Triton server (triton://HOST:PORT/MODEL, triton+http://...)."""
    from pathlib import Path

    from detector.backends.triton_backend import is_triton_url, parse_url
    from detector.errors import BackendError

    if is_triton_url(text):
        try:
            parse_url(text)
        except BackendError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return Path(text)
