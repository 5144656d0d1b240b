"""The GCP agent and integration samples end to end, through the CLI on the
emulators (the GCP fake's IAM over gRPC and Secret Manager over REST, through
the real client libraries), as the jobs run them on main:

- plan and apply: the agent's account has no user-managed key and one binding,
  roles/iam.serviceAccountTokenCreator for its runtime with the expiry
  condition; the integration's account has one key, stored only in Secret
  Manager in a secret labelled and annotated with owner, request, vendor and
  expiry;
- reconcile: a key nobody asked for (on either account) and an extra
  TokenCreator binding on the agent are drift, and fix removes exactly them;
- rotate (the daily expire job, clock moved past rotate_days): a new key, the
  secret's new version, and the old key deleted after the grace period;
- expiry and removal: keys and secret deleted, accounts disabled then deleted.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from conftest import NOW, git
from jobs_world import push, run_json, world  # noqa: F401

from connectors.gcp_emulation import policy_pb2

DEV, PROD = "acme-data-dev", "acme-data-prod"
AGENT = f"etl-triage-agent@{DEV}.iam.gserviceaccount.com"
AGENT_FILE = f"requests/gcp/{DEV}/etl-triage-agent.yaml"
RUNTIME = f"serviceAccount:agent-runtime@{DEV}.iam.gserviceaccount.com"
LOADER = f"fivetran-loader@{PROD}.iam.gserviceaccount.com"
LOADER_FILE = f"requests/gcp/{PROD}/fivetran-loader.yaml"
SECRET = f"projects/{PROD}/secrets/accessctl-fivetran-loader"
EXPIRES = datetime(2027, 2, 19, tzinfo=timezone.utc)
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


def at(monkeypatch, when: datetime) -> None:
    monkeypatch.setenv("ACCESSCTL_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))


def keys(sb, email: str) -> set[str]:
    return {k.name.rpartition("/keys/")[2] for k in sb.gcp.sa_keys.get(email, [])}


def in_use(sb) -> str:
    return sb.gcp.secrets[SECRET]["secret"]["annotations"]["key-id"]


def stored_key_id(sb) -> str:
    return json.loads(sb.gcp.secret_value(PROD, "accessctl-fivetran-loader"))["private_key_id"]


def bindings(sb, email: str) -> list[tuple[str, list[str], str]]:
    return [(b.role, list(b.members), b.condition.expression) for b in sb.gcp.sa_policy(email).bindings]


def test_apply_on_main_creates_the_agent_keyless_and_the_integrations_one_key_in_secret_manager(world, capsys):
    repo, sb = world
    assert sb.gcp.service_account(DEV, "etl-triage-agent") is not None
    assert keys(sb, AGENT) == set(), "an agent's account never has a user-managed key"
    assert bindings(sb, AGENT) == [(TOKEN_CREATOR, [RUNTIME], 'request.time < timestamp("2027-02-19T00:00:00Z")')]
    assert sb.gcp.sa_policy(AGENT).version == 3

    assert len(keys(sb, LOADER)) == 1 and keys(sb, LOADER) == {in_use(sb)} == {stored_key_id(sb)}
    secret = sb.gcp.secrets[SECRET]["secret"]
    assert secret["labels"] == {"managed-by": "accessctl", "use": "integration", "owner": "data"}
    notes = secret["annotations"]
    assert (notes["vendor"], notes["request"], notes["expires"]) == ("Fivetran", LOADER_FILE, "2027-02-19T00:00:00Z")
    assert [s for s in sb.gcp.secrets if s.startswith("projects/")] == [SECRET], "one secret, the integration's"

    code, plan = run_json(repo, capsys, "plan")
    assert code == 0, plan
    assert [c for c in plan["changes"] if c.get("provider") == "gcp"] == [], "the samples plan cleanly once applied"
    capsys.readouterr()
    again = repo.run("apply", "--format", "json", capsys=capsys)
    assert again.code == 0 and json.loads(again.out)["results"] == [], "apply twice: nothing the second time"


def test_reconcile_reports_foreign_keys_and_an_extra_token_creator_and_fix_removes_only_them(world, capsys):
    repo, sb = world
    issued = in_use(sb)
    planted = sb.gcp.create_key(LOADER).name.rpartition("/keys/")[2]
    on_agent = sb.gcp.create_key(AGENT).name.rpartition("/keys/")[2]
    policy = sb.gcp.sa_policy(AGENT)
    policy.bindings.append(policy_pb2.Binding(role=TOKEN_CREATOR, members=["user:mallory@acme.example"]))
    sb.gcp.sa_policies[AGENT] = policy

    code, report = run_json(repo, capsys, "reconcile", "--mode", "report")
    assert code == 1, report
    drift = {(d["kind"], d["grant_kind"], d["principal"]) for d in report["drift"]}
    assert drift == {
        ("extra", "gcp-service-account-key", "serviceAccount:acme-data-prod/fivetran-loader"),
        ("extra", "gcp-service-account-key", "serviceAccount:acme-data-dev/etl-triage-agent"),
        ("extra", "gcp-service-account-binding", "serviceAccount:acme-data-dev/etl-triage-agent"),
    }, report["drift"]
    code, fixed = run_json(repo, capsys, "reconcile", "--mode", "fix")
    assert code == 0, fixed
    assert keys(sb, LOADER) == {issued} and planted != issued
    assert keys(sb, AGENT) == set() and on_agent
    assert bindings(sb, AGENT) == [(TOKEN_CREATOR, [RUNTIME], 'request.time < timestamp("2027-02-19T00:00:00Z")')]
    assert run_json(repo, capsys, "reconcile", "--mode", "report", "--provider", "gcp")[0] == 0


def test_the_daily_job_rotates_the_key_past_rotate_days_and_drops_the_old_one_after_the_grace(
        world, capsys, monkeypatch):
    repo, sb = world
    start = datetime.fromisoformat(NOW.replace("Z", "+00:00"))  # the clock main was applied on
    first, first_value = in_use(sb), sb.gcp.secret_value(PROD, "accessctl-fivetran-loader")
    at(monkeypatch, start + timedelta(days=29))
    code, done = run_json(repo, capsys, "expire", "--provider", "gcp", "--no-github")
    assert code == 0 and done["rotated"] == [], "younger than rotate_days: left alone"

    at(monkeypatch, start + timedelta(days=31))
    code, done = run_json(repo, capsys, "expire", "--provider", "gcp", "--no-github")
    assert code == 0, done
    assert [(r["principal"], r["action"]) for r in done["rotated"]] == [
        ("serviceAccount:acme-data-prod/fivetran-loader", "update")]
    second = in_use(sb)
    assert second != first and stored_key_id(sb) == second
    assert sb.gcp.secret_value(PROD, "accessctl-fivetran-loader") != first_value
    assert keys(sb, LOADER) == {first, second}, "the old key keeps working through the grace period"
    assert len(sb.gcp.secrets[SECRET]["versions"]) == 2, "the secret gained a version"
    assert run_json(repo, capsys, "reconcile", "--mode", "report", "--provider", "gcp")[0] == 0, \
        "the old key in its grace period is not drift"

    at(monkeypatch, start + timedelta(days=32, hours=1))  # 24 h grace (organization.yaml) has passed
    code, done = run_json(repo, capsys, "expire", "--provider", "gcp", "--no-github")
    assert code == 0, done
    assert [(r["action"], r["grant_kind"] if "grant_kind" in r else r["kind"]) for r in done["rotated"]] == [
        ("remove", "gcp-service-account-key")]
    assert keys(sb, LOADER) == {second} and in_use(sb) == second
    assert run_json(repo, capsys, "reconcile", "--mode", "report", "--provider", "gcp")[0] == 0


def test_expiry_deletes_keys_and_secret_then_the_accounts_after_their_grace(world, capsys, monkeypatch):
    repo, sb = world
    at(monkeypatch, EXPIRES + timedelta(hours=1))
    code, done = run_json(repo, capsys, "expire", "--provider", "gcp", "--no-github")
    assert code == 0, done
    revoked = {r["principal"] for r in done["revoked"]}
    assert {"serviceAccount:acme-data-dev/etl-triage-agent", "serviceAccount:acme-data-prod/fivetran-loader"} <= revoked
    assert keys(sb, LOADER) == set() and SECRET not in sb.gcp.secrets
    assert sb.gcp.service_account(DEV, "etl-triage-agent").disabled
    assert sb.gcp.service_account(PROD, "fivetran-loader").disabled

    at(monkeypatch, EXPIRES + timedelta(days=15))  # service_account_grace_days: 14
    code, done = run_json(repo, capsys, "expire", "--provider", "gcp", "--no-github")
    assert code == 0, done
    assert {"serviceAccount:acme-data-dev/etl-triage-agent",
            "serviceAccount:acme-data-prod/fivetran-loader"} <= set(done["deleted_identities"])
    assert sb.gcp.service_account(DEV, "etl-triage-agent") is None
    assert sb.gcp.service_account(PROD, "fivetran-loader") is None
    assert sb.gcp.service_account(DEV, "agent-runtime") is not None, "the runtime is not the pipeline's"


def test_removing_the_file_deletes_the_keys_and_the_secret_at_once(world, capsys):
    repo, sb = world
    git(repo.root, "rm", "-q", LOADER_FILE, AGENT_FILE)
    repo.commit("the integration and the agent are no longer needed")
    push(repo)  # merged: a writer runs only on main's tip
    code, done = run_json(repo, capsys, "apply")
    assert code == 0, done
    assert keys(sb, LOADER) == set() and SECRET not in sb.gcp.secrets
    assert sb.gcp.service_account(PROD, "fivetran-loader").disabled
    assert sb.gcp.service_account(DEV, "etl-triage-agent").disabled
    assert bindings(sb, AGENT) == [], "nobody may mint the removed agent's tokens, even if it is enabled again"
    # removed is removed: the next runs change nothing and see no drift while the accounts wait for deletion
    code, again = run_json(repo, capsys, "apply")
    assert code == 0 and not again["results"], again
    assert run_json(repo, capsys, "reconcile", "--mode", "report", "--provider", "gcp")[0] == 0
    # enabled again by hand: drift, and fix disables it again
    sb.gcp.accounts[DEV][f"etl-triage-agent@{DEV}.iam.gserviceaccount.com"].disabled = False
    code, report = run_json(repo, capsys, "reconcile", "--mode", "report", "--provider", "gcp")
    assert code == 1 and [d["principal"] for d in report["drift"]] == ["serviceAccount:acme-data-dev/etl-triage-agent"]
    assert run_json(repo, capsys, "reconcile", "--mode", "fix", "--provider", "gcp")[0] == 0
    assert sb.gcp.service_account(DEV, "etl-triage-agent").disabled


def test_the_samples_are_allowed_with_the_approvals_their_pr_would_get(repo, capsys):
    """The integration needs security and its owner team whatever the tier; the agent needs security too,
    because its owner team (data) also owns the project it lives in and cannot approve alone."""
    from test_evaluate import pr_context
    texts = {f: (repo.root / f).read_text() for f in (AGENT_FILE, LOADER_FILE)}
    git(repo.root, "rm", "-q", *texts)
    repo.commit("before the request")
    base = git(repo.root, "rev-parse", "HEAD").strip()
    for path, text in texts.items():
        repo.write(path, text)
    repo.commit("dave asks for a GCP agent and integration")
    owner_only = pr_context(repo, base, list(texts), [("erin-acme", ["acme/data"], None)], author="dave-acme")
    res = repo.run("evaluate", "--pr-context", owner_only, "--format", "json", capsys=capsys)
    verdicts = {d["file"]: (d["allow"], [v["rule"] for v in d["violations"]]) for d in json.loads(res.out)}
    assert res.code == 1 and verdicts == {AGENT_FILE: (False, ["approval-security-missing"]),
                                          LOADER_FILE: (False, ["approval-security-missing"])}, res.out
    both = pr_context(repo, base, list(texts), [("erin-acme", ["acme/data"], None),
                                                ("ivan-acme", ["acme/security"], None)], author="dave-acme")
    res = repo.run("evaluate", "--pr-context", both, capsys=capsys)
    assert res.code == 0 and res.out.count("ALLOW") == 2, res.out + res.err
