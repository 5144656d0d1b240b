"""Absolute UTC expiry timestamps: the one parser every stage and connector shares.

Relative forms ("in 3 days") are never accepted: an expiry must read the same
in every run and every review.
"""
from __future__ import annotations

from datetime import date, datetime, timezone


def parse_expiry(text: str) -> datetime:
    """Absolute UTC expiry; a bare date means 00:00 UTC as that day begins."""
    if len(text) == 10:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    return value.astimezone(timezone.utc)


def format_expiry(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
