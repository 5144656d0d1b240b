"""The AWS fake refuses what IAM refuses, and the connector writes what
GitHub's OIDC tokens actually carry.

moto accepts any role description and tag value; IAM checks them against
botocore's service model (roleDescriptionType, tagValueType). The fake puts
those constraints back in front of moto, so a description with curly quotes
fails here as it would at CreateRole.
"""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError
from conftest import PROJECT
from test_aws_connector import DEV, ci_role, connector, converge, dev

from connectors.aws_iam import parse_trust, trust_policy
from tools.core.limits import aws_role_description_problem, aws_tag_value_problem
from tools.core.orgmodel import load
from tools.core.repo import Tree
from tools.sandbox.aws import FakeAws

TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


@pytest.fixture(scope="module")
def org():
    return load(Tree(PROJECT))


@pytest.fixture(scope="module")
def server():
    with FakeAws() as fake:
        yield fake


@pytest.fixture
def aws(server, org, monkeypatch):
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    server.reset()
    server.seed(org)
    return server


@pytest.mark.parametrize("description", ["Deploys the \u201cbilling\u201d service", "x" * 1001, "em \u2014 dash"])
def test_fake_refuses_descriptions_iam_refuses(aws, description):
    iam = aws.client("iam", DEV)
    with pytest.raises(ClientError, match="ValidationError.*'description' failed to satisfy constraint"):
        iam.create_role(RoleName="r-one", AssumeRolePolicyDocument=TRUST, Description=description)
    iam.create_role(RoleName="r-two", AssumeRolePolicyDocument=TRUST, Description="plain")
    with pytest.raises(ClientError, match="ValidationError"):
        iam.update_role(RoleName="r-two", Description=description)
    assert iam.get_role(RoleName="r-two")["Role"]["Description"] == "plain"


@pytest.mark.parametrize("value", ["v" * 257, "a#b", "semi;colon"])
def test_fake_refuses_tag_values_iam_refuses(aws, value):
    iam = aws.client("iam", DEV)
    with pytest.raises(ClientError, match="ValidationError.*tags"):
        iam.create_role(RoleName="r-one", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "k", "Value": value}])
    iam.create_role(RoleName="r-two", AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError, match="ValidationError"):
        iam.tag_role(RoleName="r-two", Tags=[{"Key": "k", "Value": value}])


@pytest.mark.parametrize("text", ["plain ASCII, with 'quotes' - and \u00e9", "\u201cq\u201d", "x" * 1001])
def test_validation_and_the_fake_agree_on_descriptions(aws, text):
    """The two paths (tools.core.limits at validation, the fake from botocore's
    model) must give the same verdict."""
    iam = aws.client("iam", DEV)
    try:
        iam.create_role(RoleName="agree", AssumeRolePolicyDocument=TRUST, Description=text)
        accepted = True
    except ClientError:
        accepted = False
    assert accepted == (aws_role_description_problem(text) is None)


def test_validation_and_the_fake_agree_on_many_tag_values(aws):
    iam = aws.client("iam", DEV)
    iam.create_role(RoleName="tagged", AssumeRolePolicyDocument=TRUST)
    samples = ["requests/aws/acme-dev/a.yaml", "2027-01-01T00:00:00Z", "x" * 256, "x" * 257, "caf\u00e9 team",
               "a#b", "tab\there", "plus+equals=at@colon:", "\u201c", "emoji \U0001F600", "", "spaces  ok"]
    for value in samples:
        try:
            iam.tag_role(RoleName="tagged", Tags=[{"Key": "k", "Value": value}])
            accepted = True
        except ClientError:
            accepted = False
        assert accepted == (aws_tag_value_problem(value) is None), value


def test_connector_reports_a_refused_description_as_a_failed_change(aws, org):
    bad = replace(ci_role(), attributes=tuple(sorted({**dict(ci_role().attributes),
                                                      "purpose": "Deploys \u201cbilling\u201d"}.items())))
    _, results = converge(org, dev(org), [bad])
    assert not results[0].ok and "ValidationError" in results[0].error


@pytest.mark.parametrize("ref,sub,operator", [
    ("refs/heads/main", "repo:acme/billing-service:ref:refs/heads/main", "StringEquals"),
    ("environment:production", "repo:acme/billing-service:environment:production", "StringEquals"),
    ("refs/tags/v*", "repo:acme/billing-service:ref:refs/tags/v*", "StringLike"),
])
def test_trust_names_what_githubs_token_carries(ref, sub, operator):
    doc = trust_policy(DEV, "acme/billing-service", ref, None)
    assert doc["Statement"][0]["Condition"][operator]["token.actions.githubusercontent.com:sub"] == sub
    assert parse_trust(doc)[:2] == ("acme/billing-service", ref)


def test_environment_trust_round_trips_through_iam(aws, org):
    role = ci_role(ref="environment:production")
    _, results = converge(org, dev(org), [role])
    assert all(r.ok for r in results), results
    assert [g for g in connector(org).read(dev(org)) if g.kind == "aws-ci-role"] == [role]
