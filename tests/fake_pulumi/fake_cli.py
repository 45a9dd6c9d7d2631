"""A stand-in for the `pulumi` executable: records its arguments and answers like the CLI.

Only the CLI boundary is faked: deploy.py and the Automation API run for real and talk to this
script through a subprocess, exactly as they would to the Go binary. Engine events go where
`--event-log` says, as the CLI sends them: JSON lines appended to a file (CLIs up to 3.205),
or, for newer CLIs, a gRPC client stream (`Events.StreamEvents`, one `EventRequest` per event)
to the Automation API's own server at `tcp://host:port`.

Driven by files in $FAKE_PULUMI_DIR (the `.marshal` ones are written and read with `marshal`,
see tests/fake_pulumi/__init__.py):
  scenario.marshal  what to answer (see tests/fake_pulumi/__init__.py for the keys)
  calls.marshal     one record appended per invocation: argv, cwd and the relevant environment
  stacks.marshal    stacks that exist in the fake backend (`stack init` adds to it)
  state.marshal     {stack: [urn]}: resources each stack's state holds (`up` adds to it)
  locks/<stack>     the stack's lock, as the S3 backend's .pulumi/locks/... object: taken by
                    up, refresh and destroy (never by preview), released when they end, even
                    when cancelled; left behind when the CLI is killed or dies
  applied.marshal   one record per resource step an update completed (urn, op)
  signals.marshal   one record per SIGINT the CLI received (verb, pid)
  running           written (with the pid) once an operation holds its lock, for the signal tests
  go                created by the test to release a handshake (proves output was streamed)

Signals as the real CLI handles them (pkg/backend/cancellation_scope.go): the first SIGINT
prints the engine's "^C received; cancelling..." on stdout and cancels: steps already in
flight finish, no new step starts, the lock is released, and the CLI fails (exit 255) after
writing its remaining output; a second SIGINT prints "^C received; terminating" and dies at
once, keeping the lock. Like any Go program, it dies of SIGPIPE when stdout is a closed pipe.

Start-up cost: the suite starts this script hundreds of times, and each start is time a test
waits. The shim runs it precompiled and without site-packages (`-S`), and it imports only `os`
and C modules: `json` (which compiles regular expressions on import), `signal` and `socket`
(which import `enum`), `pathlib`, and grpcio even more, would each cost more than the rest of
a call. Hence `marshal` for its own files, a JSON writer over json's C string escaper
(`_json`), `_signal` and `_socket` (the C halves of `signal` and `socket`), and a small gRPC
client: HTTP/2 with prior knowledge, as any gRPC client talks to an insecure port.
"""

from __future__ import annotations

import _json
import _signal
import marshal
import os
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost, see above)
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

    Scenario = dict[str, Any]

ROOT = os.environ["FAKE_PULUMI_DIR"]
CLI_FAILURE = 255  # what the real CLI exits with on any error
HANDSHAKE_TIMEOUT_SECONDS = 10.0
HOLD_TIMEOUT_SECONDS = 45.0
"""How long a `hold` or `cancel_hold` waits for the SIGINT that ends it. Past it the fake fails
(HARNESS_FAILURE) instead of carrying on: a signal that never arrived must fail the test saying
so, rather than let the operation end as if uninterrupted. Below the tests' 60 s waits, so that
message reaches the failing assertion."""
HARNESS_FAILURE = 70  # the fake's exit when the test, not the code under test, went wrong
POLL_SECONDS = 0.005
# Recorded so the tests can see which backend and mode the Automation API selected.
RECORDED_ENV = ("PULUMI_BACKEND_URL", "PULUMI_AUTOMATION_API", "PULUMI_CONFIG_PASSPHRASE")
_LOCKED = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
    "to end or delete the lock file with `pulumi cancel`.\n"
    "  s3://state/.pulumi/locks/organization/tap/{stack}/0b1c.json: created by ci@runner-7 "
    "(pid 4242) at 2025-01-01T00:00:00Z"
)


def path(*parts: str) -> str:
    return os.path.join(ROOT, *parts)


def load(name: str, default: Any = None) -> Any:
    try:
        with open(path(name), "rb") as file:
            return marshal.load(file)
    except FileNotFoundError:
        return default


def save(name: str, value: Any) -> None:
    with open(path(name), "wb") as file:
        marshal.dump(value, file)


def append(name: str, record: Any) -> None:
    """One record appended in one write (the file is a sequence of marshal records)."""
    with open(path(name), "ab") as file:
        file.write(marshal.dumps(record))


def to_json(value: Any, indent: int | None = None, _level: int = 0) -> str:
    """`json.dumps(value, indent=indent)` for the plain values scenarios hold (without
    importing json, see the module docstring): strings go through the C escaper json.dumps
    itself uses; anything else json could not encode either is refused."""
    if isinstance(value, str):
        return str(_json.encode_basestring_ascii(value))
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        items = [(to_json(str(k)), to_json(v, indent, _level + 1)) for k, v in value.items()]
        return _container("{", [f"{k}: {v}" for k, v in items], "}", indent, _level)
    if isinstance(value, list | tuple):
        items = [to_json(v, indent, _level + 1) for v in value]
        return _container("[", items, "]", indent, _level)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _container(start: str, items: list[str], end: str, indent: int | None, level: int) -> str:
    if not items:
        return start + end
    if indent is None:
        return start + ", ".join(items) + end
    inner, outer = "\n" + " " * (indent * (level + 1)), "\n" + " " * (indent * level)
    return start + inner + ("," + inner).join(items) + outer + end


def site_packages() -> None:
    """Put the test interpreter's package directories (FAKE_PULUMI_PACKAGES) on sys.path. The
    shim starts Python without them (`-S`), and without `site`, which would spend half a start
    reading their .pth files: only `stack init` with a secrets provider needs a package (yaml),
    and that one needs no .pth file."""
    for directory in os.environ["FAKE_PULUMI_PACKAGES"].split(os.pathsep):
        if directory not in sys.path:
            sys.path.append(directory)


def main(argv: list[str]) -> int:
    scenario: Scenario = load("scenario.marshal", {})
    record(argv)
    args = [a for a in argv if a != "--non-interactive"]
    if args[:1] == ["version"]:
        print(scenario.get("version", "v3.230.0"))  # GRPC_EVENTS_CLI
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
    append(
        "calls.marshal",
        {
            "argv": argv,
            "cwd": os.getcwd(),
            "env": {key: os.environ.get(key) for key in RECORDED_ENV},
        },
    )


def value_of(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def stacks() -> list[str]:
    return list(load("stacks.marshal", []))


def select_stack(name: str) -> int:
    if name in stacks():
        return 0
    print(f"error: no stack named '{name}' found", file=sys.stderr)
    return CLI_FAILURE


def init_stack(name: str, provider: str | None = None) -> int:
    """`stack init`: the stack joins the backend, and, as the real CLI does for a cloud secrets
    provider, the stack file in the project directory gets `secretsprovider` and
    `encryptedkey` (the data key, encrypted by KMS)."""
    save("stacks.marshal", [*stacks(), name])
    if provider:
        stack_file = os.path.join(os.getcwd(), f"Pulumi.{name}.yaml")
        protected = os.environ.get("FAKE_PULUMI_PROTECT")
        if protected and os.path.realpath(os.getcwd()) == os.path.realpath(protected):
            # Test harness guard, not CLI behaviour: a test must create stacks in a copy.
            print(
                f"fake pulumi: a test would edit the repository's {os.path.basename(stack_file)}",
                file=sys.stderr,
            )
            return 70
        site_packages()
        import yaml

        # libyaml's safe loader and dumper where PyYAML has them: the same documents, parsed
        # and written ten times faster than by the pure-Python ones.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        document = None
        if os.path.isfile(stack_file):
            with open(stack_file) as file:
                document = yaml.load(file.read(), Loader=loader)
        document = {
            "secretsprovider": provider,
            "encryptedkey": "AQICAHh0ZmFrZWtleQ==",
            **(document or {}),
        }
        with open(stack_file, "w") as file:
            file.write(yaml.dump(document, Dumper=dumper, sort_keys=False))
    print(f"Created stack '{name}'")
    return 0


def lock_path(stack: str) -> str:
    return path("locks", stack)


def unlock(stack: str) -> None:
    try:  # noqa: SIM105 (contextlib.suppress: importing contextlib costs more than the call)
        os.unlink(lock_path(stack))
    except FileNotFoundError:
        pass


def cancel(stack: str) -> int:
    """`pulumi cancel` on a DIY backend deletes the stack's lock (pulumi/pulumi#9100)."""
    unlock(stack)
    print(f"The currently running update for '{stack}' has been canceled!")
    return 0


def state() -> dict[str, list[str]]:
    return dict(load("state.marshal", {}))


def add_to_state(stack: str, urns: list[str]) -> None:
    current = state()
    held = current.get(stack, [])
    current[stack] = held + [urn for urn in urns if urn not in held]
    save("state.marshal", current)


def stack_output(scenario: Scenario, stack: str, show_secrets: bool) -> int:
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
    print(to_json(outputs, indent=2))
    return 0


def stack_history(scenario: Scenario, args: list[str]) -> int:
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
    print(to_json([entry]))
    return 0


def counts(scenario: Scenario, changes: list[dict[str, Any]] | None = None) -> dict[str, int]:
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
        self.sigints = 0
        self.cancelled = False

    def on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        append("signals.marshal", {"verb": self.verb, "pid": os.getpid()})
        self.sigints += 1
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
        """Wait, but wake up as soon as a cancel arrives (a step in flight then finishes)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.cancelled:
            time.sleep(POLL_SECONDS)

    def hold(self, line: str, sigints: int) -> bool:
        """Stay busy after `line` (a long operation, or a step in flight that a cancel waits
        for) until the CLI has had `sigints` SIGINTs; a second one never returns (it kills the
        CLI). Ended by the signal, never by a clock, so a slow machine cannot end it before the
        test's signal: False (after a message) if none came within HOLD_TIMEOUT_SECONDS."""
        deadline = time.monotonic() + HOLD_TIMEOUT_SECONDS
        while self.sigints < sigints:
            if time.monotonic() >= deadline:
                print(
                    f"fake pulumi: no SIGINT {sigints} within {HOLD_TIMEOUT_SECONDS:.0f} s of "
                    f"{line!r}",
                    file=sys.stderr,
                    flush=True,
                )
                return False
            time.sleep(POLL_SECONDS)
        return True

    def release(self) -> None:
        if self.takes_lock:
            unlock(self.stack)


def operation(scenario: Scenario, verb: str, args: list[str]) -> int:
    """preview/up/refresh/destroy: take the lock, stream the engine lines, send the events,
    release the lock, exit; cancelled by a first SIGINT, killed by a second."""
    # A Go program dies of SIGPIPE writing to a closed stdout/stderr pipe; Python would raise.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    stack = value_of(args, "--stack")
    engine = Engine(verb, stack, takes_lock=verb != "preview")
    _signal.signal(_signal.SIGINT, engine.on_sigint)
    if engine.takes_lock:
        if os.path.exists(lock_path(stack)) or scenario.get("fail") == "locked":
            print(_LOCKED.format(stack=stack), file=sys.stderr)
            return CLI_FAILURE
        os.makedirs(path("locks"), exist_ok=True)
        with open(lock_path(stack), "w") as lock:
            lock.write(to_json({"pid": os.getpid(), "verb": verb}))
    with open(path("running"), "w") as running:
        running.write(str(os.getpid()))
    code = run_operation(scenario, verb, args, stack, engine)
    if engine.cancelled:
        code = cancelled(scenario, engine)
    engine.release()
    return code


def cancelled(scenario: Scenario, engine: Engine) -> int:
    """After a cancel the engine still reports what it finished (the steps in flight), then
    fails; a second SIGINT meanwhile kills it (Engine.on_sigint)."""
    for line in scenario.get("cancel_lines", ["    (cancelling: waiting for in-flight steps)"]):
        print(line, flush=True)
        if line == scenario.get("cancel_hold") and not engine.hold(line, sigints=2):
            return HARNESS_FAILURE
        time.sleep(float(scenario.get("cancel_seconds", 0.1)))
    print("error: update canceled", file=sys.stderr, flush=True)
    return CLI_FAILURE


def run_operation(
    scenario: Scenario, verb: str, args: list[str], stack: str, engine: Engine
) -> int:
    events = EventLog(value_of(args, "--event-log")) if "--event-log" in args else None
    lines = scenario.get(f"lines_{verb}", scenario.get("lines", []))
    for line in lines:
        if engine.cancelled:
            break
        print(line, flush=True)
        if line == scenario.get("handshake") and not wait_for_go():
            print("fake pulumi: the first line was not streamed to the caller", file=sys.stderr)
            return 70
        if line == scenario.get("hold") and not engine.hold(line, sigints=1):
            return HARNESS_FAILURE
        engine.sleep(float(scenario.get("line_seconds", 0)))
    policy = "--policy-pack" in args and verb in ("preview", "up")
    changes = (
        scenario.get("up_changes", scenario.get("changes", []))
        if verb == "up"
        else (scenario.get("changes", []))
    )
    if events is not None:
        # Steps one by one, each announced (resource-pre) before it runs: a cancel lets the
        # step in flight finish and starts no other.
        for change in changes:
            if engine.cancelled:
                break
            events.send(pre_event(change))
            engine.sleep(float(change.get("seconds", scenario.get("step_seconds", 0))))
            if verb == "up":
                append("applied.marshal", {"urn": change["urn"], "op": change["op"]})
        # No summary when cancelled, or when the run died before it (`no_summary`).
        if not (engine.cancelled or scenario.get("no_summary")):
            for event in policy_events(scenario, policy):
                events.send(event)
            events.send(summary_event(scenario, verb))
        # The cancel event ends the Automation API's log watcher at once (else it waits 5 s).
        events.send({"cancelEvent": {}})
        if not events.close():
            print("fake pulumi: the Automation API did not take the events", file=sys.stderr)
            return 70
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


def policy_events(scenario: Scenario, applied: bool) -> list[dict[str, Any]]:
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


def summary_event(scenario: Scenario, verb: str) -> dict[str, Any]:
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


def update(scenario: Scenario, stack: str, targets: list[str]) -> int:
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
        if os.path.exists(path("go")):
            return True
        time.sleep(POLL_SECONDS)
    return False


class EventLog:
    """Where `--event-log` sends the engine events, one at a time as they happen, each with
    the next sequence number: appended to a file as JSON lines, or streamed over gRPC."""

    def __init__(self, target: str) -> None:
        self.sequence = 0
        self.stream = EventStream(target.removeprefix("tcp://")) if "://" in target else None
        self.file = None if self.stream else target

    def send(self, event: dict[str, Any]) -> None:
        line = to_json({"sequence": self.sequence, "timestamp": 0, **event})
        self.sequence += 1
        if self.stream is not None:
            self.stream.send(line)
        else:
            assert self.file is not None
            with open(self.file, "a") as log:
                log.write(line + "\n")

    def close(self) -> bool:
        """End the log; False if the Automation API's server did not accept the stream."""
        return self.stream.close() if self.stream is not None else True


# HTTP/2 (RFC 9113) frame types and flags, and the settings this client reads.
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4
_INITIAL_WINDOW_SIZE, _MAX_FRAME_SIZE = 0x4, 0x5
_STREAM = 1  # the one stream (call) of the connection
_METHOD = "/pulumirpc.Events/StreamEvents"  # proto/pulumi/events.proto, as the CLI calls it


class EventStream:
    """One `Events.StreamEvents` client-streaming call to the Automation API's gRPC server:
    HTTP/2 with prior knowledge (gRPC over an insecure port), one length-prefixed
    `EventRequest{string event = 1}` per event, with HTTP/2 flow control. It ends as the CLI's
    does: half-close, then wait for the server's answer (an empty message, then trailers), so
    every event has been handled before the CLI exits."""

    def __init__(self, address: str) -> None:
        import _socket

        host, port = address.rsplit(":", 1)
        self.socket = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        # As Go's net package does by default: without it, Nagle's algorithm holds a small
        # frame back until the server's delayed ACK (40 ms) whenever one is unacknowledged.
        self.socket.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.socket.connect((host, int(port)))
        self.buffer = b""
        self.windows = {0: 65535, _STREAM: 65535}  # connection and stream send windows
        self.stream_window_size = 65535
        self.max_frame = 16384
        self.answered = False  # the server sent its (empty) response message
        self.ended = False  # the server ended the stream
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", _METHOD),
            (":authority", address),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        block = b"".join(
            b"\x00" + _hpack_string(name) + _hpack_string(value) for name, value in headers
        )
        self.socket.sendall(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
            + _frame(_SETTINGS, 0, 0, b"")
            + _frame(_HEADERS, _END_HEADERS, _STREAM, block)
        )

    def send(self, event: str) -> None:
        data = event.encode()
        message = b"\x0a" + _varint(len(data)) + data  # field 1, length-delimited
        self._data(b"\x00" + len(message).to_bytes(4, "big") + message, end=False)

    def close(self) -> bool:
        self._data(b"", end=True)
        while not self.ended:
            self._read_frame()
        self.socket.close()
        return self.answered

    def _data(self, payload: bytes, end: bool) -> None:
        while True:
            size = min(len(payload), self.max_frame, self.windows[0], self.windows[_STREAM])
            if size < len(payload) and size <= 0:
                self._read_frame()  # wait for WINDOW_UPDATE / SETTINGS
                continue
            chunk, payload = payload[:size], payload[size:]
            last = end and not payload
            self.windows[0] -= size
            self.windows[_STREAM] -= size
            self.socket.sendall(_frame(_DATA, _END_STREAM if last else 0, _STREAM, chunk))
            if not payload:
                return

    def _read_frame(self) -> None:
        header = self._receive(9)
        length = int.from_bytes(header[:3], "big")
        kind, flags = header[3], header[4]
        stream = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
        payload = self._receive(length)
        if kind == _SETTINGS and not flags & _ACK:
            for i in range(0, len(payload), 6):
                key, value = int.from_bytes(payload[i : i + 2], "big"), payload[i + 2 : i + 6]
                if key == _INITIAL_WINDOW_SIZE:
                    size = int.from_bytes(value, "big")
                    self.windows[_STREAM] += size - self.stream_window_size
                    self.stream_window_size = size
                elif key == _MAX_FRAME_SIZE:
                    self.max_frame = int.from_bytes(value, "big")
            self.socket.sendall(_frame(_SETTINGS, _ACK, 0, b""))
        elif kind == _PING and not flags & _ACK:
            self.socket.sendall(_frame(_PING, _ACK, 0, payload))
        elif kind == _WINDOW_UPDATE:
            self.windows[stream] = self.windows.get(stream, 0) + int.from_bytes(payload, "big")
        elif kind == _DATA and stream == _STREAM:
            # google.protobuf.Empty: a message of length 0 (flag byte, then four zero bytes).
            self.answered = self.answered or payload[:5] == b"\x00" * 5
        elif kind in (_RST_STREAM, _GOAWAY):
            self.ended = True
        if kind in (_DATA, _HEADERS) and stream == _STREAM and flags & _END_STREAM:
            self.ended = True

    def _receive(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise ConnectionError("the Automation API closed the event stream")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload
    )


def _hpack_string(text: str) -> bytes:
    """An HPACK string literal, not Huffman-coded: its length (7-bit prefix), then its bytes."""
    data = text.encode()
    return _hpack_int(len(data), 7) + data


def _hpack_int(value: int, prefix_bits: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((value,))
    out, value = [limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes([*out, value])


def _varint(value: int) -> bytes:
    out = []
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
