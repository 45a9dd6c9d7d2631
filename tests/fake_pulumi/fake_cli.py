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
  go             created by the test to release a handshake (proves output was streamed)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
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
        return init_stack(args[2])
    if args[:2] == ["stack", "output"]:
        return stack_output(scenario, value_of(args, "--stack"), "--show-secrets" in args)
    if args[:2] == ["stack", "history"]:
        return stack_history(scenario, args)
    if args[:1] and args[0] in ("preview", "up", "refresh", "destroy"):
        return operation(scenario, args[0], args)
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


def init_stack(name: str) -> int:
    (ROOT / "stacks.json").write_text(json.dumps([*stacks(), name]))
    print(f"Created stack '{name}'")
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


def counts(scenario: dict[str, Any]) -> dict[str, int]:
    result: dict[str, int] = {}
    if scenario.get("unchanged"):
        result["same"] = int(scenario["unchanged"])
    for change in scenario.get("changes", []):
        result[change["op"]] = result.get(change["op"], 0) + 1
    for op, count in scenario.get("summary_only", {}).items():
        result[op] = result.get(op, 0) + count
    return result


def operation(scenario: dict[str, Any], verb: str, args: list[str]) -> int:
    """preview/up/refresh/destroy: stream the engine lines, write the event log, exit."""
    for line in scenario.get("lines", []):
        print(line, flush=True)
        if line == scenario.get("handshake") and not wait_for_go():
            print("fake pulumi: the first line was not streamed to the caller", file=sys.stderr)
            return 70
    log = value_of(args, "--event-log") if "--event-log" in args else None
    if log:
        write_events(log, scenario)
    failure = scenario.get("fail")
    if failure == "locked":
        print(_LOCKED.format(stack=value_of(args, "--stack")), file=sys.stderr)
        return CLI_FAILURE
    if failure == "engine":
        print("    error: creating EC2 VPC: operation error EC2: CreateVpc, VpcLimitExceeded")
        print("error: update failed", file=sys.stderr)
        return CLI_FAILURE
    if verb == "preview" and "--expect-no-changes" in args and scenario.get("changes"):
        # The real CLI previews fully (events included) and only then fails.
        print("error: no changes were expected but changes were proposed", file=sys.stderr)
        return CLI_FAILURE
    if verb == "up":
        return update(scenario, value_of(args, "--stack"), targets_of(args))
    return 0


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


def write_events(target: str, scenario: dict[str, Any]) -> None:
    """Engine events as the CLI sends them to --event-log: JSON lines in a file (CLI <= 3.205)
    or a gRPC stream to the Automation API's server (`tcp://host:port`, newer CLIs)."""
    if scenario.get("no_summary"):
        # A run that died before its summary: only the cancel event that ends the log.
        deliver(target, [json.dumps({"sequence": 0, "timestamp": 0, "cancelEvent": {}})])
        return
    events: list[dict[str, Any]] = [
        {
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
        for change in scenario.get("changes", [])
    ]
    events.append(
        {
            "summaryEvent": {
                "maybeCorrupt": False,
                "durationSeconds": 1,
                "resourceChanges": counts(scenario),
                "PolicyPacks": {},
            }
        }
    )
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
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
        stub = events_pb2_grpc.EventsStub(channel)
        stub.StreamEvents(iter([events_pb2.EventRequest(event=line) for line in lines]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
