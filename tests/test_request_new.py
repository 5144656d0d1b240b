"""`accessctl request new`: from flags, and interactively through a real
pseudo-terminal. A scaffolded file is valid or not written at all."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from conftest import NOW, PROJECT

from tools.core import yamlsafe
from tools.request import scaffold

WHY = "Investigate the failing deploys of the billing service this week."


def new(repo, capsys, *flags: str):
    return repo.run("request", "new", *flags, capsys=capsys)


def load(repo, path: str) -> dict:
    return yamlsafe.loads(repo.read(path)).data


def drive(repo, answers: list[str], *flags: str) -> tuple[int, str]:
    """Run `accessctl request new` on a pseudo-terminal, typing ``answers``."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "ACCESSCTL_NOW": NOW, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tools", "request", "new", *flags],
                            stdin=slave, stdout=slave, stderr=slave, cwd=repo.root, env=env)
    os.close(slave)
    # the answers, then Ctrl-D: end of input if the program wants more
    os.write(master, "".join(a + "\n" for a in answers).encode() + b"\x04")
    out, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        if not select.select([master], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    if proc.poll() is None:
        proc.kill()
    return proc.wait(timeout=10), out.decode(errors="replace").replace("\r\n", "\n")


# --- from flags ---------------------------------------------------------------

def test_flags_write_a_valid_file_at_the_right_path(repo, capsys):
    r = new(repo, capsys, "--target", "acme-dev", "--kind", "aws-iam-group", "--entitlement", "readonly",
            "--principal", "user:Carol@ACME.example", "--justification", WHY, "--requester", "carol-acme")
    path = "requests/aws/acme-dev/carol-readonly.yaml"
    assert r.code == 0, r.out + r.err
    assert f"wrote {path}" in r.out and "pull request" in r.out
    text = repo.read(path)
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../../tools/request/schemas/request.v1.schema.json"
    assert load(repo, path) == {
        "apiVersion": "accessctl/v1", "kind": "AccessRequest", "principal": "user:carol@acme.example",
        "requester": "carol-acme", "justification": WHY, "expires": "2027-02-20",  # standard: 90 days
        "grants": [{"kind": "aws-iam-group", "account": "acme-dev", "group": "readonly"}]}
    assert repo.run("validate", path, capsys=capsys).code == 0


def test_kind_is_inferred_and_entitlements_repeat(repo, capsys):
    r = new(repo, capsys, "--target", "acme-dev", "--entitlement", "readonly", "--entitlement", "PowerUser",
            "--principal", "user:carol@acme.example", "--justification", WHY, "--requester", "carol-acme",
            "--name", "carol-dev")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/aws/acme-dev/carol-dev.yaml")
    assert doc["grants"] == [
        {"kind": "aws-iam-group", "account": "acme-dev", "group": "readonly"},
        {"kind": "aws-sso-assignment", "account": "acme-dev", "permission_set": "PowerUser"}]
    assert doc["expires"] == "2026-12-22"  # PowerUser is sensitive: 30 days wins over 90


def test_gcp_request_creates_the_project_folder(repo, capsys):
    r = new(repo, capsys, "--target", "acme-data-dev", "--kind", "gcp-project-role",
            "--entitlement", "roles/bigquery.dataViewer", "--principal", "group:data",
            "--justification", WHY, "--requester", "dave-acme", "--expires", "2026-12-31")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/gcp/acme-data-dev/data-dataviewer.yaml")
    assert doc["grants"] == [{"kind": "gcp-project-role", "project": "acme-data-dev",
                              "role": "roles/bigquery.dataViewer"}]
    assert doc["expires"] == "2026-12-31"


def test_privileged_defaults_to_twelve_hours_and_needs_a_ticket(repo, capsys):
    flags = ["--target", "acme-prod", "--kind", "aws-sso-assignment", "--entitlement", "AdministratorAccess",
             "--principal", "user:niaj@acme.example", "--justification", WHY, "--requester", "niaj-acme"]
    r = new(repo, capsys, *flags)
    assert r.code == 2 and "--ticket is required" in r.err
    assert not (repo.root / "requests/aws/acme-prod/niaj-administratoraccess.yaml").exists()
    r = new(repo, capsys, *flags, "--ticket", "OPS-99")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/aws/acme-prod/niaj-administratoraccess.yaml")
    assert doc["expires"] == "2026-11-23T00:00:00Z" and doc["ticket"] == "OPS-99"


def test_break_glass_defaults_to_four_hours(repo, capsys):
    r = new(repo, capsys, "--target", "acme-dev", "--entitlement", "developers", "--principal",
            "user:carol@acme.example", "--justification", WHY, "--requester", "carol-acme", "--break-glass")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/aws/acme-dev/carol-developers.yaml")
    assert doc["break_glass"] is True and doc["expires"] == "2026-11-22T16:00:00Z"


def test_invalid_answers_leave_no_file_behind(repo, capsys):
    # acme-web-prod: a project no sample request lives in, so its folder would be new
    r = new(repo, capsys, "--target", "acme-web-prod", "--kind", "gcp-project-role", "--entitlement",
            "roles/owner", "--principal", "user:mallory@acme.example", "--justification", WHY,
            "--requester", "dave-acme", "--ticket", "DATA-1")
    assert r.code == 1
    assert "requests/gcp/acme-web-prod/mallory-owner.yaml:" in r.out
    assert "not an active person" in r.out and "not requestable in acme-web-prod" in r.out
    assert "not written" in r.out and "Traceback" not in r.out + r.err
    assert not (repo.root / "requests/gcp/acme-web-prod").exists()  # the new folder is gone too


def test_duplicate_of_an_existing_grant_is_refused(repo, capsys):
    # bob-developer.yaml already grants ReadOnly in acme-dev to bob; "a-..." sorts before it
    r = new(repo, capsys, "--target", "acme-dev", "--entitlement", "ReadOnly", "--principal",
            "user:bob@acme.example", "--justification", WHY, "--requester", "bob-acme", "--name", "a-bob")
    assert r.code == 1
    assert "requests/aws/acme-dev/a-bob.yaml" in r.out and "bob-developer.yaml" in r.out
    assert not (repo.root / "requests/aws/acme-dev/a-bob.yaml").exists()


def test_existing_file_is_not_overwritten(repo, capsys):
    before = repo.read("requests/aws/acme-dev/bob-developer.yaml")
    r = new(repo, capsys, "--target", "acme-dev", "--entitlement", "readonly", "--principal",
            "user:carol@acme.example", "--justification", WHY, "--requester", "carol-acme", "--name", "bob-developer")
    assert r.code == 2 and "already exists" in r.err
    assert repo.read("requests/aws/acme-dev/bob-developer.yaml") == before


@pytest.mark.parametrize("drop, flag", [("--target", "--target"), ("--principal", "--principal"),
                                        ("--justification", "--justification"), ("--entitlement", "--entitlement")])
def test_missing_flag_without_a_terminal_is_a_usage_error(repo, capsys, drop, flag):
    flags = {"--target": "acme-dev", "--entitlement": "readonly", "--principal": "user:carol@acme.example",
             "--justification": WHY, "--requester": "carol-acme"}
    del flags[drop]
    r = new(repo, capsys, *[x for kv in flags.items() for x in kv])
    assert r.code == 2
    assert f"{flag} is required (no terminal to ask)" in r.err
    assert sorted(p.name for p in (repo.root / "requests/aws/acme-dev").iterdir()) == [
        "billing-deployer-readonly.yaml", "billing-deployer.yaml", "bob-developer.yaml", "triage-agent.yaml"]


def test_all_missing_flags_are_named_at_once(repo, capsys):
    r = new(repo, capsys, "--target", "acme-dev")
    assert r.code == 2
    assert "--requester, --entitlement, --principal, --justification are required" in r.err


def test_requester_comes_from_git_config(repo, capsys):
    subprocess.run(["git", "-C", str(repo.root), "config", "user.email", "Carol@acme.example"], check=True)
    r = new(repo, capsys, "--target", "acme-dev", "--entitlement", "readonly", "--principal",
            "user:carol@acme.example", "--justification", WHY)
    assert r.code == 0, r.err
    assert load(repo, "requests/aws/acme-dev/carol-readonly.yaml")["requester"] == "carol-acme"


def test_unknown_target_lists_the_choices(repo, capsys):
    r = new(repo, capsys, "--target", "acme-marketing", "--entitlement", "readonly", "--principal",
            "user:carol@acme.example", "--justification", WHY, "--requester", "carol-acme")
    assert r.code == 2 and "aws/acme-dev" in r.err and "gcp/acme-data-prod" in r.err


def test_json_output(repo, capsys):
    r = new(repo, capsys, "--format", "json", "--target", "acme-dev", "--entitlement", "readonly",
            "--principal", "user:carol@acme.example", "--justification", WHY, "--requester", "carol-acme")
    assert r.code == 0
    out = json.loads(r.out)
    assert out["path"] == "requests/aws/acme-dev/carol-readonly.yaml" and out["valid"] is True
    assert out["request"]["grants"][0]["group"] == "readonly" and out["errors"] == []


def test_service_accounts_then_access_for_them(repo, capsys):
    r = new(repo, capsys, "--service-account", "--target", "acme-dev", "--name", "web-deployer",
            "--owner", "platform", "--purpose", "Deploys the web app from main through GitHub Actions.",
            "--oidc-repository", "acme/web", "--oidc-ref", "refs/heads/main", "--requester", "alice-acme")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/aws/acme-dev/web-deployer.yaml")
    assert doc["kind"] == "ServiceAccount" and doc["account"] == "acme-dev"
    assert doc["oidc"] == {"repository": "acme/web", "ref": "refs/heads/main"}
    assert doc["expires"] == "2027-11-22"  # one year, the service-account maximum
    r = new(repo, capsys, "--target", "acme-dev", "--entitlement", "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "--principal", "serviceAccount:acme-dev/web-deployer", "--justification", WHY,
            "--requester", "alice-acme")
    assert r.code == 0, r.out + r.err
    assert load(repo, "requests/aws/acme-dev/web-deployer-readonlyaccess.yaml")["grants"][0]["policy"] \
        == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    r = new(repo, capsys, "--service-account", "--target", "acme-web-prod", "--name", "nightly-loader",
            "--owner", "growth", "--purpose", "Loads the nightly exports into the warehouse.",
            "--requester", "dave-acme")
    assert r.code == 1 and "owner team 'growth' does not exist" in r.out
    assert not (repo.root / "requests/gcp/acme-web-prod").exists()  # no sample lives there: the folder was new


def test_aws_service_account_without_oidc_needs_a_terminal(repo, capsys):
    r = new(repo, capsys, "--service-account", "--target", "acme-dev", "--name", "web-deployer",
            "--owner", "platform", "--purpose", "Deploys the web app from main.", "--requester", "alice-acme")
    assert r.code == 2 and "--oidc-repository, --oidc-ref are required (no terminal to ask)" in r.err


# --- the pure part ----------------------------------------------------------------

def test_render_reads_back_unchanged_with_yaml_1_1_traps():
    doc = {"apiVersion": "accessctl/v1", "kind": "AccessRequest", "principal": "group:sre",
           "requester": "NO", "justification": "011111111111 yes: on # not a comment", "expires": "2026-12-20",
           "grants": [{"kind": "aws-iam-group", "account": "012345678901", "group": "true"}]}
    text = scaffold.render("requests/aws/acme-dev/x.yaml", doc)
    assert yamlsafe.loads(text).data == doc


@pytest.mark.parametrize("principal, entitlement, name", [
    ("user:Bob.Smith@acme.example", "readonly", "bob-smith-readonly"),
    ("group:sre", "roles/bigquery.dataViewer", "sre-dataviewer"),
    ("serviceAccount:acme-dev/web-deployer", "arn:aws:iam::aws:policy/ReadOnlyAccess", "web-deployer-readonlyaccess"),
])
def test_default_names(principal, entitlement, name):
    assert scaffold.default_name(principal, [scaffold.Grant("k", entitlement)]) == name


# --- interactive, on a real pseudo-terminal ------------------------------------------

def test_interactive_access_request(repo):
    code, out = drive(repo, [
        "carol-acme",  # GitHub login (git config names nobody here)
        "1",           # aws
        "9", "1",      # 9 is not a choice: asked again, then acme-dev
        "1",           # aws-iam-group
        "2",           # readonly
        "",            # principal: the default, you
        "",            # expires: the default, the tier maximum
        "too short",   # refused: under 20 characters
        WHY,
        "",            # file name: the default
    ])
    assert code == 0, out
    assert "1) acme-dev  (dev, 111111111111, owner platform)" in out
    assert "2) readonly  (standard, up to 90 days)" in out
    assert "please answer with a number from 1 to 4" in out
    assert "at least 20 characters" in out
    assert "wrote requests/aws/acme-dev/carol-readonly.yaml (valid)" in out
    assert load(repo, "requests/aws/acme-dev/carol-readonly.yaml") == {
        "apiVersion": "accessctl/v1", "kind": "AccessRequest", "principal": "user:carol@acme.example",
        "requester": "carol-acme", "justification": WHY, "expires": "2027-02-20",
        "grants": [{"kind": "aws-iam-group", "account": "acme-dev", "group": "readonly"}]}


def test_interactive_prod_asks_for_a_ticket_and_only_missing_answers(repo):
    code, out = drive(repo, [
        "2",            # aws-sso-assignment
        "2,4",          # PowerUser and DeployProd
        "group:sre",    # typed principal
        "2026-12-01",
        "nope",         # not a ticket
        "OPS-12",
        "sre-ops",
    ], "--target", "acme-prod", "--requester", "niaj-acme", "--justification", WHY)
    assert code == 0, out
    assert "Which cloud?" not in out and "Your GitHub login" not in out
    assert "a ticket looks like OPS-1234" in out
    doc = load(repo, "requests/aws/acme-prod/sre-ops.yaml")
    assert doc["principal"] == "group:sre" and doc["ticket"] == "OPS-12" and doc["expires"] == "2026-12-01"
    assert [g["permission_set"] for g in doc["grants"]] == ["PowerUser", "DeployProd"]


def test_interactive_input_ending_early_is_a_usage_error(repo):
    code, out = drive(repo, ["carol-acme", "1"])
    # after the answers run out the terminal gives no more lines: Ctrl-D
    assert code == 2, out
    assert "input ended before the request was complete" in out
    assert "Traceback" not in out


def test_interactive_answers_are_checked_as_given_and_kept(repo):
    """A wrong login, "next week" and an unknown team are refused at once,
    with what is accepted; the answers before them are not asked again."""
    code, out = drive(repo, [
        "carol",            # not a login of the org model
        "carol-acme",
        "",                 # kind: the only one offered here (gcp-project-role), taken with Enter
        "1",                # the first role
        "group:data-engs",  # no such team
        "group:data",
        "next week",        # refused at once
        "2026-12-01",
        WHY,
        "data-viewer",
    ], "--target", "acme-data-prod", "--ticket", "DATA-7")
    assert code == 0, out
    assert "'carol' is not a GitHub login in policies/data/people.yaml" in out
    assert "team 'data-engs' does not exist; one of: data," in out
    assert "'next week' is not a date" in out and "YYYY-MM-DD" in out and "RFC 3339" in out
    assert "choose [gcp-project-role]:" in out
    assert out.count("Your GitHub login") == 2 and out.count("Which role?") == 1
    doc = load(repo, "requests/gcp/acme-data-prod/data-viewer.yaml")
    assert doc["principal"] == "group:data" and doc["expires"] == "2026-12-01" and doc["requester"] == "carol-acme"


def test_interactive_expiry_beyond_the_maximum_is_refused_at_once(repo):
    code, out = drive(repo, [
        "2",            # readonly (standard, up to 90 days)
        "",             # you
        "2030-01-01",   # too far
        "",             # the default: the longest allowed
        WHY, "",
    ], "--target", "acme-dev", "--kind", "aws-iam-group", "--requester", "carol-acme")
    assert code == 0, out
    assert "2030-01-01 is more than 2160 hours away" in out and "choose 2027-02-20 or earlier" in out


def test_a_refused_request_prints_the_answers_as_flags(repo, capsys):
    r = new(repo, capsys, "--target", "acme-dev", "--kind", "aws-iam-group", "--entitlement", "readonly",
            "--principal", "user:carol@acme.example", "--justification", WHY, "--requester", "carol-acme",
            "--expires", "2030-01-01")
    assert r.code == 1
    assert "accessctl request new --provider aws --target acme-dev --kind aws-iam-group --entitlement readonly" in r.out
    assert "--expires 2030-01-01" in r.out and f"--justification '{WHY}'" in r.out


def test_new_agent_is_written_valid_with_its_runtime_and_the_agent_tiers_expiry(repo, capsys):
    r = new(repo, capsys, "--service-account", "--use", "agent", "--target", "acme-dev", "--name", "triage-bot",
            "--owner", "platform", "--purpose", "Reads tickets and opens incidents for the triage assistant.",
            "--runtime", "arn:aws:iam::111111111111:role/agent-runtime", "--requester", "alice-acme")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/aws/acme-dev/triage-bot.yaml")
    assert doc["use"] == "agent" and doc["max_session_minutes"] == 60 and "oidc" not in doc
    assert doc["assumed_by"] == "arn:aws:iam::111111111111:role/agent-runtime"
    assert doc["expires"] == "2027-02-20"  # 90 days: tiers.yaml agent.max_hours


def test_new_integration_is_written_valid_with_vendor_and_a_key_in_the_secret_store(repo, capsys):
    r = new(repo, capsys, "--service-account", "--use", "integration", "--target", "acme-prod",
            "--name", "statuspage-sync", "--owner", "sre", "--purpose", "Statuspage reads alarms to post incidents.",
            "--vendor", "Statuspage", "--vendor-contact", "security@statuspage.example", "--requester", "ivan-acme")
    assert r.code == 0, r.out + r.err
    doc = load(repo, "requests/aws/acme-prod/statuspage-sync.yaml")
    assert doc["credential"] == {"type": "access-key", "store": "secrets-manager", "rotate_days": 30}
    assert doc["vendor"] == {"name": "Statuspage", "contact": "security@statuspage.example"}


def test_new_agent_without_a_terminal_names_the_missing_runtime(repo, capsys):
    r = new(repo, capsys, "--service-account", "--use", "agent", "--target", "acme-dev", "--name", "triage-bot",
            "--owner", "platform", "--purpose", "Reads tickets and opens incidents for the triage assistant.",
            "--requester", "alice-acme")
    assert r.code == 2 and "--runtime is required" in r.err
