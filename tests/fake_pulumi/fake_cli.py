"""A stand-in for the `pulumi` executable: records its arguments and answers like the CLI.

Only the CLI boundary is faked: deploy.py and the Automation API run for real and talk to this
script through a subprocess, exactly as they would to the Go binary. It runs under the test's
interpreter, so for CLIs newer than 3.205 (engine events streamed over gRPC to the Automation
API's `--event-log tcp://...` server) it uses the SDK's own generated gRPC client.

Driven by files in $FAKE_PULUMI_DIR:
  scenario.json  what to answer (see tests/fake_pulumi/__init__.py for the keys)
  calls.jsonl    one line appended per invocation: argv, cwd and the relevant environment
  stacks.json    stacks that exist in the fake backend (`stack init` adds to it)
  state.json     {stack: [urn]}: resources each stack's state holds (`up` adds to it)
  locks/<stack>  the stack's lock, as the S3 backend's .pulumi/locks/... object: taken by up,
                 refresh and destroy (never by preview), released when they end, even when
                 cancelled; left behind when the CLI is killed or dies
  applied.jsonl  one line per resource step an update completed (urn, op)
  signals.jsonl  one line per SIGINT the CLI received (verb, pid)
  running        written (with the pid) once an operation has started, for the signal tests
  go             created by the test to release a handshake (proves output was streamed)

Signals as the real CLI handles them (pkg/backend/cancellation_scope.go): the first SIGINT
prints the engine's "^C received; cancelling..." on stdout and cancels: steps already in
flight finish, no new step starts, the lock is released, and the CLI fails (exit 255) after
writing its remaining output; a second SIGINT prints "^C received; terminating" and dies at
once, keeping the lock. Like any Go program, it dies of SIGPIPE when stdout is a closed pipe.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(os.environ["FAKE_PULUMI_DIR"])
CLI_FAILURE = 255  # what the real CLI exits with on any error
HANDSHAKE_TIMEOUT_SECONDS = 10.0
# Recorded so the tests can see which backend and mode the Automation API selected.
RECORDED_ENV = ("PULUMI_BACKEND_URL", "PULUMI_AUTOMATION_API", "PULUMI_CONFIG_PASSPHRASE")
_LOCKED = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
    "to end or delete the lock file with `pulumi cancel`.\n"
    "  s3://state/.pulumi/locks/organization/tap/{stack}/0b1c.json: created by ci@runner-7 "
    "(pid 4242) at 2025-01-01T00:00:00Z"
)


def site_packages() -> None:
    """Put the virtualenv's packages on sys.path. The shim starts Python without them (`-S`):
    half of a start is spent on them, most calls need none, and the suite starts the fake
    hundreds of times."""
    if "site" not in sys.modules:
        import site

        site.main()


def main(argv: list[str]) -> int:
    scenario = json.loads((ROOT / "scenario.json").read_text())
    record(argv)
    args = [a for a in argv if a != "--non-interactive"]
    if args[:1] == ["version"]:
        print(scenario.get("version", "v3.200.0"))
        return 0
    if args[:2] == ["stack", "select"]:
        return select_stack(value_of(args, "--stack"))
    if args[:2] == ["stack", "init"]:
        provider = value_of(args, "--secrets-provider") if "--secrets-provider" in args else None
        return init_stack(args[2], provider)
    if args[:2] == ["stack", "output"]:
        return stack_output(scenario, value_of(args, "--stack"), "--show-secrets" in args)
    if args[:2] == ["stack", "history"]:
        return stack_history(scenario, args)
    if args[:1] and args[0] in ("preview", "up", "refresh", "destroy"):
        return operation(scenario, args[0], args)
    if args[:1] == ["cancel"]:
        return cancel(value_of(args, "--stack"))
    print(f"fake pulumi: unsupported command {args}", file=sys.stderr)
    return 64


def record(argv: list[str]) -> None:
    entry = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {key: os.environ.get(key) for key in RECORDED_ENV},
    }
    with (ROOT / "calls.jsonl").open("a") as log:
        log.write(json.dumps(entry) + "\n")


def value_of(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def stacks() -> list[str]:
    return list(json.loads((ROOT / "stacks.json").read_text()))


def select_stack(name: str) -> int:
    if name in stacks():
        return 0
    print(f"error: no stack named '{name}' found", file=sys.stderr)
    return CLI_FAILURE


def init_stack(name: str, provider: str | None = None) -> int:
    """`stack init`: the stack joins the backend, and, as the real CLI does for a cloud secrets
    provider, the stack file in the project directory gets `secretsprovider` and
    `encryptedkey` (the data key, encrypted by KMS)."""
    (ROOT / "stacks.json").write_text(json.dumps([*stacks(), name]))
    if provider:
        path = Path.cwd() / f"Pulumi.{name}.yaml"
        protected = os.environ.get("FAKE_PULUMI_PROTECT")
        if protected and Path.cwd().resolve() == Path(protected).resolve():
            # Test harness guard, not CLI behaviour: a test must create stacks in a copy.
            print(f"fake pulumi: a test would edit the repository's {path.name}", file=sys.stderr)
            return 70
        site_packages()
        import yaml

        document = (yaml.safe_load(path.read_text()) if path.is_file() else None) or {}
        document = {"secretsprovider": provider, "encryptedkey": "AQICAHh0ZmFrZWtleQ==", **document}
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    print(f"Created stack '{name}'")
    return 0


def lock_path(stack: str) -> Path:
    return ROOT / "locks" / stack


def cancel(stack: str) -> int:
    """`pulumi cancel` on a DIY backend deletes the stack's lock (pulumi/pulumi#9100)."""
    lock_path(stack).unlink(missing_ok=True)
    print(f"The currently running update for '{stack}' has been canceled!")
    return 0


def state() -> dict[str, list[str]]:
    path = ROOT / "state.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def add_to_state(stack: str, urns: list[str]) -> None:
    current = state()
    held = current.get(stack, [])
    current[stack] = held + [urn for urn in urns if urn not in held]
    (ROOT / "state.json").write_text(json.dumps(current))


def stack_output(scenario: dict[str, Any], stack: str, show_secrets: bool) -> int:
    secret = set(scenario.get("secret_outputs", []))
    values = dict(scenario.get("outputs", {}))
    # Outputs that exist once the resource they come from is in the state (a zone's name
    # servers appear after the update that created the zone).
    for urn, extra in scenario.get("resource_outputs", {}).items():
        if urn in state().get(stack, []):
            values.update(extra)
    outputs = {
        key: value if show_secrets or key not in secret else "[secret]"
        for key, value in values.items()
    }
    print(json.dumps(outputs, indent=2))
    return 0


def stack_history(scenario: dict[str, Any], args: list[str]) -> int:
    entry = {
        "kind": scenario.get("last_kind", "update"),
        "startTime": "2025-01-01T00:00:00.000Z",
        "endTime": "2025-01-01T00:01:00.000Z",
        "message": "",
        "environment": {"exec.kind": "auto.local"},
        "config": {},
        "result": "succeeded",
        "version": 7,
        "resourceChanges": counts(scenario),
    }
    print(json.dumps([entry]))
    return 0


def counts(scenario: dict[str, Any], changes: list[dict[str, Any]] | None = None) -> dict[str, int]:
    result: dict[str, int] = {}
    if scenario.get("unchanged"):
        result["same"] = int(scenario["unchanged"])
    for change in scenario.get("changes", []) if changes is None else changes:
        result[change["op"]] = result.get(change["op"], 0) + 1
    for op, count in scenario.get("summary_only", {}).items():
        result[op] = result.get(op, 0) + count
    return result


class Engine:
    """One engine operation's cancellation state, driven by SIGINT as in the real CLI."""

    def __init__(self, verb: str, stack: str, takes_lock: bool) -> None:
        self.verb, self.stack, self.takes_lock = verb, stack, takes_lock
        self.cancelled = False

    def on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        with (ROOT / "signals.jsonl").open("a") as log:
            log.write(json.dumps({"verb": self.verb, "pid": os.getpid()}) + "\n")
        if not self.cancelled:
            self.cancelled = True
            message = (
                "^C received; cancelling. If you would like to terminate immediately, press ^C "
                "again.\n"
            )
            if self.verb != "preview":
                message += (
                    "Note that terminating immediately may lead to orphaned resources and other "
                    "inconsistencies.\n"
                )
            # os.write: no buffered writer to re-enter from a signal handler.
            os.write(1, message.encode())
            return
        os.write(1, b"^C received; terminating\n")
        os._exit(CLI_FAILURE)  # the lock stays, as when the real CLI is killed

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up as soon as a cancel arrives."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.cancelled:
            time.sleep(0.01)

    def release(self) -> None:
        if self.takes_lock:
            lock_path(self.stack).unlink(missing_ok=True)


def operation(scenario: dict[str, Any], verb: str, args: list[str]) -> int:
    """preview/up/refresh/destroy: take the lock, stream the engine lines, write the event log,
    release the lock, exit; cancelled by a first SIGINT, killed by a second."""
    # A Go program dies of SIGPIPE writing to a closed stdout/stderr pipe; Python would raise.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    stack = value_of(args, "--stack")
    engine = Engine(verb, stack, takes_lock=verb != "preview")
    signal.signal(signal.SIGINT, engine.on_sigint)
    if engine.takes_lock:
        if lock_path(stack).exists() or scenario.get("fail") == "locked":
            print(_LOCKED.format(stack=stack), file=sys.stderr)
            return CLI_FAILURE
        lock_path(stack).parent.mkdir(exist_ok=True)
        lock_path(stack).write_text(json.dumps({"pid": os.getpid(), "verb": verb}))
    (ROOT / "running").write_text(str(os.getpid()))
    code = run_operation(scenario, verb, args, stack, engine)
    if engine.cancelled:
        # After a cancel the engine still reports what it finished, then fails.
        for line in scenario.get("cancel_lines", ["    (cancelling: waiting for in-flight steps)"]):
            print(line, flush=True)
            time.sleep(float(scenario.get("cancel_seconds", 0.1)))
        print("error: update canceled", file=sys.stderr, flush=True)
        code = CLI_FAILURE
    engine.release()
    return code


def run_operation(
    scenario: dict[str, Any], verb: str, args: list[str], stack: str, engine: Engine
) -> int:
    lines = scenario.get(f"lines_{verb}", scenario.get("lines", []))
    for line in lines:
        if engine.cancelled:
            break
        print(line, flush=True)
        if line == scenario.get("handshake") and not wait_for_go():
            print("fake pulumi: the first line was not streamed to the caller", file=sys.stderr)
            return 70
        engine.sleep(float(scenario.get("line_seconds", 0)))
    log = value_of(args, "--event-log") if "--event-log" in args else None
    policy = "--policy-pack" in args and verb in ("preview", "up")
    changes = (
        scenario.get("up_changes", scenario.get("changes", []))
        if verb == "up"
        else (scenario.get("changes", []))
    )
    if log and not log.startswith("tcp://"):
        # Steps one by one, each announced (resource-pre) before it runs: a cancel lets the
        # step in flight finish and starts no other.
        for sequence, change in enumerate(changes):
            if engine.cancelled:
                break
            deliver(log, [json.dumps({"sequence": sequence, "timestamp": 0, **pre_event(change)})])
            engine.sleep(float(scenario.get("step_seconds", 0)))
            if verb == "up":
                with (ROOT / "applied.jsonl").open("a") as applied:
                    applied.write(json.dumps({"urn": change["urn"], "op": change["op"]}) + "\n")
        ended = engine.cancelled or scenario.get("no_summary")  # no summary: died before it
        tail = [] if ended else [*policy_events(scenario, policy), summary_event(scenario, verb)]
        deliver(
            log,
            [
                json.dumps({"sequence": 1000 + i, "timestamp": 0, **e})
                for i, e in enumerate([*tail, {"cancelEvent": {}}])
            ],
        )
    elif log:
        write_events(log, scenario, changes, policy_events(scenario, policy), verb)
    if engine.cancelled:
        return CLI_FAILURE
    failure = scenario.get("fail")
    if failure == "engine" and verb == "up":  # an AWS error: only an update calls AWS
        print("    error: creating EC2 VPC: operation error EC2: CreateVpc, VpcLimitExceeded")
        print("error: update failed", file=sys.stderr)
        return CLI_FAILURE
    if policy and any(v.get("level") == "mandatory" for v in scenario.get("policy", [])):
        print(f"error: {'preview' if verb == 'preview' else 'update'} failed", file=sys.stderr)
        return CLI_FAILURE
    if verb == "preview" and "--expect-no-changes" in args and scenario.get("changes"):
        # The real CLI previews fully (events included) and only then fails.
        print("error: no changes were expected but changes were proposed", file=sys.stderr)
        return CLI_FAILURE
    if verb == "up":
        return update(scenario, stack, targets_of(args))
    return 0


def pre_event(change: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourcePreEvent": {
            "metadata": {
                "op": change["op"],
                "urn": change["urn"],
                "type": change["type"],
                "provider": "",
                "diffs": change.get("diffs", []),
            }
        }
    }


def policy_events(scenario: dict[str, Any], applied: bool) -> list[dict[str, Any]]:
    """CrossGuard's verdicts, only when a pack was passed (the CLI runs no pack otherwise)."""
    if not applied:
        return []
    return [
        {
            "policyEvent": {
                "message": violation["message"],
                "color": "never",
                "policyName": violation["policy"],
                "policyPackName": "tap-policy",
                "policyPackVersion": "0.0.1",
                "policyPackVersionTag": "0.0.1",
                "enforcementLevel": violation["level"],
                "resourceUrn": violation.get("urn", ""),
            }
        }
        for violation in scenario.get("policy", [])
    ]


def summary_event(scenario: dict[str, Any], verb: str) -> dict[str, Any]:
    changes = scenario.get("up_changes") if verb == "up" else None
    return {
        "summaryEvent": {
            "maybeCorrupt": False,
            "durationSeconds": 1,
            "resourceChanges": counts(scenario, changes),
            "PolicyPacks": {},
        }
    }


def targets_of(args: list[str]) -> list[str]:
    """Every `--target <urn>` (the Automation API passes one flag per URN)."""
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--target"]


def update(scenario: dict[str, Any], stack: str, targets: list[str]) -> int:
    """Record what the update created in the stack's state; refuse targets as the engine does.

    `program` ({urn: parent urn}) stands for the resources the program registers. A targeted
    resource that would be created while its parent would be created but is not targeted is
    refused with the engine's diagnostic 2013 (pkg/resource/deploy/step_generator.go);
    providers and the root stack are implicitly targeted, so they never need a --target.
    """
    program: dict[str, str] = scenario.get("program", {})
    held = state().get(stack, [])
    if not targets:
        add_to_state(stack, list(program))
        return 0
    for urn in targets:
        if urn not in program and urn not in held:
            print(f"error: Target '{urn}' could not be found in the stack.", file=sys.stderr)
            return CLI_FAILURE
    created = [urn for urn in targets if urn not in held]
    for urn in created:
        parent = program.get(urn) or ""
        if parent and parent not in targets and parent not in held and not implicit(parent):
            print(
                f"    error: Resource '{urn}' depends on '{parent}' which was was not "
                "specified in --target list."
            )
            print("error: update failed", file=sys.stderr)
            return CLI_FAILURE
    add_to_state(stack, created)
    return 0


def implicit(urn: str) -> bool:
    """Resources every targeted update includes: providers and the root stack."""
    qualified_type = urn.split("::")[2] if urn.count("::") >= 3 else ""
    kind = qualified_type.rsplit("$", 1)[-1]  # a parented resource's type follows its parents'
    return kind.startswith("pulumi:providers:") or kind == "pulumi:pulumi:Stack"


def wait_for_go() -> bool:
    """Block until the test saw the line we printed: only true streaming can release us."""
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if (ROOT / "go").exists():
            return True
        time.sleep(0.01)
    return False


def write_events(
    target: str,
    scenario: dict[str, Any],
    changes: list[dict[str, Any]],
    policy: list[dict[str, Any]],
    verb: str,
) -> None:
    """Engine events as the CLI sends them to --event-log, all at the end: JSON lines in a file
    (CLI <= 3.205) or a gRPC stream to the Automation API's server (`tcp://host:port`)."""
    if scenario.get("no_summary"):
        # A run that died before its summary: only the cancel event that ends the log.
        deliver(target, [json.dumps({"sequence": 0, "timestamp": 0, "cancelEvent": {}})])
        return
    events = [pre_event(change) for change in changes] + policy
    events.append(summary_event(scenario, verb))
    # The cancel event ends the Automation API's log watcher at once (else it waits 5 s).
    events.append({"cancelEvent": {}})
    deliver(
        target,
        [
            json.dumps({"sequence": sequence, "timestamp": 0, **event})
            for sequence, event in enumerate(events)
        ],
    )


def deliver(target: str, lines: list[str]) -> None:
    if not target.startswith("tcp://"):
        with Path(target).open("a") as log:
            log.writelines(line + "\n" for line in lines)
        return
    site_packages()
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
        stub = events_pb2_grpc.EventsStub(channel)
        stub.StreamEvents(iter([events_pb2.EventRequest(event=line) for line in lines]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
