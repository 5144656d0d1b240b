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
from fakes.github import FakeGitHub

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
        pr = self.gh.pulls[self.number]
        event = {"action": "synchronize" if name == "pull_request" else "submitted",
                 "pull_request": {"number": pr.number, "title": pr.title, "body": pr.body,
                                  "base": {"sha": pr.base_sha, "ref": "main"},
                                  "head": {"sha": pr.head_sha, "ref": pr.head_ref}}}
        (self.tmp / "event.json").write_text(json.dumps(event))

    def review(self, user: str, state: str = "APPROVED", commit: str | None = None) -> None:
        self.gh.add_review(self.number, user, state, commit_id=commit)
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

    def status(self) -> str | None:
        found = [s for s in self.gh.statuses.get(self.head, []) if s["context"] == STATUS]
        return found[0]["state"] if found else None

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
