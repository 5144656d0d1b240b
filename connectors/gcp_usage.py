"""When GCP last saw the pipeline's service accounts authenticate: Policy
Analyzer v1's activity query, read for access reviews (``review open``) and
``audit report --live``, never by plan or apply.

Google publishes no Cloud Client Library for Policy Analyzer on PyPI, so
this goes through google-api-python-client, built from the discovery
document it ships (``policyanalyzer.v1.json``, static: no network to build
it), as the Cloud Identity Groups connector does. ``ACCESSCTL_GCP_ENDPOINT``
points it at the sandbox's fake (tools/sandbox/gcp_activity.py).

One query per project answers for every service account in it:
``projects/{p}/locations/global/activityTypes/serviceAccountLastAuthentication/activities:query``
(pages of 1000), and, only where an integration (the one kind of account
with a key) is asked about, the same for ``serviceAccountKeyLastAuthentication``.
https://cloud.google.com/iam/docs/service-account-recent-usage
https://cloud.google.com/policy-intelligence/docs/reference/policyanalyzer/rest/v1/projects.locations.activityTypes.activities/query

The service reports a day, not a time; an account with no activity in the
observation period reads "never". IAM reports no use per role binding, so
a binding to a person or a group says "not reported"; a binding to a
service account shows that account's last authentication, saying so.
"""
from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Sequence

from connectors import google_discovery
from tools.core.model import Grant, Target
from tools.core.usage import NEVER, LastUsed, not_reported, used

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SA_ACTIVITY = "serviceAccountLastAuthentication"
KEY_ACTIVITY = "serviceAccountKeyLastAuthentication"
SOURCE = "Policy Analyzer serviceAccountLastAuthentication"
PAGE = 1000  # the largest pageSize (discovery document)
IDENTITY_KIND = "gcp-service-account"
# https://cloud.google.com/iam/docs/service-account-recent-usage, "Required permissions"
PERMISSIONS = ("policyanalyzer.serviceAccountLastAuthenticationActivities.query",
               "policyanalyzer.serviceAccountKeyLastAuthenticationActivities.query")


def sa_of(grant: Grant) -> tuple[str, str] | None:
    """(project, account name) of a ``serviceAccount:<project>/<name>`` principal."""
    if not grant.principal.startswith("serviceAccount:"):
        return None
    project, _, name = grant.principal.removeprefix("serviceAccount:").partition("/")
    return (project, name) if project and name else None


def full_name(project: str, name: str) -> str:
    return f"//iam.googleapis.com/projects/{project}/serviceAccounts/{name}@{project}.iam.gserviceaccount.com"


class ActivityReader:
    """Policy Analyzer's activities, through the discovery-built client."""

    def __init__(self, endpoint: str | None = None, page_size: int = PAGE):
        self._endpoint = endpoint or os.environ.get("ACCESSCTL_GCP_ENDPOINT")
        self.page_size = page_size
        self._api: Any = None
        self.calls = 0  # HTTP requests made (pages)

    def _client(self) -> Any:
        if self._api is None:
            self._api = google_discovery.build("policyanalyzer", "v1", SCOPE, self._endpoint,
                                               "Policy Analyzer API", "ACCESSCTL_GCP_ENDPOINT")
        return self._api

    def last_authentications(self, project: str, activity_type: str) -> dict[str, dict]:
        """Full resource name → the activity's ``activity`` object, every page."""
        acts = self._client().projects().locations().activityTypes().activities()
        request = acts.query(parent=f"projects/{project}/locations/global/activityTypes/{activity_type}",
                             pageSize=self.page_size)
        out: dict[str, dict] = {}
        while request is not None:
            self.calls += 1
            page = request.execute(num_retries=3)  # 429 and 5xx retried with backoff by the library
            for a in page.get("activities", []):
                out[a.get("fullResourceName", "")] = a.get("activity") or {}
            request = acts.query_next(request, page)
        return out


def read_last_used(reader: ActivityReader, target: Target, grants: Sequence[Grant]) -> dict[tuple, LastUsed]:
    """Grant key → last use, for every grant given: one query per project of
    the accounts asked about, one more where an integration is among them."""
    accounts = {sa for g in grants if (sa := sa_of(g))}
    integrations = {sa for g in grants if g.kind == IDENTITY_KIND and g.attr("use") == "integration"
                    and (sa := sa_of(g))}
    seen: dict[str, dict] = {}
    keys: dict[str, dict] = {}
    for project in sorted({p for p, _ in accounts}):
        seen |= reader.last_authentications(project, SA_ACTIVITY)
        if any(p == project for p, _ in integrations):
            keys |= reader.last_authentications(project, KEY_ACTIVITY)
    out: dict[tuple, LastUsed] = {}
    for g in grants:
        sa = sa_of(g)
        if sa is None:
            out[g.key] = not_reported("Cloud IAM does not report use per role binding")
            continue
        name = full_name(*sa)
        activity = seen.get(name)
        if activity and activity.get("lastAuthenticatedTime"):
            value = used(_time(activity["lastAuthenticatedTime"]), SOURCE, _key_detail(name, keys))
        else:
            value = LastUsed(NEVER, None, SOURCE, "no authentication in Activity Analyzer's observation period")
        if g.kind != IDENTITY_KIND:
            detail = "the service account's last authentication; IAM does not report use per role binding"
            value = LastUsed(value.state, value.at, value.source, "; ".join(x for x in (value.detail, detail) if x))
        out[g.key] = value
    return out


def _key_detail(account: str, keys: dict[str, dict]) -> str:
    """The most recently used key of an account, when its keys were asked about."""
    mine = [(a.get("lastAuthenticatedTime", ""), name.rpartition("/keys/")[2]) for name, a in keys.items()
            if name.startswith(account + "/keys/")]
    if not mine:
        return ""
    when, kid = max(mine)
    return f"key {kid} last on {when[:10]}"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
