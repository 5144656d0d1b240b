"""Validation refuses ServiceAccount files the cloud would refuse at apply,
or that reach for the pipeline's own identities or trust outside the org."""
from __future__ import annotations

import pytest
from test_validate import SA, SA_PATH
from test_yamlsafe import line_of, rejected

AWS = """\
apiVersion: accessctl/v1
kind: ServiceAccount
provider: aws
name: billing-deployer
account: acme-dev
owner: platform
purpose: Deploys the billing service to dev from its main branch through GitHub Actions.
requester: alice-acme
expires: "2027-05-01"
oidc:
  repository: acme/billing-service
  ref: refs/heads/main
"""
AWS_PATH = "requests/aws/acme-dev/billing-deployer.yaml"


def test_samples_pass(repo, capsys):
    repo.write(AWS_PATH, AWS)
    assert repo.run("validate", capsys=capsys).code == 0


@pytest.mark.parametrize("purpose,expect", [
    ("Deploys the \u201cbilling\u201d service \u2014 from main.", "U+201C"),
    ("Deploys the billing service to dev \u2192 every night, says the \u2122 team.", "U+2192"),
])
def test_aws_purpose_outside_the_role_description_pattern(repo, capsys, purpose, expect):
    """(The 1,000-character maximum is the schema's maxLength for `purpose`.)"""
    text = AWS.replace("purpose: Deploys the billing service to dev from its main branch through GitHub Actions.",
                       f"purpose: \"{purpose}\"")
    line = rejected(repo, capsys, AWS_PATH, text, "`purpose` becomes the IAM role's description", line_of(text, "purpose:"))
    assert expect in line and "plain ASCII" in line


def test_aws_request_path_too_long_for_a_tag_value(repo, capsys):
    path = "requests/aws/acme-dev/" + "billing-deployer-" * 14 + "x.yaml"
    text = AWS.replace("name: billing-deployer", "name: long-named-deployer")
    rejected(repo, capsys, path, text, "over IAM's 256 for a tag value")


def test_gcp_account_id_over_30_characters(repo, capsys):
    name = "report-builder-for-the-weekly-revenue"
    text = SA.replace("name: report-builder", f"name: {name}")
    rejected(repo, capsys, f"requests/gcp/acme-data-dev/{name}.yaml", text, "6-30 characters", line_of(text, "name:"))


def test_gcp_description_over_256_bytes(repo, capsys):
    """120 characters pass the schema, but GCP counts UTF-8 bytes, with the
    owner, request path and expiry added to the description."""
    text = SA.replace("purpose: Builds the weekly revenue report from the billing tables.",
                      "purpose: " + "Résumé des revenus hebdomadaires, généré à partir des tables — " + "é" * 50)
    rejected(repo, capsys, SA_PATH, text, "over GCP's 256", line_of(text, "purpose:"))


@pytest.mark.parametrize("provider,name", [("aws", "accessctl-applier"), ("aws", "accessctl-planner"),
                                           ("gcp", "accessctl-applier"), ("gcp", "accessctl-something")])
def test_names_of_the_pipelines_own_identities_are_reserved(repo, capsys, provider, name):
    if provider == "aws":
        text, path = AWS.replace("name: billing-deployer", f"name: {name}"), f"requests/aws/acme-dev/{name}.yaml"
    else:
        text, path = SA.replace("name: report-builder", f"name: {name}"), f"requests/gcp/acme-data-dev/{name}.yaml"
    rejected(repo, capsys, path, text, "reserved" if name.endswith("something") else "the pipeline's own identity",
             line_of(text, "name:"))


@pytest.mark.parametrize("repository,ref,expect", [
    ("evil-corp/billing-service", "refs/heads/main", "allowed: acme/<repository>"),
    ("acme-evil/billing-service", "refs/heads/main", "outside the organisation"),
    ("acme/billing-service", "refs/pull/1/merge", "allowed: refs/heads/<branch>, refs/tags/<tag> or environment:<name>"),
])
def test_oidc_trust_outside_the_organisation_is_refused_with_the_allowed_values(repo, capsys, repository, ref, expect):
    text = AWS.replace("repository: acme/billing-service", f"repository: {repository}").replace(
        "ref: refs/heads/main", f"ref: {ref}")
    rejected(repo, capsys, AWS_PATH, text, expect, line_of(text, "oidc:"))


def test_oidc_allow_list_in_the_org_model_replaces_the_org_rule(repo, capsys):
    org = (repo.root / "policies/data/organization.yaml").read_text()
    repo.write("policies/data/organization.yaml",
               org.replace("  github_org: acme\n", "  github_org: acme\n  oidc_repositories: [acme/deploy-tools]\n", 1))
    line = rejected(repo, capsys, AWS_PATH, AWS, "allowed: acme/deploy-tools", line_of(AWS, "oidc:"))
    assert "organization.oidc_repositories" in line
    repo.write(AWS_PATH, AWS.replace("acme/billing-service", "acme/deploy-tools").replace(
        "ref: refs/heads/main", "ref: environment:production"))
    assert repo.run("validate", capsys=capsys).code == 0
