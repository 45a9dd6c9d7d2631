"""Command line of deploy.py: one subcommand per operation.

`plan` is offline (mocks). `preview`, `up`, `refresh`, `destroy` and `outputs` drive the real
engine through the Automation API; `bootstrap` and `verify` talk to AWS with boto3. `preview`
and `up` validate the stack's config before the engine starts, and `up` of a stack that creates
its hosted zone waits for the domain's delegation (tap/ops/delegation.py). Every failure ends
as one `error:` line on stderr and an exit code from tap/ops/errors.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO, TypeAlias, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pulumi import automation as auto

from tap import plan
from tap.ops import automation, bootstrap, delegation, verify
from tap.ops.aws import client_factory, describe_error
from tap.ops.errors import ExitCode, OpsError

T = TypeVar("T")
Subcommands: TypeAlias = "argparse._SubParsersAction[OneLineParser]"
Prompt = Callable[[str], str | None]
"""Asks the operator a question; returns None when nobody can answer (no terminal)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2) instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message} (see --help)\n")


@dataclass(frozen=True)
class Console:
    """Where a command writes (engine output streams to `out` line by line as it arrives), and
    what it consults besides the engine and AWS: the operator, and public DNS."""

    out: TextIO
    err: TextIO
    ask: Prompt
    resolve_ns: delegation.Resolver = delegation.public_name_servers

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def error_line(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def terminal_prompt(question: str) -> str | None:
    """input() when a person is at a terminal; None in CI, so nothing waits forever."""
    if not sys.stdin.isatty():
        return None
    try:
        return input(question)
    except EOFError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="deploy.py", description="Operate the TAP stacks.")
    commands = parser.add_subparsers(dest="command", required=True)
    plan.add_arguments(
        commands.add_parser("plan", help="offline plan under mocks (no cloud account needed)")
    )
    preview = _engine_parser(commands, "preview", "preview changes with the real engine")
    preview.add_argument(
        "--expect-no-changes",
        action="store_true",
        help=f"drift check: exit {ExitCode.DRIFT} and list the changes if any are proposed",
    )
    up = _engine_parser(commands, "up", "deploy the stack (policy pack applied when present)")
    up.add_argument(
        "--skip-delegation-check",
        action="store_true",
        help="deploy a stack that creates its hosted zone without checking that public DNS "
        "delegates the domain to it (for delegations the NS lookup cannot see)",
    )
    _engine_parser(commands, "refresh", "refresh the stack's state from the cloud")
    destroy = _engine_parser(commands, "destroy", "delete every resource of the stack")
    destroy.add_argument("--yes", action="store_true", help="no prompt (dev and staging)")
    destroy.add_argument("--force", action="store_true", help="required to destroy prod")
    destroy.add_argument(
        "--confirm", metavar="STACK", help="the stack name, typed back without a prompt (prod)"
    )
    outputs = _engine_parser(commands, "outputs", "print the stack outputs as JSON")
    outputs.add_argument("--show-secrets", action="store_true", help="print secret values")
    _add_bootstrap(commands)
    _add_verify(commands)
    return parser


def main(
    argv: list[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Prompt = terminal_prompt,
    resolve_ns: delegation.Resolver = delegation.public_name_servers,
) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    if args.command == "plan":
        return plan.run(args)
    console = Console(out or sys.stdout, err or sys.stderr, ask, resolve_ns)
    try:
        return int(_COMMANDS[args.command](args, console))
    except automation.DriftError as exc:
        report_drift(exc, console)
        return exc.exit_code
    except OpsError as exc:
        console.error_line(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        console.error_line("error: interrupted")
        return ExitCode.FAILED


def report_drift(drift: automation.DriftError, console: Console) -> None:
    """What would change, one resource per line on stdout, then the one error line."""
    if drift.changes:
        console.line(f"drift: {len(drift.changes)} resource(s) would change:")
        for change in drift.changes:
            console.line(f"  {change.describe()}")
    else:  # the engine gave counts only; its own output above names the resources
        console.line(f"drift: {automation.format_counts(drift.counts)} (details above)")
    console.error_line(f"error: {drift}")


def run_preview(args: argparse.Namespace, console: Console) -> ExitCode:
    automation.stack_config(args.stack, args.work_dir)  # a bad config stops before the engine
    # A drift check needs an existing stack; a plain preview may create it, like `up`.
    options, stack = _open(args, create=not args.expect_no_changes)
    counts = automation.preview(
        stack, options, console.line, console.error_line, args.expect_no_changes
    )
    if args.expect_no_changes:
        console.line(f"no drift: stack {args.stack} matches the program")
    else:
        console.line(f"preview of {args.stack}: {automation.format_counts(counts)}")
    return ExitCode.OK


def run_up(args: argparse.Namespace, console: Console) -> ExitCode:
    config = automation.stack_config(args.stack, args.work_dir)
    options, stack = _open(args, create=True)
    if config.dns is not None and config.dns.create_zone and not args.skip_delegation_check:
        await_delegation(config.dns.domain, options, stack, console)
    counts = automation.up(stack, options, console.line, console.error_line)
    console.line(f"up {args.stack}: {automation.format_counts(counts)}")
    console.line(f"next: python deploy.py verify --stack {args.stack}")
    return ExitCode.OK


def await_delegation(
    domain: str, options: automation.EngineOptions, stack: auto.Stack, console: Console
) -> None:
    """Return once public DNS delegates the domain to the zone the stack creates.

    Until then the full update would stall on certificate validation (ACM validates through
    the zone's records, which only a delegated domain publishes), so: create the zone alone if
    the stack has none yet (a targeted update), print its name servers and the registrar step,
    and stop with DELEGATION_PENDING; the next `up` carries on from here.
    """
    name_servers = delegation.zone_name_servers(automation.outputs(stack))
    if name_servers is None:
        console.line(f"delegation: creating the hosted zone of {domain} first (targeted update)")
        targets = delegation.zone_targets(options.stack)
        counts = automation.up(stack, options, console.line, console.error_line, targets)
        console.line(f"up {options.stack} (hosted zone only): {automation.format_counts(counts)}")
        name_servers = delegation.zone_name_servers(automation.outputs(stack))
        if name_servers is None:
            raise OpsError(
                f"the targeted update of stack {options.stack} left no dns.name_servers output; "
                f"check the zone with `deploy.py outputs --stack {options.stack}`"
            )
    answer = console.resolve_ns(domain)
    if delegation.is_delegated(answer, name_servers):
        console.line(f"delegation: {domain} is delegated to the stack's hosted zone")
        return
    for line in delegation.registrar_step(domain, name_servers, answer, options.stack):
        console.line(line)
    raise OpsError(
        f"waiting for delegation: set the {len(name_servers)} name servers above for {domain} "
        f"at its registrar, then run `deploy.py up --stack {options.stack}` again",
        ExitCode.DELEGATION_PENDING,
    )


def run_refresh(args: argparse.Namespace, console: Console) -> ExitCode:
    _, stack = _open(args)
    counts = automation.refresh(stack, console.line, console.error_line)
    console.line(f"refresh {args.stack}: {automation.format_counts(counts)}")
    return ExitCode.OK


def run_destroy(args: argparse.Namespace, console: Console) -> ExitCode:
    # The guard runs before the engine is touched: a refusal needs no CLI and no backend.
    environment = automation.stack_environment(args.stack, args.work_dir)
    confirm_destroy(args.stack, environment, args.yes, args.force, args.confirm, console.ask)
    _, stack = _open(args)
    counts = automation.destroy(stack, console.line, console.error_line)
    console.line(f"destroy {args.stack}: {automation.format_counts(counts)}")
    return ExitCode.OK


def run_outputs(args: argparse.Namespace, console: Console) -> ExitCode:
    _, stack = _open(args)
    values = automation.outputs(stack, args.show_secrets)
    console.line(json.dumps(values, indent=2, sort_keys=True))
    return ExitCode.OK


def run_bootstrap(args: argparse.Namespace, console: Console) -> ExitCode:
    clients = _aws_call(
        lambda: client_factory(profile=args.profile, endpoint_url=args.endpoint_url), "bootstrap"
    )
    result = _aws_call(
        lambda: bootstrap.bootstrap(clients, args.region, args.bucket, args.alias), "bootstrap"
    )
    console.out.write(bootstrap.render(result))
    return ExitCode.OK


def run_verify(args: argparse.Namespace, console: Console) -> ExitCode:
    if args.outputs is not None:
        values = verify.load_outputs_file(args.outputs)
    else:
        _, stack = _open(args)
        values = automation.outputs(stack, show_secrets=True)
    check_outputs_match_stack(
        values, args.stack, automation.stack_environment(args.stack, args.work_dir)
    )
    clients = _aws_call(
        lambda: client_factory(profile=args.profile, endpoint_url=args.endpoint_url), "verify"
    )
    checks = verify.verify(values, clients)
    console.out.write(verify.render_table(checks))
    console.out.flush()
    return verify.exit_code(checks)


def check_outputs_match_stack(values: dict[str, object], stack: str, environment: str) -> None:
    """An outputs file of another stack would be verified against the wrong expectations."""
    summary = values.get("deployment_summary")
    actual = summary.get("environment") if isinstance(summary, dict) else None
    if actual is not None and actual != environment:
        raise OpsError(
            f"the outputs are of environment {actual}, but stack {stack} deploys {environment}; "
            "pass the matching --stack or --outputs file",
            ExitCode.USAGE,
        )


def confirm_destroy(
    stack: str,
    environment: str,
    yes: bool,
    force: bool,
    confirm: str | None,
    ask: Prompt,
) -> None:
    """Raise unless this destroy is allowed: prod needs --force and the name typed back."""
    if environment == "prod":
        if not force:
            raise OpsError(
                f"refusing to destroy stack {stack} (environment prod) without --force "
                f"and the stack name (--confirm {stack} or typed at the prompt)",
                ExitCode.USAGE,
            )
        typed = confirm
        if typed is None:
            typed = ask(f"Destroy EVERY resource of stack {stack} (prod)? Type its name: ")
        if typed is None:
            raise OpsError(
                f"prod destroy needs the stack name typed back: pass --confirm {stack}",
                ExitCode.USAGE,
            )
        if typed.strip() != stack:
            raise OpsError(
                f"confirmation {typed.strip()!r} does not match stack {stack}; nothing destroyed",
                ExitCode.USAGE,
            )
        return
    if yes:
        return
    answer = ask(f"Destroy every resource of stack {stack}? [y/N] ")
    if answer is None:
        raise OpsError(f"destroy of {stack} needs --yes when not run at a terminal", ExitCode.USAGE)
    if answer.strip().lower() not in ("y", "yes"):
        raise OpsError(f"destroy of {stack} not confirmed; nothing destroyed", ExitCode.USAGE)


def _engine_parser(commands: Subcommands, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    parser.add_argument("--stack", required=True, choices=automation.STACKS)
    _add_engine_options(parser)
    return parser


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        metavar="URL",
        help=f"state backend, e.g. s3://bucket?region=... (default: ${automation.BACKEND_ENV})",
    )
    parser.add_argument(
        "--secrets-provider",
        default=automation.DEFAULT_SECRETS_PROVIDER,
        help="secrets provider for a stack created now (default: %(default)s)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=automation.REPO_ROOT,
        help="the Pulumi project directory (default: this repository)",
    )


def _add_bootstrap(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "bootstrap", help="create or adopt the S3 state bucket and KMS secrets key (idempotent)"
    )
    parser.add_argument("--region", default=bootstrap.DEFAULT_REGION, help="default: %(default)s")
    parser.add_argument(
        "--bucket", help="state bucket name (default: tap-pulumi-state-<account>-<region>)"
    )
    parser.add_argument("--alias", default=bootstrap.SECRETS_ALIAS, help="default: %(default)s")
    _add_aws_options(parser)


def _add_verify(commands: Subcommands) -> None:
    parser = _engine_parser(commands, "verify", "check the live account against the outputs")
    parser.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help="read outputs from this JSON file (`deploy.py outputs` > FILE) instead of the engine",
    )
    _add_aws_options(parser)


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    parser.add_argument(
        "--endpoint-url", metavar="URL", help="send AWS calls here (moto server, LocalStack)"
    )


def _open(
    args: argparse.Namespace, create: bool = False
) -> tuple[automation.EngineOptions, auto.Stack]:
    options = automation.EngineOptions(
        stack=args.stack,
        backend_url=automation.resolve_backend(args.backend, os.environ),
        secrets_provider=args.secrets_provider,
        work_dir=args.work_dir,
    )
    return options, automation.open_stack(options, create=create)


def _aws_call(call: Callable[[], T], what: str) -> T:
    """Run an AWS operation; credential and API errors become one line, not a traceback."""
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"{what}: {describe_error(exc)}") from None


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], ExitCode]] = {
    "preview": run_preview,
    "up": run_up,
    "refresh": run_refresh,
    "destroy": run_destroy,
    "outputs": run_outputs,
    "bootstrap": run_bootstrap,
    "verify": run_verify,
}


if __name__ == "__main__":
    sys.exit(main())
