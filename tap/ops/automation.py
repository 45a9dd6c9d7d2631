"""Drive the real Pulumi engine through the Automation API, for deploy.py's engine subcommands.

The program is this repository (a local program: `work_dir` is the repo root, so the engine
runs `__main__.py` exactly as `pulumi up` in the repo would). The Automation API shells out to
the `pulumi` CLI; this module turns its exceptions into one-line OpsErrors with the exit codes
of tap/ops/errors.py, and streams the engine's own output line by line as it arrives.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation.errors import InvalidVersionError

from tap.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from tap.ops.bootstrap import DEFAULT_REGION, SECRETS_ALIAS, secrets_provider_url
from tap.ops.errors import ExitCode, OpsError

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")
BACKEND_ENV = "PULUMI_BACKEND_URL"
DEFAULT_SECRETS_PROVIDER = secrets_provider_url(SECRETS_ALIAS, DEFAULT_REGION)
"""Matches `deploy.py bootstrap` run with its defaults; only used when a stack is created."""
INSTALL_HINT = (
    "install the Pulumi CLI (3.x) from https://www.pulumi.com/docs/install/ "
    "(e.g. `curl -fsSL https://get.pulumi.com | sh`) and put it on PATH"
)
SECRET_MASK = "[secret]"
"""What `pulumi stack output --json` prints in place of a secret value."""

# The CLI's words for "--expect-no-changes and there were changes"; newer CLIs name the
# operation ("no changes were expected for preview but ...").
_DRIFT = re.compile(r"no changes were expected( for \w+)? but changes were proposed")
# Ops that change nothing in the cloud; the CLI's own "has changes" test ignores the same set,
# plus "refresh", which a refreshing preview reports for every resource it re-reads.
_NO_CHANGE_OPS = frozenset({"same", "read", "read-discard", "read-replacement", "refresh"})
# A replacement arrives as several events (create-replacement, replace, delete-replaced): the
# drift report keeps the "replace" one, so one replaced resource is one line.
_REPLACEMENT_STEPS = frozenset(
    {"create-replacement", "delete-replaced", "discard-replaced", "import-replacement"}
)

LineSink = Callable[[str], Any]
"""Receives one line of engine output as soon as the CLI prints it."""


@dataclass(frozen=True)
class EngineOptions:
    """Where and how to run the engine for one stack."""

    stack: str
    backend_url: str
    secrets_provider: str = DEFAULT_SECRETS_PROVIDER
    work_dir: Path = REPO_ROOT

    @property
    def policy_packs(self) -> list[str]:
        """The CrossGuard pack in policy/, once it exists; applied on preview and up."""
        pack = self.work_dir / "policy"
        return [str(pack)] if (pack / "PulumiPolicy.yaml").is_file() else []


@dataclass(frozen=True)
class Change:
    """One resource the engine would change, from its resource-pre events."""

    op: str
    type: str
    urn: str
    diffs: tuple[str, ...] = ()

    def describe(self) -> str:
        name = self.urn.rsplit("::", 1)[-1]
        keys = f" [{', '.join(self.diffs)}]" if self.diffs else ""
        return f"{self.op:<18} {self.type} {name}{keys}"


class DriftError(OpsError):
    """`preview --expect-no-changes` saw changes; `changes` lists them when events named them."""

    def __init__(self, stack: str, counts: Mapping[str, int], changes: list[Change]) -> None:
        total = sum(counts.values()) or len(changes)
        summary = ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "changes"
        super().__init__(
            f"stack {stack} has drifted: {total} change(s) proposed ({summary}); "
            f"`deploy.py refresh --stack {stack}` reconciles state, `up` restores the program",
            ExitCode.DRIFT,
        )
        self.counts = dict(counts)
        self.changes = changes


def resolve_backend(flag: str | None, environ: Mapping[str, str]) -> str:
    """--backend, else PULUMI_BACKEND_URL; never the CLI's ambient login (maybe Pulumi Cloud)."""
    url = flag or environ.get(BACKEND_ENV, "")
    if not url:
        raise OpsError(
            f"no state backend: pass --backend 's3://<bucket>?region=<region>' or set "
            f"{BACKEND_ENV} (`deploy.py bootstrap` creates the bucket and prints the URL)",
            ExitCode.USAGE,
        )
    return url


def stack_environment(stack: str, work_dir: Path = REPO_ROOT) -> str:
    """The environment a stack deploys: `tap:environment` in its stack file, else its name.

    Only this key is read, not the whole config model: destroy does not run the program, so a
    stack whose config no longer validates must still be destroyable (and still guarded).
    """
    return str(stack_file_config(stack, work_dir).get("environment") or stack)


def stack_config(stack: str, work_dir: Path = REPO_ROOT) -> StackConfig:
    """The stack's validated config, read from its stack file before the engine is started.

    The program validates the same values again when it runs; checking them here first means
    a bad value (or the placeholder domain) stops `preview` and `up` with the config's own
    one line, before the CLI, the backend or AWS is touched.
    """
    try:
        return parse_stack_config(stack_file_config(stack, work_dir), stack)
    except ConfigError as exc:
        raise OpsError(f"Pulumi.{stack}.yaml: {exc}", ExitCode.USAGE) from None


def stack_file_config(stack: str, work_dir: Path = REPO_ROOT) -> dict[str, Any]:
    """The `tap:` keys of `Pulumi.<stack>.yaml` in `work_dir`, without the namespace; empty
    when the file does not exist yet (the engine would then run the program without them)."""
    path = work_dir / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError as exc:
        problem = _clip(" ".join(str(exc).split()))
        raise OpsError(f"{path.name} is not valid YAML: {problem}", ExitCode.USAGE) from None
    config = (document or {}).get("config") or {}
    prefix = f"{NAMESPACE}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}


def pulumi_command() -> auto.PulumiCommand:
    """The `pulumi` on PATH, version-checked by the Automation API; a clear error if absent."""
    missing = OpsError(f"the Pulumi CLI was not found on PATH; {INSTALL_HINT}", ExitCode.NO_CLI)
    if shutil.which("pulumi") is None:
        raise missing
    try:
        return auto.PulumiCommand()
    except FileNotFoundError:
        raise missing from None
    except InvalidVersionError as exc:
        raise OpsError(f"unsupported Pulumi CLI: {exc}; {INSTALL_HINT}", ExitCode.NO_CLI) from None
    except subprocess.CalledProcessError as exc:
        raise OpsError(
            f"`pulumi version` failed with exit code {exc.returncode}; {INSTALL_HINT}",
            ExitCode.NO_CLI,
        ) from None


def open_stack(options: EngineOptions, create: bool = True) -> auto.Stack:
    """Select the stack in the backend; with `create`, create it (with the KMS secrets
    provider) if it is new. Read-only and destructive commands never create a stack: a wrong
    backend must not leave an empty stack (and a new secrets key in Pulumi.<stack>.yaml)."""
    workspace = auto.LocalWorkspaceOptions(
        # The backend goes in the environment of every CLI call rather than `pulumi login`,
        # so running deploy.py never changes the operator's global login.
        env_vars={BACKEND_ENV: options.backend_url},
        secrets_provider=options.secrets_provider,
        pulumi_command=pulumi_command(),
    )
    with engine_errors(options.stack):
        if create:
            return auto.create_or_select_stack(
                stack_name=options.stack, work_dir=str(options.work_dir), opts=workspace
            )
        try:
            return auto.select_stack(
                stack_name=options.stack, work_dir=str(options.work_dir), opts=workspace
            )
        except auto.StackNotFoundError:
            raise OpsError(
                f"no stack {options.stack} in {options.backend_url} "
                f"(`deploy.py up --stack {options.stack}` creates it)",
                ExitCode.USAGE,
            ) from None


@contextmanager
def engine_errors(stack: str) -> Iterator[None]:
    """Translate Automation API exceptions into one-line OpsErrors with their exit codes."""
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        raise OpsError(
            f"stack {stack} is locked by another update: {headline(str(exc))}", ExitCode.LOCKED
        ) from None
    except auto.CommandError as exc:
        raise OpsError(f"pulumi failed on stack {stack}: {headline(str(exc))}") from None
    except RuntimeError as exc:
        # The Automation API's own complaints (e.g. a preview whose event log never carried
        # a summary) are plain RuntimeErrors: still a failed engine run, still one line.
        raise OpsError(f"pulumi failed on stack {stack}: {exc}") from None


def preview(
    stack: auto.Stack,
    options: EngineOptions,
    out: LineSink,
    err: LineSink,
    expect_no_changes: bool = False,
) -> dict[str, int]:
    """Run a preview and return its change counts per op.

    With `expect_no_changes`, raises DriftError if the engine proposes any change.
    """
    changes: list[Change] = []

    seen: set[str] = set()

    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None:
            return
        metadata = pre.metadata
        op = metadata.op.value
        if op in _NO_CHANGE_OPS or op in _REPLACEMENT_STEPS or metadata.urn in seen:
            return
        seen.add(metadata.urn)
        changes.append(Change(op, metadata.type, metadata.urn, tuple(metadata.diffs or ())))

    with engine_errors(stack.name):
        try:
            result = stack.preview(
                on_output=out,
                on_error=err,
                on_event=on_event,
                expect_no_changes=expect_no_changes or None,
                # Drift is what changed in the cloud, not only in the program: re-read every
                # resource first, or a console edit would never show.
                refresh=True if expect_no_changes else None,
                policy_packs=options.policy_packs or None,
            )
        except auto.CommandError as exc:
            if expect_no_changes and _DRIFT.search(str(exc)):
                raise DriftError(stack.name, _count(changes), changes) from None
            raise
    counts = changed_counts(result.change_summary)
    # Belt and braces: a CLI that reports the changes without failing is still drift.
    if expect_no_changes and counts:
        raise DriftError(stack.name, counts, changes)
    return counts


def up(
    stack: auto.Stack,
    options: EngineOptions,
    out: LineSink,
    err: LineSink,
    targets: Sequence[str] = (),
) -> dict[str, int]:
    """Run an update; with `targets`, only those URNs (`--target`, once per URN)."""
    with engine_errors(stack.name):
        result = stack.up(
            on_output=out,
            on_error=err,
            policy_packs=options.policy_packs or None,
            target=list(targets) or None,
        )
    return op_counts(result.summary.resource_changes)


def refresh(stack: auto.Stack, out: LineSink, err: LineSink) -> dict[str, int]:
    with engine_errors(stack.name):
        result = stack.refresh(on_output=out, on_error=err)
    return op_counts(result.summary.resource_changes)


def destroy(stack: auto.Stack, out: LineSink, err: LineSink) -> dict[str, int]:
    with engine_errors(stack.name):
        result = stack.destroy(on_output=out, on_error=err)
    return op_counts(result.summary.resource_changes)


def outputs(stack: auto.Stack, show_secrets: bool = False) -> dict[str, Any]:
    """The stack outputs as plain values, secrets masked unless `show_secrets`."""
    with engine_errors(stack.name):
        values = stack.outputs()
    return {
        key: output.value if show_secrets or not output.secret else SECRET_MASK
        for key, output in values.items()
    }


def changed_counts(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """The ops of a change summary that change something, without zero counts."""
    counts = op_counts(summary)
    return {op: n for op, n in counts.items() if op not in _NO_CHANGE_OPS and n}


def op_counts(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """A change summary keyed by op name (the API types its keys OpType; JSON gives str)."""
    return {_op_name(op): int(n) for op, n in (summary or {}).items()}


def format_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "no changes"


def headline(text: str) -> str:
    """The line of a CLI failure worth showing: its first `error:` line, else its last line."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        for prefix in ("stdout:", "stderr:"):
            line = line.removeprefix(prefix).strip()
        if line and not line.startswith("code:"):
            lines.append(line)
    for line in lines:
        if line.lower().startswith("error:"):
            return _clip(line[len("error:") :].strip())
    return _clip(lines[-1]) if lines else "unknown error (no output)"


def _op_name(op: Any) -> str:
    # str() of a str-Enum member is "OpType.UPDATE", not "update".
    return str(op.value) if isinstance(op, Enum) else str(op)


def _count(changes: list[Change]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.op] = counts.get(change.op, 0) + 1
    return counts


def _clip(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."
