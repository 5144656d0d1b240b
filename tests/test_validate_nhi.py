"""ServiceAccount `use:`: agents and third-party integrations validate, the
older files without `use` keep working, and each use takes exactly its own
fields (an agent never a key, an integration never a trust, a CI role's
`oidc` required only for use: ci)."""
from __future__ import annotations

import pytest
from conftest import PROJECT
from test_yamlsafe import line_of, rejected

AGENT_PATH = "requests/aws/acme-dev/triage-agent.yaml"
INTEGRATION_PATH = "requests/aws/acme-prod/pagerduty-sync.yaml"
AGENT = (PROJECT / AGENT_PATH).read_text()
INTEGRATION = (PROJECT / INTEGRATION_PATH).read_text()
GCP_AGENT_PATH = "requests/gcp/acme-data-prod/etl-triage-agent.yaml"
GCP_AGENT = """\
apiVersion: accessctl/v1
kind: ServiceAccount
provider: gcp
name: etl-triage-agent
project: acme-data-prod
owner: data
use: agent
purpose: Summarises failed ETL runs for the data on-call.
requester: dave-acme
expires: "2027-02-01"
max_session_minutes: 60
impersonated_by: serviceAccount:agent-runtime@acme-data-prod.iam.gserviceaccount.com
"""


def test_the_samples_of_each_use_validate_and_evaluate(repo, capsys):
    repo.write(GCP_AGENT_PATH, GCP_AGENT)
    assert repo.run("validate", capsys=capsys).code == 0
    result = repo.run("evaluate", AGENT_PATH, INTEGRATION_PATH, GCP_AGENT_PATH, capsys=capsys)
    assert result.code == 0, result.out + result.err


def test_use_is_inferred_for_files_written_before_it(repo, capsys):
    from tools.core.repo import Tree
    from tools.request.load import read
    tree = Tree(repo.root)
    assert read(tree, "requests/aws/acme-dev/billing-deployer.yaml").request.use == "ci"
    assert read(tree, "requests/gcp/acme-data-prod/etl-runner.yaml").request.use == "workload"


def test_an_agent_needs_no_oidc_but_a_ci_role_still_does(repo, capsys):
    ci = (PROJECT / "requests/aws/acme-dev/billing-deployer.yaml").read_text()
    text = ci.replace("oidc:\n  repository: acme/billing-service\n  ref: refs/heads/main\n", "")
    rejected(repo, capsys, "requests/aws/acme-dev/billing-deployer.yaml", text, "`oidc` is a required property")


@pytest.mark.parametrize("extra,why", [
    ("credential:\n  type: access-key\n  store: secrets-manager\n  rotate_days: 30\n", "credential on an agent"),
    ("user_managed_keys: true\n", "keys on an agent"),
    ("vendor:\n  name: PagerDuty\n  contact: security@pagerduty.example\n", "vendor on an agent"),
])
def test_an_agent_never_takes_a_key(repo, capsys, extra, why):
    rejected(repo, capsys, AGENT_PATH, AGENT + extra, "does not belong with its provider or `use`")


def test_an_agent_must_name_its_session_length(repo, capsys):
    text = AGENT.replace("max_session_minutes: 60\n", "")
    rejected(repo, capsys, AGENT_PATH, text, "`max_session_minutes` is a required property")


@pytest.mark.parametrize("minutes", [30, 721])
def test_aws_agent_sessions_stay_within_iams_max_session_duration(repo, capsys, minutes):
    """IAM's MaxSessionDuration is 3600 to 43200 seconds (CreateRole API reference)."""
    text = AGENT.replace("max_session_minutes: 60", f"max_session_minutes: {minutes}")
    rejected(repo, capsys, AGENT_PATH, text, "max_session_minutes", line_of(text, "max_session_minutes:"))


def test_a_gcp_agent_with_sessions_over_an_hour_is_denied_by_policy(repo, capsys):
    repo.write(GCP_AGENT_PATH, GCP_AGENT.replace("max_session_minutes: 60", "max_session_minutes: 120"))
    result = repo.run("evaluate", GCP_AGENT_PATH, capsys=capsys)
    assert result.code == 1 and "nhi-session-too-long" in result.out + result.err


def test_an_aws_agent_names_its_runtime_or_an_oidc_subject(repo, capsys):
    text = AGENT.replace("assumed_by: arn:aws:iam::111111111111:role/agent-runtime\n", "")
    rejected(repo, capsys, AGENT_PATH, text, "does not belong with its provider or `use`, or misses one it needs")
    with_oidc = text + "oidc:\n  repository: acme/triage-assistant\n  ref: refs/heads/main\n"
    repo.write(AGENT_PATH, with_oidc)
    assert repo.run("validate", capsys=capsys).code == 0


def test_an_agent_runtime_outside_the_organisation_is_denied(repo, capsys):
    repo.write(AGENT_PATH, AGENT.replace("111111111111:role/agent-runtime", "999999999999:role/agent-runtime"))
    result = repo.run("evaluate", AGENT_PATH, capsys=capsys)
    assert result.code == 1 and "nhi-runtime-external" in result.out + result.err


@pytest.mark.parametrize("old,new,expect", [
    ("type: access-key", "type: service-account-key", "credential/type"),
    ("store: secrets-manager", "store: secret-manager", "credential/store"),
    ("rotate_days: 30", "rotate_days: 0", "credential/rotate_days"),
])
def test_an_aws_integration_key_is_an_access_key_in_secrets_manager(repo, capsys, old, new, expect):
    rejected(repo, capsys, INTEGRATION_PATH, INTEGRATION.replace(old, new), expect)


def test_an_integration_rotating_too_rarely_is_denied_by_policy(repo, capsys):
    repo.write(INTEGRATION_PATH, INTEGRATION.replace("rotate_days: 30", "rotate_days: 60"))
    result = repo.run("evaluate", INTEGRATION_PATH, capsys=capsys)
    assert result.code == 1 and "nhi-rotation-too-long" in result.out + result.err


def test_an_integration_needs_vendor_and_credential(repo, capsys):
    text = INTEGRATION.split("vendor:")[0]
    rejected(repo, capsys, INTEGRATION_PATH, text, "`vendor` is a required property")


def test_a_ci_use_on_gcp_is_refused(repo, capsys):
    text = GCP_AGENT.replace("use: agent", "use: ci").replace("max_session_minutes: 60\n", "").replace(
        "impersonated_by: serviceAccount:agent-runtime@acme-data-prod.iam.gserviceaccount.com\n", "")
    rejected(repo, capsys, GCP_AGENT_PATH, text, "provider is 'gcp'")


def test_an_aws_agent_trusts_its_runtime_or_oidc_never_both(repo, capsys):
    text = AGENT + "oidc:\n  repository: acme/triage-assistant\n  ref: refs/heads/main\n"
    rejected(repo, capsys, AGENT_PATH, text, "does not belong with its provider or `use`")
