"""Install the fake `pulumi` executable (fake_cli.py) first on PATH, and read what it recorded.

Scenario keys (all optional):
  version         what `pulumi version` prints (default GRPC_EVENTS_CLI: the Automation API
                  takes engine events over gRPC; FILE_EVENTS_CLI: from a file the fake writes)
  stacks          stacks that already exist in the backend (default: ["dev", "staging", "prod"])
  lines           engine output printed, one per line, by preview/up/refresh/destroy
  handshake       one of `lines`: after printing it the fake waits until the test releases it
  changes         [{"op", "type", "urn", "diffs"}]: resource events and the change summary
  unchanged       count of "same" resources in the summary
  summary_only    {op: count} in the summary without resource events, and without failing
                  `--expect-no-changes` (as a CLI that only reports counts would)
  no_summary      the event log ends without a summary event
  fail            "locked" (another update holds the lock: up, refresh and destroy fail; a
                  preview takes no lock) or "engine" (a failed update)
  lines_<verb>    `lines` for one verb only (e.g. lines_up)
  hold            one of `lines`: after printing it the engine stays busy until a SIGINT
                  cancels it (a long operation, for the signal tests; with no SIGINT within
                  45 s the fake fails with exit 70 instead of carrying on)
  line_seconds    pause after each line
  step_seconds    how long each resource step of an operation takes (a change's own
                  "seconds" key overrides it); a cancel ends the step in flight
  cancel_lines    output written after a SIGINT cancel, before the CLI exits
  cancel_seconds  pause after each of them (default 0.1)
  cancel_hold     one of `cancel_lines`: after printing it the cancel waits for a step in
                  flight (a database: minutes) until a second SIGINT kills the CLI (exit 70
                  if none comes within 45 s)
  up_changes      resource steps `up` performs, when they differ from the preview's `changes`
  policy          [{"level": "mandatory"|"advisory", "policy", "urn", "message"}]: CrossGuard
                  verdicts, reported only when --policy-pack is passed; a mandatory one fails
                  the preview and the update
  outputs         `pulumi stack output --json --show-secrets` answer
  secret_outputs  keys masked as "[secret]" without --show-secrets
  state           {stack: [urn]}: resources already in each stack's state (default: none)
  program         {urn: parent urn or ""}: what the program registers; `up` adds these URNs
                  to the state (only the targeted ones with `--target`, and it refuses a
                  target whose parent would be created untargeted, as the engine does)
  resource_outputs {urn: {key: value}}: stack outputs present once `urn` is in the state
"""

from __future__ import annotations

import functools
import marshal
import os
import py_compile
import site
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("fake_cli.py")
GRPC_EVENTS_CLI = "v3.230.0"
"""A `version` whose engine events go to the Automation API over gRPC (CLIs from 3.206, as
the SDK in use expects; the fake's default)."""
FILE_EVENTS_CLI = "v3.200.0"
"""A `version` below 3.206: the Automation API reads engine events from a file. A command
that ends without writing the closing event (one locked out before it starts, or killed)
leaves it waiting 5 s for that event before it returns the same result."""
PACKAGE_DIRECTORIES = [
    *site.getsitepackages(),
    *([site.getusersitepackages()] if site.ENABLE_USER_SITE else []),
]
"""The directories `site` would add for this interpreter (the virtualenv's site-packages)."""


@dataclass(frozen=True)
class FakePulumi:
    """Handle on one installed fake CLI (its state lives in `root`, as marshal files: the fake
    reads and writes them without importing json, see fake_cli.py)."""

    root: Path

    def configure(self, **scenario: Any) -> None:
        self._save("stacks.marshal", list(scenario.pop("stacks", ["dev", "staging", "prod"])))
        self._save("state.marshal", scenario.pop("state", {}))
        self._save("scenario.marshal", scenario)

    def calls(self) -> list[dict[str, Any]]:
        return self._records("calls.marshal")

    def commands(self) -> list[list[str]]:
        """Argument lists of every invocation, without the `--non-interactive` every call gets."""
        return [[a for a in call["argv"] if a != "--non-interactive"] for call in self.calls()]

    def command(self, *prefix: str) -> list[str]:
        """The one invocation whose arguments start with `prefix`."""
        found = [args for args in self.commands() if args[: len(prefix)] == list(prefix)]
        assert len(found) == 1, f"expected one `pulumi {' '.join(prefix)}`, got {found}"
        return found[0]

    def call(self, *prefix: str) -> dict[str, Any]:
        """The recorded call (argv, cwd, env) whose arguments start with `prefix`."""
        for call in self.calls():
            args = [a for a in call["argv"] if a != "--non-interactive"]
            if args[: len(prefix)] == list(prefix):
                return call
        raise AssertionError(f"no `pulumi {' '.join(prefix)}` in {self.commands()}")

    def release(self) -> None:
        """Let a fake waiting on its handshake line carry on."""
        (self.root / "go").touch()

    def hold_lock(self, stack: str) -> None:
        """Another update holds the stack's lock (or a killed one left it)."""
        (self.root / "locks").mkdir(exist_ok=True)
        (self.root / "locks" / stack).write_text("{}")

    def locked(self, stack: str) -> bool:
        return (self.root / "locks" / stack).exists()

    def running(self) -> bool:
        """An operation has started (and holds its lock, if it takes one)."""
        return (self.root / "running").exists()

    def applied(self) -> list[tuple[str, str]]:
        """(op, urn) of every resource step updates completed, in order."""
        return [(entry["op"], entry["urn"]) for entry in self._records("applied.marshal")]

    def sigints(self) -> list[str]:
        """The verb the CLI was running for each SIGINT it received."""
        return [entry["verb"] for entry in self._records("signals.marshal")]

    def stacks(self) -> list[str]:
        return list(self._load("stacks.marshal"))

    def state(self, stack: str) -> list[str]:
        """URNs in the stack's state, in the order updates added them."""
        return list(self._load("state.marshal").get(stack, []))

    def updates(self) -> list[list[str]]:
        """The `--target` URNs of each `pulumi up`, in order ([] for a full update)."""
        return [
            [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--target"]
            for args in self.commands()
            if args[:1] == ["up"]
        ]

    def _save(self, name: str, value: Any) -> None:
        (self.root / name).write_bytes(marshal.dumps(value))

    def _load(self, name: str) -> Any:
        return marshal.loads((self.root / name).read_bytes())

    def _records(self, name: str) -> list[Any]:
        """Every record of a file the fake appends to (none if it never wrote one)."""
        path = self.root / name
        if not path.exists():
            return []
        records = []
        with path.open("rb") as file:
            while True:
                try:
                    records.append(marshal.load(file))
                except EOFError:
                    return records


@functools.cache
def compiled_script() -> bytes:
    """fake_cli.py as a .pyc, compiled once per test process. PYTHONDONTWRITEBYTECODE means
    no .pyc is ever cached for it, and compiling it anew was a third of each call."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "fake_cli.pyc"
        py_compile.compile(str(SCRIPT), cfile=str(target), doraise=True)
        return target.read_bytes()


def install(root: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    """Put an executable `pulumi` (a shim running fake_cli.py) first on PATH."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    compiled = bin_dir / "fake_cli.pyc"
    compiled.write_bytes(compiled_script())
    shim = bin_dir / "pulumi"
    # A shim rather than the script itself: no reliance on the repo keeping an exec bit, and
    # the fake runs under this interpreter whatever `python3` means on PATH. It runs the
    # compiled script (Python runs a .pyc given as the script). `-S`: the fake adds this
    # interpreter's package directories itself, only when a call needs them (fake_cli.py).
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{compiled}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_PULUMI_DIR", str(root))
    monkeypatch.setenv("FAKE_PULUMI_PACKAGES", os.pathsep.join(PACKAGE_DIRECTORIES))
    # `stack init` edits Pulumi.<stack>.yaml as the real CLI does: never in the repository.
    monkeypatch.setenv("FAKE_PULUMI_PROTECT", str(SCRIPT.parents[2]))
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.delenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", raising=False)
    fake = FakePulumi(root)
    fake.configure()
    return fake
