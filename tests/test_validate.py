"""`accessctl validate`: schema and org-model rejections, each seen the way a
requester sees it (`path:line: what — fix`, exit 1, no traceback), plus the
JSON shape, usage errors (exit 2) and all-errors-in-one-run."""
from __future__ import annotations

import json

import pytest
from test_yamlsafe import GOOD, PATH, line_of, rejected

SA = """\
# yaml-language-server: $schema=../../../tools/request/schemas/request.v1.schema.json
apiVersion: accessctl/v1
kind: ServiceAccount
provider: gcp
name: report-builder
project: acme-data-dev
owner: data
purpose: Builds the weekly revenue report from the billing tables.
requester: dave-acme
expires: "2027-06-30"
"""
SA_PATH = "requests/gcp/acme-data-dev/report-builder.yaml"


def gcp(principal: str = "user:erin@acme.example", role: str = "roles/bigquery.dataViewer",
        project: str = "acme-data-dev", expires: str = "2026-12-20", extra: str = "") -> str:
    return f"""\
# yaml-language-server: $schema=../../../tools/request/schemas/request.v1.schema.json
apiVersion: accessctl/v1
kind: AccessRequest
principal: {principal}
requester: erin-acme
justification: Build the weekly revenue dashboard from the billing export tables.
expires: "{expires}"
{extra}grants:
  - kind: gcp-project-role
    project: {project}
    role: {role}
"""


GCP_PATH = "requests/gcp/acme-data-dev/erin-viewer.yaml"


def test_good_files_validate(repo, capsys):
    repo.write(PATH, GOOD)
    repo.write(GCP_PATH, gcp())
    result = repo.run("validate", capsys=capsys)
    assert result.code == 0, result.out
    assert "14 request file(s) valid" in result.out


# --- structure ------------------------------------------------------------

def test_unknown_top_level_field(repo, capsys):
    text = GOOD + "approver: alice-acme\n"
    line = rejected(repo, capsys, PATH, text, "unknown field 'approver'", line_of(text, "approver"))
    assert "remove it; allowed fields:" in line


def test_unknown_grant_field(repo, capsys):
    text = GOOD.replace("group: readonly", "group: readonly\n    region: eu-west-1")
    rejected(repo, capsys, PATH, text, "unknown field 'region' in grants/0", line_of(text, "region"))


@pytest.mark.parametrize("field", ["requester", "justification", "expires", "grants", "principal"])
def test_missing_field(repo, capsys, field):
    lines = GOOD.splitlines(keepends=True)
    start = line_of(GOOD, f"{field}:") - 1
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    text = "".join(lines[:start] + lines[end:])
    line = rejected(repo, capsys, PATH, text, f"`{field}` is a required property")
    assert "add it" in line


def test_short_justification(repo, capsys):
    text = GOOD.replace("Investigate the failing deploys of the billing service this week.", "need it")
    rejected(repo, capsys, PATH, text, "justification is too short", line_of(text, "justification"))


def test_unknown_kind_of_grant(repo, capsys):
    text = GOOD.replace("kind: aws-iam-group", "kind: aws-root-login")
    line = rejected(repo, capsys, PATH, text, "grants/0/kind is 'aws-root-login'", line_of(text, "aws-root-login"))
    assert "aws-sso-assignment" in line


# --- expiry ---------------------------------------------------------------

@pytest.mark.parametrize("value", ["in 3 days", "3d", "tomorrow", "next friday"])
def test_relative_expiry(repo, capsys, value):
    text = GOOD.replace('"2026-12-20"', f'"{value}"')
    line = rejected(repo, capsys, PATH, text, f"expires has an invalid value {value!r}", line_of(text, "expires"))
    assert "Absolute UTC expiry" in line


def test_expiry_not_a_real_date(repo, capsys):
    text = GOOD.replace('"2026-12-20"', '"2026-02-30"')
    rejected(repo, capsys, PATH, text, "is not a real date", line_of(text, "expires"))


def test_timestamp_without_time_zone(repo, capsys):
    text = GOOD.replace('"2026-12-20"', '"2026-12-20T10:00:00"')
    line = rejected(repo, capsys, PATH, text, "invalid value '2026-12-20T10:00:00'", line_of(text, "expires"))
    assert "2026-12-31T18:00:00Z" in line


def test_rfc3339_with_offset_is_accepted(repo, capsys):
    repo.write(PATH, GOOD.replace('"2026-12-20"', '"2026-12-20T10:00:00+02:00"'))
    assert repo.run("validate", capsys=capsys).code == 0


def test_expiry_in_the_past(repo, capsys):
    text = GOOD.replace('"2026-12-20"', '"2026-11-22T11:59:00Z"')
    rejected(repo, capsys, PATH, text, "is in the past", line_of(text, "expires"))


def test_expiry_beyond_catalog_maximum(repo, capsys):
    # readonly is standard: 90 days from 2026-11-22T12:00Z ends 2027-02-20T12:00Z
    text = GOOD.replace('"2026-12-20"', '"2027-02-21"')
    line = rejected(repo, capsys, PATH, text, "more than 90 days away", line_of(text, "expires"))
    assert "no later than 2027-02-20T12:00Z" in line
    repo.write(PATH, GOOD.replace('"2026-12-20"', '"2027-02-20T12:00:00Z"'))
    assert repo.run("validate", capsys=capsys).code == 0


def test_role_maximum_lower_than_tier(repo, capsys):
    # PaymentsOperator is privileged (12 h) with its own max_hours: 8
    text = GOOD.replace("kind: aws-iam-group", "kind: aws-sso-assignment").replace(
        "account: acme-dev", "account: acme-payments").replace("group: readonly", "permission_set: PaymentsOperator"
    ).replace('"2026-12-20"', '"2026-11-22T21:00:00Z"')
    rejected(repo, capsys, "requests/aws/acme-payments/bob-ops.yaml", text, "more than 8 hours away",
             line_of(text, "expires"))


def test_break_glass_over_four_hours(repo, capsys):
    text = GOOD.replace('"2026-12-20"', '"2026-11-22T17:00:00Z"') + "break_glass: true\n"
    line = rejected(repo, capsys, PATH, text, "more than 4 hours away", line_of(text, "expires"))
    assert "2026-11-22T16:00Z" in line
    repo.write(PATH, text.replace("17:00", "15:30"))
    assert repo.run("validate", capsys=capsys).code == 0


# --- principals -------------------------------------------------------------

def test_inactive_person(repo, capsys):
    text = GOOD.replace("user:bob@acme.example", "user:mallory@acme.example")
    rejected(repo, capsys, PATH, text, "mallory@acme.example is not an active person", line_of(text, "principal"))


def test_unknown_person(repo, capsys):
    text = GOOD.replace("user:bob@acme.example", "user:zoe@acme.example")
    rejected(repo, capsys, PATH, text, "zoe@acme.example is not in policies/data/people.yaml",
             line_of(text, "principal"))


def test_outside_domain_email(repo, capsys):
    text = GOOD.replace("user:bob@acme.example", "user:bob@gmail.com")
    line = rejected(repo, capsys, PATH, text, "outside the organisation's domains", line_of(text, "principal"))
    assert "acme.example" in line


def test_unknown_requester(repo, capsys):
    text = GOOD.replace("requester: bob-acme", "requester: octocat")
    rejected(repo, capsys, PATH, text, "requester 'octocat' is not a person", line_of(text, "requester"))


@pytest.mark.parametrize("principal, expect", [
    ("allUsers", "is public"),
    ('"*"', "is public"),
    ("user:allUsers", "is public"),
    ("group:allusers", "public principals are never granted"),
    ("group:allauthenticatedusers", "public principals are never granted"),
])
def test_public_principals(repo, capsys, principal, expect):
    text = gcp(principal=principal)
    rejected(repo, capsys, GCP_PATH, text, expect, line_of(text, "principal"))


def test_unknown_team(repo, capsys):
    text = gcp(principal="group:marketing")
    line = rejected(repo, capsys, GCP_PATH, text, "team 'marketing' does not exist", line_of(text, "principal"))
    assert "data" in line and "platform" in line


def test_undefined_service_account(repo, capsys):
    text = gcp(principal="serviceAccount:acme-data-dev/report-builder")
    rejected(repo, capsys, GCP_PATH, text, "service account 'acme-data-dev/report-builder' is not defined",
             line_of(text, "principal"))
    repo.write(SA_PATH, SA)
    result = repo.run("validate", capsys=capsys)
    assert result.code == 0, result.out


def test_non_ascii_email_is_refused(repo, capsys):
    # Cyrillic 'а' (U+0430) looks exactly like the Latin 'a' of alice
    text = GOOD.replace("user:bob@acme.example", "user:\u0430lice@acme.example")
    rejected(repo, capsys, PATH, text, "non-ASCII characters", line_of(text, "principal"))


def test_confusable_requester_is_refused(repo, capsys):
    text = GOOD.replace("requester: bob-acme", "requester: b\u043eb-acme")  # Cyrillic 'о'
    rejected(repo, capsys, PATH, text, "requester", line_of(text, "requester"))


def test_confusable_team_and_role_are_refused(repo, capsys):
    text = gcp(principal="group:d\u0430ta")
    rejected(repo, capsys, GCP_PATH, text, "principal", line_of(text, "principal"))
    text = gcp(role="roles/bigquery.dat\u0430Viewer")
    rejected(repo, capsys, GCP_PATH, text, "role", line_of(text, "role:"))


def test_uppercase_email_is_normalised(repo, capsys):
    """Bob@ACME.example is bob@acme.example: valid, and a duplicate of the
    same grant written in lower case elsewhere."""
    upper = GOOD.replace("user:bob@acme.example", "user:Bob@ACME.example")
    repo.write(PATH, upper)
    assert repo.run("validate", capsys=capsys).code == 0
    repo.write("requests/aws/acme-dev/bob-readonly-again.yaml", GOOD)
    line = rejected(repo, capsys, PATH, None, "is already requested in requests/aws/acme-dev/bob-readonly-again.yaml")
    assert "bob@acme.example" in line and "Bob@" not in line


# --- grants -----------------------------------------------------------------

def test_role_not_in_catalog(repo, capsys):
    text = gcp(role="roles/compute.admin")
    line = rejected(repo, capsys, GCP_PATH, text, "role 'roles/compute.admin' is not requestable in acme-data-dev",
                    line_of(text, "role:"))
    assert "roles/bigquery.dataViewer" in line


def test_role_in_catalog_but_not_managed_here(repo, capsys):
    text = gcp(role="roles/run.admin")  # managed only in acme-web-prod
    rejected(repo, capsys, GCP_PATH, text, "role 'roles/run.admin' is not requestable in acme-data-dev",
             line_of(text, "role:"))


@pytest.mark.parametrize("role", ["roles/owner", "roles/editor", "roles/viewer"])
def test_basic_roles_are_refused_with_the_reason(repo, capsys, role):
    """GCP refuses IAM conditions on basic roles, so a basic-role grant could
    never expire in GCP itself: refused at validation, with the roles to use."""
    text = gcp(role=role)
    line = rejected(repo, capsys, GCP_PATH, text, f"role '{role}' is not requestable in acme-data-dev: it is a GCP "
                    "basic role", line_of(text, "role:"))
    assert "conditions-overview" in line and "roles/bigquery.dataViewer" in line


def test_aws_group_not_managed_in_account(repo, capsys):
    text = GOOD.replace("group: readonly", "group: billing")  # billing is managed in acme-prod only
    line = rejected(repo, capsys, PATH, text, "group 'billing' is not requestable in acme-dev", line_of(text, "group:"))
    assert "choose one of: developers, readonly" in line


def test_grant_outside_the_folder_target(repo, capsys):
    text = GOOD.replace("account: acme-dev", "account: acme-prod")
    line = rejected(repo, capsys, PATH, text, "asks for aws account 'acme-prod'", line_of(text, "account:"))
    assert "requests/aws/acme-dev/" in line


def test_grant_of_the_other_provider(repo, capsys):
    text = gcp(project="acme-data-dev")
    rejected(repo, capsys, "requests/aws/acme-dev/erin.yaml", text, "asks for gcp project", line_of(text, "project:"))


def test_unknown_target_folder(repo, capsys):
    text = GOOD.replace("acme-dev", "acme-marketing")
    line = rejected(repo, capsys, "requests/aws/acme-marketing/bob.yaml", text,
                    "folder 'acme-marketing' is not a known aws target")
    assert "acme-dev" in line


def test_principal_type_not_allowed_for_kind(repo, capsys):
    text = GOOD.replace("user:bob@acme.example", "group:platform")  # IAM groups take users only
    line = rejected(repo, capsys, PATH, text, "aws-iam-group cannot be granted to a group", line_of(text, "- kind"))
    assert "allowed principals: user" in line


def test_same_grant_in_two_files_names_both(repo, capsys):
    repo.write("requests/aws/acme-dev/a-first.yaml", GOOD)
    repo.write("requests/aws/acme-dev/b-second.yaml", GOOD)
    line = rejected(repo, capsys, "requests/aws/acme-dev/b-second.yaml", None,
                    "already requested in requests/aws/acme-dev/a-first.yaml", line_of(GOOD, "- kind"))
    assert "readonly for user:bob@acme.example" in line


def test_same_grant_twice_in_one_file_is_one_grant(repo, capsys):
    text = GOOD + "  - kind: aws-iam-group\n    account: acme-dev\n    group: readonly\n"
    repo.write(PATH, text)
    result = repo.run("validate", capsys=capsys)
    # listed twice in the same file: not a conflict between files
    assert result.code == 0, result.out


# --- service accounts -------------------------------------------------------

def test_service_account_owner_missing(repo, capsys):
    text = SA.replace("owner: data\n", "")
    rejected(repo, capsys, SA_PATH, text, "`owner` is a required property")


def test_service_account_owner_unknown(repo, capsys):
    text = SA.replace("owner: data", "owner: growth")
    rejected(repo, capsys, SA_PATH, text, "owner team 'growth' does not exist", line_of(text, "owner"))


def test_service_account_over_one_year(repo, capsys):
    text = SA.replace('"2027-06-30"', '"2027-11-23"')
    line = rejected(repo, capsys, SA_PATH, text, "at most 365 days", line_of(text, "expires"))
    assert "no later than 2027-11-22" in line


def test_service_account_expiry_required(repo, capsys):
    text = SA.replace('expires: "2027-06-30"\n', "")
    rejected(repo, capsys, SA_PATH, text, "`expires` is a required property")


def test_aws_service_account_needs_oidc_trust(repo, capsys):
    text = SA.replace("provider: gcp", "provider: aws").replace("project: acme-data-dev", "account: acme-dev")
    rejected(repo, capsys, "requests/aws/acme-dev/report-builder.yaml", text, "`oidc` is a required property")


def test_service_account_in_wrong_folder(repo, capsys):
    text = SA.replace("project: acme-data-dev", "project: acme-data-prod")
    rejected(repo, capsys, SA_PATH, text, "differs from the folder 'acme-data-dev'", line_of(text, "project:"))


# --- the command ------------------------------------------------------------

def test_json_format(repo, capsys):
    text = GOOD.replace("user:bob@acme.example", "user:zoe@acme.example")
    repo.write(PATH, text)
    result = repo.run("validate", "--format", "json", capsys=capsys)
    assert result.code == 1
    report = json.loads(result.out)
    assert report["valid"] is False and report["files"] == 13
    assert report["errors"] == [{
        "file": PATH, "line": line_of(text, "principal"), "rule": "principal-unknown",
        "message": "zoe@acme.example is not in policies/data/people.yaml",
        "fix": "check the spelling of the email"}]


def test_json_format_when_valid(repo, capsys):
    result = repo.run("validate", "--format", "json", capsys=capsys)
    assert result.code == 0
    assert json.loads(result.out) == {"files": 12, "valid": True, "errors": [], "waived": []}


def test_named_paths_only_report_those(repo, capsys):
    repo.write(PATH, GOOD.replace("user:bob@acme.example", "user:zoe@acme.example"))
    assert repo.run("validate", "requests/gcp", capsys=capsys).code == 0
    result = repo.run("validate", PATH, capsys=capsys)
    assert result.code == 1 and "1 error(s) in 1 of 1 file(s)" in result.out


def test_no_such_path_is_a_usage_error(repo, capsys):
    result = repo.run("validate", "requests/aws/acme-dev/nope.yaml", capsys=capsys)
    assert result.code == 2
    assert "nope.yaml: no such file" in result.err


def test_path_outside_the_repository_is_a_usage_error(repo, capsys, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(GOOD)
    result = repo.run("validate", str(outside), capsys=capsys)
    assert result.code == 2
    assert "not inside the access repository" in result.err


def test_not_in_a_repository_is_a_usage_error(tmp_path):
    from conftest import AccessRepo
    result = AccessRepo(tmp_path).run_process("validate")
    assert result.code == 2
    assert "not inside an access repository" in result.err
    assert "Traceback" not in result.err


def test_all_errors_of_all_files_in_one_run(repo, capsys):
    bad_past = GOOD.replace('"2026-12-20"', '"2020-01-01"')
    bad_many = GOOD.replace("requester: bob-acme", "requester: octocat").replace("group: readonly", "group: admins")
    repo.write("requests/aws/acme-dev/one.yaml", bad_past)
    repo.write("requests/aws/acme-dev/two.yaml", bad_many)
    repo.write("requests/aws/acme-dev/three.yaml", GOOD + "a: 1\na: 2\n")
    repo.write(GCP_PATH, gcp(principal="user:mallory@acme.example"))
    result = repo.run_process("validate")
    assert result.code == 1 and "Traceback" not in result.err
    expected = [
        f"requests/aws/acme-dev/one.yaml:{line_of(bad_past, 'expires')}: expires 2020-01-01 00:00Z is in the past",
        f"requests/aws/acme-dev/two.yaml:{line_of(bad_many, 'requester')}: requester 'octocat'",
        f"requests/aws/acme-dev/two.yaml:{line_of(bad_many, 'group:')}: group 'admins' is not requestable",
        # an unlisted role is judged as the strictest tier, as the policy judges it
        f"requests/aws/acme-dev/two.yaml:{line_of(bad_many, 'expires')}: expires is more than 12 hours away",
        f"requests/aws/acme-dev/three.yaml:{len(GOOD.splitlines()) + 2}: duplicate key 'a'",
        f"{GCP_PATH}:4: mallory@acme.example is not an active person",
    ]
    for text in expected:
        assert text in result.out, f"{text!r} missing from\n{result.out}"
    assert "6 error(s) in 4 of 16 file(s)" in result.out


# --- the benchmark's generator -------------------------------------------------

def test_generated_org_is_valid_deterministic_and_mixed(tmp_path, capsys):
    """bench.synth feeds every benchmark: its files must all validate, or the
    figures measure error paths instead of the real workload."""
    from conftest import AccessRepo

    from bench.synth import generate

    a = generate(tmp_path / "a", 400, seed=7, people=300, teams=6, accounts=4, projects=4, commit=False)
    b = generate(tmp_path / "b", 400, seed=7, people=300, teams=6, accounts=4, projects=4, commit=False)
    assert a.files == 400 and a.requests == b.requests
    assert all((a.root / p).read_bytes() == (b.root / p).read_bytes() for p in a.requests[::37])
    result = AccessRepo(a.root).run("validate", capsys=capsys)
    assert result.code == 0, result.out[-2000:]
    assert "400 request file(s) valid" in result.out
    n = len(a.access_requests)
    assert 0.65 < a.tiers["standard"] / n < 0.85 and 0.02 < a.tiers["privileged"] / n < 0.1
    assert a.service_accounts and a.principals["group"] and a.principals["user"] > n / 2


def test_generated_org_passes_the_policy_too(tmp_path):
    """The policy must not deny the benchmark's workload either (a request
    holding both sides of a separation-of-duties pair once slipped through)."""
    from datetime import datetime, timezone

    from bench.synth import generate
    from tools.policy.evaluate import evaluate_files

    org = generate(tmp_path / "a", 1000, seed=1)
    decisions = evaluate_files(org.root, None, now=datetime(2026, 11, 22, 12, tzinfo=timezone.utc)).decisions
    assert len(decisions) == 1000
    assert [(d.file, [v["rule"] for v in d.violations]) for d in decisions if not d.allow] == []


def test_org_model_offering_a_basic_role_is_refused_with_the_reason(repo, capsys):
    catalog = (repo.root / "policies/data/catalog.yaml").read_text()
    repo.write("policies/data/catalog.yaml", catalog.replace(
        "catalog:\n", "catalog:\n  - {kind: gcp-project-role, entitlement: roles/editor, tier: standard}\n", 1))
    result = repo.run("validate", capsys=capsys)
    assert result.code in (1, 2) and "Traceback" not in result.out + result.err
    assert "roles/editor, a GCP basic role" in result.out + result.err
