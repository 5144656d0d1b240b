"""Policy Analyzer v1's activity query in the GCP fake (REST): when a service
account, or one of its keys, last authenticated.

Shapes from the discovery document google-api-python-client ships
(``googleapiclient/discovery_cache/documents/policyanalyzer.v1.json``, method
``policyanalyzer.projects.locations.activityTypes.activities.query``; the
contract test checks every answer against it) and the published pages:
https://cloud.google.com/policy-intelligence/docs/reference/policyanalyzer/rest/v1/projects.locations.activityTypes.activities/query
https://cloud.google.com/iam/docs/service-account-recent-usage
https://cloud.google.com/sdk/gcloud/reference/policy-intelligence/query-activity

Rules enforced, each cited where it is enforced below:

- ``GET /v1/projects/{p}/locations/{l}/activityTypes/{t}/activities:query``
  only; ``t`` is ``serviceAccountLastAuthentication`` or
  ``serviceAccountKeyLastAuthentication``; the location is ``global``.
- ``pageSize`` at most 1000, non-positive ignored; ``pageToken`` only as
  the previous answer gave it.
- ``filter``: ``activities.full_resource_name`` or
  ``activities.fullResourceName`` ``=`` a quoted full resource name, several
  joined by ``OR``; nothing else.
- Dates are days: Activity Analyzer reports the date of the last
  authentication, as midnight US Pacific Standard Time (UTC-8).

There is no real authentication in the sandbox: ``authenticate(email, when,
key_id)`` records that a service account (through a key, or not) called a
Google API, as the service would observe it. It refuses an account or key
that does not exist, which could not have authenticated.
"""
from __future__ import annotations

import hashlib
import re
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from tools.sandbox.gcp_iam import ApiError

SA_ACTIVITY = "serviceAccountLastAuthentication"
KEY_ACTIVITY = "serviceAccountKeyLastAuthentication"
ROUTE = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/activityTypes/([^/]+)/activities:query$")
MAX_PAGE = 1000  # discovery document, pageSize: "Max limit is 1000."
_TERM = re.compile(r'^\s*activities\.(?:full_resource_name|fullResourceName)\s*=\s*"([^"]+)"\s*$')
PACIFIC = timezone(timedelta(hours=-8))


def full_name(email: str, key_id: str | None = None) -> str:
    """``//iam.googleapis.com/projects/{p}/serviceAccounts/{email}[/keys/{id}]``, the
    full resource name the activities carry (service-account-recent-usage, example output)."""
    project = email.partition("@")[2].partition(".")[0]
    return f"//iam.googleapis.com/projects/{project}/serviceAccounts/{email}" + (f"/keys/{key_id}" if key_id else "")


def reported_day(when: datetime) -> str:
    """The day of ``when`` in UTC-8, at its midnight, as RFC 3339 UTC (the
    service reports dates, not times: service-account-recent-usage)."""
    day = when.astimezone(PACIFIC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def project_number(project: str) -> str:
    """A stable 12-digit number per project id (the fake has no numbers of its own)."""
    return str(100000000000 + int(hashlib.sha256(project.encode()).hexdigest(), 16) % 900000000000)


class ActivityAnalyzerFake:
    """Expects ``accounts``, ``sa_keys``, ``_lock`` and ``_enter`` from FakeGcp."""

    accounts: dict[str, dict[str, Any]]
    sa_keys: dict[str, list[Any]]
    _lock: threading.RLock
    _enter: Callable[[str], None]

    def _activity_reset(self) -> None:
        self.last_auth: dict[str, datetime] = {}  # service-account email -> last authentication
        self.last_key_auth: dict[tuple[str, str], datetime] = {}  # (email, key id) -> last authentication

    # ---- test switch -----------------------------------------------------
    def authenticate(self, email: str, when: datetime, key_id: str | None = None) -> None:
        """``email`` called a Google API at ``when`` (through key ``key_id``, if given)."""
        with self._lock:
            project = email.partition("@")[2].partition(".")[0]
            sa = self.accounts.get(project, {}).get(email)
            if sa is None:
                raise ValueError(f"no service account {email}: it cannot authenticate")
            if key_id is not None and not any(k.name.endswith(f"/keys/{key_id}") for k in self.sa_keys.get(email, [])):
                raise ValueError(f"{email} has no key {key_id}")
            self.last_auth[email] = max(when, self.last_auth.get(email, when))
            if key_id is not None:
                self.last_key_auth[(email, key_id)] = max(when, self.last_key_auth.get((email, key_id), when))

    # ---- REST --------------------------------------------------------------
    def policy_analyzer(self, verb: str, path: str, query: dict[str, list[str]]) -> dict | None:
        """Serve one activities:query; None when the path is not Policy Analyzer's."""
        m = ROUTE.match(path)
        if not m:
            return None
        if verb != "GET":  # discovery document: "httpMethod": "GET"
            raise ApiError(404, f"No route for {verb} {path}.")
        project, location, activity_type = m.groups()
        self._enter("activities.query")
        with self._lock:
            if project not in self.accounts:
                # as Resource Manager: an unknown project reads as one the caller cannot see
                raise ApiError(403, f"The caller does not have permission (project {project!r} "
                                    "does not exist or you cannot see it).")
            if location != "global":
                # every documented request names locations/global (service-account-recent-usage,
                # gcloud policy-intelligence query-activity); activity data is not regional
                raise ApiError(400, f"Location {location!r} is not supported; use 'global'.")
            if activity_type not in (SA_ACTIVITY, KEY_ACTIVITY):
                # gcloud reference: "supported values are: serviceAccountLastAuthentication,
                # serviceAccountKeyLastAuthentication" (the fake serves these two only)
                raise ApiError(400, f"Unsupported activity type {activity_type!r}.")
            wanted = _filter(_one(query, "filter"))
            rows = self._activities(project, activity_type)
        if wanted is not None:
            rows = [r for r in rows if r["fullResourceName"] in wanted]
        size = _page_size(_one(query, "pageSize"))
        start = _token(_one(query, "pageToken"), len(rows))
        page, rest = rows[start:start + size], rows[start + size:]
        out: dict[str, Any] = {}
        if page:  # Google's JSON leaves out empty repeated fields
            out["activities"] = page
        if rest:
            out["nextPageToken"] = f"offset-{start + size}"
        return out

    def _activities(self, project: str, activity_type: str) -> list[dict]:
        now = datetime.now(timezone.utc)
        period = {"startTime": reported_day(now - timedelta(days=90)), "endTime": reported_day(now)}
        out = []
        if activity_type == SA_ACTIVITY:
            for email, when in sorted(self.last_auth.items()):
                sa = self.accounts[project].get(email)
                if sa is None:
                    continue  # another project's account, or deleted since
                name = full_name(email)
                out.append({"fullResourceName": name, "activityType": SA_ACTIVITY, "observationPeriod": period,
                            "activity": {"lastAuthenticatedTime": reported_day(when), "serviceAccount": {
                                "fullResourceName": name, "projectNumber": project_number(project),
                                "serviceAccountId": sa.unique_id}}})
        else:
            for (email, kid), when in sorted(self.last_key_auth.items()):
                sa = self.accounts[project].get(email)
                if sa is None or not any(k.name.endswith(f"/keys/{kid}") for k in self.sa_keys.get(email, [])):
                    continue  # a deleted key no longer authenticates or shows
                name = full_name(email, kid)
                out.append({"fullResourceName": name, "activityType": KEY_ACTIVITY, "observationPeriod": period,
                            "activity": {"lastAuthenticatedTime": reported_day(when), "serviceAccountKey": {
                                "fullResourceName": name, "projectNumber": project_number(project),
                                "serviceAccountId": sa.unique_id}}})
        return out


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _filter(text: str | None) -> set[str] | None:
    """The full resource names a filter asks for. Documented forms only
    (discovery document, ``filter``; gcloud reference, "filtering on multiple
    service accounts" joins terms with OR)."""
    if text is None or not text.strip():
        return None
    names = set()
    for term in re.split(r"\s+OR\s+", text.strip()):
        m = _TERM.match(term)
        if not m:
            raise ApiError(400, f"Invalid filter: {text!r}. Supported: activities.full_resource_name = \"NAME\".")
        names.add(m.group(1))
    return names


def _page_size(text: str | None) -> int:
    try:
        size = int(text) if text is not None else 0
    except ValueError:
        raise ApiError(400, f"Invalid value at 'page_size' (TYPE_INT32), {text!r}") from None
    # "Max limit is 1000. Non-positive values are ignored." The default is not
    # documented; the fake uses the maximum.
    return MAX_PAGE if size <= 0 else min(size, MAX_PAGE)


def _token(text: str | None, total: int) -> int:
    if not text:
        return 0
    m = re.fullmatch(r"offset-(\d+)", text)
    if not m or int(m.group(1)) > total:
        # "pageToken must be the value of nextPageToken from the previous response"
        raise ApiError(400, "Invalid page token.")
    return int(m.group(1))
