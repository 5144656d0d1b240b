"""Service-account keys and service-account IAM policies in the GCP fake (gRPC).

The pipeline owns its service accounts whole: user-managed keys it did not
create, and bindings on the account's own IAM policy beyond what it granted,
are drift. These RPCs let tests plant both, and let the connector read and
remove them. Rules, each from the published API (``iam.v1.json`` in
google-api-python-client's discovery cache, and the IAM docs cited):

- ``keys.list`` filters by ``keyTypes`` (USER_MANAGED / SYSTEM_MANAGED); a
  key's name is ``projects/{p}/serviceAccounts/{email}/keys/{id}``;
- only the public half of a key is kept; the private key is returned once, by
  ``keys.create`` (https://cloud.google.com/iam/reference/rest/v1/projects.serviceAccounts.keys);
- at most 10 keys per service account
  (https://cloud.google.com/iam/quotas: "Service account keys: 10 per service account");
- ``getIamPolicy``/``setIamPolicy`` on ``projects/{p}/serviceAccounts/{email}``:
  a policy with conditions must be version 3, a stale etag is ABORTED
  (https://cloud.google.com/iam/docs/policies#etag), basic roles are refused
  on a service account and a ``serviceAccount:`` member must exist
  (https://cloud.google.com/iam/docs/service-account-permissions).
"""
from __future__ import annotations

import base64
import json
import os
from typing import Any, Callable

from connectors.gcp_emulation import empty_pb2, grpc, iam, iam_policy_pb2, policy_pb2
from tools.sandbox.gcp_iam import SERVICE, ApiError

MAX_KEYS = 10
BASIC = {"roles/owner", "roles/editor", "roles/viewer"}


class ServiceAccountExtras:
    """Keys and per-account policies; expects ``accounts``, ``_lock``,
    ``_find_sa``, ``_enter`` and ``_record`` from FakeGcp."""

    sa_keys: dict[str, list[iam.ServiceAccountKey]]
    sa_policies: dict[str, policy_pb2.Policy]

    def _extras_reset(self) -> None:
        self.sa_keys, self.sa_policies = {}, {}

    def _extras_handler(self) -> grpc.GenericRpcHandler:
        def rpc(method: str, req_type: Any, fn: Callable, resp_ser: Callable) -> grpc.RpcMethodHandler:
            def handle(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    self._enter(method)
                    return fn(request)
                except ApiError as err:
                    context.abort(err.code, err.message)
            deser = req_type.deserialize if hasattr(req_type, "deserialize") else req_type.FromString
            return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=deser,
                                                       response_serializer=resp_ser)
        return grpc.method_handlers_generic_handler(SERVICE, {
            "ListServiceAccountKeys": rpc("ListServiceAccountKeys", iam.ListServiceAccountKeysRequest,
                                          self._rpc_list_keys, iam.ListServiceAccountKeysResponse.serialize),
            "CreateServiceAccountKey": rpc("CreateServiceAccountKey", iam.CreateServiceAccountKeyRequest,
                                           self._rpc_create_key, iam.ServiceAccountKey.serialize),
            "DeleteServiceAccountKey": rpc("DeleteServiceAccountKey", iam.DeleteServiceAccountKeyRequest,
                                           self._rpc_delete_key, empty_pb2.Empty.SerializeToString),
            "GetIamPolicy": rpc("GetIamPolicy", iam_policy_pb2.GetIamPolicyRequest, self._rpc_get_policy,
                                policy_pb2.Policy.SerializeToString),
            "SetIamPolicy": rpc("SetIamPolicy", iam_policy_pb2.SetIamPolicyRequest, self._rpc_set_policy,
                                policy_pb2.Policy.SerializeToString),
        })

    # ---- keys ----------------------------------------------------------------
    def _rpc_list_keys(self, req: iam.ListServiceAccountKeysRequest) -> iam.ListServiceAccountKeysResponse:
        with self._lock:
            sa = self._find_sa(req.name)
            wanted = set(req.key_types)
            keys = [k for k in self.sa_keys.get(sa.email, [])
                    if not wanted or k.key_type in wanted]
            return iam.ListServiceAccountKeysResponse(keys=[_public(k) for k in keys])

    def _rpc_create_key(self, req: iam.CreateServiceAccountKeyRequest) -> iam.ServiceAccountKey:
        with self._lock:
            sa = self._find_sa(req.name)
            return self.create_key(sa.email)

    def create_key(self, email: str, when: Any = None) -> iam.ServiceAccountKey:
        """A user-managed key (also how tests plant one the pipeline did not create)."""
        with self._lock:
            keys = self.sa_keys.setdefault(email, [])
            if len(keys) >= MAX_KEYS:
                raise ApiError(400, f"Precondition check failed: service account {email} already has "
                                    f"{MAX_KEYS} keys.", grpc.StatusCode.FAILED_PRECONDITION)
            sa = next(a for pool in self.accounts.values() for a in pool.values() if a.email == email)
            kid = os.urandom(20).hex()
            key = iam.ServiceAccountKey(
                name=f"projects/{sa.project_id}/serviceAccounts/{email}/keys/{kid}",
                private_key_type=iam.ServiceAccountPrivateKeyType.TYPE_GOOGLE_CREDENTIALS_FILE,
                key_algorithm=iam.ServiceAccountKeyAlgorithm.KEY_ALG_RSA_2048,
                # TYPE_GOOGLE_CREDENTIALS_FILE: the key file's JSON (iam.v1.json, ServiceAccountKey.privateKeyData)
                private_key_data=json.dumps({
                    "type": "service_account", "project_id": sa.project_id, "private_key_id": kid,
                    "private_key": "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(os.urandom(96)).decode()
                                   + "\n-----END PRIVATE KEY-----\n",
                    "client_email": email, "client_id": sa.unique_id,
                    "token_uri": "https://oauth2.googleapis.com/token"}).encode(),
                key_type=iam.ListServiceAccountKeysRequest.KeyType.USER_MANAGED)
            if when is not None:
                key.valid_after_time = when
            else:
                from datetime import datetime, timezone
                key.valid_after_time = datetime.now(timezone.utc)
            # Google keeps only the public half of a user-managed key; the private
            # key is in CreateServiceAccountKey's answer and nowhere else
            # (https://cloud.google.com/iam/reference/rest/v1/projects.serviceAccounts.keys:
            # "Users retain the private key of these key-pairs, and Google retains
            # ONLY the public key"). So the fake forgets it too: a secret scan of
            # the emulators' state finds it only where the pipeline put it.
            keys.append(_public(key))
            return iam.ServiceAccountKey.deserialize(iam.ServiceAccountKey.serialize(key))

    def _rpc_delete_key(self, req: iam.DeleteServiceAccountKeyRequest) -> empty_pb2.Empty:
        with self._lock:
            sa = self._find_sa(req.name.rpartition("/keys/")[0])
            keys = self.sa_keys.get(sa.email, [])
            if not any(k.name == req.name for k in keys):
                raise ApiError(404, f"Service account key {req.name} does not exist.")
            self.sa_keys[sa.email] = [k for k in keys if k.name != req.name]
        return empty_pb2.Empty()

    # ---- the account's own IAM policy -----------------------------------------
    def _rpc_get_policy(self, req: iam_policy_pb2.GetIamPolicyRequest) -> policy_pb2.Policy:
        with self._lock:
            sa = self._find_sa(req.resource)
            policy = self.sa_policies.setdefault(sa.email, policy_pb2.Policy(version=1, etag=os.urandom(8)))
            out = policy_pb2.Policy()
            out.CopyFrom(policy)
            return out

    def _rpc_set_policy(self, req: iam_policy_pb2.SetIamPolicyRequest) -> policy_pb2.Policy:
        with self._lock:
            sa = self._find_sa(req.resource)
            current = self.sa_policies.setdefault(sa.email, policy_pb2.Policy(version=1, etag=os.urandom(8)))
            if req.policy.etag and req.policy.etag != current.etag:
                raise ApiError(409, "There were concurrent policy changes. Please retry the whole "
                                    "read-modify-write with exponential backoff.")
            for b in req.policy.bindings:
                if b.role in BASIC:
                    raise ApiError(400, f"Role {b.role} is not supported for this resource.")
                if b.condition.expression and req.policy.version < 3:
                    raise ApiError(400, "Policies with conditions must be version 3.")
                for m in b.members:
                    if m.startswith("serviceAccount:") and not self._sa_exists(m.partition(":")[2]):
                        raise ApiError(400, f"Service account {m.partition(':')[2]} does not exist.")
            stored = policy_pb2.Policy()
            stored.CopyFrom(req.policy)
            stored.etag = os.urandom(8)
            self.sa_policies[sa.email] = stored
            out = policy_pb2.Policy()
            out.CopyFrom(stored)
            return out

    def _sa_exists(self, email: str) -> bool:
        return any(email in pool for pool in self.accounts.values())

    def sa_policy(self, email: str) -> policy_pb2.Policy:
        with self._lock:
            return self.sa_policies.get(email, policy_pb2.Policy())


def _public(key: iam.ServiceAccountKey) -> iam.ServiceAccountKey:
    """keys.list never returns private key material (iam.v1.json, ServiceAccountKey.privateKeyData:
    "returned only by CreateServiceAccountKey")."""
    out = iam.ServiceAccountKey.deserialize(iam.ServiceAccountKey.serialize(key))
    out.private_key_data = b""
    return out
