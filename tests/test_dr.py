"""tap_tooling/ops/dr.py: `dr status` and `dr promote` against moto, with a fake engine.

moto (5.x) gaps, filled here the way AWS behaves, not more kindly:
- PromoteReadReplica returns at once and leaves ReadReplicaSourceDBInstanceIdentifier in
  place forever. AWS moves the instance to `modifying` and drops the source when the promotion
  is done. `promoting` below does the same: the call leaves the instance `modifying` with its
  source, and the next poll (the injected sleep) finishes it.
- GetHealthCheckStatus always answers one healthy checker. A failing region is answered by a
  botocore `before-call` handler with the shape AWS returns (8 checkers, none successful);
  the rest of the Route53 calls still go to moto.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.rds.models import rds_backends

from tap.config import StackConfig, parse_stack_config
from tap_tooling import offline
from tap_tooling.ops import dr
from tap_tooling.ops.aws import ClientFactory, client_factory
from tap_tooling.ops.errors import ExitCode, OpsError
from tests.conftest import planned
from tests.moto_fast import MotoState, fresh_account, new_session

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
PRIMARY, SECONDARY = "us-east-1", "us-west-2"
PRIMARY_DB, REPLICA_DB = "prod-db-us-east-1", "prod-db-replica-us-west-2"
DOMAIN = "tap-dr-test.net"
PROMOTED_TARGETS = [
    "urn:pulumi:prod::tap::pulumi:providers:aws::aws-global",
    "urn:pulumi:prod::tap::pulumi:providers:aws::aws-us-west-2",
    # The engine refuses a target whose parent is not targeted (error 2013): the Front and
    # the secondary's Region come along, and nothing else of theirs.
    "urn:pulumi:prod::tap::tap:front:Front::global",
    "urn:pulumi:prod::tap::tap:region:Region::us-west-2",
    "urn:pulumi:prod::tap::tap:front:Front$tap:failover:Failover::global-failover",
    "urn:pulumi:prod::tap::tap:region:Region$tap:database:Database::us-west-2-database",
    "urn:pulumi:prod::tap::tap:region:Region$tap:monitoring:Monitoring::us-west-2-monitoring",
    "urn:pulumi:prod::tap::tap:front:Front$tap:failover:Failover$aws:route53/record:Record::"
    "global-failover-primary",
    "urn:pulumi:prod::tap::tap:front:Front$tap:failover:Failover$aws:route53/record:Record::"
    "global-failover-secondary",
    "urn:pulumi:prod::tap::tap:region:Region$tap:database:Database$aws:rds/instance:Instance::"
    "us-west-2-database-replica",
    "urn:pulumi:prod::tap::tap:region:Region$tap:monitoring:Monitoring"
    "$aws:cloudwatch/metricAlarm:MetricAlarm::us-west-2-monitoring-replica-lag*",
]


# The refresh reads only what the promotion touches (literal URNs: a refresh takes no globs),
# never the failed region.
REFRESHED = [t for t in PROMOTED_TARGETS if not t.endswith("*")]


class FakeEngine:
    """Records the engine calls; `fail_on` makes that call raise as the real engine would."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, list[str] | None]] = []
        self.fail_on = fail_on

    def refresh(self, targets: Sequence[str] | None = None) -> None:
        self.calls.append(("refresh", list(targets) if targets is not None else None))
        if self.fail_on == "refresh":
            raise OpsError("stack prod is locked by another update", ExitCode.LOCKED)

    def up(self, targets: Sequence[str] | None) -> None:
        self.calls.append(("up", list(targets) if targets is not None else None))
        if self.fail_on == "up":
            raise OpsError("update failed: 1 error (see above)")


_ACCOUNT: list[tuple[MotoState, dict[str, str]]] = []
"""The account `account` built, once per process: moto's state and the health check ids."""


def account(clients: ClientFactory) -> dict[str, str]:
    """A primary, its cross-region replica and a health check per region in the empty account
    `clients` reach; the check ids by region.

    Built with boto3 once per process, then copied into each later test's fresh mock (see
    tests/moto_fast.py): the same instances and ids as a new build, without its calls.
    """
    if _ACCOUNT:
        state, checks = _ACCOUNT[0]
        state.restore()
        return dict(checks)
    primary = clients("rds", PRIMARY).create_db_instance(
        DBInstanceIdentifier=PRIMARY_DB,
        Engine="postgres",
        DBInstanceClass="db.m7g.large",
        MasterUsername="tap_admin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=100,
        BackupRetentionPeriod=14,
        MultiAZ=True,
    )["DBInstance"]
    clients("rds", SECONDARY).create_db_instance_read_replica(
        DBInstanceIdentifier=REPLICA_DB,
        SourceDBInstanceIdentifier=primary["DBInstanceArn"],
        DBInstanceClass="db.m7g.large",
    )
    route53 = clients("route53", PRIMARY)
    checks = {
        region: route53.create_health_check(
            CallerReference=f"tap-{region}",
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"prod-alb-{region}.elb.amazonaws.com",
                "Port": 443,
                "ResourcePath": "/health",
                "RequestInterval": 30,
                "FailureThreshold": 3,
            },
        )["HealthCheck"]["Id"]
        for region in (PRIMARY, SECONDARY)
    }
    _ACCOUNT.append((MotoState(), dict(checks)))
    return checks


class Aws:
    """The moto account: a primary and its cross-region replica, a health check per region."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.clients = client_factory(session=session)
        self.failing: set[str] = set()
        self.promote_calls: list[dict[str, Any]] = []
        session.events.register("before-call.route53.GetHealthCheckStatus", self._health)
        session.events.register("provide-client-params.rds.PromoteReadReplica", self._asked)
        session.events.register("after-call.rds.PromoteReadReplica", self._promoting)
        self.checks = account(self.clients)
        # A datapoint of now for every test (the capture would age): `status` reads the last
        # LAG_WINDOW only.
        self.clients("cloudwatch", SECONDARY).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": REPLICA_DB}],
                    "Value": 7.0,
                    "Unit": "Seconds",
                }
            ],
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "deployment_summary": {"environment": "prod", "primary_region": PRIMARY},
            "regions": {
                PRIMARY: {"db_identifier": PRIMARY_DB, "db_is_replica": False},
                SECONDARY: {"db_identifier": REPLICA_DB, "db_is_replica": True},
            },
            "dns": {"health_check_ids": dict(self.checks)},
        }

    def instance(self, region: str, identifier: str) -> dict[str, Any]:
        rds = self.clients("rds", region)
        return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])

    def finish_promotions(self, _seconds: float = 0) -> None:
        """What RDS does while `dr promote` waits: the promotion completes."""
        for database in rds_backends[ACCOUNT][SECONDARY].databases.values():
            if database.status == "modifying":
                database.source_db_instance_identifier = None
                database.status = "available"

    def promote_by_hand(self) -> None:
        """`aws rds promote-read-replica` run earlier (runbook step 2, or a previous run)."""
        self.clients("rds", SECONDARY).promote_read_replica(DBInstanceIdentifier=REPLICA_DB)
        self.finish_promotions()
        self.promote_calls.clear()

    def _asked(self, params: dict[str, Any], **_: Any) -> None:
        self.promote_calls.append(dict(params))

    def _promoting(self, **_: Any) -> None:
        database = rds_backends[ACCOUNT][SECONDARY].databases[REPLICA_DB]
        database.status = "modifying"

    def _health(self, params: dict[str, Any], **_: Any) -> Any:
        check_id = str(params["url_path"]).rstrip("/").split("/")[-2]
        if check_id not in {self.checks[region] for region in self.failing}:
            return None  # moto answers: one healthy checker
        now = datetime.now(UTC)
        observations = [
            {
                "Region": region,
                "IPAddress": f"15.177.{index}.1",
                "StatusReport": {
                    "Status": "Failure: Connection timed out. The endpoint or the internet "
                    "connection is down, or requests are being blocked by your firewall.",
                    "CheckedTime": now,
                },
            }
            for index, region in enumerate(
                ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
                 "ap-southeast-2", "ap-northeast-1", "sa-east-1")
            )
        ]  # fmt: skip
        return _Ok(), {"HealthCheckObservations": observations}


class _Ok:
    status_code = 200
    headers: dict[str, str] = {}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # RDS brings up moto's EC2 backends, which otherwise build a ~5,000-image AMI catalogue
    # in each region they are made for (most of this module's time); nothing here needs one.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    # A new session per test (its own event handlers), one loader for all (tests/moto_fast.py).
    session = new_session(region_name=PRIMARY)
    with fresh_account():
        yield Aws(session)


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    """A copy of the shipped Pulumi.prod.yaml with a real domain instead of the placeholder
    (which the config refuses: a stack that was ever deployed has a real one)."""
    path = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(REPO_ROOT / "Pulumi.prod.yaml", path)
    path.write_text(path.read_text().replace("domain: replace-me.invalid", f"domain: {DOMAIN}"))
    return path


@pytest.fixture(autouse=True)
def shared_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """promotion_targets runs the program under mocks before and after the promotion (seconds
    each): the runs are shared by every test asking for the same config (tests.conftest)."""

    def run_program(
        stack: str, config: Mapping[str, Any] | None = None, program: Path = offline.MAIN_PROGRAM
    ) -> offline.PlanResult:
        assert program == offline.MAIN_PROGRAM
        return planned(stack, config)

    monkeypatch.setattr(offline, "run_program", run_program)


def config_of(path: Path) -> StackConfig:
    return parse_stack_config(dr.read_tap_config(path), "prod")


def fast() -> dr.WaitPolicy:
    return dr.WaitPolicy(delay_seconds=0, max_attempts=5)


def promote(
    aws: Aws,
    stack_file: Path,
    engine: FakeEngine,
    *,
    force: bool = False,
    region: str = SECONDARY,
    config: StackConfig | None = None,
    wait: dr.WaitPolicy | None = None,
) -> tuple[ExitCode, list[str]]:
    lines: list[str] = []
    policy = wait or dr.WaitPolicy(delay_seconds=0, max_attempts=5, sleep=aws.finish_promotions)
    code = dr.run_promote(
        config or config_of(stack_file),
        "prod",
        region,
        aws.outputs(),
        aws.clients,
        engine,
        stack_file,
        force,
        lines.append,
        wait=policy,
    )
    return code, lines


def status(
    aws: Aws, config: StackConfig, outputs: dict[str, Any] | None = None
) -> tuple[ExitCode, str]:
    lines: list[str] = []
    code = dr.run_status(
        config, "prod", aws.outputs() if outputs is None else outputs, aws.clients, lines.append
    )
    return code, "\n".join(lines)


def row(table: str, region: str) -> str:
    (line,) = [line for line in table.splitlines() if line.startswith(region)]
    return line


# ------------------------------------------------------------------------------------ status


def test_status_shows_roles_lag_and_health(aws: Aws, stack_file: Path) -> None:
    code, text = status(aws, config_of(stack_file))
    assert code == ExitCode.OK
    assert text.splitlines()[0] == "stack prod: writes go to the primary region us-east-1"
    assert text.splitlines()[1].split() == [
        "REGION", "ROLE", "DATABASE", "STATUS", "LAG", "HEALTH", "CHECK"
    ]  # fmt: skip
    primary, secondary = row(text, PRIMARY), row(text, SECONDARY)
    assert primary.split()[:4] == [PRIMARY, "primary", PRIMARY_DB, "available"]
    assert primary.split()[4] == "-"  # no lag on a primary
    assert secondary.split()[:5] == [SECONDARY, "replica", REPLICA_DB, "available", "7"]
    assert f"healthy: {aws.checks[SECONDARY]} HTTPS" in secondary
    assert "1/1 checkers healthy" in primary


def test_status_shows_a_failing_primary(aws: Aws, stack_file: Path) -> None:
    aws.failing.add(PRIMARY)
    code, text = status(aws, config_of(stack_file))
    assert code == ExitCode.OK  # everything was read; the region is down, not the command
    assert "FAILING: " in row(text, PRIMARY) and "0/8 checkers healthy" in row(text, PRIMARY)
    assert "healthy: " in row(text, SECONDARY)


def test_status_after_a_promotion(aws: Aws, stack_file: Path) -> None:
    aws.promote_by_hand()
    stack_file.write_text(dr.add_promoted_region(stack_file.read_text(), SECONDARY))
    code, text = status(aws, config_of(stack_file))
    assert code == ExitCode.OK
    assert text.splitlines()[0] == (
        "stack prod: writes go to us-west-2 (promoted; primary region us-east-1)"
    )
    assert row(text, SECONDARY).split()[1] == "promoted"
    assert row(text, SECONDARY).split()[4] == "-"  # no replica lag any more
    assert row(text, PRIMARY).split()[1:3] == ["former", "primary"]


def test_status_reports_what_it_cannot_read_one_line_each(aws: Aws, stack_file: Path) -> None:
    outputs = aws.outputs()
    outputs["regions"][SECONDARY]["db_identifier"] = "prod-db-replica-gone"
    outputs["dns"]["health_check_ids"][PRIMARY] = "00000000-0000-0000-0000-000000000000"
    code, text = status(aws, config_of(stack_file), outputs)
    assert code == ExitCode.FAILED
    problems = [line for line in text.splitlines() if line.startswith("could not read: ")]
    assert len(problems) == 2
    (missing_db,) = [p for p in problems if "database" in p]
    (missing_check,) = [p for p in problems if "health check" in p]
    assert missing_db == "could not read: us-west-2 database prod-db-replica-gone: not found"
    assert missing_check.startswith("could not read: us-east-1 health check 00000000-")
    assert "NoSuchHealthCheck" in missing_check
    assert "Traceback" not in text


def test_status_names_the_database_without_outputs(aws: Aws, stack_file: Path) -> None:
    """A stack whose outputs cannot be read still shows its databases (names from naming)."""
    code, text = status(aws, config_of(stack_file), {"dns": aws.outputs()["dns"]})
    assert code == ExitCode.OK
    assert row(text, SECONDARY).split()[1:3] == ["replica", REPLICA_DB]


# ----------------------------------------------------------------------------------- promote


def test_promote_is_refused_while_the_primary_is_healthy(aws: Aws, stack_file: Path) -> None:
    before = stack_file.read_text()
    engine = FakeEngine()
    with pytest.raises(OpsError) as refused:
        promote(aws, stack_file, engine)
    assert refused.value.exit_code == ExitCode.USAGE
    message = str(refused.value)
    assert "\n" not in message
    assert "the primary region us-east-1 passes its health check" in message
    assert "--force" in message
    assert aws.promote_calls == []
    assert aws.instance(SECONDARY, REPLICA_DB)["ReadReplicaSourceDBInstanceIdentifier"]
    assert stack_file.read_text() == before
    assert engine.calls == []


def test_promote_with_force(aws: Aws, stack_file: Path) -> None:
    engine = FakeEngine()
    code, lines = promote(aws, stack_file, engine, force=True)
    assert code == ExitCode.OK
    assert aws.promote_calls == [
        {"DBInstanceIdentifier": REPLICA_DB, "BackupRetentionPeriod": 14,
         "PreferredBackupWindow": "03:00-04:00"}
    ]  # fmt: skip
    promoted = aws.instance(SECONDARY, REPLICA_DB)
    assert not promoted.get("ReadReplicaSourceDBInstanceIdentifier")
    assert promoted["DBInstanceStatus"] == "available"
    assert config_of(stack_file).database.promoted_regions == (SECONDARY,)
    assert engine.calls == [("refresh", REFRESHED), ("up", PROMOTED_TARGETS)]
    text = "\n".join(lines)
    assert "--force: not checking the health of the primary region us-east-1" in text
    assert "replica lag of prod-db-replica-us-west-2 (writes it may lack): 7 s" in text
    # It waited for the promotion, not just for `available`.
    assert f"    {REPLICA_DB}: modifying" in lines
    assert lines[-1].startswith("done: us-west-2 takes the writes")


def test_promote_when_the_primary_fails_its_health_check(aws: Aws, stack_file: Path) -> None:
    aws.failing.add(PRIMARY)
    engine = FakeEngine()
    code, lines = promote(aws, stack_file, engine)
    assert code == ExitCode.OK
    assert any(
        line.startswith("the primary region us-east-1 fails its health check") for line in lines
    )
    assert len(aws.promote_calls) == 1
    assert engine.calls[-1] == ("up", PROMOTED_TARGETS)


def test_a_failing_secondary_does_not_count_as_a_failing_primary(
    aws: Aws, stack_file: Path
) -> None:
    aws.failing.add(SECONDARY)
    with pytest.raises(OpsError, match="passes its health check"):
        promote(aws, stack_file, FakeEngine())


def test_rerun_after_the_engine_failed(aws: Aws, stack_file: Path) -> None:
    """The promotion and the record happened, the up failed: run again, only the engine part
    runs again."""
    aws.failing.add(PRIMARY)
    with pytest.raises(OpsError) as failed:
        promote(aws, stack_file, FakeEngine(fail_on="refresh"))
    assert failed.value.exit_code == ExitCode.LOCKED  # the engine's own code is kept
    assert "the promotion is done and recorded" in str(failed.value)
    assert "dr promote --stack prod --region us-west-2" in str(failed.value)
    assert len(aws.promote_calls) == 1
    recorded = stack_file.read_text()

    aws.failing.clear()  # the old primary is back: the safety check is moot now
    engine = FakeEngine()
    code, lines = promote(aws, stack_file, engine)
    assert code == ExitCode.OK
    assert len(aws.promote_calls) == 1  # not promoted twice (RDS would refuse)
    assert f"1/3 {REPLICA_DB} is already promoted (no source instance): skipping" in lines
    assert "2/3 Pulumi.prod.yaml already records us-west-2 as promoted: skipping" in lines
    assert stack_file.read_text() == recorded
    assert engine.calls == [("refresh", REFRESHED), ("up", PROMOTED_TARGETS)]


def test_rerun_after_a_promotion_by_hand(aws: Aws, stack_file: Path) -> None:
    """Runbook step 2 done with the AWS CLI (or a run stopped before recording): the rest is
    done, without the health check, which cannot undo a split that already happened."""
    aws.promote_by_hand()
    engine = FakeEngine()
    code, lines = promote(aws, stack_file, engine)
    assert code == ExitCode.OK
    assert aws.promote_calls == []
    assert f"2/3 recorded us-west-2 in tap:database.promoted_regions of {stack_file.name}" in lines
    assert config_of(stack_file).database.promoted_regions == (SECONDARY,)
    assert engine.calls[-1] == ("up", PROMOTED_TARGETS)


def test_rerun_while_the_promotion_is_still_under_way(aws: Aws, stack_file: Path) -> None:
    aws.clients("rds", SECONDARY).promote_read_replica(DBInstanceIdentifier=REPLICA_DB)
    aws.promote_calls.clear()  # `modifying`, source still named: an earlier run was cut off
    code, lines = promote(aws, stack_file, FakeEngine())
    assert code == ExitCode.OK
    assert aws.promote_calls == []
    assert f"1/3 {REPLICA_DB} is modifying: waiting until it is available" in lines


def test_promotion_that_does_not_finish_in_time(aws: Aws, stack_file: Path) -> None:
    engine = FakeEngine()
    naps: list[float] = []
    with pytest.raises(OpsError) as slow:
        promote(
            aws, stack_file, engine, force=True,
            wait=dr.WaitPolicy(delay_seconds=30, max_attempts=3, sleep=naps.append),
        )  # fmt: skip
    assert naps == [30, 30]
    assert "still modifying after 2 min" in str(slow.value)
    assert "run the same `dr promote` again" in str(slow.value)
    assert engine.calls == []
    assert config_of(stack_file).database.promoted_regions == ()  # not recorded before done


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("eu-west-1", "eu-west-1 is not a region of stack prod (us-east-1, us-west-2)"),
        ("us-east-1", "us-east-1 is the primary region of stack prod: promote a secondary"),
    ],
)
def test_promote_refuses_a_region_without_a_replica(
    aws: Aws, stack_file: Path, region: str, message: str
) -> None:
    engine = FakeEngine()
    with pytest.raises(OpsError) as refused:
        promote(aws, stack_file, engine, force=True, region=region)
    assert refused.value.exit_code == ExitCode.USAGE
    assert str(refused.value).startswith(message)
    assert aws.promote_calls == [] and engine.calls == []


def test_promote_refuses_a_stack_without_replicas(aws: Aws, stack_file: Path) -> None:
    raw = dr.read_tap_config(stack_file)
    raw["database"] = {**raw["database"], "replicas_enabled": False}
    config = parse_stack_config({**raw, "environment": "staging"}, "prod")
    with pytest.raises(OpsError, match="replicas_enabled is false") as refused:
        promote(aws, stack_file, FakeEngine(), force=True, config=config)
    assert refused.value.exit_code == ExitCode.USAGE


def test_promote_refuses_a_second_region_once_one_is_promoted(aws: Aws, stack_file: Path) -> None:
    raw = dr.read_tap_config(stack_file)
    raw["regions"] = [*raw["regions"], {"name": "eu-west-1", "cidr": "10.32.0.0/16"}]
    raw["database"] = {**raw["database"], "promoted_regions": ["eu-west-1"]}
    config = parse_stack_config(raw, "prod")
    with pytest.raises(OpsError, match="already promoted eu-west-1") as refused:
        promote(aws, stack_file, FakeEngine(), force=True, config=config)
    assert refused.value.exit_code == ExitCode.USAGE
    assert aws.promote_calls == []


def test_without_health_checks_only_force_promotes(aws: Aws, stack_file: Path) -> None:
    raw = dr.read_tap_config(stack_file)
    raw.pop("dns")
    raw["edge"] = {"cloudfront_enabled": False}
    config = parse_stack_config(raw, "prod")
    with pytest.raises(OpsError, match=r"no health checks \(no tap:dns\)"):
        promote(aws, stack_file, FakeEngine(), config=config)


def test_an_unreadable_primary_health_check_needs_force(aws: Aws, stack_file: Path) -> None:
    """Route53's API lives in us-east-1: in an outage there it may not answer at all."""

    def unreachable(**_: Any) -> Any:
        raise aws.clients("route53", PRIMARY).exceptions.ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "Service Unavailable"}},
            "GetHealthCheckStatus",
        )

    aws.session.events.register_first("before-call.route53.GetHealthCheckStatus", unreachable)
    aws.clients = client_factory(session=aws.session)  # clients copy the session's handlers
    with pytest.raises(OpsError) as refused:
        promote(aws, stack_file, FakeEngine())
    assert refused.value.exit_code == ExitCode.USAGE
    assert "cannot read the health check of us-east-1 (ServiceUnavailable" in str(refused.value)
    assert "confirm the outage yourself and pass --force" in str(refused.value)


# -------------------------------------------------------------------------------- stack file


def test_the_recorded_stack_file_keeps_everything_else(aws: Aws, stack_file: Path) -> None:
    before = stack_file.read_text()
    promote(aws, stack_file, FakeEngine(), force=True)
    after = stack_file.read_text()
    old_lines, new_lines = before.splitlines(), after.splitlines()
    added = [line for line in new_lines if line not in old_lines]
    assert added == ["    promoted_regions:", "      - us-west-2"]
    assert [line for line in new_lines if line not in added] == old_lines  # comments included
    assert new_lines.index("    promoted_regions:") == old_lines.index("  tap:alerts:")
    document, original = yaml.safe_load(after), yaml.safe_load(before)
    original["config"]["tap:database"]["promoted_regions"] = ["us-west-2"]
    assert document == original
    assert config_of(stack_file).active_region == SECONDARY


SMALL = """\
config:
  tap:regions: [{name: us-east-1, cidr: 10.0.0.0/16}, {name: us-west-2, cidr: 10.1.0.0/16}]
  tap:tags: {project: p, owner: o, cost_center: c}
{database}# trailing comment
"""


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("", "  tap:database:\n    promoted_regions:\n      - us-west-2\n"),
        (
            "  tap:database:\n    multi_az: false  # cheap\n",
            "  tap:database:\n    multi_az: false  # cheap\n"
            "    promoted_regions:\n      - us-west-2\n",
        ),
        (
            "  tap:database:\n    promoted_regions: []  # DR\n",
            "  tap:database:\n    promoted_regions: [us-west-2]  # DR\n",
        ),
        (
            "  tap:database:\n    promoted_regions:\n    - eu-west-1\n    multi_az: false\n",
            "  tap:database:\n    promoted_regions:\n    - eu-west-1\n    - us-west-2\n"
            "    multi_az: false\n",
        ),
    ],
)
def test_add_promoted_region_edits_only_that_key(database: str, expected: str) -> None:
    text = SMALL.replace("{database}", database)
    edited = dr.add_promoted_region(text, "us-west-2")
    assert edited == SMALL.replace("{database}", expected)
    assert dr.add_promoted_region(edited, "us-west-2") == edited  # already there: unchanged


def test_add_promoted_region_keeps_crlf_line_endings() -> None:
    text = SMALL.replace("{database}", "  tap:database:\n    multi_az: true\n").replace(
        "\n", "\r\n"
    )
    edited = dr.add_promoted_region(text, "us-west-2")
    assert "\r\n    promoted_regions:\r\n      - us-west-2\r\n" in edited
    assert "\n" not in edited.replace("\r\n", "")


def test_add_promoted_region_refuses_a_layout_it_cannot_edit() -> None:
    text = SMALL.replace("{database}", "  tap:database: {multi_az: false}\n")
    with pytest.raises(ValueError, match="written inline"):
        dr.add_promoted_region(text, "us-west-2")


def test_record_promotion_refuses_a_config_the_model_rejects(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_text(SMALL.replace("{database}", "  tap:database:\n    replicas_enabled: false\n"))
    before = path.read_text()
    with pytest.raises(OpsError, match="promoted_regions") as refused:
        dr.record_promotion(path, "qa", "us-west-2")
    assert refused.value.exit_code == ExitCode.USAGE
    assert path.read_text() == before


# ----------------------------------------------------------------------------------- targets


def test_targets_are_what_the_promotion_changes(stack_file: Path) -> None:
    raw = dr.read_tap_config(stack_file)
    targets = dr.promotion_targets("prod", SECONDARY, raw)
    assert targets == PROMOTED_TARGETS
    after = offline.run_program(
        "prod", {**raw, "database": {**raw["database"], "promoted_regions": [SECONDARY]}}
    ).resources
    engine = dr.engine_urns("prod", after)
    by_engine = {engine[r.urn]: r for r in after}
    index = {r.urn: r for r in after}
    for urn in (t for t in targets if not t.endswith("*")):
        resource = by_engine[urn]  # every literal target is a resource of the program
        parent = index.get(resource.parent_urn)
        assert parent is None or engine[parent.urn] in targets, urn
        provider = index.get(resource.provider_urn)
        assert provider is None or engine[provider.urn] in targets, urn
    # Nothing of the primary region.
    regions = {
        r.region
        for r in after
        if engine[r.urn] in targets and r.custom and "providers" not in r.type
    }
    assert regions == {SECONDARY, "us-east-1"}  # us-east-1: the global provider's records
    primary_provider = "urn:pulumi:prod::tap::pulumi:providers:aws::aws-us-east-1"
    assert primary_provider not in targets
    # The replica-lag alarm, gone from the program, only as a glob matching itself alone.
    (glob,) = [t for t in targets if t.endswith("*")]
    assert "replica-lag" in glob


def test_engine_urns_carry_the_whole_parent_chain() -> None:
    """The mocks name a nested resource after its parent's type only; the engine after the
    whole chain (Deployment.generateURN). A wrong URN is a target the engine cannot find."""
    plan = planned("prod")
    engine = dr.engine_urns("prod", plan.resources)
    (bucket,) = [
        r
        for r in plan.of_type("aws:s3/bucket:Bucket")
        if r.name == "us-west-2-compute-alb-logs-bucket"
    ]
    assert bucket.urn == (
        "urn:pulumi:prod::tap::tap:bucket:SecureBucket$aws:s3/bucket:Bucket::"
        "us-west-2-compute-alb-logs-bucket"
    )
    assert engine[bucket.urn] == (
        "urn:pulumi:prod::tap::tap:region:Region$tap:compute:Compute$tap:bucket:SecureBucket"
        "$aws:s3/bucket:Bucket::us-west-2-compute-alb-logs-bucket"
    )
    (zone,) = plan.of_type("aws:route53/zone:Zone")
    assert (
        engine[zone.urn] == "urn:pulumi:prod::tap::tap:zone:Zone$aws:route53/zone:Zone::zone-zone"
    )


def test_select_targets_refuses_a_glob_that_would_match_more() -> None:
    from tap_tooling.offline import Recorded

    def resource(name: str, parent: str = "") -> Recorded:
        return Recorded(
            type="aws:cloudwatch/metricAlarm:MetricAlarm", name=name,
            urn=f"urn:pulumi:prod::tap::pulumi:pulumi:Stack$aws:cloudwatch/metricAlarm:MetricAlarm::{name}",
            inputs={}, custom=True, parent_urn=parent, provider_urn="", region=None,
            protect=False, delete_before_replace=False,
        )  # fmt: skip

    with pytest.raises(OpsError, match="matches more"):
        dr.select_targets("prod", [resource("lag-2")], [resource("lag"), resource("lag-2")])


Matcher = Callable[[str, str], bool]


@pytest.mark.parametrize(
    ("glob", "urn", "matches"),
    [
        ("urn:pulumi:s::p::t::a*", "urn:pulumi:s::p::t::a", True),
        ("urn:pulumi:s::p::t::a*", "urn:pulumi:s::p::t::ab-c", True),
        ("urn:pulumi:s::p::t::a*", "urn:pulumi:s::p::t::a::b", False),
        ("urn:pulumi:s::p::**", "urn:pulumi:s::p::t::a::b", True),
        ("urn:pulumi:s::p::t$u::a*", "urn:pulumi:s::p::tXu::a", False),
    ],
)
def test_glob_matching_follows_the_engine(glob: str, urn: str, matches: bool) -> None:
    matcher: Matcher = dr._glob_matches
    assert matcher(glob, urn) is matches
