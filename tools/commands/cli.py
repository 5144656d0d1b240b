"""The ``accessctl`` entry point: parse flags, find the repository, dispatch.

Subcommands live in ``tools/commands/<name>.py``, each with
``add_arguments(parser)`` and ``run(args, ctx) -> int``. The explicit map
below is the only place a command is registered: nothing is discovered by
walking the file system, so a PR cannot add code that runs.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tools.core.connector import close_all
from tools.core.errors import EXIT_INTERNAL, EXIT_USAGE, AccessctlError, UsageError
from tools.core.repo import find_root
from tools.core.workflow_commands import guard_output

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("tools.commands.validate", "check request files: safe YAML, schema, org model"),
    "evaluate": ("tools.commands.evaluate", "decide requests with the Rego policies"),
    "plan": ("tools.commands.plan", "show the cloud changes that main would make"),
    "apply": ("tools.commands.apply", "make the clouds match main"),
    "reconcile": ("tools.commands.reconcile", "find and fix drift between the clouds and main"),
    "expire": ("tools.commands.expire", "revoke expired access and clean up request files"),
    "import": ("tools.commands.importer", "write request files for access that predates the pipeline"),
    "audit": ("tools.commands.audit", "answer who has what, since when, approved by whom"),
    "codeowners": ("tools.commands.codeowners", "write .github/CODEOWNERS from the org model"),
    "check-pr": ("tools.commands.check_pr", "the pull-request check: validate, evaluate, plan, comment"),
    "setup-repo": ("tools.commands.setup_repo", "configure branch protection the pipeline relies on"),
    "review": ("tools.commands.review", "open access reviews: one PR per owning team with grants due"),
    "teams": ("tools.commands.teams", "team membership as code: teams check|plan|apply"),
    "request": ("tools.commands.request", "scaffold a new access request"),
    "sandbox": ("tools.commands.sandbox", "start or stop the loopback cloud emulators"),
    "demo": ("tools.commands.demo", "run the whole loop on the loopback sandbox"),
}


@dataclass
class Context:
    root: Path
    format: str
    now: datetime


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    from tools.core.expiry import parse_expiry
    try:
        return parse_expiry(text)
    except ValueError:
        raise UsageError(f"--now / ACCESSCTL_NOW {text!r} is not a date or RFC 3339 timestamp") from None


DEFAULT_FORMATS = ("text", "json")


def version() -> str:
    """The installed distribution's version (the source tree's when not installed)."""
    from importlib import metadata
    try:
        return metadata.version("accessctl")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a plain checkout
        return "unknown"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (and its flags
    added): importing all of them cost every run about half a second."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repo", metavar="PATH", help="access repository (default: found from the current directory)")
    common.add_argument("--now", metavar="TIME", default=os.environ.get("ACCESSCTL_NOW"),
                        help=argparse.SUPPRESS)
    common.add_argument("--debug", action="store_true", default=bool(os.environ.get("ACCESSCTL_DEBUG")),
                        help="on an internal error, print the traceback")
    parser = argparse.ArgumentParser(prog="accessctl", description="Access requests as pull requests.")
    parser.add_argument("--version", action="version", version=f"accessctl {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        # Each command offers only the formats it prints (FORMATS in its module).
        formats = tuple(getattr(mod, "FORMATS", DEFAULT_FORMATS))
        p.add_argument("--format", choices=formats, default="text",
                       help="output format: " + ", ".join(formats) + " (json is machine-readable on stdout)")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _needs_repo=getattr(mod, "NEEDS_REPO", True))
    return parser


def main(argv: list[str] | None = None) -> int:
    guard_output()  # in GitHub Actions, no printed user text can start a workflow command
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return int(exc.code or 0) and EXIT_USAGE
    try:
        root = find_root(args.repo) if args._needs_repo or args.repo else Path.cwd()
        try:
            return int(args._run(args, Context(root, args.format, _now(args.now))) or 0)
        finally:
            close_all()
    except AccessctlError as exc:
        print(f"accessctl: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user's mistake: say so, keep it to a line
        if getattr(args, "debug", False):
            import traceback
            traceback.print_exc()
        print(f"accessctl: internal error (a bug in accessctl {version()}, not in your input): "
              f"{type(exc).__name__}: {_one_line(exc)}. Please report it to the accessctl maintainers "
              "with the command you ran" + ("" if getattr(args, "debug", False) else
                                   " and the traceback from re-running it with --debug"),
              file=sys.stderr)
        return EXIT_INTERNAL


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
