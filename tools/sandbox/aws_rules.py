"""IAM's input constraints, from botocore's service model, in front of moto.

moto accepts role descriptions outside IAM's character pattern (curly quotes,
em dashes) and longer than 1,000 characters, and tag values outside their
pattern; real IAM answers 400 ``ValidationError``. A fake that accepts what
the real service refuses hides bugs, so this WSGI middleware checks every
string parameter of the IAM operations the connector writes against the
shape botocore publishes (``botocore/data/iam/2010-05-08/service-2.json``:
``min``, ``max``, ``pattern``) and answers as IAM does.
"""
from __future__ import annotations

import io
import re
import unicodedata
import uuid
from functools import lru_cache
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from connectors.aws_emulation import iam_service_model

# The IAM writes the pipeline makes (connectors/aws_iam.py).
CHECKED = ("CreateRole", "UpdateRole", "UpdateRoleDescription", "TagRole", "UntagRole",
           "UpdateAssumeRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRole")
_CLASS = re.compile(r"^\[(?P<body>.*)\](?P<quant>[*+])$")


@lru_cache(maxsize=1)
def _model() -> Any:
    return iam_service_model()


def _matches(pattern: str, value: str) -> bool:
    """Java-style patterns of the model. Python's ``re`` has no ``\\p{L}``, so a
    character class using Unicode categories is checked character by character."""
    m = _CLASS.match(pattern)
    if m and r"\p{" in pattern:
        body = m.group("body")
        categories = set(re.findall(r"\\p\{(\w)\}", body))
        extras = re.sub(r"\\p\{\w\}", "", body).replace("\\", "")
        if m.group("quant") == "+" and not value:
            return False
        return all(unicodedata.category(c)[0] in categories or c in extras for c in value)
    return re.fullmatch(pattern, value, re.S) is not None


def violations(action: str, params: dict[str, str]) -> list[str]:
    """IAM's validation messages for one query-protocol request."""
    try:
        shape = _model().operation_model(action).input_shape
    except Exception:  # not an IAM operation botocore knows: moto answers it
        return []
    out: list[str] = []
    for key, value in params.items():
        member, where = _member(shape, key.split("."))
        if member is None or member.type_name != "string":
            continue
        meta = member.metadata
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"Value at '{where}' failed to satisfy constraint: Member must have length less than "
                       f"or equal to {meta['max']}")
        elif "min" in meta and len(value) < meta["min"]:
            out.append(f"Value at '{where}' failed to satisfy constraint: Member must have length greater than "
                       f"or equal to {meta['min']}")
        elif "pattern" in meta and not _matches(meta["pattern"], value):
            out.append(f"Value at '{where}' failed to satisfy constraint: Member must satisfy regular "
                       f"expression pattern: {meta['pattern']}")
    return out


def _member(shape: Any, parts: list[str]) -> tuple[Any, str]:
    """Follow ``Tags.member.1.Value`` through the input shape."""
    where: list[str] = []
    for part in parts:
        if shape.type_name == "structure":
            if part not in shape.members:
                return None, ""
            shape = shape.members[part]
            where.append(part[:1].lower() + part[1:])
        elif shape.type_name == "list":
            if part == "member":
                continue
            shape = shape.member
            where.append("X" if part.isdigit() else part)
            if part.isdigit():
                where[-2:] = [where[-2] + "." + "X" + ".member"] if len(where) > 1 else where[-1:]
        else:
            return None, ""
    return shape, ".".join(where)


class IamInputRules:
    """WSGI middleware: an IAM request whose parameters break the model's
    constraints gets IAM's 400 ValidationError; anything else goes to moto."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.pop("Action", "")
        if params.pop("Version", "") != "2010-05-08" or action not in CHECKED:
            return self.app(environ, start_response)
        problems = violations(action, params)
        if not problems:
            return self.app(environ, start_response)
        n = len(problems)
        message = f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems)
        xml = ('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
               f"<Code>ValidationError</Code><Message>{escape(message)}</Message></Error>"
               f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()
        start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
        return [xml]
