"""Invariant: a service account's owner team approves its definition and
every grant to it, besides the target's owners; when it owns the target
too, the owner approval comes from security (owners never approve alone)."""
from __future__ import annotations

from approvals_rig import green, red, request, rig  # noqa: F401

EDITOR = "requests/gcp/acme-data-prod/etl-runner-editor.yaml"


def test_a_grant_to_a_teams_own_service_account_on_its_own_project_needs_security(rig, capsys):
    text = rig.repo.read(EDITOR).replace('expires: "2026-12-20"', 'expires: "2026-12-19"')
    rig.push({EDITOR: text}, author="dave-acme")
    rig.review("erin-acme")  # data owns both etl-runner and acme-data-prod
    rig.review("frank-acme")
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs one more approval from @acme/security"
    rig.review("ivan-acme")
    green(rig, capsys)


def test_naming_another_team_as_owner_does_not_route_around_the_target_owner(rig, capsys):
    sa = ("apiVersion: accessctl/v1\nkind: ServiceAccount\nprovider: gcp\nname: report-bot\n"
          "project: acme-data-dev\nowner: platform\npurpose: Builds the weekly usage reports.\n"
          "requester: alice-acme\nexpires: \"2027-06-30\"\n")
    rig.push({"requests/gcp/acme-data-dev/report-bot.yaml": sa}, author="alice-acme")
    rig.review("erin-acme")  # data owns the project, but platform will answer for the account
    doc = red(rig, capsys)
    assert doc["headline"] == "Needs one more approval from @acme/platform"
    rig.review("carol-acme")  # platform, the owner it names
    green(rig, capsys)


def test_the_owner_team_must_approve_a_grant_to_its_service_account(rig, capsys):
    # billing-deployer is platform's, on platform's account: a grant to it
    # approved by the account's owners alone is not enough
    path = "requests/aws/acme-dev/billing-deployer-s3.yaml"
    text = request("serviceAccount:acme-dev/billing-deployer", "alice-acme",
                   "  - {kind: aws-role-policy, account: acme-dev, policy: \"arn:aws:iam::aws:policy/AmazonS3FullAccess\"}\n",
                   "2026-12-15", justification="The deploy job uploads the build artifacts to S3.")
    rig.push({path: text}, author="alice-acme")
    rig.review("bob-acme")
    assert red(rig, capsys)["headline"] == "Needs one more approval from @acme/security"
    rig.review("judy-acme")
    green(rig, capsys)
