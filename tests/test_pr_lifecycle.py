"""A PR's whole life against the loopback GitHub fake, through PyGithub.

Each test builds a real git repository (base commit, then head commits),
seeds the fake with the same SHAs and changed files (``git diff
--name-status``), and runs ``accessctl check-pr`` as the workflow does:
GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL and
ACCESSCTL_BASE_SHA set, nothing else.
"""
from __future__ import annotations

import json

import pytest
from conftest import git

from tools.sandbox.github import APP_ID, FakeGitHub

STATUS = "accessctl/check-pr"
TEAMS = {"platform": ["alice-acme", "bob-acme", "carol-acme"], "data": ["dave-acme", "erin-acme", "frank-acme"],
         "payments": ["grace-acme", "heidi-acme"], "security": ["ivan-acme", "judy-acme"],
         "sre": ["niaj-acme", "olivia-acme", "bob-acme"]}
CAROL = "requests/aws/acme-staging/carol-poweruser.yaml"
ADMIN = "requests/aws/acme-prod/olivia-admin.yaml"


def request(principal: str, requester: str, grants: str, expires: str, extra: str = "",
            justification: str = "Migrate the staging queues to the new event bus before the freeze.") -> str:
    return (f"apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: {principal}\nrequester: {requester}\n"
            f"justification: {json.dumps(justification)}\n{extra}expires: \"{expires}\"\ngrants:\n{grants}")


def carol(expires: str = "2026-12-20", **kw) -> str:
    return request("user:carol@acme.example", "carol-acme",
                   "  - {kind: aws-sso-assignment, account: acme-staging, permission_set: PowerUser}\n", expires, **kw)


def admin(expires: str = "2026-11-22T20:00:00Z", ticket: str = "OPS-7", extra: str = "") -> str:
    return request("user:olivia@acme.example", "olivia-acme",
                   "  - {kind: aws-sso-assignment, account: acme-prod, permission_set: AdministratorAccess}\n",
                   expires, f"ticket: {ticket}\n{extra}",
                   justification="Restore the payments queue after incident INC-12 broke the consumer.")


class Rig:
    """One access repository, one fake GitHub, one PR at a time."""

    def __init__(self, repo, gh: FakeGitHub, monkeypatch, tmp_path):
        self.repo, self.gh, self.tmp = repo, gh, tmp_path
        self.base = git(repo.root, "rev-parse", "HEAD").strip()
        self.number: int | None = None
        for slug, members in TEAMS.items():
            gh.add_team(slug, members)
        for name, value in (("GITHUB_API_URL", gh.url), ("GITHUB_TOKEN", "x"),
                            ("GITHUB_REPOSITORY", gh.full_name), ("ACCESSCTL_BASE_SHA", self.base)):
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))

    def _files(self, head: str) -> list[tuple[str, str]]:
        status = {"A": "added", "M": "modified", "D": "removed"}
        out = git(self.repo.root, "diff", "--name-status", "--no-renames", self.base, head)
        return [(line.split("\t")[1], status[line[0]]) for line in out.splitlines()]

    def push(self, files: dict[str, str | None], author: str = "carol-acme", message: str = "change") -> str:
        """Commit ``files`` (None deletes) and open or update the PR to that commit."""
        for path, text in files.items():
            if text is None:
                (self.repo.root / path).unlink()
            else:
                self.repo.write(path, text)
        head = self.repo.commit(message)
        changed = self._files(head)
        if self.number is None:
            self.gh.branches["main"]["sha"] = self.base
            self.number = self.gh.add_pr(author, changed, head_sha=head)
        else:
            pr = self.gh.pulls[self.number]
            pr.head_sha, pr.files = head, self.gh._files(changed)
        self._event("pull_request")
        return head

    def _event(self, name: str) -> None:
        """pull_request_target on a push; after a review, the workflow_run
        event the default branch's re-check workflow gets (it names the PR)."""
        pr = self.gh.pulls[self.number]
        if name == "pull_request":
            event = {"action": "synchronize",
                     "pull_request": {"number": pr.number, "title": pr.title, "body": pr.body,
                                      "base": {"sha": pr.base_sha, "ref": "main"},
                                      "head": {"sha": pr.head_sha, "ref": pr.head_ref}}}
        else:
            event = {"action": "completed", "workflow_run": {
                "name": "Review submitted", "event": "pull_request_review", "head_sha": pr.head_sha,
                "head_branch": pr.head_ref, "pull_requests": [{"number": pr.number}]}}
        (self.tmp / "event.json").write_text(json.dumps(event))

    def review(self, user: str, state: str = "APPROVED", commit: str | None = None) -> None:
        self.gh.add_review(self.number, user, state, commit_id=commit or "head")
        self._event("pull_request_review")

    @property
    def head(self) -> str:
        return self.gh.pulls[self.number].head_sha

    def check(self, capsys) -> dict:
        result = self.repo.run("check-pr", "--format", "json", capsys=capsys)
        assert result.code in (0, 1), result.err
        doc = json.loads(result.out)
        assert result.code == (0 if doc["allow"] else 1)
        return doc

    def status(self, sha: str | None = None) -> str | None:
        """The newest accessctl/check-pr check run of the pipeline's App on the head."""
        found = [r for r in self.gh.check_runs.values() if r["head_sha"] == (sha or self.head)
                 and r["name"] == STATUS and r["app"]["id"] == APP_ID]
        return max(found, key=lambda r: r["id"])["conclusion"] if found else None

    def comments(self) -> list[str]:
        return [c["body"] for c in self.gh.pr_comments(self.number)]


@pytest.fixture
def rig(repo, monkeypatch, tmp_path):
    with FakeGitHub() as gh:
        yield Rig(repo, gh, monkeypatch, tmp_path)


def test_standard_request_denied_then_fixed_then_approved(rig, capsys):
    rig.push({CAROL: carol("2027-06-01")})
    doc = rig.check(capsys)
    assert doc["verdict"] == "denied" and rig.status() == "failure"
    assert doc["headline"].startswith("Denied: aws-sso-assignment \"PowerUser\" is sensitive tier: at most 720 hours")
    assert "Move `expires` earlier" in doc["next_step"]
    body = rig.comments()[0]
    assert body.startswith("<!-- accessctl:check-pr -->\n### ❌ Denied:")

    rig.push({CAROL: carol("2026-12-20")}, message="shorter")
    doc = rig.check(capsys)
    assert doc["verdict"] == "needs-approval"
    assert doc["headline"] == "Needs one more approval from @acme/platform"
    assert rig.status() == "failure"

    rig.review("alice-acme")
    doc = rig.check(capsys)
    assert doc["verdict"] == "allowed" and doc["allow"] is True
    assert rig.status() == "success"
    assert doc["approvals"]["files"][0]["approved_by"] == ["alice-acme"]
    assert len(rig.comments()) == 1 and rig.comments()[0].splitlines()[1].startswith("### ✅ Allowed")


def test_privileged_needs_owner_then_security_and_ignores_the_requester(rig, capsys):
    rig.push({ADMIN: admin()}, author="olivia-acme")
    doc = rig.check(capsys)
    assert doc["headline"] == "Needs 2 more approvals: one from @acme/sre and one from @acme/security"

    rig.review("olivia-acme")  # the requester and beneficiary approving her own access
    rig.review("niaj-acme")  # sre: enough for a standard role, not for a privileged one
    doc = rig.check(capsys)
    assert doc["verdict"] == "needs-approval" and rig.status() == "failure"
    assert doc["headline"] == "Needs one more approval from @acme/security"
    approvals = doc["approvals"]["files"][0]
    assert approvals["approved_by"] == ["niaj-acme"]
    assert approvals["ignored"] == [{"user": "olivia-acme", "why": "the beneficiary and the requester and the PR "
                                     "author: a party to the request cannot approve it"}]
    assert "Needs one more approval from @acme/security" in rig.comments()[0].splitlines()[1]

    rig.review("ivan-acme")  # security, on the head commit: the check turns green without a push
    doc = rig.check(capsys)
    assert doc["verdict"] == "allowed" and rig.status() == "success"
    assert sorted(doc["approvals"]["files"][0]["approved_by"]) == ["ivan-acme", "niaj-acme"]


def test_old_commit_and_outside_reviewers_do_not_count(rig, capsys):
    first = rig.push({CAROL: carol("2026-12-20")}, author="bob-acme")
    rig.review("alice-acme")  # on the first commit
    rig.push({CAROL: carol("2026-12-19")}, author="bob-acme", message="one day less")
    rig.review("dave-acme")  # data team: not an owner of acme-staging
    rig.review("carol-acme")  # the beneficiary, in the owning team
    doc = rig.check(capsys)
    assert doc["verdict"] == "needs-approval"
    assert doc["headline"] == "Needs one more approval from @acme/platform"
    ignored = {i["user"]: i["why"] for i in doc["approvals"]["files"][0]["ignored"]}
    assert ignored["alice-acme"].startswith(f"approved an older commit ({first[:7]})")
    assert ignored["dave-acme"] == "not in a team that must approve (@acme/platform)"
    assert ignored["carol-acme"].startswith("the beneficiary and the requester")
    rig.review("alice-acme")  # again, on the head commit
    assert rig.check(capsys)["verdict"] == "allowed" and rig.status() == "success"


def test_policy_change_with_a_request_is_judged_by_the_base_rules(rig, capsys):
    tiers = rig.repo.read("policies/data/tiers.yaml").replace("max_hours: 720 ", "max_hours: 9000 ")
    rig.push({"policies/data/tiers.yaml": tiers, CAROL: carol("2027-06-01")})
    rig.review("alice-acme")
    rig.review("ivan-acme")
    doc = rig.check(capsys)
    assert doc["verdict"] == "denied" and rig.status() == "failure"
    rules = [v["rule"] for v in doc["files"][0]["violations"]]
    assert rules == ["expiry-too-long", "pr-mixes-rules-and-requests"]
    # Judged by the head's own rules (no base, no PR) the same file would pass.
    assert rig.repo.run("evaluate", CAROL, capsys=capsys).code == 0


def test_one_comment_updated_in_place_across_five_pushes(rig, capsys):
    heads = []
    for day in range(10, 15):
        heads.append(rig.push({CAROL: carol(f"2026-12-{day}")}, message=f"day {day}"))
        rig.check(capsys)
    assert len(rig.comments()) == 1
    assert rig.gh.count("POST", f"/issues/{rig.number}/comments") == 1
    body = rig.comments()[0]
    assert f"head `{heads[-1][:7]}`" in body and "2026-12-14" in body
    assert all(rig.status(h) for h in heads)


def test_break_glass_opens_one_review_issue_and_closes_it_when_dropped(rig, capsys):
    glass = admin(expires="2026-11-22T15:00:00Z", extra="break_glass: true\n")
    rig.push({ADMIN: glass}, author="olivia-acme")
    rig.review("niaj-acme")
    doc = rig.check(capsys)
    assert doc["verdict"] == "allowed", doc["headline"]  # break-glass: one owner approval
    number = doc["github"]["break_glass_issue"]
    issue = rig.gh.issues[number]
    assert issue["state"] == "open" and "break-glass" in issue["title"].lower()
    assert f"PR #{rig.number}" in issue["body"] and "user:olivia@acme.example" in issue["body"]
    assert f"Post-incident review: #{number}" in rig.comments()[0]
    rig.check(capsys)
    assert len(rig.gh.issues) == 1  # the same issue, not a second one

    rig.push({ADMIN: admin()}, author="olivia-acme", message="no break-glass after all")
    rig.check(capsys)
    assert rig.gh.issues[number]["state"] == "closed"


def test_a_newer_push_keeps_the_comment_for_its_own_run(rig, capsys):
    rig.push({CAROL: carol("2026-12-20")})
    rig.check(capsys)
    judged = rig.head
    newer = rig.gh.new_sha()
    rig.gh.pulls[rig.number].head_sha = newer  # pushed while this run was checking out
    rig.gh.add_review(rig.number, "alice-acme", commit_id=newer)
    before = rig.comments()
    result = rig.repo.run("check-pr", "--format", "json", capsys=capsys)
    doc = json.loads(result.out)
    assert doc["pr"]["head_sha"] == judged and doc["verdict"] == "needs-approval"  # newer approval not counted
    assert "checkout is" in result.err
    assert rig.comments() == before and doc["github"]["comment_id"] is None
    assert rig.status(judged) == "failure" and rig.status(newer) is None


def test_removing_a_request_is_a_planned_revocation(rig, capsys):
    rig.push({CAROL: None})
    doc = rig.check(capsys)
    # carol removes her own request: the beneficiary needs nobody's approval
    assert doc["verdict"] == "allowed" and doc["allow"] and rig.status() == "success"
    assert doc["removed"] == [CAROL]
    [change] = doc["plan"]["changes"]
    assert (change["action"], change["principal"], change["target"]) == ("remove", "user:carol@acme.example", "PowerUser")
    assert "| `-` | acme-staging (222222222222) | `user:carol@acme.example` |" in rig.comments()[0]


def test_policy_only_change_needs_another_security_approval(rig, capsys):
    rig.push({"policies/data/waivers.yaml": "waivers: []\n# reviewed\n"}, author="ivan-acme")
    doc = rig.check(capsys)
    assert doc["verdict"] == "needs-approval" and rig.status() == "failure"
    assert doc["headline"] == "Needs one more approval from @acme/security"
    rig.review("ivan-acme")  # the author's own approval does not count
    assert rig.check(capsys)["verdict"] == "needs-approval"
    rig.review("judy-acme")
    doc = rig.check(capsys)
    assert doc["verdict"] == "allowed" and rig.status() == "success"
    assert doc["approvals"]["files"][0]["approved_by"] == ["judy-acme"]


def test_the_workflow_command_as_a_process_on_a_review_event(rig, capsys):
    rig.push({CAROL: carol("2026-12-20")})
    rig.review("alice-acme")  # the workflow_run event the re-check workflow gets
    result = rig.repo.run_process("check-pr")
    assert result.code == 0, result.err
    assert rig.status() == "success" and "Traceback" not in result.err
    assert "::error" not in result.out and "Allowed" in result.out


def test_a_pr_into_another_branch_is_refused_and_never_judged_by_its_base(rig, capsys):
    rig.push({CAROL: carol("2026-12-20")})
    rig.gh.branches["release"] = {"sha": rig.base, "files": {}}
    rig.gh.pulls[rig.number].base_ref = "release"
    rig.review("alice-acme")
    doc = rig.check(capsys)
    assert doc["allow"] is False and doc["headline"] == "Refused: this pull request targets release, not main"
    assert rig.status() == "failure"
    assert "Change the pull request's base branch to `main`" in rig.comments()[0]


def test_review_recheck_of_a_forks_pr_finds_it_by_its_head_commit(rig, capsys):
    rig.push({CAROL: carol("2026-12-20")})
    rig.review("alice-acme")
    pr = rig.gh.pulls[rig.number]
    (rig.tmp / "event.json").write_text(json.dumps({"action": "completed", "workflow_run": {
        "event": "pull_request_review", "head_sha": pr.head_sha, "pull_requests": []}}))
    doc = rig.check(capsys)
    assert doc["pr"]["number"] == rig.number and doc["verdict"] == "allowed" and rig.status() == "success"


def test_approvals_follow_the_org_model_not_githubs_team_membership(rig, capsys):
    """GitHub's teams disagree with teams.yaml: zed was added to the GitHub
    team outside review, alice was dropped from it. The org model decides."""
    rig.gh.add_team("platform", ["zed-acme"])
    rig.push({CAROL: carol("2026-12-20")})
    rig.review("zed-acme")
    assert rig.check(capsys)["verdict"] == "needs-approval"
    rig.review("alice-acme")
    assert rig.check(capsys)["verdict"] == "allowed" and rig.status() == "success"
    assert rig.gh.count("GET", "/orgs/") == 0  # the membership API is never asked
