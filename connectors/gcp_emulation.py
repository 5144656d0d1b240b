"""The gRPC and protobuf pieces the GCP IAM emulator (tools/sandbox) is built from.

The IAM admin API has no REST transport in google-cloud-iam, so the emulator
serves gRPC with the client's own message types. Those come through here,
so tools/ imports no SDK (DESIGN.md: connectors translate) and every Google
SDK dependency sits in connectors/.
"""
from __future__ import annotations

import grpc
from google.cloud.iam_admin_v1.types import iam
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import empty_pb2
from google.protobuf.json_format import MessageToDict

__all__ = ["MessageToDict", "empty_pb2", "grpc", "iam", "iam_policy_pb2", "policy_pb2"]
