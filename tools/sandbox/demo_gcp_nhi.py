"""`accessctl demo`, step 13: an AI agent and a third-party integration on GCP.

The data team requests both by PR (the samples under requests/gcp/, with the
expiry moved to the demo's clock); security and the owner team approve; the
merge job applies them. The agent's account has no key and only its runtime
may mint its tokens; the integration's one key lives only in Secret Manager.
The daily job rotates the key once it is older than rotate_days, deletes the
old key after the grace period, and at expiry deletes the keys and the
secret, then the accounts after theirs. Every key file issued is then looked
for, whole and in pieces, in everything the step printed.

Kept apart from tools/sandbox/demo.py so each step stays small; it uses the
demo's World and helpers.
"""
from __future__ import annotations

import base64
import json
import os
import re
from datetime import timedelta
from importlib import resources

from rich.markdown import Markdown
from rich.panel import Panel

from tools.core.errors import UsageError

DEV, PROD = "acme-data-dev", "acme-data-prod"
AGENT, LOADER = "etl-triage-agent", "fivetran-loader"
SECRET = f"projects/{PROD}/secrets/accessctl-{LOADER}"
PIECE = 24  # base64 characters of a private key: far too long to match by chance


def _sample(path: str, expires: str) -> str:
    """The sample request as shipped, its expiry set to ``expires``."""
    text = (resources.files("tools.sandbox") / "sample" / path).read_text()
    return re.sub(r'^expires: "[^"]*"$', f'expires: "{expires}"', text, count=1, flags=re.M)


def _request_and_merge(world, gh, paths: tuple[str, ...], expires: str) -> str:
    """The PR adding both files: checked, approved by data and security, merged, applied."""
    from tools.core.tables import print_table
    from tools.sandbox.demo import _apply_table, _check, _expect
    base = world.git("rev-parse", "main")
    world.git("checkout", "-q", "-b", "data/gcp-agent-and-loader")
    texts = {p: _sample(p, expires) for p in paths}
    for path, text in texts.items():
        (world.repo / path).parent.mkdir(parents=True, exist_ok=True)
        (world.repo / path).write_text(text)
    world.git("add", "--", *paths)
    world.git("commit", "-q", "-m", "An ETL triage agent and the Fivetran loader on GCP")
    head = world.git("rev-parse", "HEAD")
    gh.branches["main"]["sha"] = base
    pr = gh.add_pr("dave-acme", [(p, "added") for p in paths], title="GCP: ETL triage agent and Fivetran loader",
                   head_ref="data/gcp-agent-and-loader", head_sha=head, contents=texts)
    event = world.repo.parent / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr, "base": {"sha": base}, "head": {"sha": head}}}))
    os.environ["GITHUB_EVENT_PATH"] = str(event)
    os.environ["ACCESSCTL_BASE_SHA"] = base
    _check(world, gh, pr, 1)
    gh.add_review(pr, "erin-acme", "APPROVED", head)
    gh.add_review(pr, "ivan-acme", "APPROVED", head)
    world.console.print("erin-acme (data, the owner team) and ivan-acme (security: an integration needs "
                        "security whatever the tier) approve:")
    _check(world, gh, pr, 0)
    world.git("checkout", "-q", "main")
    world.git("merge", "-q", "--no-ff", "data/gcp-agent-and-loader", "-m",
              f"Merge pull request #{pr} from acme/data/gcp-agent-and-loader")
    gh.merge(pr, world.git("rev-parse", "HEAD"))
    world.shell(f"apply --since {base[:7]}")
    res = world.run("apply", "--since", base, "--format", "json")
    _expect(res, 0, "apply --since")
    results = res.json()["results"]
    ours = [r for r in results if r["principal"].endswith((f"/{AGENT}", f"/{LOADER}"))]
    print_table(world.console, _apply_table(ours))
    if len(results) > len(ours):
        world.console.print(f"(and {len(results) - len(ours)} change(s) to access that ended earlier in these "
                            "projects: apply makes each project match main)")
    return res.out + res.err + "".join(c["body"] for c in gh.pr_comments(pr))


def _pieces(key_file: bytes) -> list[str]:
    """The key file whole, its base64 (as sent to Secret Manager), and every
    24-character piece of its private key."""
    private = json.loads(key_file)["private_key"]
    body = "".join(line for line in private.splitlines() if "-----" not in line)
    return [key_file.decode(), base64.b64encode(key_file).decode(), private,
            *(body[i:i + PIECE] for i in range(len(body) - PIECE + 1))]


def step_gcp_non_human(world, sandbox, gh) -> None:
    from tools.sandbox.demo import GCP_NHI, _expect, _title
    _title(world, 13, "The same on GCP: an AI agent and a third-party integration",
           "The data team asks for both by PR. The agent's service account has no key; only the agent "
           "runtime may mint its one-hour tokens. The integration's one key lives only in Secret Manager.")
    gcp, start = sandbox.gcp, world.now
    expires = start + timedelta(days=80)  # within the agent and integration tiers' 90 days
    outputs: list[str] = [_request_and_merge(world, gh, GCP_NHI, f"{expires:%Y-%m-%d}")]
    agent_email = f"{AGENT}@{DEV}.iam.gserviceaccount.com"
    loader_email = f"{LOADER}@{PROD}.iam.gserviceaccount.com"
    binding = gcp.sa_policy(agent_email).bindings[0]
    world.console.print(f"agent {AGENT}: {len(gcp.sa_keys.get(agent_email, []))} key(s); {binding.role} only for")
    world.console.print(f"  {binding.members[0]}")
    world.console.print(f"  until [yellow]{binding.condition.expression}[/]")
    issued: dict[str, bytes] = {}

    def key() -> str:
        versions = gcp.secrets[SECRET]["versions"]
        for v in versions:
            data = base64.b64decode(v["data"])
            issued[json.loads(data)["private_key_id"]] = data
        in_use = gcp.secrets[SECRET]["secret"]["annotations"]["key-id"]
        return f"ending {in_use[-4:]}"  # the key's id, never its private half

    def live_keys() -> int:
        return len(gcp.sa_keys.get(loader_email, []))

    secret = gcp.secrets[SECRET]["secret"]
    world.console.print(f"integration {LOADER}: key {key()} in secret {SECRET.rpartition('/')[2]}")
    world.console.print(f"  (owner {secret['labels']['owner']}, vendor {secret['annotations']['vendor']}, "
                        f"expires {secret['annotations']['expires'][:10]}, request {secret['annotations']['request']})")

    def daily(what: str) -> dict:
        world.console.print(f"[dim]{world.now:%Y-%m-%d}: {what}[/]")
        world.shell("expire --provider gcp")
        res = world.run("expire", "--provider", "gcp", "--format", "json")
        outputs.extend([res.out, res.err])
        _expect(res, 0, "expire --provider gcp")
        return res.json()

    for days, what in ((31, "the key is older than rotate_days (30)"),
                       (32.1, "25 hours after the rotation: the grace period (24 h) is over")):
        world.now = start + timedelta(days=days)
        for r in daily(what)["rotated"]:
            verb = "rotated" if r["action"] == "update" else "deleted the old key of"
            world.console.print(f"  [green]{verb}[/] {r['principal']}: key now {key()}, "
                                f"{live_keys()} key(s) on the account")
    world.now = expires + timedelta(hours=1)
    doc = daily("the agent and the integration expire")
    gone = sorted({r["principal"] for r in doc["revoked"]})
    left = [s for s in gcp.secrets if s.startswith(f"projects/{PROD}/secrets/accessctl-")]
    world.console.print(f"  [red]removed[/] {', '.join(gone)}")
    world.console.print(f"  keys left on {LOADER}: {live_keys()}, integration secrets left: {len(left)}, "
                        f"accounts disabled: {gcp.service_account(PROD, LOADER).disabled}")
    world.now = expires + timedelta(days=15)
    doc = daily("past the accounts' grace period (14 days)")
    for p in doc["deleted_identities"]:
        world.console.print(f"  [red]deleted[/] service account {p}")
    text = "\n".join(outputs)
    if not issued or any(piece in text for k in issued.values() for piece in _pieces(k)):
        raise UsageError("demo: a GCP service-account key appeared in the pipeline's output")
    world.console.print(Panel(Markdown(f"The {len(issued)} key file(s) issued never appeared, whole or in "
                                       f"part, in any output (checked {len(outputs)} outputs)."), expand=False))
