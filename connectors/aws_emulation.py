"""The botocore pieces the AWS emulator (tools/sandbox) is built from.

The emulator seeds moto through boto3, injects faults as botocore responses
and checks IAM's string rules against botocore's own service model. Those
SDK types come through here, so tools/ imports no SDK (DESIGN.md:
connectors translate) and every AWS SDK dependency sits in connectors/.
"""
from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse

__all__ = ["AWSResponse", "Session", "iam_service_model", "response"]

Session = boto3.Session


def iam_service_model() -> Any:
    """IAM's service model as the installed botocore ships it (shapes, patterns, lengths)."""
    return botocore.session.get_session().get_service_model("iam")


def response(url: str, status: int, headers: dict[str, str], raw: Any) -> AWSResponse:
    """A response botocore's real parsing and retry logic will handle (fault injection)."""
    return AWSResponse(url, status, headers, raw)
