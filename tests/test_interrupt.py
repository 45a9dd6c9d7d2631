"""Ctrl-C during an engine command: real signals to a real deploy.py process, the fake CLI.

deploy.py runs as a process of its own (as an operator runs it, forked from a zygote that has
done its imports, see ZYGOTE) against the fake `pulumi`, which
handles SIGINT as the real CLI does (tests/fake_pulumi/fake_cli.py): the first cancels (its
lock is released once in-flight steps finish, after more output), the second kills it (the lock
stays), and it dies of SIGPIPE if its stdout pipe is closed under it, which is what deploy.py
used to do (issue 12: "ValueError: I/O operation on closed file", stack left locked).
"""

from __future__ import annotations

import marshal
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
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
DEPLOY = REPO_ROOT / "deploy.py"
POLL_SECONDS = 0.005
FRESH_ENV = "TAP_TEST_FRESH_DEPLOY"
"""Set to 1 to start every deploy.py as a new interpreter instead of forking it from the
zygote (slower; the same tests, to compare the two)."""

# A zygote: a Python process that has imported everything deploy.py imports (about 1.5 s of
# each start, spent once per module instead of once per run) and forks one child per run. The
# child does what `python deploy.py ARGS` does after its imports: its own session (process
# group), stdin from /dev/null, stdout/stderr to files, the run's environment and working
# directory, then deploy.py runs as __main__ and its SystemExit ends the process, at the top
# level, as in a fresh interpreter. The signals the tests send, the CLI it starts, its exit
# code: all real; only the imports were done earlier. The zygote stays single-threaded (it is
# checked before each fork), so the child is as clean as a new process. It freezes what it
# imported before forking (gc.freeze, Python's recipe for fork servers): the child's garbage
# collections, and the full one at its exit (0.4 s of each run, walking every imported
# object), skip those objects; the child's own objects are collected as in a new process.
ZYGOTE = """
import gc, marshal, os, runpy, sys, threading

requests, replies, deploy = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.argv, sys.path[0] = [deploy], os.path.dirname(deploy)  # as `python deploy.py` has them
import tap_tooling.cli  # what deploy.py imports


def serve():
    with os.fdopen(requests, "rb") as inbox:
        while True:
            try:
                request = marshal.load(inbox)
            except EOFError:
                os._exit(0)
            assert threading.active_count() == 1 and len(os.listdir("/proc/self/task")) == 1
            gc.freeze()
            pid = os.fork()
            if pid == 0:
                os.close(replies)
                return request
            os.write(replies, b"%d\\n" % pid)
            _, status = os.waitpid(pid, 0)
            os.write(replies, b"%d\\n" % os.waitstatus_to_exitcode(status))


run = serve()  # only a forked child gets here
os.setsid()
for fd, name, flags in (
    (0, os.devnull, os.O_RDONLY),
    (1, run["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    (2, run["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
):
    opened = os.open(name, flags, 0o644)
    os.dup2(opened, fd)
    os.close(opened)
os.chdir(run["cwd"])
os.environ.clear()
os.environ.update(run["env"])
sys.argv = [deploy, *run["argv"]]
runpy.run_path(deploy, run_name="__main__")
"""


class Zygote:
    """The test side of the zygote: asks it for a run, hears the run's pid and exit code. One
    run at a time: the zygote waits for a run to end before it reads the next request."""

    def __init__(self, log: Path) -> None:
        requests, self.requests = os.pipe()
        self.replies, replies = os.pipe()
        with log.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-c", ZYGOTE, str(requests), str(replies), str(DEPLOY)],
                pass_fds=(requests, replies),
                stdin=subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        os.close(requests)
        os.close(replies)
        self.log, self.pending = log, b""

    def fork(self, argv: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> Forked:
        run = {"argv": argv, "env": env, "cwd": os.getcwd(), "stdout": str(stdout)}
        os.write(self.requests, marshal.dumps({**run, "stderr": str(stderr)}))
        pid = self.reply(timeout=60.0)
        assert pid is not None, "the zygote did not fork"
        return Forked(self, pid)

    def reply(self, timeout: float) -> int | None:
        """The next number the zygote sends, or None if none comes within `timeout`."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if not select.select([self.replies], [], [], max(left, 0))[0]:
                return None
            chunk = os.read(self.replies, 64)
            assert chunk, f"the zygote died:\n{self.log.read_text()}"
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return int(line)

    def close(self) -> None:
        os.close(self.requests)  # the zygote exits at the end of its requests
        self.process.wait(timeout=10)
        os.close(self.replies)


class Forked:
    """A deploy.py run forked by the zygote, with the part of Popen's interface tests use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.reply(timeout=0)
        return self.returncode

    def wait(self, timeout: float) -> int:
        if self.returncode is None:
            self.returncode = self.zygote.reply(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(str(DEPLOY), timeout)
        return self.returncode


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


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote | None]:
    if os.environ.get(FRESH_ENV) == "1":
        yield None
        return
    zygote = Zygote(tmp_path_factory.mktemp("zygote") / "log")
    try:
        yield zygote
    finally:
        zygote.close()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = install(tmp_path / "fake", monkeypatch)
    # A long operation: after its second line the engine stays busy until a SIGINT cancels it.
    fake.configure(lines=SLOW, hold=SLOW[1], cancel_lines=AFTER_CANCEL, cancel_seconds=0.05)
    return fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO_ROOT / name, project / name)
    return project


@pytest.fixture
def runs() -> Iterator[list[Deploy]]:
    """Every deploy.py a test starts; one still running when the test ends is killed."""
    started: list[Deploy] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait(timeout=10)


class Deploy:
    """deploy.py in its own process group (like a shell job), output captured to files."""

    def __init__(self, tmp_path: Path, moto_url: str, zygote: Zygote | None, *argv: str) -> None:
        self.out_path, self.err_path = tmp_path / "stdout", tmp_path / "stderr"
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
        }
        args = [*argv, "--endpoint-url", moto_url] if argv[0] == "up" else list(argv)
        self.process: Forked | subprocess.Popen[bytes]
        if zygote is not None:
            self.process = zygote.fork(args, env, self.out_path, self.err_path)
            return
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(DEPLOY), *args],
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
            time.sleep(POLL_SECONDS)
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


Start = Callable[[Path, str], "Deploy"]


@pytest.fixture
def start(moto_url: str, zygote: Zygote | None, project: Path, runs: list[Deploy]) -> Start:
    """Start `deploy.py VERB --stack dev` on the project, its output in files in `tmp_path`."""

    def start(tmp_path: Path, verb: str) -> Deploy:
        argv = [verb, "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project)]
        if verb in ("up", "destroy"):
            argv.append("--yes")
        runs.append(Deploy(tmp_path, moto_url, zygote, *argv))
        return runs[-1]

    return start


def wait_running(fake: FakePulumi, verb: str, run: Deploy) -> None:
    """Until the fake runs `verb` and deploy.py has forwarded a line of it (so it holds its
    lock)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (
            fake.running()
            and any(c[:1] == [verb] for c in fake.commands())
            and SLOW[1] in run.stdout
        ):
            return
        assert run.process.poll() is None, run.stderr
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"pulumi {verb} never started:\n{run.stderr}")


@pytest.mark.parametrize("verb", ["up", "refresh", "destroy"])
@pytest.mark.parametrize("terminal", [False, True], ids=["kill-pid", "terminal-group"])
def test_first_ctrl_c_cancels_gracefully_and_waits_for_the_engine(
    fake: FakePulumi, tmp_path: Path, start: Start, verb: str, terminal: bool
) -> None:
    fake.configure(
        lines_preview=[], lines=SLOW, hold=SLOW[1], cancel_lines=AFTER_CANCEL,
        cancel_seconds=0.05,
    )  # fmt: skip
    run = start(tmp_path, verb)
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
    fake: FakePulumi, tmp_path: Path, start: Start
) -> None:
    # The cancel then waits for the database step in flight (AFTER_CANCEL[1]) until the second
    # Ctrl-C: sent once that line is out, it reaches a CLI that is cancelling, with its event
    # stream closed, however loaded the machine (a cancel of fixed length could end first).
    fake.configure(
        lines_preview=[], lines=SLOW, hold=SLOW[1], cancel_lines=AFTER_CANCEL,
        cancel_hold=AFTER_CANCEL[1], version=GRPC_EVENTS_CLI,  # killed, locked out: no 5 s waits
    )  # fmt: skip
    run = start(tmp_path, "up")
    wait_running(fake, "up", run)
    run.interrupt()
    run.wait_for("^C received; cancelling")
    run.wait_for(AFTER_CANCEL[1])
    run.interrupt()
    code = run.finish()
    stderr = run.stderr
    assert code == ExitCode.FORCED_STOP == 7, stderr
    assert "Traceback" not in stderr
    assert fake.sigints() == ["up", "up"]
    assert "^C received; terminating" in run.stdout
    assert AFTER_CANCEL[2] not in run.stdout  # killed before the step in flight ended
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
    again = start(tmp_path / "again", "up")
    assert again.finish() == ExitCode.LOCKED
    # ... until `pulumi cancel` (as the message says) removes the lock.
    subprocess.run(["pulumi", "cancel", "--stack", "dev", "--yes"], check=True)
    assert not fake.locked("dev")


def test_sigterm_is_a_graceful_cancel_too(fake: FakePulumi, tmp_path: Path, start: Start) -> None:
    """A cancelled CI job gets SIGTERM: the CLI (in its own process group) is cancelled with
    SIGINT, which every CLI version handles, instead of being orphaned."""
    run = start(tmp_path, "refresh")
    wait_running(fake, "refresh", run)
    os.kill(run.process.pid, signal.SIGTERM)
    assert run.finish() == ExitCode.INTERRUPTED, run.stderr
    assert fake.sigints() == ["refresh"]
    assert not fake.locked("dev")


def test_ctrl_c_during_a_preview_leaves_nothing_to_clean_up(
    fake: FakePulumi, tmp_path: Path, start: Start
) -> None:
    run = start(tmp_path, "preview")
    wait_running(fake, "preview", run)
    run.interrupt()
    assert run.finish() == ExitCode.INTERRUPTED, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1] == (
        "error: interrupted during `preview` of stack dev; it changes nothing"
    )
    assert fake.sigints() == ["preview"]


def test_a_signal_taken_by_another_thread_is_handled_while_the_cli_runs() -> None:
    """The kernel may hand the process's Ctrl-C to any thread; the main thread waiting on the
    CLI's output readers must still run the handler then, not after the CLI exits."""
    import threading
    import time

    from tap_tooling.ops import automation

    handled: list[bool] = []
    cli_running = threading.Event()
    reader = threading.Thread(target=cli_running.wait, args=(10,))
    previous = signal.signal(signal.SIGUSR1, lambda *_: handled.append(reader.is_alive()))
    try:
        reader.start()
        signal.pthread_kill(reader.ident or 0, signal.SIGUSR1)  # lands on the reader thread
        threading.Timer(2.0, cli_running.set).start()
        started = time.monotonic()
        automation._join(reader)
        assert handled == [True]  # handled while the "CLI" still ran
        assert time.monotonic() - started < 10
    finally:
        cli_running.set()
        signal.signal(signal.SIGUSR1, previous)
