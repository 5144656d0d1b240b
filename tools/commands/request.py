"""``accessctl request new``: scaffold a valid request file, then validate it.

At a terminal, whatever the flags leave open is asked with numbered choices
taken from the org model (so people pick what is requestable instead of
guessing names). Without a terminal (CI, scripts) every answer must come from
flags, and a missing one is a usage error (exit 2) rather than a hang. The
written file goes through the same validator as a PR; if it is refused, it
is removed again and the findings are printed (exit 1).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Callable

from rich.markup import escape

from tools.core import orgmodel
from tools.core.errors import EXIT_FINDING, EXIT_OK, UsageError
from tools.core.model import KINDS, Target
from tools.core.output import console, emit_json
from tools.core.repo import Tree, git
from tools.request import load, scaffold, validate
from tools.request.answers import expiry_problem, login_problem, principal_problem

TICKET = re.compile(r"^[A-Z][A-Z0-9]+-[0-9]+$")
MIN_JUSTIFICATION = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["new"], help="new: write a request file under requests/")
    p.add_argument("--service-account", action="store_true",
                   help="define a service account (GCP) or CI role (AWS) instead of requesting access")
    p.add_argument("--provider", choices=["aws", "gcp"], help="only needed if the target name is ambiguous")
    p.add_argument("--target", help="AWS account name or GCP project id (the request's folder)")
    p.add_argument("--kind", action="append", choices=sorted(KINDS), default=[],
                   help="grant kind; give once for all entitlements or once per --entitlement")
    p.add_argument("--entitlement", action="append", default=[],
                   help="group, permission set, policy ARN or role; repeatable")
    p.add_argument("--principal", help="user:<email>, group:<team> or serviceAccount:<target>/<name>")
    p.add_argument("--expires", help="YYYY-MM-DD or RFC 3339 (default: the longest the catalog allows)")
    p.add_argument("--justification", help="why the access is needed, in a sentence")
    p.add_argument("--ticket", help="ticket reference such as OPS-1234 (required for prod and privileged)")
    p.add_argument("--requester", help="your GitHub login (default: from git config user.email)")
    p.add_argument("--name", help="file name without .yaml (default: derived from principal and role)")
    p.add_argument("--break-glass", action="store_true", help="emergency access: at most 4 hours")
    p.add_argument("--owner", help="service account: owning team")
    p.add_argument("--purpose", help="service account: what it is for")
    p.add_argument("--oidc-repository", help="AWS CI role: the GitHub repository (owner/name) that may assume it")
    p.add_argument("--oidc-ref", help="AWS CI role: the git ref allowed, e.g. refs/heads/main")
    p.add_argument("--use", choices=["ci", "workload", "agent", "integration"],
                   help="service account: ci (AWS CI role, default on aws), workload (default on gcp), "
                        "agent (an AI agent's bounded identity) or integration (a third party's key)")
    p.add_argument("--max-session-minutes", type=int, help="agent: session length (60-720 on AWS, 60 on GCP)")
    p.add_argument("--runtime", help="agent: the runtime that assumes it (AWS role ARN) or impersonates it "
                                     "(GCP serviceAccount:<id>@<project>.iam.gserviceaccount.com)")
    p.add_argument("--vendor", help="integration: the third party's name")
    p.add_argument("--vendor-contact", help="integration: the vendor's security contact (email)")
    p.add_argument("--rotate-days", type=int, help="integration: replace the key at least this often (at most 30)")
    p.add_argument("--no-input", action="store_true", help="never prompt, even at a terminal")


class Asker:
    """Fills in answers: from flags, else from prompts, else a usage error."""

    def __init__(self, interactive: bool, read: Callable[[], str] | None = None,
                 write: Callable[[str], None] | None = None):
        self.interactive = interactive
        self._read = read or sys.stdin.readline
        self._write = write or (lambda s: (sys.stderr.write(s), sys.stderr.flush()))

    def _line(self, prompt: str) -> str:
        self._write(prompt)
        line = self._read()
        if not line:
            raise UsageError("input ended before the request was complete")
        return line.strip()

    def choose(self, flag: str, question: str, options: list[tuple[str, str]],
               default: str | None = None, many: bool = False,
               typed: Callable[[str], str | None] | None = None) -> list[str]:
        """A numbered menu. Enter takes ``default`` (a menu of one option
        defaults to it); ``typed(value)`` accepts a value typed instead of a
        number, returning the problem with it or None. Asked again until the
        answer is valid: earlier answers are never lost."""
        if not options:
            raise UsageError(f"nothing to choose for {question}: the org model offers none here")
        if not self.interactive:
            raise UsageError(f"{flag} is required (no terminal to ask); one of: "
                             + ", ".join(v for v, _ in options))
        if default is None and len(options) == 1:
            default = options[0][0]
        self._write(f"\n{question}\n")
        for i, (value, label) in enumerate(options, 1):
            self._write(f"  {i:>2}) {value}" + (f"  ({label})" if label else "") + "\n")
        hint = " (numbers separated by commas)" if many else ""
        values = [v for v, _ in options]
        while True:
            text = self._line(f"choose{hint}" + (f" [{default}]" if default else "") + ": ")
            if not text and default:
                return [default]
            picked = [p.strip() for p in text.split(",")] if many else [text]
            out, problems = [], []
            for p in picked:
                if p.isdigit() and 1 <= int(p) <= len(options):
                    out.append(values[int(p) - 1])
                elif p in values:
                    out.append(p)
                elif p and typed is not None:
                    problem = typed(p)
                    (problems.append(problem) if problem else out.append(p))
                elif p:
                    problems.append(f"{p!r} is not one of the choices")
            if out and len(out) == len(picked):
                return out
            for problem in problems:
                self._write(f"  {problem}\n")
            self._write(f"  please answer with a number from 1 to {len(options)}"
                        + (" or type a value" if typed else "") + "\n")

    def text(self, flag: str, question: str, default: str | None = None,
             check: Callable[[str], str | None] = lambda s: None) -> str:
        if not self.interactive:
            if default is not None:
                return default
            raise UsageError(f"{flag} is required (no terminal to ask)")
        while True:  # until valid: the answers given so far are kept
            value = self._line(f"{question}" + (f" [{default}]" if default else "") + ": ") or (default or "")
            problem = check(value) if value else "an answer is needed"
            if not problem:
                return value
            self._write(f"  {problem}\n")


def _justification_problem(text: str) -> str | None:
    if len(text) < MIN_JUSTIFICATION:
        return f"explain why in at least {MIN_JUSTIFICATION} characters (a sentence a reviewer can judge)"
    return None


def _ticket_problem(text: str) -> str | None:
    return None if TICKET.match(text) else "a ticket looks like OPS-1234"


def _guess_requester(root: Path, org: orgmodel.OrgModel) -> str | None:
    actor = os.environ.get("GITHUB_ACTOR", "")
    if actor.lower() in org.people_by_login:
        return org.people_by_login[actor.lower()].github
    email = git(root, "config", "user.email", check=False).strip().lower()
    person = org.people.get(email)
    return person.github if person else None


def _target(args, ask: Asker, org: orgmodel.OrgModel) -> Target:
    provider = args.provider
    if args.target:
        found = [provider] if provider else scaffold.providers_of(org, args.target)
        target = org.target(found[0], args.target) if len(found) == 1 else None
        if target is None:
            known = ", ".join(sorted(f"{p}/{n}" for p, n in org.targets))
            raise UsageError(f"--target {args.target!r} is not a known account or project; one of: {known}")
        return target
    if not provider:
        provider = ask.choose("--provider", "Which cloud?", [("aws", "AWS accounts"), ("gcp", "GCP projects")])[0]
    options = [(t.name, f"{t.environment}" + (f", {t.id}" if t.id != t.name else "") + f", owner {t.owner}")
               for t in scaffold.targets(org, provider)]
    return org.target(provider, ask.choose("--target", "Which account or project?", options)[0])


def _grants(args, ask: Asker, org: orgmodel.OrgModel, target: Target) -> list[scaffold.Grant]:
    kinds, ents = list(args.kind), list(args.entitlement)
    if ents:
        if not kinds:  # infer each kind from what is requestable here
            for e in ents:
                matches = [k for k in scaffold.kinds_at(org, target)
                           if any(c.entitlement == e for c in scaffold.entitlements(org, target, k))]
                kinds.append(matches[0] if len(matches) == 1 else "")
            if "" in kinds:
                offered = sorted({c.entitlement for k in scaffold.kinds_at(org, target)
                                  for c in scaffold.entitlements(org, target, k)})
                unknown = ", ".join(e for e, k in zip(ents, kinds) if not k)
                raise UsageError(f"cannot tell the kind of {unknown} in {target.name}: pass --kind, "
                                 "or use one of: " + ", ".join(offered))
        elif len(kinds) == 1:
            kinds = kinds * len(ents)
        if len(kinds) != len(ents):
            raise UsageError("give --kind once for all entitlements, or once per --entitlement")
        return [scaffold.Grant(k, e) for k, e in zip(kinds, ents)]
    if not kinds:
        options = [(k, KINDS[k].description) for k in scaffold.kinds_at(org, target)]
        kinds = ask.choose("--kind", "What kind of access?", options)
    kind = kinds[0]
    options = [(c.entitlement, scaffold.tier_label(c)) for c in scaffold.entitlements(org, target, kind)]
    field = KINDS[kind].entitlement_field.replace("_", " ")
    chosen = ask.choose("--entitlement", f"Which {field}?", options, many=True)
    return [scaffold.Grant(kind, e) for e in chosen]


def _access_request(args, ctx, ask: Asker, org, tree: Tree) -> tuple[str, dict]:
    requester = args.requester or ask.text("--requester", "Your GitHub login",
                                           _guess_requester(ctx.root, org), check=login_problem(org))
    target = _target(args, ask, org)
    grants = _grants(args, ask, org, target)
    principal = args.principal
    if not principal:
        me = org.people_by_login.get(requester.lower())
        accounts = [rf.request.ref for rf in load.read_all(tree)
                    if isinstance(rf.request, load.ServiceAccount)]
        options = [(p, "you" if me and p == f"user:{me.email}" else "")
                   for p in scaffold.principal_choices(org, target, grants[0].kind,
                                                       me.email if me else None, accounts)]
        principal = ask.choose("--principal", "Who gets the access? (a number, or type user:<email>)",
                               options, default=options[0][0] if options else None,
                               typed=principal_problem(org, KINDS[grants[0].kind].principal_types,
                                                       accounts))[0]
    hours = scaffold.max_hours(org, grants, args.break_glass)
    expires = args.expires or ask.text("--expires", "Expires (YYYY-MM-DD or RFC 3339, UTC)",
                                       scaffold.default_expiry(ctx.now, hours),
                                       check=expiry_problem(ctx.now, hours))
    justification = args.justification or ask.text("--justification", "Why is it needed?",
                                                    check=_justification_problem)
    ticket = args.ticket
    if not ticket and scaffold.needs_ticket(org, target, grants):
        ticket = ask.text("--ticket", f"Ticket (required: {target.environment} target or privileged role)",
                          check=_ticket_problem)
    name = args.name or ask.text("--name", "File name", scaffold.default_name(principal, grants))
    doc = scaffold.access_request(target, principal, grants, requester, justification, expires,
                                  ticket, args.break_glass)
    return scaffold.request_path(target.provider, target.name, name), doc


def _service_account(args, ctx, ask: Asker, org) -> tuple[str, dict]:
    requester = args.requester or ask.text("--requester", "Your GitHub login",
                                           _guess_requester(ctx.root, org), check=login_problem(org))
    target = _target(args, ask, org)
    name = args.name or ask.text("--name", "Service account name (lower case, 5-63 characters)")
    owner = args.owner or ask.choose("--owner", "Which team owns it?", [(t, "") for t in org.teams])[0]
    purpose = args.purpose or args.justification or ask.text("--purpose", "What is it for?",
                                                             check=_justification_problem)
    hours = int(org.setting("service_accounts", "max_hours", default=8760))
    if args.use in ("agent", "integration"):  # the non-human tier's own maximum (tiers.yaml)
        hours = min(hours, int(org.setting("tiers", args.use, "max_hours", default=hours)))
    expires = args.expires or ask.text("--expires", "Expires (YYYY-MM-DD)", scaffold.default_expiry(ctx.now, hours),
                                       check=expiry_problem(ctx.now, hours))
    use = args.use or ("ci" if target.provider == "aws" else "workload")
    repo = ref = None
    if use == "ci":
        repo = args.oidc_repository or ask.text("--oidc-repository", "GitHub repository that may assume it (owner/name)")
        ref = args.oidc_ref or ask.text("--oidc-ref", "Git ref allowed", "refs/heads/main")
    extra: dict = {}
    if use == "agent":
        what = ("Runtime role ARN that assumes it (arn:aws:iam::<account>:role/<name>)" if target.provider == "aws"
                else "Runtime service account that impersonates it (serviceAccount:<id>@<project>.iam.gserviceaccount.com)")
        extra = {"max_session_minutes": args.max_session_minutes or 60,
                 ("assumed_by" if target.provider == "aws" else "impersonated_by"):
                     args.runtime or ask.text("--runtime", what)}
    elif use == "integration":
        extra = {"vendor": {"name": args.vendor or ask.text("--vendor", "Vendor name"),
                            "contact": args.vendor_contact or ask.text("--vendor-contact", "Vendor security contact (email)")},
                 "credential": {"type": "access-key" if target.provider == "aws" else "service-account-key",
                                "store": "secrets-manager" if target.provider == "aws" else "secret-manager",
                                "rotate_days": args.rotate_days or int(org.setting("tiers", "integration", "rotate_days",
                                                                                   default=30))}}
    doc = scaffold.service_account(target, name, owner, purpose, requester, expires, args.ticket, repo, ref,
                                   use=args.use, extra=extra)
    return scaffold.request_path(target.provider, target.name, name), doc


def _require_flags(args, ctx, org) -> None:
    """Without a terminal, name every missing flag at once instead of one per run."""
    need = ["target", "requester"]
    if args.service_account:
        need += ["name", "owner"] + (["purpose"] if not args.justification else [])
        if args.use in (None, "ci") and (args.provider == "aws" or "aws" in scaffold.providers_of(org, args.target or "")):
            need += ["oidc_repository", "oidc_ref"]
        need += {"agent": ["runtime"], "integration": ["vendor", "vendor_contact"]}.get(args.use or "", [])
    else:
        need += ["entitlement", "principal", "justification"]
    missing = [f"--{n.replace('_', '-')}" for n in need if not getattr(args, n)
               and not (n == "requester" and _guess_requester(ctx.root, org))]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise UsageError(f"{', '.join(missing)} {verb} required (no terminal to ask)")


def run(args, ctx) -> int:
    tree = Tree(ctx.root)
    org = orgmodel.load(tree)
    ask = Asker(sys.stdin.isatty() and not args.no_input)
    if not ask.interactive:
        _require_flags(args, ctx, org)
    if args.service_account:
        path, doc = _service_account(args, ctx, ask, org)
    else:
        path, doc = _access_request(args, ctx, ask, org, tree)
    found = _write_and_validate(ctx, path, scaffold.render(path, doc))
    if ctx.format == "json":
        emit_json({"path": path, "valid": not found, "written": not found, "request": doc,
                   "errors": [f.as_json() for f in found]})
        return EXIT_FINDING if found else EXIT_OK
    out = console()
    if found:
        for f in found:
            out.print(f"[red]✗[/] {escape(str(f))}")
        out.print(f"[red]not written:[/] {escape(path)} would be refused; fix the answers above and run again")
        out.print("Your answers, to edit and run again without retyping them:\n  " + escape(as_command(path, doc)))
        return EXIT_FINDING
    branch = "access/" + Path(path).stem
    out.print(f"[green]✓[/] wrote {escape(path)} (valid)")
    out.print("Next: commit it on a branch and open a pull request; the check will show the decision "
              "and who must approve.\n"
              f"  git switch -c {branch}\n  git add {path}\n"
              f"  git commit -m \"Request access: {Path(path).stem}\"\n  git push -u origin {branch}")
    return EXIT_OK


def as_command(path: str, doc: dict) -> str:
    """The ``accessctl request new`` line that gives the same answers."""
    import shlex
    from tools.request.load import path_parts
    provider, target, name = path_parts(path)
    flags = ["--provider", provider, "--target", target]
    if doc.get("kind") == "ServiceAccount":
        flags = ["--service-account", *flags, "--name", doc["name"], "--owner", doc["owner"],
                 "--purpose", doc["purpose"]]
        oidc = doc.get("oidc") or {}
        if oidc:
            flags += ["--oidc-repository", oidc.get("repository") or "", "--oidc-ref", oidc.get("ref") or ""]
        if doc.get("use"):
            flags += ["--use", doc["use"]]
        if doc.get("max_session_minutes"):
            flags += ["--max-session-minutes", doc["max_session_minutes"],
                      "--runtime", doc.get("assumed_by") or doc.get("impersonated_by") or ""]
        if doc.get("vendor"):
            flags += ["--vendor", doc["vendor"]["name"], "--vendor-contact", doc["vendor"]["contact"],
                      "--rotate-days", doc["credential"]["rotate_days"]]
    else:
        for g in doc.get("grants", []):
            flags += ["--kind", g["kind"], "--entitlement", g[KINDS[g["kind"]].entitlement_field]]
        flags += ["--principal", doc["principal"], "--justification", doc["justification"], "--name", name]
        if doc.get("break_glass"):
            flags.append("--break-glass")
    flags += ["--requester", doc["requester"], "--expires", doc["expires"]]
    if doc.get("ticket"):
        flags += ["--ticket", doc["ticket"]]
    return "accessctl request new " + " ".join(shlex.quote(str(f)) for f in flags)


def _write_and_validate(ctx, path: str, text: str) -> list:
    """Write the file, run the full validator, and undo the write if refused.

    Validation covers every request file, so a duplicate of an existing grant
    is caught whichever file sorts first; only findings about the new file
    (or naming it) are reported.
    """
    from tools.commands.validate import load_and_validate

    full = ctx.root / path
    if full.exists() or full.is_symlink():
        raise UsageError(f"{path} already exists; choose another --name or edit that file")
    created = [d for d in reversed(full.relative_to(ctx.root).parents) if not (ctx.root / d).exists()]
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_text(text, encoding="utf-8")
    try:
        _, files = load_and_validate(ctx)
        found = [f for f in validate.findings(files) if f.file == path or path in f.message]
    except BaseException:
        _remove(ctx.root, full, created)
        raise
    if found:
        _remove(ctx.root, full, created)
    return found


def _remove(root: Path, full: Path, created: list) -> None:
    full.unlink(missing_ok=True)
    for d in reversed(created):
        try:
            (root / d).rmdir()
        except OSError:
            pass
