"""``accessctl evaluate`` as a user sees it, and safety invariant 1: a PR
cannot change the policies or org model that judge it."""
from __future__ import annotations

import json

from conftest import git

CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"
LONG = """apiVersion: accessctl/v1
kind: AccessRequest
principal: user:carol@acme.example
requester: carol-acme
justification: Migrate the staging queues to the new event bus before the freeze.
expires: "2027-06-01"
grants:
  - {kind: aws-sso-assignment, account: acme-staging, permission_set: PowerUser}
"""


def pr_context(repo, base, files, reviews=(), author="carol-acme"):
    head = git(repo.root, "rev-parse", "HEAD").strip()
    ctx = {"number": 42, "author": author, "head_sha": head, "base_sha": base,
           "files": [{"path": f, "status": "added"} for f in files],
           "reviews": [{"user": u, "state": "APPROVED", "commit_id": sha or head, "teams": teams}
                       for u, teams, sha in reviews]}
    path = repo.root.parent / "pr.json"
    path.write_text(json.dumps(ctx))
    return str(path)


def test_samples_are_allowed(repo, capsys):
    result = repo.run("evaluate", capsys=capsys)
    assert result.code == 0, result.out + result.err
    assert result.out.count("ALLOW") == 12 and "DENY" not in result.out


def test_denied_file_shows_message_and_fix_and_exits_1(repo, capsys):
    repo.write(CAROL, LONG)
    result = repo.run("evaluate", CAROL, capsys=capsys)
    assert result.code == 1
    assert f"DENY  {CAROL}" in result.out
    assert "at most 720 hours" in result.out and "fix: Move `expires` earlier" in result.out


def test_json_is_one_object_per_file(repo, capsys):
    repo.write(CAROL, LONG)
    result = repo.run("evaluate", "--format", "json", capsys=capsys)
    docs = json.loads(result.out)
    assert len(docs) == 12 and result.code == 1
    carol = next(d for d in docs if d["file"] == CAROL)
    assert carol["allow"] is False
    assert [v["rule"] for v in carol["violations"]] == ["expiry-too-long"]
    assert {"file", "allow", "violations"} <= set(carol)


def test_markdown_format(repo, capsys):
    repo.write(CAROL, LONG)
    result = repo.run("evaluate", CAROL, "--format", "markdown", capsys=capsys)
    assert "❌ DENY `requests/aws/acme-staging/carol-poweruser.yaml`" in result.out
    assert "**Expiry beyond the tier maximum** (`expiry-too-long`)" in result.out


def test_pr_cannot_change_the_rules_that_judge_it(repo, capsys):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    # The PR raises the sensitive maximum in the org model, deletes the
    # expiry rule and asks for more than the base allows.
    tiers = repo.read("policies/data/tiers.yaml").replace("max_hours: 720 ", "max_hours: 9000 ")
    repo.write("policies/data/tiers.yaml", tiers)
    (repo.root / "policies/access/rules/expiry/expiry.rego").unlink()
    (repo.root / "policies/access/rules/expiry/expiry_test.rego").unlink()
    repo.write("policies/access/decision.rego", repo.read("policies/access/decision.rego")
               .replace("import data.access.rules.expiry\n", "")
               .replace("_found contains v if some v in expiry.deny\n\n", ""))
    repo.write(CAROL, LONG)
    repo.commit("weaken the rules and ask for more")

    # Judged by its own head the PR would pass: that is what must not happen.
    assert repo.run("evaluate", CAROL, capsys=capsys).code == 0
    result = repo.run("evaluate", CAROL, "--base", base, "--format", "json", capsys=capsys)
    assert result.code == 1
    assert [v["rule"] for v in json.loads(result.out)[0]["violations"]] == ["expiry-too-long"]

    ctx = pr_context(repo, base, [CAROL, "policies/data/tiers.yaml"], [("alice-acme", ["acme/platform"], None)])
    result = repo.run("evaluate", "--pr-context", ctx, "--format", "json", capsys=capsys)
    assert result.code == 1
    rules = [v["rule"] for v in json.loads(result.out)[0]["violations"]]
    assert rules == ["expiry-too-long", "pr-mixes-rules-and-requests"]


def test_approvals_count_only_from_others_on_the_head_commit(repo, capsys):
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(CAROL, LONG.replace('"2027-06-01"', '"2026-12-20"'))
    repo.commit("carol asks")
    files = [CAROL]
    own = pr_context(repo, base, files, [("carol-acme", ["acme/platform"], None)])
    assert repo.run("evaluate", "--pr-context", own, capsys=capsys).code == 1
    stale = pr_context(repo, base, files, [("alice-acme", ["acme/platform"], base)])
    result = repo.run("evaluate", "--pr-context", stale, capsys=capsys)
    assert result.code == 1 and "Owner approval" not in result.out and "counted: none" in result.out
    good = pr_context(repo, base, files, [("alice-acme", ["acme/platform"], None)])
    result = repo.run("evaluate", "--pr-context", good, capsys=capsys)
    assert result.code == 0, result.out
    assert result.out.count("ALLOW") == 1  # only the PR's request files are judged


def test_separation_of_duties_spans_the_files_of_one_pr(repo, capsys):
    for name, ps in (("deploy", "DeployProd"), ("approve", "ApproveDeploys")):
        repo.write(f"requests/aws/acme-prod/niaj-{name}.yaml", f"""apiVersion: accessctl/v1
kind: AccessRequest
principal: user:niaj@acme.example
requester: niaj-acme
justification: Release duty for the payments launch in the coming weeks.
ticket: OPS-9
expires: "2026-12-10"
grants:
  - {{kind: aws-sso-assignment, account: acme-prod, permission_set: {ps}}}
""")
    result = repo.run("evaluate", "requests/aws/acme-prod", "--format", "json", capsys=capsys)
    docs = {d["file"]: d for d in json.loads(result.out)}
    assert result.code == 1
    for name in ("deploy", "approve"):
        rules = [v["rule"] for v in docs[f"requests/aws/acme-prod/niaj-{name}.yaml"]["violations"]]
        assert rules == ["sod-conflict"]


def test_separation_of_duties_counts_access_held_through_a_team(repo, capsys):
    """bob is in team sre; sre approves deployments on main, so bob asking to
    deploy would let one person do both."""
    def request(principal, requester, ps):
        return f"""apiVersion: accessctl/v1
kind: AccessRequest
principal: {principal}
requester: {requester}
justification: Release duty for the payments launch in the coming weeks.
ticket: OPS-9
expires: "2026-12-10"
grants:
  - {{kind: aws-sso-assignment, account: acme-prod, permission_set: {ps}}}
"""
    repo.write("requests/aws/acme-prod/sre-approve.yaml", request("group:sre", "niaj-acme", "ApproveDeploys"))
    base = repo.commit("sre approves deployments")
    repo.write("requests/aws/acme-prod/bob-deploy.yaml", request("user:bob@acme.example", "bob-acme", "DeployProd"))
    repo.write("requests/aws/acme-prod/alice-deploy.yaml", request("user:alice@acme.example", "alice-acme",
                                                                  "DeployProd"))
    repo.commit("bob and alice ask to deploy")
    result = repo.run("evaluate", "requests/aws/acme-prod/bob-deploy.yaml", "requests/aws/acme-prod/alice-deploy.yaml",
                      "--base", base, "--format", "json", capsys=capsys)
    docs = {d["file"]: d for d in json.loads(result.out)}
    [bob] = docs["requests/aws/acme-prod/bob-deploy.yaml"]["violations"]
    assert bob["rule"] == "sod-conflict" and "held by group:sre" in bob["message"]
    assert docs["requests/aws/acme-prod/alice-deploy.yaml"]["allow"], "alice is not in sre"


def test_explain_input_reproduces_the_decision_with_real_opa(repo, capsys):
    from opa_bindings import OpaEngine
    repo.write(CAROL, LONG)
    explained = json.loads(repo.run("evaluate", CAROL, "--explain-input", capsys=capsys).out)
    assert set(explained) == {"input", "data"} and set(explained["data"]) == {"org"}
    decided = json.loads(repo.run("evaluate", CAROL, "--format", "json", capsys=capsys).out)[0]
    opa = OpaEngine()
    for path in sorted((repo.root / "policies").rglob("*.rego")):
        if not path.name.endswith("_test.rego"):
            opa.add_policy(str(path.relative_to(repo.root)), path.read_text())
    opa.add_data(explained["data"])
    result = opa.eval_document("access.decision", explained["input"])
    assert result["allow"] is False and result["violations"] == decided["violations"]


def test_invalid_file_is_denied_without_traceback(repo):
    repo.write("requests/aws/acme-dev/broken.yaml", "apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: [\n")
    result = repo.run_process("evaluate", "requests/aws/acme-dev/broken.yaml")
    assert result.code == 1 and "Traceback" not in result.err
    assert "DENY" in result.out and "broken.yaml" in result.out


def test_pr_number_without_github_environment_is_a_usage_error(repo, capsys):
    result = repo.run("evaluate", "--pr", "5", capsys=capsys)
    assert result.code == 2
    assert "GITHUB_TOKEN" in result.err and "--pr-context" in result.err


def test_unknown_base_and_bad_context_are_usage_errors(repo, capsys):
    assert repo.run("evaluate", "--base", "nope", capsys=capsys).code == 2
    bad = repo.root.parent / "bad.json"
    bad.write_text('{"number": "x"}')
    result = repo.run("evaluate", "--pr-context", str(bad), capsys=capsys)
    assert result.code == 2 and "number must be int" in result.err


def test_pr_number_reads_the_pr_from_github(repo, capsys, monkeypatch):
    from tools.sandbox.github import FakeGitHub
    base = git(repo.root, "rev-parse", "HEAD").strip()
    repo.write(CAROL, LONG.replace('"2027-06-01"', '"2026-12-20"'))
    repo.commit("carol asks")
    with FakeGitHub() as gh:
        gh.add_team("platform", ["alice-acme", "carol-acme"])
        number = gh.add_pr("carol-acme", [(CAROL, "modified")])
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", "x")
        monkeypatch.setenv("GITHUB_REPOSITORY", gh.full_name)
        gh.add_review(number, "carol-acme")  # the author's own approval does not count
        denied = repo.run("evaluate", "--pr", str(number), "--base", base, capsys=capsys)
        assert denied.code == 1 and "counted: none" in denied.out
        gh.add_review(number, "alice-acme")
        allowed = repo.run("evaluate", "--pr", str(number), "--base", base, capsys=capsys)
    assert allowed.code == 0, allowed.out + allowed.err
    assert f"ALLOW {CAROL}" in allowed.out


def test_whole_state_run_judges_invalid_files_as_file_by_file(repo, capsys):
    """A run over every request file validates the files it already read for
    the decisions; naming every file instead reads and validates them folder
    by folder. Both must deny the same files for the same reasons: a
    duplicate grant, a file outside a target folder, an unknown service
    account, a schema error, YAML anchors, a folder of no target."""
    duplicate = LONG.replace("2027-06-01", "2026-12-01")
    repo.write("requests/aws/acme-staging/carol-again.yaml", duplicate)
    repo.write(CAROL, duplicate)
    repo.write("requests/stray.yaml", duplicate)
    repo.write("requests/aws/acme-staging/deeper/carol.yaml", duplicate)
    repo.write("requests/aws/acme-nowhere/carol.yaml", duplicate)
    repo.write("requests/aws/acme-staging/anchors.yaml", "a: &x 1\nb: *x\n")
    repo.write("requests/aws/acme-staging/no-grants.yaml", duplicate.split("grants:")[0] + "grants: []\n")
    repo.write("requests/aws/acme-staging/ghost.yaml", duplicate.replace(
        "principal: user:carol@acme.example", "principal: serviceAccount:acme-staging/ghost"))
    whole = repo.run("evaluate", "--format", "json", capsys=capsys)
    named = [d["file"] for d in json.loads(whole.out)]
    each = repo.run("evaluate", "--format", "json", *named, capsys=capsys)
    assert whole.code == each.code == 1
    assert json.loads(whole.out) == json.loads(each.out)
    denied = {d["file"] for d in json.loads(whole.out) if not d["allow"]}
    assert {CAROL, "requests/stray.yaml",
            "requests/aws/acme-staging/anchors.yaml", "requests/aws/acme-staging/no-grants.yaml",
            "requests/aws/acme-staging/ghost.yaml", "requests/aws/acme-nowhere/carol.yaml"} <= denied, denied
