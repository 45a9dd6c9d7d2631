"""deploy.py's engine subcommands, through the real Automation API and a fake `pulumi` on PATH.

Only the CLI boundary is faked (tests/fake_pulumi): pulumi.automation really spawns it, parses
its answers and event log, and raises its own exception types, so these tests cover the same
code path as a run against the real CLI.
"""

from __future__ import annotations

import copy
import functools
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws

from tap_tooling import cli
from tap_tooling.cli import main
from tap_tooling.ops import automation, delegation
from tap_tooling.ops.automation import DEFAULT_SECRETS_PROVIDER, REPO_ROOT
from tap_tooling.ops.delegation import NsAnswer
from tap_tooling.ops.errors import ExitCode, OpsError
from tests.fake_pulumi import FILE_EVENTS_CLI, GRPC_EVENTS_CLI, FakePulumi, install

BACKEND = "s3://tap-pulumi-state-123456789012-us-east-1?region=us-east-1&awssdk=v2"
VPC_URN = "urn:pulumi:dev::tap::tap:network:Network$aws:ec2/vpc:Vpc::us-east-1-network-vpc"
SG_URN = "urn:pulumi:dev::tap::aws:ec2/securityGroup:SecurityGroup::us-east-1-alb-sg"
DRIFT: list[dict[str, Any]] = [
    {"op": "update", "type": "aws:ec2/vpc:Vpc", "urn": VPC_URN, "diffs": ["tags"]},
    {"op": "replace", "type": "aws:ec2/securityGroup:SecurityGroup", "urn": SG_URN},
]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process: STS answers get_caller_identity with moto's account 123456789012."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws: None) -> FakePulumi:
    return install(tmp_path / "fake", monkeypatch)


def no_dns(domain: str) -> NsAnswer:
    raise AssertionError(f"unexpected public DNS lookup of {domain}")


class Run:
    """One deploy.py invocation in-process: exit code and what it printed."""

    def __init__(
        self,
        argv: list[str],
        ask: Any = None,
        out: io.StringIO | None = None,
        resolve_ns: delegation.Resolver = no_dns,
    ) -> None:
        self.out, self.err = out or io.StringIO(), io.StringIO()
        self.prompts: list[str] = []

        def prompt(question: str) -> str | None:
            self.prompts.append(question)
            return ask

        self.code = main(argv, out=self.out, err=self.err, ask=prompt, resolve_ns=resolve_ns)

    @property
    def stdout(self) -> list[str]:
        return self.out.getvalue().splitlines()

    @property
    def error(self) -> str:
        """deploy.py's own error line (engine stderr, streamed earlier, comes before it)."""
        lines = self.err.getvalue().splitlines()
        assert lines, "nothing on stderr"
        assert "Traceback" not in self.err.getvalue()
        return lines[-1]


def deploy(*argv: str, ask: Any = None, resolve_ns: delegation.Resolver = no_dns) -> Run:
    return Run(list(argv), ask=ask, resolve_ns=resolve_ns)


class ReleasingStream(io.StringIO):
    """Stdout that lets the fake CLI continue once it has received `trigger`."""

    def __init__(self, trigger: str, fake: FakePulumi) -> None:
        super().__init__()
        self.trigger, self.fake = trigger, fake

    def write(self, text: str) -> int:
        if self.trigger in text:
            self.fake.release()
        return super().write(text)


def test_up_streams_engine_output_while_the_engine_is_still_running(fake: FakePulumi) -> None:
    lines = ["Updating (dev):", " +  aws:ec2:Vpc us-east-1-network-vpc creating (1s)"]
    # The fake stops after the first line until the test has seen it on deploy.py's stdout,
    # so the command can only succeed if output is forwarded line by line, not at exit.
    fake.configure(lines_up=lines, handshake=lines[0], changes=DRIFT[:1])
    out = ReleasingStream(lines[0], fake)
    run = Run(["up", "--stack", "dev", "--backend", BACKEND, "--yes"], out=out)
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert run.stdout[-4:-2] == lines
    assert run.stdout[-2] == "up dev: update 1"


def test_preview_runs_the_repo_program_on_the_named_backend(fake: FakePulumi) -> None:
    fake.configure(lines=["Previewing update (dev):"], changes=DRIFT, unchanged=40)
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.OK
    commands = fake.commands()
    assert commands[0] == ["version"]
    assert commands[1] == ["stack", "select", "--stack", "dev"]
    preview = fake.command("preview")
    assert preview[-2:] == ["--stack", "dev"]
    assert "--expect-no-changes" not in preview
    assert "--event-log" in preview
    call = fake.call("preview")
    assert call["cwd"] == str(REPO_ROOT)
    assert call["env"]["PULUMI_BACKEND_URL"] == BACKEND
    assert call["env"]["PULUMI_AUTOMATION_API"] == "true"
    assert run.stdout == [
        "Previewing update (dev):",
        "preview of dev: replace 1, update 1",
        "  update             aws:ec2/vpc:Vpc us-east-1-network-vpc [tags]",
        "  replace            aws:ec2/securityGroup:SecurityGroup us-east-1-alb-sg",
        "policy: passed",  # the repository's pack ran (no violation)
    ]


def test_backend_comes_from_the_environment_when_no_flag(
    fake: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://from-env?region=us-west-2")
    assert deploy("refresh", "--stack", "staging").code == ExitCode.OK
    assert fake.call("refresh")["env"]["PULUMI_BACKEND_URL"] == "s3://from-env?region=us-west-2"
    assert fake.command("refresh") == [
        "refresh",
        "--skip-preview",
        "--yes",
        "--exec-kind",
        "auto.local",
        "--stack",
        "staging",
    ]


def test_no_backend_is_a_usage_error_before_any_cli_call(fake: FakePulumi) -> None:
    run = deploy("up", "--stack", "dev")
    assert run.code == ExitCode.USAGE
    assert run.error.startswith("error: no state backend: pass --backend")
    assert fake.calls() == []


def test_a_new_stack_is_created_with_the_kms_secrets_provider(
    fake: FakePulumi, tmp_path: Path
) -> None:
    project = _project_copy(tmp_path, with_policy=False, stack="staging")
    fake.configure(stacks=[])
    run = deploy("preview", "--stack", "staging", "--backend", BACKEND, "--work-dir", str(project))
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert DEFAULT_SECRETS_PROVIDER == "awskms://alias/tap-pulumi-secrets?region=us-east-1"
    assert fake.command("stack", "init") == [
        "stack",
        "init",
        "staging",
        "--secrets-provider",
        DEFAULT_SECRETS_PROVIDER,
    ]
    assert fake.stacks() == ["staging"]


@pytest.mark.parametrize(
    ("backend", "region"),
    [
        ("s3://tap-state-eu?region=eu-west-1&awssdk=v2", "eu-west-1"),
        ("s3://tap-state-ap?awssdk=v2&region=ap-southeast-2", "ap-southeast-2"),
        ("s3://tap-state-somewhere", "us-east-1"),  # no region in the URL: bootstrap's default
    ],
)
def test_a_new_stack_gets_the_key_of_the_backend_region_and_the_user_is_told_to_commit(
    fake: FakePulumi, tmp_path: Path, backend: str, region: str
) -> None:
    project = _project_copy(tmp_path, with_policy=False, stack="staging")
    fake.configure(stacks=[])
    run = deploy("preview", "--stack", "staging", "--backend", backend, "--work-dir", str(project))
    assert run.code == ExitCode.OK, run.err.getvalue()
    provider = f"awskms://alias/tap-pulumi-secrets?region={region}"
    assert fake.command("stack", "init")[-1] == provider
    stack_file = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())
    assert stack_file["secretsprovider"] == provider  # what `stack init` wrote
    assert run.stdout[:2] == [
        f"created stack staging in {backend} (secrets provider {provider})",
        "note: Pulumi.staging.yaml now holds the stack's secretsprovider and encryptedkey (the "
        "data key its secret config values are encrypted with): commit it",
    ]
    # An existing stack is selected: no stack file edit, nothing to say.
    again = deploy(
        "preview", "--stack", "staging", "--backend", backend, "--work-dir", str(project)
    )
    assert not any(line.startswith(("created stack", "note:")) for line in again.stdout)


def test_secrets_provider_flag_and_existing_stacks(fake: FakePulumi, tmp_path: Path) -> None:
    project = _project_copy(tmp_path, with_policy=False)
    custom = "awskms://alias/other?region=eu-west-1"
    fake.configure(stacks=[])
    argv = ["preview", "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project)]
    deploy(*argv, "--secrets-provider", custom)
    assert fake.command("stack", "init")[-1] == custom
    # Second run: the stack exists, so it is selected and never re-initialised.
    deploy(*argv, "--secrets-provider", custom)
    assert [c[:2] for c in fake.commands()].count(["stack", "init"]) == 1


# What a refreshing preview really sends: a refresh event per resource, then the changes,
# a replacement as three steps.
ENGINE_DRIFT = [
    {"op": "refresh", "type": "aws:ec2/vpc:Vpc", "urn": VPC_URN},
    {"op": "refresh", "type": "aws:ec2/securityGroup:SecurityGroup", "urn": SG_URN},
    DRIFT[0],
    {"op": "create-replacement", "type": "aws:ec2/securityGroup:SecurityGroup", "urn": SG_URN},
    DRIFT[1],
    {"op": "delete-replaced", "type": "aws:ec2/securityGroup:SecurityGroup", "urn": SG_URN},
]


def test_drift_check_exits_4_and_lists_what_would_change(fake: FakePulumi) -> None:
    fake.configure(lines=["Previewing update (dev):"], changes=ENGINE_DRIFT, unchanged=40)
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND, "--expect-no-changes")
    assert run.code == ExitCode.DRIFT == 4
    assert "--expect-no-changes" in fake.command("preview")
    # The live cloud is re-read first: a console edit is drift too.
    assert "--refresh" in fake.command("preview")
    assert run.stdout[1:] == [
        "drift: 2 resource(s) would change:",
        "  update             aws:ec2/vpc:Vpc us-east-1-network-vpc [tags]",
        "  replace            aws:ec2/securityGroup:SecurityGroup us-east-1-alb-sg",
    ]
    assert run.error.startswith("error: stack dev has drifted: 2 change(s) proposed")


def test_drift_is_detected_from_the_summary_when_the_cli_does_not_fail(
    fake: FakePulumi,
) -> None:
    fake.configure(summary_only={"update": 2}, unchanged=40)
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND, "--expect-no-changes")
    assert run.code == ExitCode.DRIFT
    assert run.stdout == ["drift: update 2 (details above)"]
    assert run.error.startswith("error: stack dev has drifted: 2 change(s) proposed (update 2)")


def test_drift_check_passes_when_nothing_changed(fake: FakePulumi, tmp_path: Path) -> None:
    fake.configure(unchanged=40)
    project = _prod_project(tmp_path)
    run = deploy(
        "preview", "--stack", "prod", "--backend", BACKEND, "--expect-no-changes",
        "--work-dir", str(project),
    )  # fmt: skip
    assert run.code == ExitCode.OK
    assert run.stdout == ["no drift: stack prod matches the program"]


@pytest.mark.parametrize("command", ["up", "refresh", "destroy"])
def test_lock_held_by_another_update_exits_3(fake: FakePulumi, command: str) -> None:
    fake.configure(changes=DRIFT[:1], version=GRPC_EVENTS_CLI)  # no 5 s wait for the event log
    fake.hold_lock("dev")
    yes = [] if command == "refresh" else ["--yes"]
    run = deploy(command, "--stack", "dev", "--backend", BACKEND, *yes)
    assert run.code == ExitCode.LOCKED == 3
    assert run.error.startswith("error: stack dev is locked by another update: the stack is")
    assert len(run.error) < 300
    assert fake.locked("dev")  # someone else's lock: never removed


def test_a_preview_takes_no_lock_so_the_drift_check_runs_during_an_update(
    fake: FakePulumi,
) -> None:
    """The S3 backend locks only updates (pulumi/pulumi#8973): a drift check never answers
    "locked"; it previews while another update holds the lock."""
    fake.configure(changes=ENGINE_DRIFT, unchanged=40)
    fake.hold_lock("dev")
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND, "--expect-no-changes")
    assert run.code == ExitCode.DRIFT
    fake.configure(unchanged=40)
    assert deploy("preview", "--stack", "dev", "--backend", BACKEND).code == ExitCode.OK
    assert fake.locked("dev")


def test_engine_failure_exits_1_with_one_error_line(fake: FakePulumi) -> None:
    fake.configure(lines=["Updating (dev):"], fail="engine")
    run = deploy("up", "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.FAILED == 1
    # The engine's own diagnostics streamed through; deploy.py adds one summary line.
    assert "    error: creating EC2 VPC: operation error EC2: CreateVpc, VpcLimitExceeded" in (
        run.stdout
    )
    assert run.error == (
        "error: pulumi failed on stack dev: creating EC2 VPC: operation error EC2: CreateVpc, "
        "VpcLimitExceeded"
    )


def test_a_preview_without_a_summary_is_an_engine_failure(fake: FakePulumi) -> None:
    fake.configure(no_summary=True)
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.FAILED
    assert run.error == "error: pulumi failed on stack dev: summary event never found"


def test_missing_cli_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no pulumi anywhere
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.NO_CLI
    assert run.err.getvalue().count("\n") == 1
    assert "Pulumi CLI was not found" in run.error
    assert "https://www.pulumi.com/docs/install/" in run.error


def test_too_old_cli_is_refused_by_the_version_check(fake: FakePulumi) -> None:
    fake.configure(version="v3.0.0")
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.NO_CLI
    assert run.error.startswith("error: unsupported Pulumi CLI: Minimum version requirement")
    assert fake.commands() == [["version"]]


def _project_copy(tmp_path: Path, with_policy: bool, stack: str = "dev") -> Path:
    """A copy of the project with Pulumi.dev.yaml as the stack file of `stack`."""
    project = tmp_path / ("with-policy" if with_policy else "no-policy")
    project.mkdir()
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(REPO_ROOT / "Pulumi.dev.yaml", project / f"Pulumi.{stack}.yaml")
    if with_policy:
        (project / "policy").mkdir()
        (project / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    return project


@pytest.mark.parametrize("with_policy", [True, False])
def test_policy_pack_applies_to_preview_and_up_when_present(
    fake: FakePulumi, tmp_path: Path, with_policy: bool
) -> None:
    project = _project_copy(tmp_path, with_policy)
    for command in ("preview", "up", "refresh"):
        argv = [command, "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project)]
        assert deploy(*argv).code == ExitCode.OK
    expected = ["--policy-pack", str(project / "policy")]
    engine_runs = [c for c in fake.calls() if c["argv"][1:2] in (["preview"], ["up"])]
    assert [c["argv"][1] for c in engine_runs] == ["preview", "preview", "up"]  # up previews first
    for call in engine_runs:
        assert _contains(call["argv"], expected) == with_policy, call["argv"]
        assert call["cwd"] == str(project)
    assert "--policy-pack" not in fake.command("refresh")


def test_up_arguments_and_follow_up_calls(fake: FakePulumi) -> None:
    fake.configure(changes=DRIFT[:1], unchanged=2)
    run = deploy("up", "--stack", "staging", "--backend", BACKEND, "--yes")
    assert run.code == ExitCode.OK
    up = fake.command("up")
    assert up[:3] == ["up", "--yes", "--skip-preview"]
    assert up[-2:] == ["--stack", "staging"]
    # What the Automation API does after the update: read outputs and the last history entry.
    assert fake.command("stack", "history")[:3] == ["stack", "history", "--json"]
    assert run.stdout[-2:] == [
        "up staging: same 2, update 1",
        "next: python deploy.py verify --stack staging",
    ]


def test_outputs_masks_secrets_unless_asked(fake: FakePulumi) -> None:
    fake.configure(
        outputs={"url": "https://app", "db_password": "hunter2"}, secret_outputs=["db_password"]
    )
    masked = deploy("outputs", "--stack", "dev", "--backend", BACKEND)
    assert masked.code == ExitCode.OK
    assert '"db_password": "[secret]"' in masked.out.getvalue()
    shown = deploy("outputs", "--stack", "dev", "--backend", BACKEND, "--show-secrets")
    assert '"db_password": "hunter2"' in shown.out.getvalue()
    assert '"url": "https://app"' in shown.out.getvalue()


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_dev_and_staging_destroy_unattended_with_yes(fake: FakePulumi, stack: str) -> None:
    run = deploy("destroy", "--stack", stack, "--backend", BACKEND, "--yes")
    assert run.code == ExitCode.OK
    assert fake.command("destroy")[:3] == ["destroy", "--skip-preview", "--yes"]
    assert fake.command("destroy")[-2:] == ["--stack", stack]
    assert run.prompts == []


def test_dev_destroy_without_yes_asks_and_needs_a_terminal(fake: FakePulumi) -> None:
    refused = deploy("destroy", "--stack", "dev", "--backend", BACKEND, ask=None)
    assert refused.code == ExitCode.USAGE
    assert refused.error == "error: destroy of dev needs --yes when not run at a terminal"
    declined = deploy("destroy", "--stack", "dev", "--backend", BACKEND, ask="n")
    assert declined.code == ExitCode.USAGE
    assert fake.calls() == []
    accepted = deploy("destroy", "--stack", "dev", "--backend", BACKEND, ask="y")
    assert accepted.code == ExitCode.OK
    assert accepted.prompts == ["Destroy every resource of stack dev? [y/N] "]
    assert fake.command("destroy")[-2:] == ["--stack", "dev"]


@pytest.mark.parametrize(
    ("flags", "typed", "message"),
    [
        ([], None, "refusing to destroy stack prod ("),
        (["--yes"], "prod", "refusing to destroy stack prod ("),
        (
            ["--force"],
            None,
            "destroying production stack prod needs its name typed back: pass --confirm prod",
        ),
        (["--force"], "dev", "confirmation 'dev' does not match stack prod; nothing destroyed"),
        (["--force", "--confirm", "staging"], None, "confirmation 'staging' does not match"),
    ],
)
def test_prod_destroy_is_refused_without_force_and_the_name(
    fake: FakePulumi, flags: list[str], typed: str | None, message: str
) -> None:
    run = deploy("destroy", "--stack", "prod", "--backend", BACKEND, *flags, ask=typed)
    assert run.code == ExitCode.USAGE
    assert run.error.startswith(f"error: {message}")
    assert fake.calls() == []  # refused before the engine is even started


@pytest.mark.parametrize(("flags", "typed"), [(["--confirm", "prod"], None), ([], "prod")])
def test_prod_destroy_with_force_and_the_name_typed_back(
    fake: FakePulumi, flags: list[str], typed: str | None
) -> None:
    run = deploy("destroy", "--stack", "prod", "--backend", BACKEND, "--force", *flags, ask=typed)
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert fake.command("destroy")[-2:] == ["--stack", "prod"]
    assert len(run.prompts) == (1 if typed else 0)


def test_destroy_guard_follows_the_config_not_the_stack_name(
    fake: FakePulumi, tmp_path: Path
) -> None:
    # "blue" is production by its config (prod's, with a domain it owns) ...
    project = _prod_project(tmp_path)
    (project / "Pulumi.prod.yaml").rename(project / "Pulumi.blue.yaml")
    with (project / "Pulumi.blue.yaml").open("a") as stack_file:
        stack_file.write("  tap:production: true\n")
    run = deploy(
        "destroy", "--stack", "blue", "--backend", BACKEND, "--yes", "--work-dir", str(project)
    )
    assert run.code == ExitCode.USAGE
    assert run.error.startswith(
        "error: refusing to destroy stack blue (production) without --force"
    )
    # ... and a stack named prod whose config says it is not, is not.
    shutil.copy(REPO_ROOT / "Pulumi.dev.yaml", project / "Pulumi.prod.yaml")
    with (project / "Pulumi.prod.yaml").open("a") as stack_file:
        stack_file.write("  tap:production: false\n")
    run = deploy(
        "destroy", "--stack", "prod", "--backend", BACKEND, "--yes", "--work-dir", str(project)
    )
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert fake.command("destroy")[-2:] == ["--stack", "prod"]


def test_a_stack_whose_config_does_not_validate_is_guarded_as_production(
    fake: FakePulumi, tmp_path: Path
) -> None:
    project = _project_copy(tmp_path, with_policy=False)
    with (project / "Pulumi.dev.yaml").open("a") as stack_file:
        stack_file.write("  tap:no_such_key: 1\n")
    argv = ["destroy", "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project)]
    refused = deploy(*argv, "--yes")
    assert refused.code == ExitCode.USAGE
    assert "its config does not validate, so it is guarded as production" in refused.error
    assert deploy(*argv, "--force", "--confirm", "dev").code == ExitCode.OK


def test_usage_errors_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "dev", "--no-such-flag"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unrecognized arguments: --no-such-flag" in err


@pytest.mark.parametrize("command", ["preview", "up", "refresh", "destroy", "outputs", "verify"])
def test_a_stack_without_a_stack_file_is_one_line(fake: FakePulumi, command: str) -> None:
    run = deploy(command, "--stack", "qa", "--backend", BACKEND)
    assert run.code == ExitCode.USAGE
    assert run.error == (
        f"error: no stack file Pulumi.qa.yaml in {REPO_ROOT} (stacks: dev, prod, staging); a "
        "stack is any name with a Pulumi.<name>.yaml: copy one to start a new stack"
    )
    assert run.err.getvalue().count("\n") == 1
    assert fake.calls() == []
    bad = deploy(command, "--stack", "../etc/passwd", "--backend", BACKEND)
    assert (
        bad.error
        == "error: invalid stack name '../etc/passwd': letters, digits, '-', '_' and '.' only"
    )


def test_deploy_py_exits_with_the_drift_code(fake: FakePulumi) -> None:
    fake.configure(changes=DRIFT, unchanged=1)
    result = subprocess.run(
        [sys.executable, "deploy.py", "preview", "--stack", "dev", "--expect-no-changes"],
        cwd=REPO_ROOT,
        env={**os.environ, "PULUMI_BACKEND_URL": BACKEND},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 4, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: stack dev has drifted")


def _contains(args: list[str], sequence: list[str]) -> bool:
    return any(args[i : i + len(sequence)] == sequence for i in range(len(args)))


@pytest.mark.parametrize("command", ["outputs", "refresh", "verify"])
def test_commands_that_need_a_deployed_stack_never_create_one(
    fake: FakePulumi, command: str
) -> None:
    fake.configure(stacks=[])
    run = deploy(command, "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.USAGE
    assert run.error == f"error: no stack dev in {BACKEND} (`deploy.py up --stack dev` creates it)"
    assert ["stack", "init"] not in [c[:2] for c in fake.commands()]
    assert fake.stacks() == []


def test_a_plain_preview_without_expect_no_changes_does_not_refresh(fake: FakePulumi) -> None:
    fake.configure(unchanged=3)
    assert deploy("preview", "--stack", "dev", "--backend", BACKEND).code == ExitCode.OK
    assert "--refresh" not in fake.command("preview")


@pytest.mark.parametrize("version", ["v3.200.0", GRPC_EVENTS_CLI])
def test_drift_report_from_file_and_grpc_event_streams(fake: FakePulumi, version: str) -> None:
    """CLIs up to 3.205 write engine events to a file, newer ones stream them over gRPC to the
    Automation API: the drift report is the same either way."""
    fake.configure(version=version, changes=ENGINE_DRIFT, unchanged=40)
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND, "--expect-no-changes")
    assert run.code == ExitCode.DRIFT
    event_log = fake.command("preview")[fake.command("preview").index("--event-log") + 1]
    assert event_log.startswith("tcp://127.0.0.1:") == (version == GRPC_EVENTS_CLI)
    assert run.stdout[-3:] == [
        "drift: 2 resource(s) would change:",
        "  update             aws:ec2/vpc:Vpc us-east-1-network-vpc [tags]",
        "  replace            aws:ec2/securityGroup:SecurityGroup us-east-1-alb-sg",
    ]


# --- Config checked before the engine; the first deploy of a stack that creates its zone ---

OWN_DOMAIN = "acme-platform.io"
ZONE_NS = [
    "ns-1536.awsdns-00.co.uk",
    "ns-0.awsdns-00.com",
    "ns-1024.awsdns-00.org",
    "ns-512.awsdns-00.net",
]
PARKED = NsAnswer(("ns1.registrar-parking.net.", "ns2.registrar-parking.net."))


@functools.cache
def _parsed_stack_file(stack: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()))


def _shipped_stack_file(stack: str) -> dict[str, Any]:
    """The repository's Pulumi.<stack>.yaml, parsed once per process (parsing it took longer
    than the rest of setting up a project), as a copy the caller may change."""
    return copy.deepcopy(_parsed_stack_file(stack))


def _prod_project(tmp_path: Path, **dns: Any) -> Path:
    """A copy of the project whose prod stack file sets `tap:dns` keys (a domain it owns by
    default: the shipped file carries the placeholder, which preview and up refuse)."""
    project = tmp_path / "prod-project"
    project.mkdir(exist_ok=True)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    document = _shipped_stack_file("prod")
    settings = {**document["config"]["tap:dns"], "domain": OWN_DOMAIN, **dns}
    document["config"]["tap:dns"] = {k: v for k, v in settings.items() if v is not None}
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return project


class FakeDns:
    """Public DNS as the test says it is; records every lookup."""

    def __init__(self, answer: NsAnswer) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, domain: str) -> NsAnswer:
        self.asked.append(domain)
        return self.answer


def zone_program(stack: str = "prod") -> dict[str, Any]:
    """Fake-CLI scenario: the program's tree around the zone, and the `dns` output the zone
    brings once it is in the state."""
    provider, component, zone = delegation.zone_targets(stack)
    root = f"urn:pulumi:{stack}::tap::pulumi:pulumi:Stack::tap-{stack}"
    vpc = f"urn:pulumi:{stack}::tap::tap:network:Network::us-east-1-network"
    return {
        "program": {
            root: "",
            provider: root,
            component: root,
            zone: component,
            vpc: root,
            f"{vpc.replace('::us-east-1-network', '$aws:ec2/vpc:Vpc')}::us-east-1-network-vpc": vpc,
        },
        "resource_outputs": {
            zone: {"dns": {"app_fqdn": f"app.{OWN_DOMAIN}", "name_servers": ZONE_NS}}
        },
    }


def up_prod(project: Path, resolve_ns: delegation.Resolver = no_dns, *flags: str) -> Run:
    return deploy(
        "up", "--stack", "prod", "--backend", BACKEND, "--work-dir", str(project), "--yes",
        *flags, resolve_ns=resolve_ns,
    )  # fmt: skip


@pytest.mark.parametrize("command", ["preview", "up"])
@pytest.mark.parametrize(
    ("dns", "message"),
    [
        (
            {"domain": "example.com"},
            'error: Pulumi.prod.yaml: invalid config tap:dns.domain = "example.com": is reserved',
        ),
        (
            {"domain": "shop.test"},
            'error: Pulumi.prod.yaml: invalid config tap:dns.domain = "shop.test": is reserved',
        ),
        (
            {"zone_id": "Z0123456789ABCDEFGHIJ"},
            "error: Pulumi.prod.yaml: invalid config tap:dns.create_zone = true: conflicts",
        ),
    ],
)
def test_a_bad_config_stops_preview_and_up_before_the_engine(
    fake: FakePulumi, tmp_path: Path, command: str, dns: dict[str, Any], message: str
) -> None:
    project = _prod_project(tmp_path, **dns)
    argv = [command, "--stack", "prod", "--backend", BACKEND, "--work-dir", str(project)]
    run = deploy(*argv)
    assert run.code == ExitCode.USAGE
    assert run.error.startswith(message)
    assert run.err.getvalue().count("\n") == 1  # one line, no traceback
    assert fake.calls() == []  # not even `pulumi version`: no CLI, no backend, no AWS


@pytest.mark.parametrize("command", ["preview", "up"])
def test_the_shipped_placeholder_domain_stops_preview_and_up(
    fake: FakePulumi, command: str
) -> None:
    from tap.config import PLACEHOLDER_DOMAIN

    shipped = _shipped_stack_file("prod")
    assert shipped["config"]["tap:dns"]["domain"] == PLACEHOLDER_DOMAIN
    run = deploy(command, "--stack", "prod", "--backend", BACKEND)
    assert run.code == ExitCode.USAGE
    assert run.error.startswith(
        f'error: Pulumi.prod.yaml: invalid config tap:dns.domain = "{PLACEHOLDER_DOMAIN}": '
    )
    assert "set a domain you own" in run.error
    assert run.err.getvalue().count("\n") == 1
    assert fake.calls() == []


def test_an_empty_stack_file_is_validated_as_empty_config(fake: FakePulumi, tmp_path: Path) -> None:
    project = _project_copy(tmp_path, with_policy=False)
    (project / "Pulumi.staging.yaml").write_text("")
    run = deploy("up", "--stack", "staging", "--backend", BACKEND, "--work-dir", str(project))
    assert run.code == ExitCode.USAGE
    assert run.error.startswith("error: Pulumi.staging.yaml: invalid config tap:")
    assert fake.calls() == []


def test_the_old_readme_target_is_refused_on_a_new_stack(fake: FakePulumi, tmp_path: Path) -> None:
    """What issue 11 reports: `--target` on the zone alone, whose parent component would be
    created untargeted. The fake engine refuses it like the real one (diagnostic 2013)."""
    fake.configure(stacks=[], **zone_program())
    options = automation.EngineOptions("prod", BACKEND, work_dir=_prod_project(tmp_path))
    stack = automation.open_stack(options, create=True)
    zone = delegation.zone_targets("prod")[2]
    with pytest.raises(OpsError) as refused:
        automation.up(stack, options, print, print, targets=[zone])
    assert str(refused.value) == (
        f"pulumi failed on stack prod: Resource '{zone}' depends on "
        f"'{delegation.zone_targets('prod')[1]}' which was was not specified in --target list."
    )
    assert fake.state("prod") == []


def test_first_up_creates_the_zone_alone_prints_its_name_servers_and_waits(
    fake: FakePulumi, tmp_path: Path
) -> None:
    fake.configure(stacks=[], **zone_program())
    project = _prod_project(tmp_path, create_zone=True)
    public = FakeDns(NsAnswer(problem="the domain does not exist in public DNS (NXDOMAIN)"))
    run = up_prod(project, public)
    assert run.code == ExitCode.DELEGATION_PENDING == 6
    targets = delegation.zone_targets("prod")
    assert fake.updates() == [targets]  # one update, the zone's targets only
    assert fake.command("up")[:3] == ["up", "--yes", "--skip-preview"]
    assert fake.state("prod") == targets
    assert public.asked == [OWN_DOMAIN]
    stdout = run.stdout
    assert stdout[0] == "account: 123456789012 (stack prod)"
    assert stdout[1].startswith("created stack prod in ")
    assert (
        stdout[3] == f"delegation: creating the hosted zone of {OWN_DOMAIN} first (targeted update)"
    )
    # The zone-only update was previewed (with the same targets) before it was applied.
    assert fake.command("preview")[fake.command("preview").index("--target") + 1] == targets[0]
    assert f"delegation: {OWN_DOMAIN} is not delegated to the stack's hosted zone yet" in stdout
    assert "  public NS records now: none (the domain does not exist in public DNS (NXDOMAIN))" in (
        stdout
    )
    listed = stdout.index(
        f"  set exactly these name servers for {OWN_DOMAIN} at its registrar (or parent zone):"
    )
    assert stdout[listed + 1 : listed + 5] == [f"    {name}" for name in sorted(ZONE_NS)]
    assert run.error == (
        f"error: waiting for delegation: set the 4 name servers above for {OWN_DOMAIN} at its "
        "registrar, then run `deploy.py up --stack prod` again"
    )
    assert run.err.getvalue().count("\n") == 1


def test_rerun_before_delegation_waits_again_without_another_update(
    fake: FakePulumi, tmp_path: Path
) -> None:
    fake.configure(state={"prod": delegation.zone_targets("prod")}, **zone_program())
    public = FakeDns(PARKED)
    run = up_prod(_prod_project(tmp_path), public)
    assert run.code == ExitCode.DELEGATION_PENDING
    assert fake.updates() == []  # the zone exists: nothing to create, nothing else to deploy
    assert "  public NS records now: ns1.registrar-parking.net, ns2.registrar-parking.net" in (
        run.stdout
    )
    assert run.error.startswith("error: waiting for delegation")


def test_the_whole_first_deploy_new_stack_then_waiting_then_delegated(
    fake: FakePulumi, tmp_path: Path
) -> None:
    fake.configure(stacks=[], changes=DRIFT[:1], **zone_program())
    project = _prod_project(tmp_path)
    public = FakeDns(NsAnswer(problem="public DNS has no NS records for it"))
    assert up_prod(project, public).code == ExitCode.DELEGATION_PENDING
    public.answer = PARKED
    assert up_prod(project, public).code == ExitCode.DELEGATION_PENDING
    # The registrar now names the zone's servers (any order, case, trailing dot).
    public.answer = NsAnswer(tuple(f"{name.upper()}." for name in reversed(ZONE_NS)))
    done = up_prod(project, public)
    assert done.code == ExitCode.OK, done.err.getvalue()
    assert fake.updates() == [delegation.zone_targets("prod"), []]  # then the full update
    assert public.asked == [OWN_DOMAIN] * 3
    assert done.stdout[1] == f"delegation: {OWN_DOMAIN} is delegated to the stack's hosted zone"
    assert done.stdout[-2:] == ["up prod: update 1", "next: python deploy.py verify --stack prod"]
    assert len(fake.state("prod")) == len(zone_program()["program"])


def test_skip_delegation_check_runs_the_full_update_at_once(
    fake: FakePulumi, tmp_path: Path
) -> None:
    fake.configure(stacks=[], **zone_program())
    run = up_prod(_prod_project(tmp_path), no_dns, "--skip-delegation-check")
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert fake.updates() == [[]]


@pytest.mark.parametrize(
    "dns",
    [
        {"create_zone": False, "zone_id": "Z0123456789ABCDEFGHIJ"},  # found by id
        {"create_zone": False},  # found by name
    ],
)
def test_a_zone_the_stack_does_not_create_skips_the_delegation_step(
    fake: FakePulumi, tmp_path: Path, dns: dict[str, Any]
) -> None:
    fake.configure(stacks=[], **zone_program())
    run = up_prod(_prod_project(tmp_path, **dns))  # no_dns: any lookup fails the test
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert fake.updates() == [[]]


def test_a_targeted_update_without_name_servers_is_a_failure(
    fake: FakePulumi, tmp_path: Path
) -> None:
    scenario = zone_program()
    scenario["resource_outputs"] = {}
    fake.configure(stacks=[], **scenario)
    run = up_prod(_prod_project(tmp_path))
    assert run.code == ExitCode.FAILED
    assert run.error == (
        "error: the targeted update of stack prod left no dns.name_servers output; "
        "check the zone with `deploy.py outputs --stack prod`"
    )


def test_a_failed_targeted_update_is_one_error_line(fake: FakePulumi, tmp_path: Path) -> None:
    fake.configure(stacks=[], fail="engine", **zone_program())
    run = up_prod(_prod_project(tmp_path))
    assert run.code == ExitCode.FAILED
    assert run.error.startswith("error: pulumi failed on stack prod: creating EC2 VPC")
    assert fake.updates() == [delegation.zone_targets("prod")]


# --- Issue 12: preview, confirm, apply what was previewed; any stack; any account; DR wiring ---

CREATE_DB = {
    "op": "create",
    "type": "aws:rds/instance:Instance",
    "urn": "urn:pulumi:dev::tap::aws:rds/instance:Instance::us-east-1-db",
}


def test_up_previews_then_asks_then_applies(fake: FakePulumi) -> None:
    fake.configure(changes=DRIFT, unchanged=3)
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, ask="y")
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert run.prompts == ["Apply these changes to stack dev? [y/N] "]
    verbs = [c[0] for c in fake.commands() if c[0] in ("preview", "up")]
    assert verbs == ["preview", "up"]
    stdout = run.stdout
    assert stdout[0] == "account: 123456789012 (stack dev)"
    assert stdout[1:5] == [
        "preview of dev: replace 1, update 1",
        "  update             aws:ec2/vpc:Vpc us-east-1-network-vpc [tags]",
        "  replace            aws:ec2/securityGroup:SecurityGroup us-east-1-alb-sg",
        "policy: passed",
    ]
    assert stdout[-2] == "up dev: replace 1, same 3, update 1"


@pytest.mark.parametrize("answer", ["n", "", "no way"])
def test_up_not_confirmed_changes_nothing(fake: FakePulumi, answer: str) -> None:
    fake.configure(changes=DRIFT)
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, ask=answer)
    assert run.code == ExitCode.USAGE
    assert run.error == "error: up of dev not confirmed; nothing changed"
    assert "up" not in [c[0] for c in fake.commands()]


def test_up_without_a_terminal_needs_yes(fake: FakePulumi) -> None:
    fake.configure(changes=DRIFT)
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, ask=None)
    assert run.code == ExitCode.USAGE
    assert run.error == (
        "error: up of dev needs --yes when not run at a terminal (the preview above is what it "
        "would apply)"
    )
    assert run.err.getvalue().count("\n") == 1
    assert "up" not in [c[0] for c in fake.commands()]
    assert deploy("up", "--stack", "dev", "--backend", BACKEND, "--yes").code == ExitCode.OK


def test_a_production_stack_without_yes_or_terminal_is_refused(
    fake: FakePulumi, tmp_path: Path
) -> None:
    fake.configure(changes=DRIFT)
    run = up_prod(_prod_project(tmp_path), no_dns, "--skip-delegation-check")
    assert run.code == ExitCode.OK  # up_prod passes --yes
    run = deploy(
        "up", "--stack", "prod", "--backend", BACKEND, "--skip-delegation-check",
        "--work-dir", str(_prod_project(tmp_path)), ask=None,
    )  # fmt: skip
    assert run.code == ExitCode.USAGE
    assert run.error == (
        "error: refusing to update production stack prod without a terminal to confirm at: "
        "review the preview above and pass --yes"
    )
    assert run.err.getvalue().count("\n") == 1


def test_no_changes_need_no_confirmation(fake: FakePulumi) -> None:
    fake.configure(unchanged=40)
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, ask=None)
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert run.prompts == []
    assert run.stdout[-2] == "up dev: same 40"


def test_a_mandatory_policy_violation_stops_at_the_preview(fake: FakePulumi) -> None:
    fake.configure(
        changes=[CREATE_DB],
        policy=[
            {
                "level": "mandatory",
                "policy": "rds-storage-encrypted",
                "urn": CREATE_DB["urn"],
                "message": "RDS instances must have storage encryption enabled.",
            },
            {"level": "advisory", "policy": "tags", "urn": "", "message": "Owner tag missing"},
        ],
    )
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, "--yes")
    assert run.code == ExitCode.FAILED
    assert "up" not in [c[0] for c in fake.commands()]  # nothing applied
    assert fake.applied() == []
    assert (
        "  mandatory tap-policy/rds-storage-encrypted us-east-1-db: RDS instances must have "
        "storage encryption enabled."
    ) in run.stdout
    assert "  advisory  tap-policy/tags (stack): Owner tag missing" in run.stdout
    assert run.error == (
        "error: the preview of stack dev violates 1 mandatory polic(ies) (listed above); nothing "
        "was changed"
    )


def test_an_advisory_violation_is_shown_and_does_not_stop(fake: FakePulumi) -> None:
    fake.configure(
        changes=[CREATE_DB],
        policy=[{"level": "advisory", "policy": "tags", "urn": "", "message": "Owner missing"}],
    )
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, "--yes")
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert "policy: passed with 1 advisory warning(s)" in run.stdout


def test_an_update_that_would_do_more_than_its_preview_is_cancelled(fake: FakePulumi) -> None:
    """The preview showed one update; the update itself starts creating a database first: it
    is cancelled before any later step starts (the surprising step in flight finishes)."""
    later: dict[str, Any] = {**DRIFT[0], "urn": VPC_URN.replace("us-east-1", "us-west-2")}
    fake.configure(
        changes=DRIFT[:1],
        # The database step lasts until the cancel arrives (a minute at most): the cancel can
        # only come from deploy.py seeing its event, and no later step may start before it.
        up_changes=[DRIFT[0], {**CREATE_DB, "seconds": 60.0}, later],
        version=FILE_EVENTS_CLI,  # the Automation API's file event log, cancelled mid-update
    )
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, "--yes")
    assert run.code == ExitCode.DIVERGED == 8
    assert fake.applied() == [("update", VPC_URN), ("create", CREATE_DB["urn"])]
    assert fake.sigints() == ["up"]  # one graceful cancel
    assert not fake.locked("dev")
    assert run.error == (
        "error: the update of stack dev started a change its preview did not show (create "
        "aws:rds/instance:Instance us-east-1-db); deploy.py cancelled it (the operations in "
        "flight finished, no later one started): run `deploy.py up --stack dev` again to "
        "preview and confirm"
    )


def test_an_update_that_does_what_it_previewed_is_not_disturbed(fake: FakePulumi) -> None:
    sg_type = "aws:ec2/securityGroup:SecurityGroup"
    replace = [
        {"op": "create-replacement", "type": sg_type, "urn": SG_URN},
        DRIFT[1],
        {"op": "delete-replaced", "type": sg_type, "urn": SG_URN},
    ]
    fake.configure(changes=ENGINE_DRIFT, up_changes=[DRIFT[0], *replace])
    run = deploy("up", "--stack", "dev", "--backend", BACKEND, "--yes")
    assert run.code == ExitCode.OK, run.err.getvalue()
    assert fake.sigints() == []


def test_drift_message_names_the_cures_and_not_refresh(fake: FakePulumi) -> None:
    fake.configure(changes=ENGINE_DRIFT)
    run = deploy("preview", "--stack", "dev", "--backend", BACKEND, "--expect-no-changes")
    assert run.code == ExitCode.DRIFT
    assert run.error == (
        "error: stack dev has drifted: 2 change(s) proposed (replace 1, update 1); "
        "`deploy.py up --stack dev` restores what the program declares, or change the "
        "program/Pulumi.dev.yaml to keep the cloud's values (`refresh` alone does not clear "
        "drift)"
    )


def test_a_fourth_stack_file_works_without_code_changes(fake: FakePulumi, tmp_path: Path) -> None:
    project = _project_copy(tmp_path, with_policy=True, stack="qa")
    fake.configure(stacks=[], changes=[CREATE_DB], outputs={})
    common = ["--stack", "qa", "--backend", BACKEND, "--work-dir", str(project)]
    assert deploy("preview", *common).code == ExitCode.OK
    up = deploy("up", *common, "--yes")
    assert up.code == ExitCode.OK, up.err.getvalue()
    assert fake.command("up")[-2:] == ["--stack", "qa"]
    assert up.stdout[-1] == "next: python deploy.py verify --stack qa"
    outputs = tmp_path / "qa-outputs.json"
    outputs.write_text('{"deployment_summary": {"environment": "qa"}, "regions": {}}')
    verified = deploy("verify", *common, "--outputs", str(outputs))
    # Past the stack, its environment and its account: verify's own verdict on the outputs.
    assert "no stack file" not in verified.err.getvalue()
    assert "environment" not in verified.err.getvalue()
    assert verified.code in (ExitCode.OK, ExitCode.FAILED)


def _other_account_project(tmp_path: Path) -> Path:
    project = _project_copy(tmp_path, with_policy=False)
    with (project / "Pulumi.dev.yaml").open("a") as stack_file:
        stack_file.write("  tap:aws:\n    account_id: '210987654321'\n")
    return project


@pytest.mark.parametrize("command", ["up", "verify"])
def test_credentials_of_another_account_are_refused_before_the_stack(
    fake: FakePulumi, tmp_path: Path, command: str
) -> None:
    project = _other_account_project(tmp_path)
    run = deploy(command, "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project))
    assert run.code == ExitCode.USAGE
    assert run.error == (
        "error: stack dev deploys into account 210987654321 (tap:aws), but the credentials "
        "resolve to account 123456789012"
    )
    assert run.err.getvalue().count("\n") == 1
    assert fake.calls() == []  # no CLI run: the stack was not touched


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- just\n- a list\n", "error: Pulumi.dev.yaml is not a stack file: expected a mapping"),
        ("config: [1, 2]\n", "error: Pulumi.dev.yaml: config: must be a mapping of keys to"),
        ("config:\n  tap:regions: [\n", "error: Pulumi.dev.yaml is not valid YAML: "),
    ],
)
@pytest.mark.parametrize("command", ["destroy", "verify", "preview", "up"])
def test_a_malformed_stack_file_is_one_line(
    fake: FakePulumi, tmp_path: Path, command: str, content: str, message: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.dev.yaml").write_text(content)
    run = deploy(command, "--stack", "dev", "--backend", BACKEND, "--work-dir", str(project))
    assert run.code == ExitCode.USAGE
    assert run.error.startswith(message)
    assert run.err.getvalue().count("\n") == 1
    assert fake.calls() == []


class StubDr:
    """Stands in for tap_tooling/ops/dr.py (tested on its own in test_dr.py): records what the CLI
    hands over."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def run_status(self, *args: Any) -> ExitCode:
        self.calls.append(("status", args))
        args[-1]("dr status: stub")
        return ExitCode.OK

    def run_promote(self, *args: Any) -> ExitCode:
        self.calls.append(("promote", args))
        engine = args[5]
        engine.refresh()
        engine.up(["urn:pulumi:dev::tap::aws:rds/instance:Instance::us-west-2-db"])
        return ExitCode.OK


@pytest.fixture
def stub_dr(monkeypatch: pytest.MonkeyPatch) -> StubDr:
    stub = StubDr()
    monkeypatch.setattr(cli.dr, "run_status", stub.run_status)
    monkeypatch.setattr(cli.dr, "run_promote", stub.run_promote)
    return stub


def test_dr_status_wiring(fake: FakePulumi, stub_dr: StubDr) -> None:
    fake.configure(outputs={"regions": {"us-east-1": {}}, "db": "s3cr3t"}, secret_outputs=["db"])
    run = deploy("dr", "status", "--stack", "dev", "--backend", BACKEND)
    assert run.code == ExitCode.OK, run.err.getvalue()
    ((name, args),) = stub_dr.calls
    config, stack, outputs, clients = args[:4]
    assert (name, stack, config.environment) == ("status", "dev", "dev")
    assert outputs == {"regions": {"us-east-1": {}}, "db": "s3cr3t"}  # secrets shown
    assert clients("sts", "us-east-1").get_caller_identity()["Account"] == "123456789012"
    assert run.stdout == ["dr status: stub"]


def test_dr_promote_wiring_runs_refresh_and_targeted_up_on_the_engine(
    fake: FakePulumi, stub_dr: StubDr
) -> None:
    db = "urn:pulumi:dev::tap::aws:rds/instance:Instance::us-west-2-db"
    fake.configure(outputs={}, program={db: ""})
    run = deploy(
        "dr", "promote", "--stack", "dev", "--region", "us-west-2", "--force",
        "--backend", BACKEND,
    )  # fmt: skip
    assert run.code == ExitCode.OK, run.err.getvalue()
    ((name, args),) = stub_dr.calls
    assert name == "promote"
    assert args[1:3] == ("dev", "us-west-2")
    assert args[6] == REPO_ROOT / "Pulumi.dev.yaml"
    assert args[7] is True
    assert fake.command("refresh")[-2:] == ["--stack", "dev"]
    assert fake.updates() == [["urn:pulumi:dev::tap::aws:rds/instance:Instance::us-west-2-db"]]
    assert "refresh dev: no changes" in run.stdout


def test_dr_needs_its_region_and_a_stack_file(fake: FakePulumi, stub_dr: StubDr) -> None:
    assert deploy("dr", "promote", "--stack", "dev", "--backend", BACKEND).code == ExitCode.USAGE
    run = deploy("dr", "status", "--stack", "qa", "--backend", BACKEND)
    assert run.code == ExitCode.USAGE
    assert run.error.startswith("error: no stack file Pulumi.qa.yaml")
    assert stub_dr.calls == []
