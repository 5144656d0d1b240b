package access.rules.sod_test

import data.access.fixtures
import data.access.rules.sod

_deploy := [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "DeployProd"}]

_approve_grant(principal) := {
	"provider": "aws", "target": "111111111111", "principal": principal, "kind": "aws-sso-assignment",
	"entitlement": "ApproveDeploys", "expires": "2026-12-01T00:00:00Z", "request": "requests/aws/acme-dev/other.yaml",
}

test_allow_sod_other_principal_holds_other_side if {
	req := fixtures.with_request({"grants": _deploy, "expires": "2026-11-23T00:00:00Z"})
	inp := fixtures.input_with_state(req, [_approve_grant("user:alice@acme.example")])
	count(sod.deny) == 0 with input as inp with data.org as fixtures.org
}

test_deny_sod_conflict_with_existing_grant if {
	req := fixtures.with_request({"grants": _deploy, "expires": "2026-11-23T00:00:00Z"})
	inp := fixtures.input_with_state(req, [_approve_grant("user:bob@acme.example")])
	expected := {fixtures.violation(sod._rules, "sod-conflict", "user:bob@acme.example would hold both DeployProd and ApproveDeploys in 111111111111 (deploy-and-approve; the other grant is in requests/aws/acme-dev/other.yaml): Whoever deploys must not approve deployments.")}
	sod.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_sod_conflict_within_one_request if {
	both := array.concat(_deploy, [{"kind": "aws-sso-assignment", "target": "acme-dev", "entitlement": "ApproveDeploys"}])
	inp := fixtures.input_for(fixtures.with_request({"grants": both, "expires": "2026-11-23T00:00:00Z"}))
	expected := {
		fixtures.violation(sod._rules, "sod-conflict", "user:bob@acme.example would hold both DeployProd and ApproveDeploys in 111111111111 (deploy-and-approve; the other grant is in requests/aws/acme-dev/req.yaml): Whoever deploys must not approve deployments."),
		fixtures.violation(sod._rules, "sod-conflict", "user:bob@acme.example would hold both ApproveDeploys and DeployProd in 111111111111 (deploy-and-approve; the other grant is in requests/aws/acme-dev/req.yaml): Whoever deploys must not approve deployments."),
	}
	sod.deny == expected with input as inp with data.org as fixtures.org
}

test_deny_sod_conflict_through_a_team if {
	req := fixtures.with_request({"grants": _deploy, "expires": "2026-11-23T00:00:00Z"})
	inp := {"file": fixtures.file, "now": fixtures.now, "request": req, "state": {"grants": [_approve_grant("group:platform")], "related": ["group:platform"]}}
	expected := {fixtures.violation(sod._rules, "sod-conflict", "user:bob@acme.example would hold both DeployProd and ApproveDeploys in 111111111111 (deploy-and-approve; the other grant is in requests/aws/acme-dev/other.yaml held by group:platform): Whoever deploys must not approve deployments.")}
	sod.deny == expected with input as inp with data.org as fixtures.org
}

test_allow_sod_team_of_someone_else if {
	req := fixtures.with_request({"grants": _deploy, "expires": "2026-11-23T00:00:00Z"})
	inp := {"file": fixtures.file, "now": fixtures.now, "request": req, "state": {"grants": [_approve_grant("group:data")], "related": ["group:platform"]}}
	count(sod.deny) == 0 with input as inp with data.org as fixtures.org
}
