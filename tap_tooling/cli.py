"""Command line of deploy.py: one subcommand per operation.

`plan` is offline (mocks). `preview`, `up`, `refresh`, `destroy` and `outputs` drive the real
engine through the Automation API; `bootstrap` and `verify` talk to AWS with boto3; `dr` does
both (ops/dr.py). A stack is any name with a `Pulumi.<name>.yaml`; whether it is production
comes from its config. `preview` and `up` validate the stack's config before the engine
starts; `up` checks the account, previews, asks, and applies only what it previewed; `up` of a
stack that creates its hosted zone waits for the domain's delegation (ops/delegation.py).
Ctrl-C cancels the engine gracefully (tap_tooling/ops/automation.EngineCommand). Every failure ends
as one `error:` line on stderr and an exit code from tap_tooling/ops/errors.py.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO, TypeAlias, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pulumi import automation as auto

from tap.config import AwsConfig
from tap_tooling import plan
from tap_tooling.ops import automation, bootstrap, delegation, dr, verify
from tap_tooling.ops.aws import (
    ClientFactory,
    client_factory,
    describe_error,
    require_account,
    stack_client_factory,
)
from tap_tooling.ops.errors import ExitCode, OpsError

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


@functools.cache  # main() runs once per process, except in tests, which call it often
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
    up = _engine_parser(
        commands, "up", "preview, confirm, then deploy what was previewed (policy pack applied)"
    )
    up.add_argument(
        "--yes",
        action="store_true",
        help="apply the previewed changes without asking (required when not at a terminal)",
    )
    _add_aws_options(up)
    up.add_argument(
        "--skip-delegation-check",
        action="store_true",
        help="deploy a stack that creates its hosted zone without checking that public DNS "
        "delegates the domain to it (for delegations the NS lookup cannot see)",
    )
    _engine_parser(commands, "refresh", "refresh the stack's state from the cloud")
    destroy = _engine_parser(commands, "destroy", "delete every resource of the stack")
    destroy.add_argument("--yes", action="store_true", help="no prompt (non-production stacks)")
    destroy.add_argument("--force", action="store_true", help="required for a production stack")
    destroy.add_argument(
        "--confirm",
        metavar="STACK",
        help="the stack name, typed back without a prompt (production stacks)",
    )
    outputs = _engine_parser(commands, "outputs", "print the stack outputs as JSON")
    outputs.add_argument("--show-secrets", action="store_true", help="print secret values")
    _add_bootstrap(commands)
    _add_verify(commands)
    _add_dr(commands)
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
        if "stack" in args:  # every command but bootstrap
            automation.check_stack(args.stack, args.work_dir)
        return int(_COMMANDS[args.command](args, console))
    except automation.DriftError as exc:
        report_drift(exc, console)
        return exc.exit_code
    except automation.PolicyError as exc:
        for violation in exc.violations:
            console.line(f"  {violation.describe()}")
        console.error_line(f"error: {exc}")
        return exc.exit_code
    except OpsError as exc:
        console.error_line(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        # Ctrl-C while no CLI runs (a CLI run handles it: automation.EngineCommand).
        console.error_line("error: interrupted; no engine operation was running")
        return ExitCode.INTERRUPTED


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
    options, stack = _open(args, console, create=not args.expect_no_changes)
    report = automation.preview(
        stack, options, console.line, console.error_line, args.expect_no_changes
    )
    if args.expect_no_changes:
        console.line(f"no drift: stack {args.stack} matches the program")
    else:
        show_preview(report, args.stack, console)
    return ExitCode.OK


def show_preview(report: automation.PreviewReport, stack: str, console: Console) -> None:
    """The change summary (one resource per line) and the policy verdict."""
    console.line(f"preview of {stack}: {automation.format_counts(report.counts)}")
    for change in report.changes:
        console.line(f"  {change.describe()}")
    console.line(report.verdict())
    for violation in report.violations:
        console.line(f"  {violation.describe()}")


def run_up(args: argparse.Namespace, console: Console) -> ExitCode:
    config = automation.stack_config(args.stack, args.work_dir)
    check_account(config.aws, args, console)
    options, stack = _open(args, console, create=True)
    if config.dns is not None and config.dns.create_zone and not args.skip_delegation_check:
        await_delegation(config.dns.domain, config.is_production, args, options, stack, console)
    counts = apply_previewed(config.is_production, args, options, stack, console)
    console.line(f"up {args.stack}: {automation.format_counts(counts)}")
    console.line(f"next: python deploy.py verify --stack {args.stack}")
    return ExitCode.OK


def apply_previewed(
    production: bool,
    args: argparse.Namespace,
    options: automation.EngineOptions,
    stack: auto.Stack,
    console: Console,
    targets: list[str] | None = None,
) -> dict[str, int]:
    """Preview, show it, get it confirmed, then apply it (held to the preview).

    A mandatory policy violation stops at the preview (PolicyError, exit 1): nothing changed.
    A preview without resource changes needs no confirmation (the update then only records
    outputs, and the guard refuses any resource change).
    """
    report = automation.preview(
        stack, options, console.line, console.error_line, targets=targets or ()
    )
    show_preview(report, options.stack, console)
    if report.counts:
        confirm_up(options.stack, production, args.yes, console.ask)
    return automation.up(
        stack, options, console.line, console.error_line, targets or (), expected=report
    )


def confirm_up(stack: str, production: bool, yes: bool, ask: Prompt) -> None:
    """Raise unless the operator approved the preview: [y/N] at a terminal, else --yes."""
    if yes:
        return
    kind = "production stack" if production else "stack"
    answer = ask(f"Apply these changes to {kind} {stack}? [y/N] ")
    if answer is None:
        if production:
            raise OpsError(
                f"refusing to update production stack {stack} without a terminal to confirm "
                "at: review the preview above and pass --yes",
                ExitCode.USAGE,
            )
        raise OpsError(
            f"up of {stack} needs --yes when not run at a terminal (the preview above is what "
            "it would apply)",
            ExitCode.USAGE,
        )
    if answer.strip().lower() not in ("y", "yes"):
        raise OpsError(f"up of {stack} not confirmed; nothing changed", ExitCode.USAGE)


def check_account(aws: AwsConfig, args: argparse.Namespace, console: Console) -> str:
    """The account the credentials act in; one line (exit 2) when it is not the stack's."""
    clients = _aws_call(
        lambda: stack_client_factory(aws, args.profile, args.endpoint_url), args.command
    )
    account = _aws_call(lambda: require_account(clients, aws, args.stack), args.command)
    console.line(f"account: {account} (stack {args.stack})")
    return account


def await_delegation(
    domain: str,
    production: bool,
    args: argparse.Namespace,
    options: automation.EngineOptions,
    stack: auto.Stack,
    console: Console,
) -> None:
    """Return once public DNS delegates the domain to the zone the stack creates.

    Until then the full update would stall on certificate validation (ACM validates through
    the zone's records, which only a delegated domain publishes), so: create the zone alone if
    the stack has none yet (a targeted update, previewed and confirmed like any other), print
    its name servers and the registrar step, and stop with DELEGATION_PENDING; the next `up`
    carries on from here.
    """
    name_servers = delegation.zone_name_servers(automation.outputs(stack))
    if name_servers is None:
        console.line(f"delegation: creating the hosted zone of {domain} first (targeted update)")
        targets = delegation.zone_targets(options.stack)
        counts = apply_previewed(production, args, options, stack, console, targets)
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
    _, stack = _open(args, console)
    counts = automation.refresh(stack, console.line, console.error_line)
    console.line(f"refresh {args.stack}: {automation.format_counts(counts)}")
    return ExitCode.OK


def run_destroy(args: argparse.Namespace, console: Console) -> ExitCode:
    # The guard runs before the engine is touched: a refusal needs no CLI and no backend.
    production, why = automation.stack_is_production(args.stack, args.work_dir)
    confirm_destroy(args.stack, production, why, args.yes, args.force, args.confirm, console.ask)
    _, stack = _open(args, console)
    counts = automation.destroy(stack, console.line, console.error_line)
    console.line(f"destroy {args.stack}: {automation.format_counts(counts)}")
    return ExitCode.OK


def run_outputs(args: argparse.Namespace, console: Console) -> ExitCode:
    _, stack = _open(args, console)
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
    # Only `tap:aws` and the environment are read: verify judges the live account against the
    # outputs, and needs no more of the config (which may not validate any more).
    aws = automation.stack_aws(args.stack, args.work_dir)
    environment = automation.stack_environment(args.stack, args.work_dir)
    if args.outputs is not None:
        values = verify.load_outputs_file(args.outputs)
        verify.check_outputs_match(values, args.stack, environment)
        clients = _account_clients(aws, args)
    else:
        clients = _account_clients(aws, args)  # the account first, then the stack
        _, stack = _open(args, console)
        values = automation.outputs(stack, show_secrets=True)
        verify.check_outputs_match(values, args.stack, environment)
    checks = verify.verify(values, clients)
    console.out.write(verify.render_table(checks))
    console.out.flush()
    return verify.exit_code(checks)


def _account_clients(aws: AwsConfig, args: argparse.Namespace) -> ClientFactory:
    clients = _aws_call(
        lambda: stack_client_factory(aws, args.profile, args.endpoint_url), args.command
    )
    _aws_call(lambda: require_account(clients, aws, args.stack), args.command)
    return clients


def run_dr(args: argparse.Namespace, console: Console) -> ExitCode:
    """`dr status` and `dr promote`: ops/dr.py decides; this wires the stack, the account's
    clients, the outputs and the engine (the same interrupt-safe CLI runs as `up`)."""
    config = automation.stack_config(args.stack, args.work_dir)
    # STS of the region being promoted: the primary region may be the one that is down.
    sts_region = getattr(args, "region", None) or config.primary_region
    clients = _aws_call(
        lambda: stack_client_factory(
            config.aws, args.profile, args.endpoint_url, sts_region=sts_region
        ),
        "dr",
    )
    if config.aws.expected_account:
        require_account(clients, config.aws, args.stack, sts_region=sts_region)
    options, stack = _open(args, console)
    values = automation.outputs(stack, show_secrets=True)
    if args.dr_command == "status":
        return ExitCode(dr.run_status(config, args.stack, values, clients, console.line))
    engine = automation.StackEngine(stack, options, console.line, console.error_line)
    return ExitCode(
        dr.run_promote(
            config,
            args.stack,
            args.region,
            values,
            clients,
            engine,
            options.stack_file,
            args.force,
            console.line,
        )
    )


def confirm_destroy(
    stack: str,
    production: bool,
    why: str,
    yes: bool,
    force: bool,
    confirm: str | None,
    ask: Prompt,
) -> None:
    """Raise unless this destroy is allowed: a production stack (StackConfig.is_production)
    needs --force and the name typed back; any other stack --yes or a [y/N] at a terminal."""
    if production:
        if not force:
            raise OpsError(
                f"refusing to destroy stack {stack} ({why}) without --force "
                f"and the stack name (--confirm {stack} or typed at the prompt)",
                ExitCode.USAGE,
            )
        typed = confirm
        if typed is None:
            typed = ask(f"Destroy EVERY resource of production stack {stack}? Type its name: ")
        if typed is None:
            raise OpsError(
                f"destroying production stack {stack} needs its name typed back: "
                f"pass --confirm {stack}",
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
    _add_stack_options(parser)
    return parser


def _add_stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        required=True,
        help="any stack with a Pulumi.<stack>.yaml in the project (dev, staging, prod, ...)",
    )
    _add_engine_options(parser)


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        metavar="URL",
        help=f"state backend, e.g. s3://bucket?region=... (default: ${automation.BACKEND_ENV})",
    )
    parser.add_argument(
        "--secrets-provider",
        help="secrets provider for a stack created now (default: the bootstrap key "
        "alias/tap-pulumi-secrets in the backend URL's ?region=, else us-east-1)",
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


def _add_dr(commands: Subcommands) -> None:
    parser = commands.add_parser("dr", help="disaster recovery: region status, replica promotion")
    actions = parser.add_subparsers(dest="dr_command", required=True)
    status = actions.add_parser(
        "status", help="per region: health checks, database role (primary/replica/promoted), lag"
    )
    _add_stack_options(status)
    _add_aws_options(status)
    promote = actions.add_parser(
        "promote",
        help="promote the region's replica, record it in the stack's config, refresh and up",
    )
    _add_stack_options(promote)
    promote.add_argument("--region", required=True, help="the secondary region to promote")
    promote.add_argument(
        "--force",
        action="store_true",
        help="promote even though the primary region passes its health checks",
    )
    _add_aws_options(promote)


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    parser.add_argument(
        "--endpoint-url", metavar="URL", help="send AWS calls here (moto server, LocalStack)"
    )


def _open(
    args: argparse.Namespace, console: Console, create: bool = False
) -> tuple[automation.EngineOptions, auto.Stack]:
    options = automation.EngineOptions(
        stack=args.stack,
        backend_url=automation.resolve_backend(args.backend, os.environ),
        secrets_provider=args.secrets_provider,
        work_dir=args.work_dir,
    )
    stack = automation.open_stack(options, create, out=console.line, notice=console.error_line)
    return options, stack


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
    "dr": run_dr,
}


if __name__ == "__main__":
    sys.exit(main())
