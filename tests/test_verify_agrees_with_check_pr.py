"""check-pr (before the merge) and apply's re-verification (after it) ask
the same policy about a PR's rules change and the request files it removes.
If they disagreed, a change the gate passed would be held on main, or,
worse, a change the gate refused (merged by an admin) would be provisioned.
Compared here on many generated PRs: rules edits of every approval tier,
team membership changes (the security team's and another's), waivers and
their owner team, removals of a person's, a group's and a service
account's grant, renames, and reviews that include the author approving
their own change, group members, stale and withdrawn approvals.

check-pr runs as the workflow runs it (``accessctl check-pr`` on the PR
head checkout); apply-verify through ``verify_range``, the function apply
calls, with the PR as GitHub's commit → pulls association would give it."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import NOW, make_repo

from tools.core.expiry import parse_expiry
from tools.core.orgmodel import load as load_org
from tools.core.pr_context import changed_files
from tools.core.repo import Tree, git
from tools.provision.unapproved import TrustState
from tools.provision.verify import MergedPull, PullFile, PullReview, blob, verify_range

RULES_FILE = "(rules change)"
OLD = "0" * 40


@dataclass
class Pulls:
    """GitHub's commit → pulls association for the one PR of a case."""

    default_branch: str = "main"
    by_commit: dict[str, list[MergedPull]] = field(default_factory=dict)

    def pulls_for_commit(self, sha):
        return self.by_commit.get(sha, [])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("agree") / "access")
    base = git(repo.root, "rev-parse", "HEAD").strip()
    org = load_org(Tree(repo.root, base))
    return repo, base, org


def edit_rules(rng, repo, org) -> str:
    """One rules change of a random kind; returns what it is, for messages."""
    kind = rng.choice(["rego", "tiers", "catalog", "codeowners", "join", "lead", "leave", "waiver", "waiver"])
    people = sorted(p.github for p in org.people.values())
    teams = sorted(org.teams)
    if kind in ("rego", "tiers", "catalog", "codeowners"):
        path = {"rego": "policies/access/rules/sod/sod.rego", "tiers": "policies/data/tiers.yaml",
                "catalog": "policies/data/catalog.yaml", "codeowners": ".github/CODEOWNERS"}[kind]
        repo.write(path, repo.read(path) + "\n# reworded\n")
        return kind
    if kind == "waiver":
        target = rng.choice(sorted(str(p.relative_to(repo.root)) for p in (repo.root / "requests").rglob("*.yaml")))
        owner = rng.choice(teams)
        repo.write("policies/data/waivers.yaml", f"waivers:\n  - rule: expiry-too-long\n    file: {target}\n"
                   f"    owner: {owner}\n    expires: \"2027-03-01\"\n    reason: migration freeze\n")
        return f"waiver for {target} owned by {owner}"
    import yaml
    data = yaml.safe_load(repo.read("policies/data/teams.yaml"))
    team = rng.choice(teams)
    entry = data["teams"][team]
    if kind == "join":
        who = rng.choice([p for p in people if p not in entry["members"]])
        entry["members"].append(who)
    elif kind == "lead":
        who = rng.choice(entry["members"])
        entry["leads"] = sorted(set(entry["leads"]) | {who})
    else:
        who = rng.choice([m for m in entry["members"] if m not in entry["leads"]] or entry["members"])
        entry["members"].remove(who)
        entry["leads"] = [x for x in entry["leads"] if x != who] or entry["leads"]
    repo.write("policies/data/teams.yaml", yaml.safe_dump(data, sort_keys=False))
    return f"{who} {kind} {team}"


def remove_requests(rng, repo) -> str:
    files = sorted(str(p.relative_to(repo.root)) for p in (repo.root / "requests").rglob("*.yaml"))
    picked = rng.sample(files, rng.choice([1, 1, 2]))
    for path in picked:
        if rng.random() < 0.3:  # a rename within the folder: the old path leaves
            git(repo.root, "mv", path, path.replace(".yaml", "-renamed.yaml"))
        else:
            (repo.root / path).unlink()
    return "remove " + ", ".join(picked)


def reviews(rng, org, author, head, beneficiaries) -> tuple[PullReview, ...]:
    """A friendly mix: owners, security, the beneficiaries, the author
    approving their own change, stale approvals and withdrawn ones. Half
    the PRs also get one lead and one member of every team and both of
    security, so approved changes are generated as often as refused ones."""
    people = sorted(p.github for p in org.people.values())
    pool = set(rng.sample(people, rng.randint(0, 4)))
    if rng.random() < 0.5:
        pool |= {m for t in org.teams.values() for m in (rng.choice(t.leads), rng.choice(t.members))}
        pool |= set(org.teams[org.security_team].members)
    pool = sorted(pool | ({author} if rng.random() < 0.25 else set())
                  | (set(rng.sample(beneficiaries, 1)) if beneficiaries and rng.random() < 0.4 else set()))
    out = []
    for user in pool:
        out.append(PullReview(user, "APPROVED", head if rng.random() < 0.85 else OLD))
        if rng.random() < 0.1:
            out.append(PullReview(user, rng.choice(["CHANGES_REQUESTED", "DISMISSED"]), head))
    return tuple(out)


def check_pr(repo, capsys, tmp: Path, base: str, head: str, pull: MergedPull) -> dict:
    """check-pr on the PR head, with the PR's reviews; {file: allow} of its extra decisions."""
    ctx = {"number": pull.number, "author": pull.author, "head_sha": head, "base_sha": base, "base_ref": "main",
           "files": [{"path": f.path, "status": f.status, **({"previous_path": f.previous_path} if f.previous_path
                                                              else {})} for f in pull.files],
           "reviews": [{"user": r.user, "state": r.state, "commit_id": r.commit_id} for r in pull.reviews]}
    (tmp / "pr.json").write_text(json.dumps(ctx))
    git(repo.root, "checkout", "-q", "--detach", head)
    res = repo.run("check-pr", "--pr-context", str(tmp / "pr.json"), "--base", base, "--no-post",
                   "--format", "json", capsys=capsys)
    assert res.code in (0, 1), (res.code, res.err)
    return {f["file"]: f["allow"] for f in json.loads(res.out)["files"]}


CASES = 36
SEEN: dict[tuple[int, str], tuple[str, bool]] = {}  # (seed, file) -> (kind, verdict)


@pytest.mark.parametrize("seed", range(CASES))
def test_check_pr_and_apply_verify_give_the_same_verdict(world, capsys, tmp_path, seed):
    repo, base, org = world
    rng = random.Random(seed)
    git(repo.root, "checkout", "-q", "--detach", base)
    what = edit_rules(rng, repo, org) if seed % 2 == 0 else remove_requests(rng, repo)
    head = repo.commit(what)
    people = sorted(p.github for p in org.people.values())
    removed = [f.path for f in changed_files(repo.root, base, head)
               if f.path.startswith("requests/") and f.status == "removed"] + \
              [f.previous_path for f in changed_files(repo.root, base, head) if f.status == "renamed"]
    beneficiaries = sorted({p.github for p in org.people.values()
                            if any(p.email.split("@")[0] in path for path in removed)}
                           | ({m for m in org.teams["sre"].members} if any("sre-" in p for p in removed) else set()))
    author = rng.choice(beneficiaries + people if beneficiaries and rng.random() < 0.5 else people)
    files = tuple(PullFile(f.path, f.status, blob(repo.root, head, f.path), f.previous_path)
                  for f in changed_files(repo.root, base, head))
    pull = MergedPull(7, author, head, "main", parse_expiry(NOW), files,
                      reviews(rng, org, author, head, beneficiaries))

    gate = check_pr(repo, capsys, tmp_path, base, head, pull)
    git(repo.root, "checkout", "-q", "--detach", base)
    v = verify_range(repo.root, base, head, Pulls(by_commit={head: [pull]}), TrustState(), parse_expiry(NOW), {})

    where = f"{what}; author {author}; reviews {[(r.user, r.state, r.commit_id == head) for r in pull.reviews]}"
    if seed % 2 == 0:
        assert RULES_FILE in gate, where
        assert v.rules, where
        assert all(r.approved == gate[RULES_FILE] for r in v.rules), (where, gate, [r.why for r in v.rules])
        SEEN[(seed, RULES_FILE)] = ("rules", gate[RULES_FILE])
    for path in removed:
        applied = next(f for f in v.files if f.path == path)
        # check-pr lists a removal only when it needs a decision (its policy input exists)
        assert applied.approved == gate.get(path, True), (where, path, gate, applied.why)
        SEEN[(seed, path)] = ("removal", applied.approved)


def test_the_generated_cases_cover_both_verdicts():
    """A generator that only ever produced one outcome would prove nothing:
    the cases above must include allowed and refused rules changes and
    removals (checked when they all ran, in file order)."""
    if len({seed for seed, _ in SEEN}) < CASES:
        pytest.skip("only part of the generated cases ran")
    outcomes = {(kind, ok) for kind, ok in SEEN.values() if kind in ("rules", "removal")}
    assert outcomes >= {("rules", True), ("rules", False), ("removal", True), ("removal", False)}, SEEN
