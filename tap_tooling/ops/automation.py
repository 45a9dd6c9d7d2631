"""Drive the real Pulumi engine through the Automation API, for deploy.py's engine subcommands.

The program is this repository (a local program: `work_dir` is the repo root, so the engine
runs `__main__.py` exactly as `pulumi up` in the repo would). The Automation API shells out to
the `pulumi` CLI; this module turns its exceptions into one-line OpsErrors with the exit codes
of tap_tooling/ops/errors.py, and streams the engine's own output line by line as it arrives.

Every CLI run goes through `EngineCommand`, which makes Ctrl-C safe: the first one asks the
engine to cancel (it finishes what is in flight, saves the state, releases the lock) while
deploy.py keeps reading its output; a second one stops it at once and says what that leaves.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import yaml
from pulumi import automation as auto
from pulumi.automation.errors import InvalidVersionError, create_command_error

from tap.config import NAMESPACE, AwsConfig, ConfigError, StackConfig, parse_stack_config
from tap_tooling import yaml_text
from tap_tooling.ops.bootstrap import DEFAULT_REGION, SECRETS_ALIAS, secrets_provider_url
from tap_tooling.ops.errors import ExitCode, OpsError
from tap_tooling.sdk import EngineCommandResult as CommandResult

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKEND_ENV = "PULUMI_BACKEND_URL"
DEFAULT_SECRETS_PROVIDER = secrets_provider_url(SECRETS_ALIAS, DEFAULT_REGION)
"""`deploy.py bootstrap` with its defaults; used for a new stack whose backend URL names no
region (otherwise the key is taken in the backend's region, where bootstrap made it)."""
# Pulumi's rule for a stack name (without an org/project prefix, which deploy.py never takes):
# it also names the file Pulumi.<name>.yaml, so no path separators can sneak in.
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
TERMINATE_GRACE_SECONDS = 5.0
"""After the second Ctrl-C: how long the CLI gets to stop its plugins before it is killed."""
SIGNAL_CHECK_SECONDS = 0.05
"""While the CLI runs, how often the main thread wakes to run a pending signal handler (_join)."""
# Commands that take the stack's lock and write its state. A preview takes no lock (DIY
# backends lock only for updates, pulumi/pulumi#8973) and writes no state.
_STATE_VERBS = frozenset({"up", "refresh", "destroy", "import"})
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


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class EngineOptions:
    """Where and how to run the engine for one stack."""

    stack: str
    backend_url: str
    secrets_provider: str | None = None
    """For a stack created now; None: the bootstrap key in the backend's region."""
    work_dir: Path = REPO_ROOT

    @property
    def policy_packs(self) -> list[str]:
        """The CrossGuard pack in policy/, once it exists; applied on preview and up."""
        pack = self.work_dir / "policy"
        return [str(pack)] if (pack / "PulumiPolicy.yaml").is_file() else []

    @property
    def stack_file(self) -> Path:
        return self.work_dir / f"Pulumi.{self.stack}.yaml"

    @property
    def new_stack_secrets_provider(self) -> str:
        return self.secrets_provider or default_secrets_provider(self.backend_url)


def default_secrets_provider(backend_url: str) -> str:
    """The bootstrap key (alias/tap-pulumi-secrets) in the region the backend URL names.

    `deploy.py bootstrap --region R` makes the bucket and the key in R and prints
    `s3://<bucket>?region=R`, so that region is where the key is; us-east-1 (bootstrap's
    default) only when the URL names no region.
    """
    region = (parse_qs(urlsplit(backend_url).query).get("region") or [""])[0].strip()
    return secrets_provider_url(SECRETS_ALIAS, region or DEFAULT_REGION)


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


@dataclass(frozen=True)
class PolicyViolation:
    """One policy event of a preview (CrossGuard reports violations as engine events)."""

    level: str
    """"mandatory" stops the preview and the update; "advisory" only warns."""
    pack: str
    policy: str
    urn: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    def describe(self) -> str:
        name = self.urn.rsplit("::", 1)[-1] if self.urn else "(stack)"
        text = " ".join(self.message.split())
        return _clip(f"{self.level:<9} {self.pack}/{self.policy} {name}: {text}", 200)


@dataclass(frozen=True)
class PreviewReport:
    """What a preview said: change counts per op, the changed resources, the policy verdict."""

    counts: dict[str, int]
    changes: list[Change] = field(default_factory=list)
    violations: list[PolicyViolation] = field(default_factory=list)
    policy_checked: bool = False
    """A policy pack ran with the preview (policy/PulumiPolicy.yaml exists)."""

    def verdict(self) -> str:
        if not self.policy_checked:
            return "policy: not checked (no policy/PulumiPolicy.yaml in the project)"
        mandatory = sum(v.mandatory for v in self.violations)
        advisory = len(self.violations) - mandatory
        if mandatory:
            return f"policy: FAILED, {mandatory} mandatory violation(s), {advisory} advisory"
        if advisory:
            return f"policy: passed with {advisory} advisory warning(s)"
        return "policy: passed"


class DriftError(OpsError):
    """`preview --expect-no-changes` saw changes; `changes` lists them when events named them."""

    def __init__(self, stack: str, counts: Mapping[str, int], changes: list[Change]) -> None:
        total = sum(counts.values()) or len(changes)
        summary = ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "changes"
        # What cures drift: `up` makes the cloud match the program again; keeping the cloud's
        # values means changing the program or config to them. A refresh alone only copies the
        # cloud's values into the state: the program still differs, so this check (which
        # refreshes first anyway) and the next `up` see the same changes.
        super().__init__(
            f"stack {stack} has drifted: {total} change(s) proposed ({summary}); "
            f"`deploy.py up --stack {stack}` restores what the program declares, or change the "
            f"program/Pulumi.{stack}.yaml to keep the cloud's values (`refresh` alone does not "
            "clear drift)",
            ExitCode.DRIFT,
        )
        self.counts = dict(counts)
        self.changes = changes


class PolicyError(OpsError):
    """A mandatory policy violation in the preview: nothing was applied."""

    def __init__(self, stack: str, violations: list[PolicyViolation]) -> None:
        mandatory = sum(v.mandatory for v in violations)
        super().__init__(
            f"the preview of stack {stack} violates {mandatory} mandatory polic(ies) (listed "
            "above); nothing was changed"
        )
        self.violations = violations


class Interrupted(OpsError):
    """Ctrl-C during a CLI run, reported once the CLI has exited."""

    def __init__(self, verb: str, stack: str, forced: bool, code: int) -> None:
        of = f"`{verb}` of stack {stack}" if stack else f"`pulumi {verb}`"
        if verb not in _STATE_VERBS:
            super().__init__(f"interrupted during {of}; it changes nothing", ExitCode.INTERRUPTED)
        elif forced:
            super().__init__(
                f"forced stop: the engine was killed during {of}; clean up as listed above "
                "(lock, pending operations, orphaned resources) before the next update",
                ExitCode.FORCED_STOP,
            )
        elif code == 0:
            super().__init__(
                f"interrupted: {of} completed before the cancel took effect; nothing is "
                "left half-done",
                ExitCode.INTERRUPTED,
            )
        else:
            super().__init__(
                f"interrupted: {of} was cancelled; the engine finished the operations in flight, "
                f"saved the state and released the lock, so the stack may be partly changed: "
                f"`deploy.py preview --stack {stack}` shows what is left",
                ExitCode.INTERRUPTED,
            )
        self.forced = forced


class EngineCommand(auto.PulumiCommand):
    """The `pulumi` CLI, run so that Ctrl-C never abandons it mid-update.

    The Automation API's own `PulumiCommand.run` starts the CLI in deploy.py's process group:
    a terminal's Ctrl-C reaches both, KeyboardInterrupt unwinds deploy.py out of `run`, and
    Popen's __exit__ closes the pipes while the CLI is still cancelling. The reader threads
    then fail ("I/O operation on closed file") and the CLI dies of SIGPIPE on its next line,
    leaving the stack locked and operations pending. Here the CLI gets its own process group
    (it hears only what deploy.py forwards), SIGINT is handled instead of raised while it runs,
    and its output is read to the end whatever happens:

    - first Ctrl-C: forwarded, i.e. the CLI's own graceful cancel ("^C received; cancelling",
      pkg/backend/cancellation_scope.go): in-flight operations finish, the state is saved,
      the lock released;
    - second Ctrl-C: forwarded too (the CLI's "terminating", which stops its plugins), after
      saying what a forced stop leaves behind; the process group is killed if the CLI is not
      gone after TERMINATE_GRACE_SECONDS; a third kills it at once.

    Once the CLI has exited, an interrupted run raises Interrupted (exit 130, or 7 after a
    forced stop). `cancel()` is the same graceful cancel for deploy.py's own reasons.
    """

    def __init__(self, notice: LineSink = _stderr_line) -> None:
        super().__init__()
        self.notice = notice
        self._lock = threading.RLock()  # RLock: the signal handler runs on the main thread
        self._process: subprocess.Popen[str] | None = None
        self._verb = ""
        self._stack = ""
        self._interrupts = 0
        self._sigints_sent = 0
        self._killer: threading.Timer | None = None

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: LineSink | None = None,
        on_error: LineSink | None = None,
    ) -> CommandResult:
        """Run one CLI command as `PulumiCommand.run` does (same arguments, environment and
        result), but interrupt-safe."""
        end = args.index("--") if "--" in args else len(args)
        if "--non-interactive" not in args[:end]:
            args.insert(0, "--non-interactive")
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        verb = next((a for a in args if not a.startswith("-")), "")
        stack = args[args.index("--stack") + 1] if "--stack" in args[:-1] else ""
        out_lines: list[str] = []
        err_lines: list[str] = []
        process = subprocess.Popen(
            [self.command, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            encoding="utf-8",
            errors="replace",
            process_group=0,
        )
        assert process.stdout is not None and process.stderr is not None
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, on_output, out_lines)),
            threading.Thread(target=_pump, args=(process.stderr, on_error, err_lines)),
        ]
        with self._forwarding(process, verb, stack):
            for reader in readers:
                reader.start()
            for reader in readers:
                _join(reader)
            code = process.wait()
            interrupts, sent = self._interrupts, self._sigints_sent
        if interrupts:
            raise Interrupted(verb, stack, forced=sent > 1, code=code)
        result = CommandResult(stdout="\n".join(out_lines), stderr="\n".join(err_lines), code=code)
        if code != 0:
            raise create_command_error(result)
        return result

    def cancel(self, reason: str) -> None:
        """Ask the running CLI to cancel gracefully (as a first Ctrl-C); safe from any thread."""
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None or self._sigints_sent:
                return
            self._sigints_sent = 1
        self.notice(f"deploy.py: {reason}: asking the engine to cancel gracefully")
        _signal(process, signal.SIGINT)

    @contextmanager
    def _forwarding(self, process: subprocess.Popen[str], verb: str, stack: str) -> Iterator[None]:
        with self._lock:
            self._process, self._verb, self._stack = process, verb, stack
            self._interrupts = self._sigints_sent = 0
        # Python delivers signals to the main thread only; elsewhere (never in deploy.py) the
        # CLI keeps the default behaviour.
        # SIGTERM (a CI job being cancelled) is treated as Ctrl-C: with the CLI in its own
        # process group, it would otherwise kill deploy.py alone and orphan the CLI mid-update.
        main = threading.current_thread() is threading.main_thread()
        previous = (
            {sig: signal.signal(sig, self._on_sigint) for sig in (signal.SIGINT, signal.SIGTERM)}
            if main
            else {}
        )
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
            with self._lock:
                self._process = None
                if self._killer is not None:
                    self._killer.cancel()
                    self._killer = None
            if process.poll() is None:  # only on an unexpected error: never leave it running
                _kill_group(process)
                process.wait()

    def _on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                return
            self._interrupts += 1
            self._sigints_sent += 1
            sent = self._sigints_sent
        if sent == 1:
            self.notice(cancel_notice(self._verb, self._stack))
            _signal(process, signal.SIGINT)
        elif sent == 2:
            for line in forced_stop_notice(self._verb, self._stack):
                self.notice(line)
            _signal(process, signal.SIGINT)
            killer = threading.Timer(TERMINATE_GRACE_SECONDS, _kill_group, args=(process,))
            killer.daemon = True
            with self._lock:
                self._killer = killer
            killer.start()
        else:
            _kill_group(process)


def cancel_notice(verb: str, stack: str) -> str:
    """What the first Ctrl-C does, said at once (the engine may take minutes to finish)."""
    if verb not in _STATE_VERBS:
        return f"deploy.py: Ctrl-C: stopping `pulumi {verb}` (it changes nothing)"
    return (
        f"deploy.py: Ctrl-C: asking the engine to cancel `{verb}` of stack {stack}: it finishes "
        "the operations in flight, saves the state and releases the lock (this can take "
        "minutes). Press Ctrl-C again only to force a stop, which leaves cleanup to do."
    )


def forced_stop_notice(verb: str, stack: str) -> list[str]:
    """What the second Ctrl-C leaves behind, and the cleanup for each (printed before it acts)."""
    if verb not in _STATE_VERBS:
        return [f"deploy.py: second Ctrl-C: stopping `pulumi {verb}` now (it took no lock)"]
    return [
        f"deploy.py: second Ctrl-C: stopping the engine now, in the middle of `{verb}` of stack "
        f"{stack}. A forced stop can leave behind:",
        "  - the stack's lock in the state backend (.pulumi/locks/...): later updates fail with "
        "'the stack is currently locked' (exit 3). Once sure no other update of the stack runs, "
        f"`pulumi cancel --stack {stack} --yes` (with PULUMI_BACKEND_URL set) deletes it.",
        "  - pending operations in the state (resources that were being created, updated or "
        f"deleted): `pulumi refresh --stack {stack}` at a terminal re-reads them and clears them "
        "(it asks what to do with each pending create); or `pulumi stack export --file s.json`, "
        "delete its pending_operations, `pulumi stack import --file s.json`.",
        "  - orphaned resources: one AWS created but whose id never reached the state belongs "
        "to no stack; find it by its tags (ManagedBy=pulumi and the stack's Environment), then "
        "`pulumi import` it or delete it.",
        f"  Then `deploy.py preview --stack {stack}` shows what is left to do.",
    ]


def _join(thread: threading.Thread) -> None:
    """`thread.join()`, waking every SIGNAL_CHECK_SECONDS. The kernel delivers a signal sent to
    the process (Ctrl-C, SIGTERM) to any of its threads that does not block it: a reader, one
    of gRPC's. CPython then runs the Python handler only once the main thread runs bytecode
    again, which a main thread asleep in a plain join() does only when the CLI has exited: the
    Ctrl-C would be ignored for the whole update, then dropped (the CLI is gone)."""
    while thread.is_alive():
        thread.join(SIGNAL_CHECK_SECONDS)


def _pump(stream: IO[str], sink: LineSink | None, lines: list[str]) -> None:
    """Read one of the CLI's streams to its end. Whatever happens to the sink (deploy.py's own
    stdout closed, say), the pipe is drained: a CLI writing into a closed pipe dies of SIGPIPE
    in the middle of its update."""
    for raw in iter(stream.readline, ""):
        line = raw.rstrip()
        lines.append(line)
        if sink is not None:
            try:
                sink(line)
            except Exception:  # keep draining; the line is still in `lines`
                sink = None
    stream.close()


def _signal(process: subprocess.Popen[str], signum: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(process.pid, signum)


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the CLI and the plugins it started (its process group, see EngineCommand)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


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


def available_stacks(work_dir: Path = REPO_ROOT) -> list[str]:
    """Every stack of the project: the names of its `Pulumi.<name>.yaml` files."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in work_dir.glob("Pulumi.*.yaml"))


def check_stack(stack: str, work_dir: Path = REPO_ROOT) -> None:
    """A stack is any name with a `Pulumi.<name>.yaml` in the project (the stack's config)."""
    if not _STACK_NAME.match(stack):
        raise OpsError(
            f"invalid stack name {stack!r}: letters, digits, '-', '_' and '.' only", ExitCode.USAGE
        )
    if not (work_dir / f"Pulumi.{stack}.yaml").is_file():
        known = ", ".join(available_stacks(work_dir)) or "none"
        raise OpsError(
            f"no stack file Pulumi.{stack}.yaml in {work_dir} (stacks: {known}); a stack is any "
            "name with a Pulumi.<name>.yaml: copy one to start a new stack",
            ExitCode.USAGE,
        )


def stack_environment(stack: str, work_dir: Path = REPO_ROOT) -> str:
    """The environment a stack deploys: `tap:environment` in its stack file, else its name."""
    return str(stack_file_config(stack, work_dir).get("environment") or stack)


def stack_is_production(stack: str, work_dir: Path = REPO_ROOT) -> tuple[bool, str]:
    """Is the stack production (StackConfig.is_production), and how that was decided.

    Destroy does not run the program, so a stack whose config no longer validates must still be
    destroyable, and still guarded: such a stack counts as production (the stricter guard).
    """
    try:
        config = parse_stack_config(stack_file_config(stack, work_dir), stack)
    except ConfigError:
        return True, "its config does not validate, so it is guarded as production"
    return config.is_production, "production" if config.is_production else "not production"


def stack_aws(stack: str, work_dir: Path = REPO_ROOT) -> AwsConfig:
    """The stack's `tap:aws` (account, role) alone: `verify` needs no more of the config."""
    raw = stack_file_config(stack, work_dir).get("aws") or {}
    try:
        return AwsConfig.model_validate(raw)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        first = str(exc).splitlines()
        problem = first[2].strip() if len(first) > 2 else " ".join(first)
        raise OpsError(
            f"Pulumi.{stack}.yaml: invalid config tap:aws: {_clip(problem)}", ExitCode.USAGE
        ) from None


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
    when the file does not exist yet (the engine would then run the program without them).
    A file that is not YAML, or not shaped like a stack file, is one line (exit 2)."""
    path = work_dir / f"Pulumi.{stack}.yaml"
    try:
        document = yaml_text.parse(path.read_text()) if path.is_file() else None
    except yaml.YAMLError as exc:
        problem = _clip(" ".join(str(exc).split()))
        raise OpsError(f"{path.name} is not valid YAML: {problem}", ExitCode.USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OpsError(f"cannot read {path.name}: {exc}", ExitCode.USAGE) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise OpsError(
            f"{path.name} is not a stack file: expected a mapping with a config: key, "
            f"got a YAML {type(document).__name__}",
            ExitCode.USAGE,
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise OpsError(
            f"{path.name}: config: must be a mapping of keys to values, "
            f"got a YAML {type(config).__name__}",
            ExitCode.USAGE,
        )
    prefix = f"{NAMESPACE}:"
    return {str(k).removeprefix(prefix): v for k, v in config.items() if str(k).startswith(prefix)}


def pulumi_command(notice: LineSink = _stderr_line) -> EngineCommand:
    """The `pulumi` on PATH, version-checked by the Automation API; a clear error if absent."""
    missing = OpsError(f"the Pulumi CLI was not found on PATH; {INSTALL_HINT}", ExitCode.NO_CLI)
    if shutil.which("pulumi") is None:
        raise missing
    try:
        return EngineCommand(notice)
    except FileNotFoundError:
        raise missing from None
    except InvalidVersionError as exc:
        raise OpsError(f"unsupported Pulumi CLI: {exc}; {INSTALL_HINT}", ExitCode.NO_CLI) from None
    except subprocess.CalledProcessError as exc:
        raise OpsError(
            f"`pulumi version` failed with exit code {exc.returncode}; {INSTALL_HINT}",
            ExitCode.NO_CLI,
        ) from None


def open_stack(
    options: EngineOptions,
    create: bool = True,
    out: LineSink | None = None,
    notice: LineSink = _stderr_line,
) -> auto.Stack:
    """Select the stack in the backend; with `create`, create it (with the KMS secrets
    provider) if it is new. Read-only and destructive commands never create a stack: a wrong
    backend must not leave an empty stack (and a new secrets key in Pulumi.<stack>.yaml).

    Creating a stack writes `secretsprovider` and `encryptedkey` into Pulumi.<stack>.yaml (the
    CLI's `stack init`); `out` is told so, since that file must be committed. `notice` gets the
    Ctrl-C messages of every CLI run on this stack.
    """
    provider = options.new_stack_secrets_provider
    workspace = auto.LocalWorkspaceOptions(
        # The backend goes in the environment of every CLI call rather than `pulumi login`,
        # so running deploy.py never changes the operator's global login.
        env_vars={BACKEND_ENV: options.backend_url},
        secrets_provider=provider,
        pulumi_command=pulumi_command(notice),
    )
    name, work_dir = options.stack, str(options.work_dir)
    with engine_errors(options.stack):
        try:
            return auto.select_stack(stack_name=name, work_dir=work_dir, opts=workspace)
        except auto.StackNotFoundError:
            if not create:
                raise OpsError(
                    f"no stack {options.stack} in {options.backend_url} "
                    f"(`deploy.py up --stack {options.stack}` creates it)",
                    ExitCode.USAGE,
                ) from None
        before = _contents(options.stack_file)
        stack = auto.create_stack(stack_name=name, work_dir=work_dir, opts=workspace)
    say = out or (lambda _line: None)
    say(f"created stack {options.stack} in {options.backend_url} (secrets provider {provider})")
    if _contents(options.stack_file) != before:
        say(
            f"note: {options.stack_file.name} now holds the stack's secretsprovider and "
            "encryptedkey (the data key its secret config values are encrypted with): "
            "commit it"
        )
    return stack


def _contents(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


@contextmanager
def engine_errors(stack: str, takes_lock: bool = True) -> Iterator[None]:
    """Translate Automation API exceptions into one-line OpsErrors with their exit codes.

    `takes_lock=False` for previews: the S3 backend takes no lock for them, so "locked" (exit
    3) is never their answer (pulumi/pulumi#8973: "Preview doesn't try to take the lock").
    """
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        if not takes_lock:
            raise OpsError(f"pulumi failed on stack {stack}: {headline(str(exc))}") from None
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
    targets: Sequence[str] = (),
) -> PreviewReport:
    """Run a preview: its change counts, the resources it would change, its policy verdict.

    With `expect_no_changes`, raises DriftError if the engine proposes any change. A mandatory
    policy violation raises PolicyError.
    """
    changes: list[Change] = []
    violations: list[PolicyViolation] = []
    seen: set[str] = set()

    def on_event(event: auto.EngineEvent) -> None:
        policy = event.policy_event
        if policy is not None:
            violations.append(
                PolicyViolation(
                    policy.enforcement_level,
                    policy.policy_pack_name,
                    policy.policy_name,
                    policy.resource_urn or "",
                    policy.message,
                )
            )
        change = _change(event)
        if change is None or change.op in _REPLACEMENT_STEPS or change.urn in seen:
            return
        seen.add(change.urn)
        changes.append(change)

    with engine_errors(stack.name, takes_lock=False):
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
                target=list(targets) or None,
            )
        except auto.CommandError as exc:
            if any(v.mandatory for v in violations):
                raise PolicyError(stack.name, violations) from None
            if expect_no_changes and _DRIFT.search(str(exc)):
                raise DriftError(stack.name, _count(changes), changes) from None
            raise
    counts = changed_counts(result.change_summary)
    # Belt and braces: a CLI that reports the changes without failing is still drift.
    if expect_no_changes and counts:
        raise DriftError(stack.name, counts, changes)
    return PreviewReport(counts, changes, violations, bool(options.policy_packs))


class UpdateGuard:
    """Holds an update to its preview (what `up --plan` would do, see docs/operations.md).

    The update's own resource-pre events arrive as the engine starts each step; the first
    change the preview did not show (another resource, or a stronger op) cancels the update
    gracefully: the step that surprised finishes, no later step starts. With per-resource
    preview events each URN must keep its op; with counts only, no op may exceed its count.
    """

    def __init__(self, expected: PreviewReport, cancel: Callable[[str], None]) -> None:
        self.by_urn = {change.urn: change.op for change in expected.changes}
        self.counts_only = bool(expected.counts) and not expected.changes
        self.remaining = dict(expected.counts)
        self.replacing = expected.counts.get("replace", 0) > 0
        self.cancel = cancel
        self.surprise: Change | None = None

    def on_event(self, event: auto.EngineEvent) -> None:
        change = _change(event)
        if change is None or self.surprise is not None or self._expected(change):
            return
        self.surprise = change
        self.cancel(f"the update would {change.op} {change.urn}, which the preview did not show")

    def _expected(self, change: Change) -> bool:
        replacing = change.op in _REPLACEMENT_STEPS or change.op == "replace"
        if self.counts_only:
            if change.op in _REPLACEMENT_STEPS:  # a replace's other steps: counted as the replace
                return self.replacing
            self.remaining[change.op] = self.remaining.get(change.op, 0) - 1
            return self.remaining[change.op] >= 0
        planned = self.by_urn.get(change.urn)
        return planned == change.op or (planned == "replace" and replacing)


class DivergedError(OpsError):
    """The update started a change its preview did not show."""

    def __init__(self, stack: str, surprise: Change, completed: bool) -> None:
        what = " ".join(surprise.describe().split())
        outcome = (
            "it completed before the cancel took effect: review the stack with "
            f"`deploy.py preview --stack {stack}`"
            if completed
            else "deploy.py cancelled it (the operations in flight finished, no later one "
            f"started): run `deploy.py up --stack {stack}` again to preview and confirm"
        )
        super().__init__(
            f"the update of stack {stack} started a change its preview did not show ({what}); "
            + outcome,
            ExitCode.DIVERGED,
        )
        self.surprise = surprise


def up(
    stack: auto.Stack,
    options: EngineOptions,
    out: LineSink,
    err: LineSink,
    targets: Sequence[str] = (),
    expected: PreviewReport | None = None,
) -> dict[str, int]:
    """Run an update; with `targets`, only those URNs (`--target`, once per URN). With
    `expected` (the preview the operator confirmed), the update is held to it (UpdateGuard)."""
    command = stack.workspace.pulumi_command
    guard = None
    if expected is not None:
        cancel = command.cancel if isinstance(command, EngineCommand) else lambda _reason: None
        guard = UpdateGuard(expected, cancel)
    try:
        with engine_errors(stack.name):
            result = stack.up(
                on_output=out,
                on_error=err,
                on_event=guard.on_event if guard else None,
                policy_packs=options.policy_packs or None,
                target=list(targets) or None,
            )
    except Interrupted:
        raise
    except OpsError:
        if guard is not None and guard.surprise is not None:
            raise DivergedError(stack.name, guard.surprise, completed=False) from None
        raise
    if guard is not None and guard.surprise is not None:
        raise DivergedError(stack.name, guard.surprise, completed=True)
    return op_counts(result.summary.resource_changes)


def refresh(
    stack: auto.Stack, out: LineSink, err: LineSink, targets: Sequence[str] = ()
) -> dict[str, int]:
    with engine_errors(stack.name):
        result = stack.refresh(on_output=out, on_error=err, target=list(targets) or None)
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


@dataclass(frozen=True)
class StackEngine:
    """tap_tooling/ops/dr.py's DrEngine on the Automation API: the same interrupt-safe CLI runs, the
    engine's output streamed, one summary line per operation."""

    stack: auto.Stack
    options: EngineOptions
    out: LineSink
    err: LineSink

    def refresh(self, targets: Sequence[str] | None = None) -> None:
        counts = refresh(self.stack, self.out, self.err, list(targets or ()))
        scope = f" ({len(targets)} target(s))" if targets else ""
        self.out(f"refresh {self.options.stack}{scope}: {format_counts(counts)}")

    def up(self, targets: Sequence[str] | None) -> None:
        counts = up(self.stack, self.options, self.out, self.err, list(targets or ()))
        scope = f" ({len(targets)} target(s))" if targets else ""
        self.out(f"up {self.options.stack}{scope}: {format_counts(counts)}")


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


def _change(event: auto.EngineEvent) -> Change | None:
    """The resource change a resource-pre event announces; None for events that change
    nothing in the cloud."""
    pre = event.resource_pre_event
    if pre is None:
        return None
    metadata = pre.metadata
    op = _op_name(metadata.op)
    if op in _NO_CHANGE_OPS:
        return None
    return Change(op, metadata.type, metadata.urn, tuple(metadata.diffs or ()))


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
