"""Ctrl-C during an engine command: real signals to a real deploy.py process, the fake CLI.

deploy.py runs as a subprocess (as an operator runs it) against the fake `pulumi`, which
handles SIGINT as the real CLI does (tests/fake_pulumi/fake_cli.py): the first cancels (its
lock is released once in-flight steps finish, after more output), the second kills it (the lock
stays), and it dies of SIGPIPE if its stdout pipe is closed under it, which is what deploy.py
used to do (issue 12: "ValueError: I/O operation on closed file", stack left locked).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tap_tooling.ops.automation import REPO_ROOT
from tap_tooling.ops.errors import ExitCode
from tests.fake_pulumi import GRPC_EVENTS_CLI, FakePulumi, install

BACKEND = "s3://tap-pulumi-state-123456789012-us-east-1?region=us-east-1&awssdk=v2"
SLOW = [f"    aws:ec2:Subnet us-east-1-private-{i} creating ({i}s)" for i in range(60)]
AFTER_CANCEL = [
    "    aws:ec2:Subnet us-east-1-private-7 created (8s)",
    "    aws:rds:Instance us-east-1-db creating... (waiting for in-flight step)",
    "    aws:rds:Instance us-east-1-db created (9m12s)",
]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """STS for `up`'s account check, over HTTP (deploy.py is another process); it only answers
    who the caller is, so one server serves the module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = install(tmp_path / "fake", monkeypatch)
    fake.configure(lines=SLOW, line_seconds=0.2, cancel_lines=AFTER_CANCEL, cancel_seconds=0.05)
    return fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO_ROOT / name, project / name)
    return project


class Deploy:
    """deploy.py in its own process group (like a shell job), output captured to files."""

    def __init__(self, tmp_path: Path, moto_url: str, *argv: str) -> None:
        self.out_path, self.err_path = tmp_path / "stdout", tmp_path / "stderr"
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
        }
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO_ROOT / "deploy.py"), *argv, "--endpoint-url", moto_url]
                if argv[0] == "up"
                else [sys.executable, str(REPO_ROOT / "deploy.py"), *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stdout + self.stderr:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared:\n{self.stdout}\n{self.stderr}")

    def interrupt(self, terminal: bool = False) -> None:
        """Ctrl-C: to the whole process group as a terminal does, or to deploy.py alone."""
        if terminal:
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            os.kill(self.process.pid, signal.SIGINT)

    def finish(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout=timeout)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()


def start(tmp_path: Path, moto_url: str, project: Path, verb: str) -> Deploy:
    argv = [verb, "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project)]
    if verb in ("up", "destroy"):
        argv.append("--yes")
    return Deploy(tmp_path, moto_url, *argv)


def wait_running(fake: FakePulumi, verb: str, run: Deploy) -> None:
    """Until the fake runs `verb` and has printed a line of it (so it holds its lock)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (
            (fake.root / "running").exists()
            and any(c[:1] == [verb] for c in fake.commands())
            and SLOW[1] in run.stdout
        ):
            return
        assert run.process.poll() is None, run.stderr
        time.sleep(0.05)
    raise AssertionError(f"pulumi {verb} never started:\n{run.stderr}")


@pytest.mark.parametrize("verb", ["up", "refresh", "destroy"])
@pytest.mark.parametrize("terminal", [False, True], ids=["kill-pid", "terminal-group"])
def test_first_ctrl_c_cancels_gracefully_and_waits_for_the_engine(
    fake: FakePulumi, tmp_path: Path, moto_url: str, project: Path, verb: str, terminal: bool
) -> None:
    fake.configure(
        lines_preview=[], lines=SLOW, line_seconds=0.2, cancel_lines=AFTER_CANCEL,
        cancel_seconds=0.05,
    )  # fmt: skip
    run = start(tmp_path, moto_url, project, verb)
    wait_running(fake, verb, run)
    assert fake.locked("dev")
    run.interrupt(terminal)
    code = run.finish()
    stdout, stderr = run.stdout, run.stderr
    assert code == ExitCode.INTERRUPTED == 130, stderr
    assert "Traceback" not in stderr and "I/O operation on closed file" not in stderr
    # The CLI got exactly one SIGINT (forwarded once, even when the terminal signals the
    # whole group), said so, and deploy.py kept reading what it wrote while it cancelled.
    assert fake.sigints() == [verb]
    assert "^C received; cancelling. If you would like to terminate immediately" in stdout
    assert stdout.splitlines()[-3:] == AFTER_CANCEL
    assert f"deploy.py: Ctrl-C: asking the engine to cancel `{verb}` of stack dev" in stderr
    assert stderr.splitlines()[-1] == (
        f"error: interrupted: `{verb}` of stack dev was cancelled; the engine finished the "
        "operations in flight, saved the state and released the lock, so the stack may be "
        "partly changed: `deploy.py preview --stack dev` shows what is left"
    )
    assert not fake.locked("dev")  # released: the next run is not locked out


def test_second_ctrl_c_forces_a_stop_and_says_what_is_left(
    fake: FakePulumi, tmp_path: Path, moto_url: str, project: Path
) -> None:
    fake.configure(
        lines_preview=[], lines=SLOW, line_seconds=0.2, cancel_lines=AFTER_CANCEL * 10,
        cancel_seconds=0.3, version=GRPC_EVENTS_CLI,  # killed and locked out: no 5 s waits
    )  # fmt: skip
    run = start(tmp_path, moto_url, project, "up")
    wait_running(fake, "up", run)
    run.interrupt()
    run.wait_for("^C received; cancelling")
    run.interrupt()
    code = run.finish()
    stderr = run.stderr
    assert code == ExitCode.FORCED_STOP == 7, stderr
    assert "Traceback" not in stderr
    assert fake.sigints() == ["up", "up"]
    assert "^C received; terminating" in run.stdout
    assert "deploy.py: second Ctrl-C: stopping the engine now" in stderr
    assert "`pulumi cancel --stack dev --yes`" in stderr
    assert "pending operations in the state" in stderr and "`pulumi refresh --stack dev`" in stderr
    assert "pulumi stack export" in stderr and "pulumi stack import" in stderr
    assert "orphaned resources" in stderr
    assert stderr.splitlines()[-1] == (
        "error: forced stop: the engine was killed during `up` of stack dev; clean up as "
        "listed above (lock, pending operations, orphaned resources) before the next update"
    )
    assert fake.locked("dev")  # what a forced stop leaves: the next update is locked out ...
    (tmp_path / "again").mkdir()
    again = start(tmp_path / "again", moto_url, project, "up")
    assert again.finish() == ExitCode.LOCKED
    # ... until `pulumi cancel` (as the message says) removes the lock.
    subprocess.run(["pulumi", "cancel", "--stack", "dev", "--yes"], check=True)
    assert not fake.locked("dev")


def test_sigterm_is_a_graceful_cancel_too(
    fake: FakePulumi, tmp_path: Path, moto_url: str, project: Path
) -> None:
    """A cancelled CI job gets SIGTERM: the CLI (in its own process group) is cancelled with
    SIGINT, which every CLI version handles, instead of being orphaned."""
    run = start(tmp_path, moto_url, project, "refresh")
    wait_running(fake, "refresh", run)
    os.kill(run.process.pid, signal.SIGTERM)
    assert run.finish() == ExitCode.INTERRUPTED, run.stderr
    assert fake.sigints() == ["refresh"]
    assert not fake.locked("dev")


def test_ctrl_c_during_a_preview_leaves_nothing_to_clean_up(
    fake: FakePulumi, tmp_path: Path, moto_url: str, project: Path
) -> None:
    run = start(tmp_path, moto_url, project, "preview")
    wait_running(fake, "preview", run)
    run.interrupt()
    assert run.finish() == ExitCode.INTERRUPTED
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1] == (
        "error: interrupted during `preview` of stack dev; it changes nothing"
    )
    assert fake.sigints() == ["preview"]
