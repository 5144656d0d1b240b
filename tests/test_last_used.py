"""Last use where the cloud reports it, end to end on the emulators.

The clouds are really used first: the CI role is assumed through moto's STS
(as GitHub Actions does, with a web identity token) and its session makes a
call; the integration's key is read from Secrets Manager and signs a call;
the GCP fake records the service account authenticating. Then ``review
open`` writes each grant's last use into the review files and ``audit report
--live`` shows it, while an unused agent role reads "never" and the grants
the clouds do not report per grant (Identity Center assignments, IAM
bindings to people) read "not reported". The connectors read it in at most
one call per identity, and plan and apply never read it.

Gap in moto 5.2.5, kept visible here: it stamps ``RoleLastUsed.LastUsedDate``
when an assumed-role session calls AWS, but never ``RoleLastUsed.Region``
(real IAM sets both), so the role's region is not asserted.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import yaml
from conftest import github_holding_main, make_repo

from connectors.aws import AwsConnector
from connectors.gcp import GcpConnector
from tools.core.orgmodel import load
from tools.core.repo import Tree
from tools.jobs import last_used as usage
from tools.provision.apply import build_plan
from tools.sandbox.aws import REGION

# 95 days before the tests' clock: service accounts (90 days) and sensitive
# grants are due for review, not yet past the 14 days of grace
OLD = "2026-08-19T09:00:00Z"
DEV, PROD, DATA = "111111111111", "333333333333", "acme-data-prod"
CI_ROLE = "serviceAccount:acme-dev/billing-deployer"
AGENT = "serviceAccount:acme-dev/triage-agent"
INTEGRATION = "serviceAccount:acme-prod/pagerduty-sync"
GCP_SA = f"serviceAccount:{DATA}/etl-runner"
SA_EMAIL = f"etl-runner@{DATA}.iam.gserviceaccount.com"
NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)  # conftest's clock


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    """Every request merged on OLD and applied; overdue reviews only reported,
    so nothing leaves; GitHub holds main."""
    sandbox.reseed()
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GIT_COMMITTER_DATE", OLD)
    monkeypatch.setenv("GIT_AUTHOR_DATE", OLD)
    repo = make_repo(tmp_path / "access")
    tiers = repo.read("policies/data/tiers.yaml")
    repo.write("policies/data/tiers.yaml", tiers.replace("overdue: revoke", "overdue: report"))
    repo.commit("report overdue reviews only")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    assert repo.run("apply").code == 0
    with github_holding_main(repo, monkeypatch) as gh:
        yield repo, sandbox, gh


def use_the_ci_role(sandbox) -> None:
    """What a workflow does: AssumeRoleWithWebIdentity, then call AWS with the session."""
    arn = f"arn:aws:iam::{DEV}:role/accessctl/billing-deployer"
    sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=sandbox.aws.endpoint)
    creds = sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="deploy",
                                              WebIdentityToken="header.payload.signature")["Credentials"]
    session = boto3.client("sts", region_name="eu-west-1", endpoint_url=sandbox.aws.endpoint,
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
    assert session.get_caller_identity()["Arn"].endswith(":assumed-role/billing-deployer/deploy")


def use_the_integration_key(sandbox) -> str:
    """What the vendor does: take the key from the secret store and call AWS with it."""
    secret = sandbox.aws.client("secretsmanager", PROD).get_secret_value(SecretId="accessctl/acme-prod/pagerduty-sync")
    key = json.loads(secret["SecretString"])
    vendor = boto3.client("sts", region_name="eu-west-2", endpoint_url=sandbox.aws.endpoint,
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert vendor.get_caller_identity()["Arn"].endswith(":user/accessctl/pagerduty-sync")
    return key["AccessKeyId"]


def review_entries(gh) -> list[dict]:
    out = []
    for pr in gh.pulls.values():
        for path, text in gh.branches[pr.head_ref]["files"].items():
            if path.startswith("reviews/"):
                out += yaml.safe_load(text.decode())["grants"]
    return out


def entry(entries: list[dict], principal: str, kind: str, entitlement: str | None = None) -> dict:
    found = [e for e in entries if e["principal"] == principal and e["kind"] == kind
             and (entitlement is None or e["entitlement"] == entitlement)]
    assert len(found) == 1, (principal, kind, [(e["principal"], e["kind"]) for e in entries])
    return found[0]


def today() -> set[str]:
    now = datetime.now(timezone.utc)  # the clouds stamp their own clock, not the pipeline's
    return {f"{now:%Y-%m-%d}", f"{now - timedelta(minutes=5):%Y-%m-%d}"}


def test_review_files_show_the_last_use_the_clouds_report(world, capsys):
    repo, sandbox, gh = world
    use_the_ci_role(sandbox)
    key_id = use_the_integration_key(sandbox)
    sandbox.gcp.authenticate(SA_EMAIL, datetime.now(timezone.utc))
    res = repo.run("review", "open", "--format", "json", capsys=capsys)
    assert res.code == 0, res.out + res.err
    report = json.loads(res.out)
    assert report["opened"] and report["warnings"] == []
    entries = review_entries(gh)
    text = "".join(t.decode() for pr in gh.pulls.values() for p, t in gh.branches[pr.head_ref]["files"].items()
                   if p.startswith("reviews/"))

    # AWS: the CI role was assumed and used; the agent role never was
    assert entry(entries, CI_ROLE, "aws-ci-role")["last_used"] in today()
    assert entry(entries, AGENT, "aws-ci-role")["last_used"] == "never"
    # the integration's key was used, through STS in eu-west-2
    assert entry(entries, INTEGRATION, "aws-integration-user")["last_used"] in today()
    assert f"key {key_id} by sts in eu-west-2; IAM GetAccessKeyLastUsed" in text
    # Identity Center reports no use per assignment: said, not left blank
    sso = [e for e in entries if e["kind"] == "aws-sso-assignment"]
    assert sso and {e["last_used"] for e in sso} == {"not reported"}
    assert "Identity Center does not report use per account assignment" in text
    # GCP: the service account authenticated (a day, as Activity Analyzer reports it)
    assert entry(entries, GCP_SA, "gcp-service-account")["last_used"] in today() | {
        f"{datetime.now(timezone.utc) - timedelta(days=1):%Y-%m-%d}"}
    assert "Policy Analyzer serviceAccountLastAuthentication" in text
    # a role bound to the service account: the account's last authentication, said to be the account's
    bound = entry(entries, GCP_SA, "gcp-project-role")
    assert bound["last_used"] == entry(entries, GCP_SA, "gcp-service-account")["last_used"]
    assert "the service account's last authentication; IAM does not report use per role binding" in text
    # nothing is left blank
    assert entries and all(e["last_used"] not in (None, "") for e in entries)
    assert {e["principal"]: e["last_used"] for e in report["last_used"]}[CI_ROLE] in today()


def test_audit_report_live_has_the_last_used_column(world, capsys):
    repo, sandbox, gh = world
    use_the_ci_role(sandbox)
    sandbox.gcp.authenticate(SA_EMAIL, datetime.now(timezone.utc))
    res = repo.run("audit", "report", "--live", "--format", "json", capsys=capsys)
    assert res.code == 0, res.err
    rows = {(r["principal"], r["kind"], r["entitlement"]): r for r in json.loads(res.out)["rows"]}
    ci = rows[(CI_ROLE, "aws-ci-role", "billing-deployer")]["last_used"]
    assert ci["state"] == "used" and ci["at"][:10] in today() and ci["source"] == "IAM RoleLastUsed"
    assert rows[(AGENT, "aws-ci-role", "triage-agent")]["last_used"]["state"] == "never"
    assert rows[(INTEGRATION, "aws-integration-user", "pagerduty-sync")]["last_used"]["state"] == "never"
    assert rows[(GCP_SA, "gcp-service-account", "etl-runner")]["last_used"]["state"] == "used"
    # a policy attached to the role: the role's last use, said to be the role's
    policy = rows[(CI_ROLE, "aws-role-policy", "arn:aws:iam::aws:policy/ReadOnlyAccess")]["last_used"]
    assert policy["at"] == ci["at"] and "the role's last use; IAM does not report it per attached policy" in policy["detail"]
    # IAM reports no use per binding to a person
    erin = rows[("user:erin@acme.example", "gcp-project-role", "roles/bigquery.dataViewer")]["last_used"]
    assert erin == {"state": "not reported", "at": None, "source": "",
                    "detail": "Cloud IAM does not report use per role binding"}
    sso = [r for r in rows.values() if r["kind"] == "aws-sso-assignment"]
    assert sso and {r["last_used"]["state"] for r in sso} == {"not reported"}
    # CSV and HTML carry it too
    csv_out = repo.run("audit", "report", "--live", "--format", "csv", capsys=capsys).out
    assert csv_out.splitlines()[0].endswith(",last_used") and ",never" in csv_out and ",not reported" in csv_out
    html = repo.run("audit", "report", "--live", "--format", "html", capsys=capsys).out
    assert "<th>last used</th>" in html and "not reported" in html
    text = repo.run("audit", "report", "--live", capsys=capsys).out
    assert "last used" in text and "not reported" in text
    # without --live the clouds are not read, and the report says so
    offline = json.loads(repo.run("audit", "report", "--format", "json", capsys=capsys).out)
    assert {r["last_used"] for r in offline["rows"]} == {None}


class Counted:
    """The real connectors, counting what they send (botocore's own event
    hooks for AWS, the fake's per-method counter for GCP)."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.aws_calls: list[tuple[str, dict]] = []
        self.last_used_calls = 0

    def factory(self, provider: str, org):
        def count(service, account, client):
            # once per API call, with the call's own parameters (retries would not fire it again)
            client.meta.events.register("before-parameter-build.*.*", lambda model, params, **_:
                                        self.aws_calls.append((model.name, dict(params))))
        connector = AwsConnector(org, on_client=count) if provider == "aws" else GcpConnector(org)
        real = connector.last_used

        def last_used(target, grants):
            self.last_used_calls += 1
            return real(target, grants)
        connector.last_used = last_used
        return connector


def test_at_most_one_call_per_identity_and_none_on_plan_or_apply(world):
    repo, sandbox, gh = world
    org = load(Tree(repo.root))
    counted = Counted(sandbox)

    # plan and apply (through apply's own plan builder) never ask for last use
    sandbox.gcp.calls.clear()
    plan = build_plan(repo.root, NOW, ("aws", "gcp"),
                      factory=counted.factory)
    assert plan.plan is not None
    assert counted.last_used_calls == 0
    assert "GetAccessKeyLastUsed" not in {op for op, _ in counted.aws_calls}
    assert sandbox.gcp.calls["activities.query"] == 0
    assert repo.run("apply").code == 0  # the CLI's apply, against the same fakes
    assert sandbox.gcp.calls["activities.query"] == 0

    # every grant of every request on main, read for last use
    from tools.provision.desired import desired
    from tools.request import load as rload, validate
    files = rload.read_all(Tree(repo.root))
    validate.validate(files, org, NOW)
    grants = list(desired(files, org, NOW).grants)
    assert len(grants) == 13
    counted.aws_calls.clear()
    sandbox.gcp.calls.clear()
    found, errors = usage.read(org, grants, factory=counted.factory)
    assert errors == [] and set(found) == {g.key for g in grants}
    reads = [op for op, _ in counted.aws_calls if op not in ("AssumeRole",)]
    identities_aws = {g.principal for g in grants if g.provider == "aws" and g.principal.startswith("serviceAccount:")}
    # acme-dev: one batch read for both roles; acme-prod: one batch read and the integration's one key read
    assert sorted(reads) == ["GetAccessKeyLastUsed", "GetAccountAuthorizationDetails",
                             "GetAccountAuthorizationDetails"]
    assert len(reads) <= len(identities_aws) + 1
    # acme-prod asks about an integration only: its batch read lists users, not roles
    assert sorted(p["Filter"] for op, p in counted.aws_calls if op == "GetAccountAuthorizationDetails") == [
        ["Role", "User"], ["User"]]
    # GCP: one query per project for its service accounts, and one for keys where an integration lives
    # (acme-data-prod's fivetran-loader)
    identities_gcp = {g.principal for g in grants if g.provider == "gcp" and g.principal.startswith("serviceAccount:")}
    assert sandbox.gcp.calls["activities.query"] == 3 <= len(identities_gcp)


def test_a_cloud_that_cannot_be_read_leaves_unknown_and_one_line(world, monkeypatch, capsys):
    repo, sandbox, gh = world
    sandbox.gcp.inject("activities.query", 403, times=2)  # the first read of each project with grants due
    res = repo.run("review", "open", "--format", "json", capsys=capsys)
    assert res.code == 0  # the reviews still open
    report = json.loads(res.out)
    assert report["opened"]
    # one line per project that could not be read
    assert [w.partition(": cannot")[0] for w in report["warnings"]] == [
        f"last use not read: GCP project {p}" for p in ("acme-data-dev", DATA)]
    assert all("cannot read last authentications (403" in w for w in report["warnings"])
    assert "Traceback" not in res.out + res.err
    gcp = [e for e in review_entries(gh) if e["principal"] == GCP_SA]
    assert gcp and {e["last_used"] for e in gcp} == {"unknown"}


def test_the_region_of_a_role_use_is_shown_where_iam_reports_it():
    """Real IAM reports RoleLastUsed.Region; moto does not (see the module
    docstring), so this one checks the rendering on IAM's documented shape."""
    from connectors.aws_usage import _role
    from tools.core.model import Grant
    g = Grant("aws", DEV, CI_ROLE, "aws-ci-role", "billing-deployer")
    value = _role({"RoleLastUsed": {"LastUsedDate": datetime(2026, 11, 1, 8, tzinfo=timezone.utc),
                                    "Region": REGION}}, g)
    assert (value.text(), value.detail) == ("2026-11-01", "in us-east-1")


def test_a_dry_run_reads_no_cloud(world, capsys):
    repo, sandbox, gh = world
    sandbox.gcp.calls.clear()
    res = repo.run("review", "open", "--dry-run", "--format", "json", capsys=capsys)
    assert res.code == 0 and json.loads(res.out)["due"]
    assert json.loads(res.out)["last_used"] == [] and sandbox.gcp.calls["activities.query"] == 0
