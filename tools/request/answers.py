"""Checks for ``accessctl request new``'s answers, made as each is given.

The same rules as validation (a login of the org model, a real future date
within the role's maximum, a principal that exists), so a mistake is asked
again on the spot instead of failing the whole file at the end.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Callable

from tools.core.expiry import parse_expiry
from tools.core.orgmodel import OrgModel
from tools.request import load, scaffold

EXPIRES = re.compile(load.schema()["$defs"]["expires"]["pattern"])
ACCEPTED_DATES = ("a date YYYY-MM-DD (access ends as that day begins, 00:00 UTC) or an RFC 3339 time "
                  "such as 2026-12-01T18:00:00Z; relative dates like \"next week\" are not accepted")


def login_problem(org: OrgModel) -> Callable[[str], str | None]:
    def check(login: str) -> str | None:
        if login.lower() in org.people_by_login:
            return None
        return f"{login!r} is not a GitHub login in policies/data/people.yaml; e.g. " + ", ".join(
            sorted(p.github for p in org.people.values())[:5])
    return check


def expiry_problem(now: datetime, hours: int) -> Callable[[str], str | None]:
    """The same limits validate applies: a real, future date within ``hours``."""
    def check(text: str) -> str | None:
        if not EXPIRES.match(text):
            return f"{text!r} is not a date: use {ACCEPTED_DATES}"
        try:
            when = parse_expiry(text)
        except ValueError:
            return f"{text!r} is not a real date: use {ACCEPTED_DATES}"
        if when <= now:
            return f"{text} is in the past; choose a future date"
        latest = now + timedelta(hours=hours)
        if when > latest:
            return (f"{text} is more than {hours} hours away, the most this access allows; "
                    f"choose {scaffold.default_expiry(now, hours)} or earlier")
        return None
    return check


def principal_problem(org: OrgModel, allowed: tuple[str, ...],
                      accounts: list[str]) -> Callable[[str], str | None]:
    """A principal typed instead of picked: the kinds validate accepts."""
    def check(text: str) -> str | None:
        kind, _, ident = text.partition(":")
        if kind not in allowed:
            return f"{text!r}: this access goes to " + " or ".join(f"{k}:…" for k in allowed)
        if kind == "user" and ident.lower() not in org.people:
            return f"{ident!r} is not a person in policies/data/people.yaml"
        if kind == "group" and ident not in org.teams:
            return f"team {ident!r} does not exist; one of: " + ", ".join(sorted(org.teams))
        if kind == "serviceAccount" and text not in accounts:
            return f"{text!r} is not defined by a ServiceAccount file"
        return None
    return check
