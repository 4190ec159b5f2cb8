"""Credentials out of URLs: for logs and messages (``***``) and for storage (removed).

Parsed by hand, not by ``urllib``: camera passwords often hold ``@`` or ``/``, which ``urlsplit`` reads as
the end of the user info or the start of the path and would print the rest of the secret.
"""

from __future__ import annotations

import re

SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
URL_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
HOST_PORT = re.compile(r"^(\[[0-9a-f:.]+\]|[^:@/]*)(:\d*)?$", re.IGNORECASE)
SECRET_KEYS = frozenset({
    "user", "username", "login", "password", "pass", "passwd", "pwd", "token", "access_token", "auth", "key",
    "apikey", "api_key", "secret", "credential", "credentials", "sig", "signature",
})  # fmt: skip


def _split(url: str) -> tuple[str, str | None, str, str]:
    """(scheme://, user info or None, host + path, ?query#fragment) of ``url``."""
    scheme = SCHEME.match(url)
    if scheme is None:
        return "", None, url, ""
    rest = url[scheme.end() :]
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    head, tail = rest[:cut], rest[cut:]
    at = head.rfind("@")
    first_segment = head.split("/", 1)[0]
    # user info up to the last '@' when the host part is not plainly "host[:port]" without it
    if at >= 0 and ("@" in first_segment or not HOST_PORT.match(first_segment)):
        return scheme.group(0), head[:at], head[at + 1 :], tail
    return scheme.group(0), None, head, tail


def _query(tail: str, replacement: str | None) -> str:
    """``?a=1&password=x#f`` with secret values replaced (or their pairs removed when ``replacement`` is None)."""
    if not tail.startswith("?"):
        return tail
    query, hash_, fragment = tail[1:].partition("#")
    kept = []
    for pair in query.split("&"):
        key = pair.split("=", 1)[0].lower()
        if key in SECRET_KEYS:
            if replacement is not None:
                kept.append(f"{pair.split('=', 1)[0]}={replacement}")
            continue
        kept.append(pair)
    return ("?" + "&".join(kept) if kept else "") + hash_ + fragment


def redact(location: str) -> str:
    """``rtsp://user:p@ss/word@host/x?token=t`` -> ``rtsp://***@host/x?token=***``: for logs and messages."""
    scheme, userinfo, rest, tail = _split(location)
    if not scheme:
        return location
    return scheme + ("***@" if userinfo is not None else "") + rest + _query(tail, "***")


def strip_secrets(location: str) -> str:
    """The URL without its user info and credential query parameters: what may be stored on disk."""
    scheme, _userinfo, rest, tail = _split(location)
    if not scheme:
        return location
    return scheme + rest + _query(tail, None)


def has_secrets(location: str) -> bool:
    return strip_secrets(location) != location


def redact_text(text: str) -> str:
    """Every URL inside a free-form message (a GStreamer error, a traceback line) redacted."""
    return URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)
