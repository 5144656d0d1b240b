"""OPA server failures as one readable line.

OPA answers errors as ``{"code", "message", "errors": [{"code", "message",
"location": {"file", "row", "col"}}]}`` (``ErrorV1`` in OPA's
``v1/server/types/types.go``; codes ``internal_error``, ``evaluation_error``,
``unauthorized``, ``invalid_parameter``, ``invalid_operation``,
``resource_not_found``, ``resource_conflict``, ``undefined_document``).
opa-python-client surfaces them in several ways: ``requests`` HTTP errors
(the query and list calls use ``raise_for_status``), its own exception
classes with ``expression``/``message``/``errors`` attributes (policy and
data uploads), or a JSON decoding error when the answer is not JSON at all
(a proxy's HTML page). Every shape ends here, so a user always reads what
the server said and what to do about it, never a Python repr.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Codes after which the server itself is fine and the policy or the input is
# at fault: a finding about one decision, not an environment problem.
EVALUATION_CODES = frozenset({"internal_error", "evaluation_error"})

_HINTS = {
    "unauthorized": "the server requires a token; accessctl's OPA server must run without authentication "
                    "on localhost",
    "invalid_parameter": "the server refused the policy or data (compile error?): run `accessctl evaluate` "
                         "without ACCESSCTL_OPA_URL to see it from the embedded engine",
    "resource_not_found": "is ACCESSCTL_OPA_URL the server's root (http://HOST:PORT), not a path below it?",
}


@dataclass(frozen=True)
class OpaFailure:
    message: str
    evaluation: bool  # True: the server evaluated and failed (policy or input at fault)


def _details(errors: Any) -> str:
    out = []
    for e in errors if isinstance(errors, list) else []:
        if not isinstance(e, dict):
            continue
        loc = e.get("location") if isinstance(e.get("location"), dict) else {}
        where = f"{loc.get('file', '')}:{loc.get('row', '')}: " if loc.get("file") else ""
        out.append(f"{where}{e.get('code', 'error')}: {e.get('message', '')}".strip())
    return "; ".join(out)


def from_body(status: int | None, body: Any) -> OpaFailure:
    """One line from an OPA error body (already decoded JSON)."""
    prefix = f"HTTP {status} " if status else ""
    if not isinstance(body, dict) or "code" not in body:
        return OpaFailure(f"{prefix}answer is not an OPA error document: {str(body)[:200]}", False)
    code = str(body.get("code"))
    text = f"{prefix}{code}: {body.get('message', '')}".rstrip(": ")
    details = _details(body.get("errors"))
    if details:
        text += f" ({details})"
    if code in _HINTS:
        text += f"; {_HINTS[code]}"
    return OpaFailure(text[:600], code in EVALUATION_CODES)


def describe(exc: BaseException) -> OpaFailure:
    """Any exception raised while talking to OPA, as one line."""
    import requests
    if isinstance(exc, requests.exceptions.ConnectionError):
        return OpaFailure("cannot connect (is it running and listening there?)", False)
    if isinstance(exc, requests.exceptions.Timeout):
        return OpaFailure("did not answer in time", False)
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        response = exc.response
        try:
            body = response.json()
        except ValueError:
            snippet = " ".join(response.text.split())[:120]
            return OpaFailure(f"HTTP {response.status_code} with a body that is not JSON ({snippet!r}); "
                              "is ACCESSCTL_OPA_URL an OPA server?", False)
        return from_body(response.status_code, body)
    if isinstance(exc, ValueError) and "JSON" in type(exc).__name__ + str(exc):
        return OpaFailure("answered with a body that is not JSON; is ACCESSCTL_OPA_URL an OPA server?", False)
    code = getattr(exc, "expression", None)
    message = getattr(exc, "message", None)
    if isinstance(code, str) and message is not None:
        body = {"code": code, "message": message, "errors": getattr(exc, "errors", None)}
        return from_body(None, body)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return OpaFailure(text[:300], False)


def result_of(response: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(decision, problem) from a 200 answer to POST /v1/data/access/decision:
    ``{}`` means undefined; a ``warning`` says why (e.g. input not sent)."""
    if not isinstance(response, dict):
        return None, f"answer is not a JSON object: {json.dumps(response)[:200]}"
    result = response.get("result")
    if isinstance(result, dict):
        return result, None
    warning = response.get("warning")
    why = f" ({warning.get('code')}: {warning.get('message')})" if isinstance(warning, dict) else ""
    if "result" not in response:
        return None, f"data.access.decision is undefined{why}: are the policies loaded?"
    return None, f"data.access.decision is {json.dumps(result)[:100]}, not an object{why}"
