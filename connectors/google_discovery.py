"""A Google API client built from the discovery document google-api-python-client
bundles (``static_discovery=True``: offline, no fetch), for the APIs with no
dedicated client library here: Cloud Identity Groups (teams) and Policy
Analyzer (last use). With an endpoint (the sandbox) it sends no credentials;
otherwise it takes Application Default Credentials, which CI gets through
google-github-actions/auth (OIDC)."""
from __future__ import annotations

from typing import Any

from tools.core.errors import UsageError


def build(api: str, version: str, scope: str, endpoint: str | None, what: str, endpoint_var: str) -> Any:
    """``what`` names the API in the error; ``endpoint_var`` is the variable
    that points it at the sandbox."""
    from googleapiclient import discovery
    options: dict[str, Any]
    if endpoint:
        from google.auth.credentials import AnonymousCredentials
        options = {"credentials": AnonymousCredentials(), "client_options": {"api_endpoint": endpoint}}
    else:
        import google.auth
        try:
            creds, _ = google.auth.default(scopes=[scope])
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise UsageError(f"no Google credentials for the {what}: in CI authenticate with "
                             f"google-github-actions/auth (OIDC); locally set {endpoint_var} for the sandbox "
                             f"({type(exc).__name__})") from None
        options = {"credentials": creds}
    return discovery.build(api, version, static_discovery=True, cache_discovery=False, **options)
