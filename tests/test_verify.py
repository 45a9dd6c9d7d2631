"""`deploy.py verify` against moto: in-process (mock_aws) and through a real HTTP endpoint.

The fixtures build with boto3 what an `up` leaves behind, and the stack outputs that describe
it (the outputs contract in docs/operations.md). Moto's limits, and how the tests live with
them, are noted where they matter.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.credentials import CredentialResolver
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict
from moto.rds.models import rds_backends
from moto.server import ThreadedMotoServer

from tap import config as tap_config
from tap_tooling.cli import main
from tap_tooling.ops import aws as tap_aws
from tap_tooling.ops.aws import ClientFactory, client_factory
from tap_tooling.ops.errors import ExitCode, OpsError
from tap_tooling.ops.verify import (
    DB_BUSY_STATUSES,
    DB_FAILED_STATUSES,
    Check,
    db_status_fails,
    render_table,
    run,
    verify,
)
from tests.conftest import stack_config
from tests.fake_pulumi import FakePulumi, install
from tests.moto_fast import MotoState, fresh_account, new_session, one_key_per_spec

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"  # moto's account id
CIDRS = {PRIMARY: "10.30", SECONDARY: "10.31"}
AZ_COUNT = 2
FQDN = "app.tap.example.com"
# Moto launches any image id (without MOTO_ENABLE_AMI_VALIDATION), so no catalogue is needed.
AMI = "ami-0123456789abcdef0"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials only: nothing in these tests may reach a real account."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", PRIMARY)
    # Moto otherwise builds its ~5,000-image AMI catalogue in every EC2 region it touches,
    # which is most of the time these tests would take; they launch a made-up AMI id.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture(scope="module", autouse=True)
def _one_kms_key_per_spec() -> Iterator[None]:
    with one_key_per_spec():
        yield


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    """One session for the module, whose clients the tests share (see `shared_clients`)."""
    return new_session()


@pytest.fixture(scope="module")
def shared_clients(session: boto3.Session) -> ClientFactory:
    """Clients reused across tests (creating one costs tens of ms). Moto intercepts every
    client made after moto was imported, so each test's own mock_aws still sees them."""
    return client_factory(session=session)


@pytest.fixture
def moto_clients(aws_env: None, shared_clients: ClientFactory) -> Iterator[ClientFactory]:
    """A fresh, empty moto account for each test."""
    with fresh_account():
        yield shared_clients


@dataclass
class World:
    """What one `up` of the stack left in the account, and the outputs describing it."""

    clients: ClientFactory
    outputs: dict[str, Any]

    def region(self, name: str) -> dict[str, Any]:
        return self.outputs["regions"][name]


_BUILT: dict[tuple[str, bool, bool | None], tuple[MotoState, dict[str, Any]]] = {}
"""Each world built so far, by build_world's arguments: moto's state and the outputs."""


def build_world(
    clients: ClientFactory,
    environment: str = "prod",
    replica_deleted: bool = False,
    production: bool | None = None,
) -> World:
    """What `build_world_with_boto3` leaves in the empty account `clients` reach, and its
    outputs; each test may change both.

    A world is built with boto3 once per process and arguments (a hundred moto calls, most of
    this module's time when every test built its own), then copied into each later test's
    fresh mock (see tests/moto_fast.py): the same resources, ids and outputs as a new build.
    """
    key = (environment, replica_deleted, production)
    if key in _BUILT:
        state, outputs = _BUILT[key]
        state.restore()
        return World(clients, copy.deepcopy(outputs))
    world = build_world_with_boto3(clients, environment, replica_deleted, production)
    _BUILT[key] = (MotoState(), copy.deepcopy(world.outputs))
    return world


def build_world_with_boto3(
    clients: ClientFactory,
    environment: str = "prod",
    replica_deleted: bool = False,
    production: bool | None = None,
) -> World:
    """VPCs, ALBs with healthy targets, ASGs, primary DB + replica, DNS failover, a trail.

    `replica_deleted`: the outputs of the last `up` name the replica, but it is gone. (Built
    that way rather than deleted afterwards: deleting a cross-region replica trips a moto bug
    in its primary's replica list, and promoting one leaves moto reporting its source.)
    """
    production = environment == "prod" if production is None else production
    regions = {region: build_region(clients, region, environment) for region in CIDRS}
    primary_db = build_primary_db(clients, regions[PRIMARY], environment, production)
    regions[PRIMARY].update(primary_db)
    if replica_deleted:
        regions[SECONDARY].update(
            _db_outputs({"DBInstanceIdentifier": f"{environment}-db-{SECONDARY}"}, True),
            db_secret_arn=build_secret(
                clients, SECONDARY, environment, regions[SECONDARY]["kms_key_arn"]
            ),
        )
    else:
        regions[SECONDARY].update(
            build_replica(clients, primary_db, regions[SECONDARY], environment)
        )
    outputs = {
        "deployment_summary": {
            "environment": environment,
            "production": production,  # as __main__ exports StackConfig.is_production
            "primary_region": PRIMARY,
            "regions": [PRIMARY, SECONDARY],
            "az_count": AZ_COUNT,
            "nat_strategy": "one_per_az",
        },
        "regions": regions,
        "dns": build_dns(clients, regions),
        "audit": build_trail(clients, environment),
    }
    return World(clients, outputs)


def build_region(clients: ClientFactory, region: str, environment: str) -> dict[str, Any]:
    ec2, elbv2 = clients("ec2", region), clients("elbv2", region)
    prefix = CIDRS[region]
    vpc_id = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    tiers: dict[str, list[str]] = {}
    for offset, tier in enumerate(("public", "private", "database")):
        tiers[tier] = [
            ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=f"{prefix}.{offset * 16 + az}.0/24",
                AvailabilityZone=f"{region}{'abc'[az]}",
            )["Subnet"]["SubnetId"]
            for az in range(AZ_COUNT)
        ]
    name = f"{environment}-web-{region}"
    alb = elbv2.create_load_balancer(Name=name, Subnets=tiers["public"])["LoadBalancers"][0]
    target_group = elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.small"}
    )
    # Moto registers the ASG's instances in the target group, as AWS does.
    clients("autoscaling", region).create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=2,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(tiers["private"]),
        TargetGroupARNs=[target_group],
    )
    return {
        "vpc_id": vpc_id,
        "vpc_cidr": f"{prefix}.0.0/16",
        "public_subnet_ids": tiers["public"],
        "private_subnet_ids": tiers["private"],
        "database_subnet_ids": tiers["database"],
        "kms_key_arn": clients("kms", region).create_key(Description=f"{name} region key")[
            "KeyMetadata"
        ]["Arn"],
        "alb_arn": alb["LoadBalancerArn"],
        "alb_dns_name": alb["DNSName"],
        "alb_zone_id": alb["CanonicalHostedZoneId"],
        "target_group_arn": target_group,
        "asg_name": name,
        "url": f"https://{alb['DNSName']}",
        "alert_topic_arn": f"arn:aws:sns:{region}:123456789012:{name}-alerts",
        "dashboard_name": name,
    }


def build_primary_db(
    clients: ClientFactory, region_out: dict[str, Any], environment: str, production: bool
) -> dict[str, Any]:
    rds = clients("rds", PRIMARY)
    identifier = f"{environment}-db-{PRIMARY}"
    rds.create_db_subnet_group(
        DBSubnetGroupName=identifier,
        DBSubnetGroupDescription="database tier",
        SubnetIds=region_out["database_subnet_ids"],
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t4g.medium",
        MasterUsername="tap",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        StorageEncrypted=True,
        MultiAZ=production,
        DBSubnetGroupName=identifier,
        EnableIAMDatabaseAuthentication=True,
    )["DBInstance"]
    return {
        **_db_outputs(db, is_replica=False),
        "db_secret_arn": build_secret(clients, PRIMARY, environment, region_out["kms_key_arn"]),
    }


def build_secret(clients: ClientFactory, region: str, environment: str, key_arn: str) -> str:
    """The region's own master secret, as the Database component creates it."""
    return str(
        clients("secretsmanager", region).create_secret(
            Name=f"tap/{environment}/{region}/database/master-0a1b2c3d",
            KmsKeyId=key_arn,
            SecretString=json.dumps({"username": "tap_admin", "password": "not-a-real-one-1"}),
        )["ARN"]
    )


def build_replica(
    clients: ClientFactory, primary: dict[str, Any], region_out: dict[str, Any], environment: str
) -> dict[str, Any]:
    rds = clients("rds", SECONDARY)
    identifier = primary["db_identifier"].replace(PRIMARY, SECONDARY)
    # No DBSubnetGroupName: moto looks a cross-region replica's subnet group up in the source
    # region and fails; the check under test does not look at subnet groups anyway.
    source_arn = f"arn:aws:rds:{PRIMARY}:123456789012:db:{primary['db_identifier']}"
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier=identifier,
        SourceDBInstanceIdentifier=source_arn,
        DBInstanceClass="db.t4g.medium",
        KmsKeyId=f"arn:aws:kms:{SECONDARY}:123456789012:alias/aws/rds",
        EnableIAMDatabaseAuthentication=True,
    )["DBInstance"]
    return {
        **_db_outputs(replica, is_replica=True),
        "db_secret_arn": build_secret(clients, SECONDARY, environment, region_out["kms_key_arn"]),
    }


def _db_outputs(db: dict[str, Any], is_replica: bool) -> dict[str, Any]:
    endpoint = db.get("Endpoint", {})
    return {
        "db_identifier": db["DBInstanceIdentifier"],
        "db_endpoint": f"{endpoint.get('Address')}:{endpoint.get('Port')}",
        "db_address": endpoint.get("Address"),
        "db_port": endpoint.get("Port"),
        "db_is_replica": is_replica,
        "db_multi_az": bool(db.get("MultiAZ")),
    }


def build_dns(clients: ClientFactory, regions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    route53 = clients("route53", PRIMARY)
    zone = route53.create_hosted_zone(Name="tap.example.com", CallerReference="tap-zone")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    health_checks: dict[str, str] = {}
    changes = []
    for role, region in (("PRIMARY", PRIMARY), ("SECONDARY", SECONDARY)):
        out = regions[region]
        health_checks[region] = route53.create_health_check(
            CallerReference=f"tap-{region}",
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": out["alb_dns_name"],
                "Port": 443,
                "ResourcePath": "/health",
            },
        )["HealthCheck"]["Id"]
        changes.append(_failover_record(role, region, out, health_checks[region]))
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return {
        "zone_id": zone_id,
        "app_fqdn": FQDN,
        "url": f"https://{FQDN}",
        "health_check_ids": health_checks,
        "name_servers": zone["DelegationSet"]["NameServers"],
    }


def _failover_record(role: str, region: str, out: dict[str, Any], check: str) -> dict[str, Any]:
    return {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": FQDN,
            "Type": "A",
            "SetIdentifier": region,
            "Failover": role,
            "HealthCheckId": check,
            "AliasTarget": {
                "HostedZoneId": out["alb_zone_id"],
                "DNSName": out["alb_dns_name"],
                "EvaluateTargetHealth": True,
            },
        },
    }


def build_trail(clients: ClientFactory, environment: str) -> dict[str, Any]:
    bucket = f"{environment}-trail-123456789012"
    clients("s3", PRIMARY).create_bucket(Bucket=bucket)
    cloudtrail = clients("cloudtrail", PRIMARY)
    name = f"{environment}-trail"
    trail = cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name=name)
    return {
        "trail_name": name,
        "trail_arn": trail["TrailARN"],
        "trail_bucket": bucket,
        "trail_region": PRIMARY,
    }


def by_key(checks: list[Check]) -> dict[tuple[str, str], Check]:
    return {(check.region, check.name): check for check in checks}


def failed(checks: list[Check]) -> list[tuple[str, str]]:
    return [(c.region, c.name) for c in checks if c.status == "FAIL"]


def test_a_healthy_prod_deployment_passes_every_check(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == []
    rows = by_key(checks)
    for region in (PRIMARY, SECONDARY):
        for name in ("vpc", "subnets", "load balancer", "healthy targets", "auto scaling group"):
            assert rows[(region, name)].passed
        assert rows[(region, "route53 health check")].passed
    # Moto reports every running registered instance as healthy: it never probes the app, so
    # the healthy case is real moto state and the unhealthy cases below change that state.
    assert rows[(PRIMARY, "healthy targets")].detail == "2/2 healthy"
    assert rows[(PRIMARY, "auto scaling group")].detail.endswith("2/2 in service")
    assert rows[(PRIMARY, "database")].detail.endswith("available, encrypted, Multi-AZ")
    assert rows[(SECONDARY, "read replica")].detail.startswith("prod-db-us-west-2 replicating")
    assert rows[("global", "failover records")].detail == (
        f"{FQDN}: PRIMARY {PRIMARY}, SECONDARY {SECONDARY}"
    )
    assert rows[("global", "cloudtrail logging")].detail == "prod-trail logging"
    assert rows[("global", "cloudfront")].skipped
    assert [c.region for c in checks[:6]] == [PRIMARY] * 6  # the primary region comes first


def _stop_trail(world: World) -> None:
    world.clients("cloudtrail", PRIMARY).stop_logging(Name=world.outputs["audit"]["trail_name"])


def _mark_instance_unhealthy(world: World) -> None:
    autoscaling = world.clients("autoscaling", SECONDARY)
    group = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[world.region(SECONDARY)["asg_name"]]
    )["AutoScalingGroups"][0]
    autoscaling.set_instance_health(
        InstanceId=group["Instances"][0]["InstanceId"], HealthStatus="Unhealthy"
    )


def _deregister_targets(world: World) -> None:
    elbv2 = world.clients("elbv2", PRIMARY)
    arn = world.region(PRIMARY)["target_group_arn"]
    targets = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[t["Target"] for t in targets])


def _delete_subnet(world: World) -> None:
    world.clients("ec2", SECONDARY).delete_subnet(
        SubnetId=world.region(SECONDARY)["database_subnet_ids"][1]
    )


def _delete_secondary_record(world: World) -> None:
    dns = world.outputs["dns"]
    route53 = world.clients("route53", PRIMARY)
    record = _failover_record(
        "SECONDARY", SECONDARY, world.region(SECONDARY), dns["health_check_ids"][SECONDARY]
    )
    route53.change_resource_record_sets(
        HostedZoneId=dns["zone_id"], ChangeBatch={"Changes": [{**record, "Action": "DELETE"}]}
    )


def _delete_health_check(world: World) -> None:
    check = world.outputs["dns"]["health_check_ids"][PRIMARY]
    world.clients("route53", PRIMARY).delete_health_check(HealthCheckId=check)


def _vpc_cidr_differs(world: World) -> None:
    world.region(PRIMARY)["vpc_cidr"] = "10.99.0.0/16"


def _subnet_of_another_vpc(world: World) -> None:
    other = world.clients("ec2", SECONDARY).create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    stray = world.clients("ec2", SECONDARY).create_subnet(VpcId=other, CidrBlock="10.98.1.0/24")
    world.region(SECONDARY)["private_subnet_ids"][0] = stray["Subnet"]["SubnetId"]


def _missing_az(world: World) -> None:
    world.region(PRIMARY)["public_subnet_ids"].pop()


def _standalone_db(rds: Any, identifier: str, encrypted: bool, iam_auth: bool = True) -> None:
    """A Multi-AZ PostgreSQL instance that is nobody's replica."""
    rds.create_db_instance(
        EnableIAMDatabaseAuthentication=iam_auth,
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="tap_admin",
        MasterUserPassword="not-a-real-one-1",
        AllocatedStorage=20,
        MultiAZ=True,
        StorageEncrypted=encrypted,
    )


def _unencrypted_primary(world: World) -> None:
    _standalone_db(world.clients("rds", PRIMARY), "prod-db-plain", encrypted=False)
    world.region(PRIMARY)["db_identifier"] = "prod-db-plain"


def _promoted_without_iam_auth(world: World) -> None:
    _standalone_db(world.clients("rds", SECONDARY), "prod-db-noiam", encrypted=True, iam_auth=False)
    world.region(SECONDARY).update(db_identifier="prod-db-noiam", db_is_replica=False)


def _secret_of_the_primary_region(world: World) -> None:
    world.region(SECONDARY)["db_secret_arn"] = world.region(PRIMARY)["db_secret_arn"]


def _secret_under_another_key(world: World) -> None:
    other = world.clients("kms", SECONDARY).create_key()["KeyMetadata"]["Arn"]
    world.region(SECONDARY)["db_secret_arn"] = world.clients(
        "secretsmanager", SECONDARY
    ).create_secret(
        Name="tap/prod/us-west-2/database/master-other", KmsKeyId=other, SecretString="{}"
    )["ARN"]


def _secret_deleted(world: World) -> None:
    world.clients("secretsmanager", SECONDARY).delete_secret(
        SecretId=world.region(SECONDARY)["db_secret_arn"], RecoveryWindowInDays=7
    )


@pytest.mark.parametrize(
    ("breakage", "failing", "detail"),
    [
        (_vpc_cidr_differs, (PRIMARY, "vpc"), "outputs say 10.99.0.0/16"),
        (_subnet_of_another_vpc, (SECONDARY, "subnets"), "is in vpc-"),
        (_missing_az, (PRIMARY, "subnets"), "1 public subnets for 2 AZs"),
        (_promoted_without_iam_auth, (SECONDARY, "database"), "IAM database authentication off"),
        (
            _secret_of_the_primary_region,
            (SECONDARY, "database secret"),
            "secret of region us-east-1, not us-west-2",
        ),
        (
            _secret_under_another_key,
            (SECONDARY, "database secret"),
            "encrypted with arn:aws:kms:us-west-2:",
        ),
        (_secret_deleted, (SECONDARY, "database secret"), "scheduled for deletion"),
        (_stop_trail, ("global", "cloudtrail logging"), "prod-trail NOT logging"),
        (_mark_instance_unhealthy, (SECONDARY, "auto scaling group"), "1/2 in service"),
        (_deregister_targets, (PRIMARY, "healthy targets"), "0/0 healthy"),
        (_delete_subnet, (SECONDARY, "subnets"), "InvalidSubnetID.NotFound"),
        (_delete_secondary_record, ("global", "failover records"), "no SECONDARY record"),
        (_delete_health_check, (PRIMARY, "route53 health check"), "NoSuchHealthCheck"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_each_breakage_fails_exactly_its_check(
    moto_clients: ClientFactory,
    breakage: Callable[[World], None],
    failing: tuple[str, str],
    detail: str,
) -> None:
    world = build_world(moto_clients)
    breakage(world)
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [failing]
    assert detail in by_key(checks)[failing].detail


def test_a_replica_of_another_source_fails_the_replica_check(moto_clients: ClientFactory) -> None:
    """The outputs name another primary (here an unencrypted one): both checks fail."""
    world = build_world(moto_clients)
    _unencrypted_primary(world)
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(PRIMARY, "database"), (SECONDARY, "read replica")]
    assert "not encrypted" in by_key(checks)[(PRIMARY, "database")].detail
    assert by_key(checks)[(SECONDARY, "read replica")].detail == (
        "replicates from arn:aws:rds:us-east-1:123456789012:db:prod-db-us-east-1, "
        "not the primary prod-db-plain"
    )


def test_each_region_with_a_database_has_its_own_secret_and_iam_auth(
    moto_clients: ClientFactory,
) -> None:
    world = build_world(moto_clients)
    rows = by_key(verify(world.outputs, moto_clients))
    for region in (PRIMARY, SECONDARY):
        secret = rows[(region, "database secret")]
        assert secret.passed, secret.detail
        assert (
            secret.detail == f"tap/prod/{region}/database/master-0a1b2c3d in {region}, region key"
        )


def test_a_missing_replica_fails_the_replica_check(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients, replica_deleted=True)
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(SECONDARY, "read replica")]
    assert by_key(checks)[(SECONDARY, "read replica")].detail.startswith("DBInstanceNotFound")


def test_multi_az_is_required_of_production_stacks_whatever_their_name(
    moto_clients: ClientFactory,
) -> None:
    world = build_world(moto_clients, environment="qa")  # single-AZ, not production
    summary = world.outputs["deployment_summary"]
    assert failed(verify(world.outputs, moto_clients)) == []
    # The same single-AZ database in a stack whose config says it is production: that check
    # fails, although the environment is not called prod.
    summary["production"] = True
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(PRIMARY, "database")]
    assert by_key(checks)[(PRIMARY, "database")].detail == "not Multi-AZ (required in prod)"
    # The stack config deploy.py passes decides over the outputs.
    assert failed(verify(world.outputs, moto_clients, production=False)) == []
    # Outputs written before `production` existed: environment prod still means production.
    del summary["production"]
    summary["environment"] = "prod"
    assert failed(verify(world.outputs, moto_clients)) == [(PRIMARY, "database")]


def test_absent_optional_groups_are_skipped_not_failed(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    del world.outputs["dns"]
    for key in ("db_identifier", "db_endpoint", "db_address", "db_port", "db_is_replica"):
        world.region(SECONDARY)[key] = None  # DR replication off: the contract allows null
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == []
    rows = by_key(checks)
    assert rows[("global", "dns failover")].skipped
    assert rows[(SECONDARY, "read replica")].skipped
    assert not any(c.name == "route53 health check" for c in checks)
    assert render_table(checks).splitlines()[-1].endswith("failed, 3 skipped")


def test_failover_records_are_looked_up_at_the_failover_name(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    dns = world.outputs["dns"]
    # With CloudFront on, users resolve app_fqdn to the distribution and the regions fail over
    # at an origin name, which the outputs give as failover_fqdn.
    dns["app_fqdn"] = "www.tap.example.com"
    dns["failover_fqdn"] = FQDN
    assert failed(verify(world.outputs, moto_clients)) == []
    del dns["failover_fqdn"]
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [("global", "failover records")]
    assert by_key(checks)[("global", "failover records")].detail == (
        "no PRIMARY record; no SECONDARY record"
    )


def test_a_missing_output_fails_the_check_that_needs_it(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    del world.region(PRIMARY)["alb_arn"]
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(PRIMARY, "load balancer")]
    assert by_key(checks)[(PRIMARY, "load balancer")].detail == "stack output alb_arn is missing"


def test_an_output_of_the_wrong_type_fails_the_check_that_reads_it(
    moto_clients: ClientFactory,
) -> None:
    world = build_world(moto_clients)
    world.region(SECONDARY)["asg_name"] = ["prod-web-us-west-2"]
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(SECONDARY, "auto scaling group")]
    assert by_key(checks)[(SECONDARY, "auto scaling group")].detail == (
        "stack output regions.us-west-2.asg_name: expected a string, got ['prod-web-us-west-2']"
    )


def test_a_region_the_outputs_lack_fails_as_one_row(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    del world.outputs["regions"][SECONDARY]
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(SECONDARY, "outputs")]
    assert by_key(checks)[(SECONDARY, "outputs")].detail == (
        "stack output regions.us-west-2 is missing"
    )


def test_outputs_that_do_not_parse_are_one_line(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    world.outputs["regions"][SECONDARY] = "[secret]"
    with pytest.raises(OpsError) as error:
        verify(world.outputs, moto_clients)
    assert str(error.value) == (
        "cannot verify: outputs regions.us-west-2: expected an object "
        "(pass the right --outputs file)"
    )


def test_cloudfront_distribution_is_checked_when_the_edge_is_on(
    moto_clients: ClientFactory,
) -> None:
    world = build_world(moto_clients)
    cloudfront = moto_clients("cloudfront", "us-east-1")
    distribution = cloudfront.create_distribution(DistributionConfig=_distribution(FQDN))
    world.outputs["edge"] = {
        "distribution_id": distribution["Distribution"]["Id"],
        "domain_name": distribution["Distribution"]["DomainName"],
    }
    row = by_key(verify(world.outputs, moto_clients))[("global", "cloudfront")]
    assert (row.passed, row.skipped) == (True, False)
    assert row.detail.endswith("Deployed")


def _distribution(origin: str) -> dict[str, Any]:
    return {
        "CallerReference": "tap-edge",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "alb",
                    "DomainName": origin,
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "alb",
            "ViewerProtocolPolicy": "redirect-to-https",
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0,
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
    }


def test_outputs_that_are_not_a_tap_stack_are_a_clear_error(moto_clients: ClientFactory) -> None:
    with pytest.raises(OpsError, match="no deployment_summary/regions"):
        verify({"url": "https://x"}, moto_clients)


def _cli(argv: list[str]) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, ask=lambda _: None)
    return code, out.getvalue().splitlines(), err.getvalue()


def _row(lines: list[str], region: str, name: str) -> list[str]:
    """The cells of one table row: region, check name (may contain spaces), result, detail."""
    for line in lines:
        if line.startswith(region) and f"  {name}  " in line:
            rest = line[len(region) :].strip()[len(name) :].split(maxsplit=1)
            return [region, name, *rest]
    raise AssertionError(f"no row {region}/{name} in:\n" + "\n".join(lines))


def test_cli_reads_outputs_from_a_file(moto_clients: ClientFactory, tmp_path: Path) -> None:
    world = build_world(moto_clients)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(world.outputs))
    code, lines, err = _cli(["verify", "--stack", "prod", "--outputs", str(outputs)])
    assert (code, err) == (ExitCode.OK, "")
    assert lines[0].split() == ["REGION", "CHECK", "RESULT", "DETAIL"]
    assert _row(lines, PRIMARY, "database")[2] == "PASS"
    _stop_trail(world)
    code, lines, _ = _cli(["verify", "--stack", "prod", "--outputs", str(outputs)])
    assert code == ExitCode.FAILED
    assert _row(lines, "global", "cloudtrail logging")[2:] == ["FAIL", "prod-trail NOT logging"]


def test_cli_reports_an_unreadable_outputs_file(tmp_path: Path) -> None:
    code, _, err = _cli(["verify", "--stack", "dev", "--outputs", str(tmp_path / "nope.json")])
    assert code == ExitCode.USAGE
    assert err.startswith("error: cannot read outputs file") and err.count("\n") == 1


def test_cli_refuses_outputs_of_another_environment(tmp_path: Path) -> None:
    outputs = tmp_path / "prod.json"
    outputs.write_text(json.dumps({"deployment_summary": {"environment": "prod"}, "regions": {}}))
    code, lines, err = _cli(["verify", "--stack", "dev", "--outputs", str(outputs)])
    assert (code, lines) == (ExitCode.USAGE, [])
    assert err == (
        "error: the outputs are of environment prod, but stack dev deploys dev; "
        "pass the matching --stack or --outputs file\n"
    )


def test_cli_reads_outputs_from_the_engine(
    moto_clients: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(moto_clients)
    fake: FakePulumi = install(tmp_path / "fake", monkeypatch)
    fake.configure(outputs=world.outputs)
    code, lines, err = _cli(["verify", "--stack", "prod", "--backend", "s3://state"])
    assert (code, err) == (ExitCode.OK, "")
    assert fake.command("stack", "output", "--json", "--show-secrets")[-2:] == ["--stack", "prod"]
    assert lines[-1] == "18 passed, 0 failed, 1 skipped"


@pytest.fixture
def moto_server(aws_env: None) -> Iterator[str]:
    """moto's HTTP server on a free port of 127.0.0.1: boto3 reaches it over real sockets."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_end_to_end_through_a_real_http_endpoint(
    moto_server: str, tmp_path: Path, session: boto3.Session
) -> None:
    clients = client_factory(session=session, endpoint_url=moto_server)
    # The server serves moto's process-wide state, outside any mock_aws: empty it first, as a
    # mock would (another module's server may have left some), so it holds this world alone.
    BackendDict.reset()
    world = build_world(clients)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(world.outputs, indent=2))
    argv = ["verify", "--stack", "prod", "--outputs", str(outputs), "--endpoint-url", moto_server]

    code, lines, err = _cli(argv)
    assert (code, err) == (ExitCode.OK, ""), "\n".join(lines)
    assert all(_row(lines, r, "healthy targets")[2] == "PASS" for r in (PRIMARY, SECONDARY))
    assert lines[-1] == "18 passed, 0 failed, 1 skipped"

    _stop_trail(world)
    code, lines, _ = _cli(argv)
    assert code == ExitCode.FAILED
    assert _row(lines, "global", "cloudtrail logging")[2:] == ["FAIL", "prod-trail NOT logging"]
    assert lines[-1] == "17 passed, 1 failed, 1 skipped"


def _route53_stub(observations: list[dict]):
    from botocore.stub import Stubber

    client = new_session().client("route53", region_name="us-east-1", aws_access_key_id="x",
                                  aws_secret_access_key="x")  # fmt: skip
    stub = Stubber(client)
    stub.add_response(
        "get_health_check",
        {
            "HealthCheck": {
                "Id": "hc-1",
                "CallerReference": "r",
                "HealthCheckVersion": 1,
                "HealthCheckConfig": {
                    "Type": "HTTPS",
                    "FullyQualifiedDomainName": "alb.example.com",
                    "ResourcePath": "/health",
                },
            }
        },
        {"HealthCheckId": "hc-1"},
    )
    stub.add_response(
        "get_health_check_status",
        {"HealthCheckObservations": observations},
        {"HealthCheckId": "hc-1"},
    )
    stub.activate()
    return client


@pytest.mark.parametrize(
    ("statuses", "passed"),
    [
        (["Success: HTTP Status Code 200"] * 8, True),
        (["Failure: Connection timed out"] * 7 + ["Success: HTTP Status Code 200"], False),
        (["Failure: HTTP Status Code 503"] * 6 + ["Success: HTTP Status Code 200"] * 2, True),
        ([], False),
    ],
)
def test_a_region_is_healthy_only_when_enough_checkers_say_so(
    statuses: list[str], passed: bool
) -> None:
    from tap_tooling.ops.verify import check_health

    client = _route53_stub(
        [
            {"Region": "us-east-1", "IPAddress": "192.0.2.1", "StatusReport": {"Status": s}}
            for s in statuses
        ]
    )
    ok, detail = check_health(client, "hc-1")
    assert ok is passed
    assert detail.startswith("hc-1 HTTPS alb.example.com/health")


def test_a_promoted_replica_is_checked_as_a_writable_database(
    moto_clients: ClientFactory,
) -> None:
    """After the DR runbook's promotion, the secondary's database is a primary, not a replica."""
    world = build_world(moto_clients)
    _standalone_db(moto_clients("rds", SECONDARY), "prod-db-replica-promoted", encrypted=True)
    world.region(SECONDARY).update(db_identifier="prod-db-replica-promoted", db_is_replica=False)
    rows = by_key(verify(world.outputs, moto_clients))
    assert (SECONDARY, "read replica") not in rows
    assert rows[(SECONDARY, "database")].passed
    assert rows[(SECONDARY, "database")].detail.startswith("prod-db-replica-promoted available")


# --- RDS statuses -------------------------------------------------------------------------

# Every DB instance status in the RDS user guide ("Viewing Amazon RDS DB instance status").
DOCUMENTED_DB_STATUSES = (
    "available",
    "backing-up",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "converting-to-vpc",
    "creating",
    "delete-precheck",
    "deleting",
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "insufficient-capacity",
    "maintenance",
    "modifying",
    "moving-to-vpc",
    "rebooting",
    "resetting-master-credentials",
    "renaming",
    "restore-error",
    "starting",
    "stopped",
    "stopping",
    "storage-config-upgrade",
    "storage-full",
    "storage-initialization",
    "storage-optimization",
    "upgrading",
)
ROUTINE_DB_STATUSES = (
    "backing-up",
    "storage-optimization",
    "modifying",
    "configuring-enhanced-monitoring",
    "configuring-log-exports",
    "upgrading",
    "maintenance",
    "renaming",
    "rebooting",
)
FAILED_DB_STATUSES = (
    "failed",
    "storage-full",
    "incompatible-parameters",
    "incompatible-network",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "insufficient-capacity",
    "restore-error",
    "stopped",
)


def _set_db_status(world: World, region: str, status: str) -> None:
    """What RDS reports while it works on the instance (moto never leaves `available`)."""
    identifier = world.region(region)["db_identifier"]
    rds_backends[DEFAULT_ACCOUNT_ID][region].databases[identifier].status = status


def test_every_documented_rds_status_is_classified() -> None:
    for status in DOCUMENTED_DB_STATUSES:
        busy = status == "available" or status in DB_BUSY_STATUSES
        assert busy != (
            status in DB_FAILED_STATUSES or status.startswith(("incompatible-", "inaccessible-"))
        ), status
        assert db_status_fails(status) is not busy, status


@pytest.mark.parametrize("status", ROUTINE_DB_STATUSES)
def test_routine_rds_work_is_not_a_failure(moto_clients: ClientFactory, status: str) -> None:
    world = build_world(moto_clients)
    _set_db_status(world, PRIMARY, status)
    _set_db_status(world, SECONDARY, status)
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == []
    rows = by_key(checks)
    assert rows[(PRIMARY, "database")].detail == (
        f"prod-db-us-east-1 {status} (routine), encrypted, Multi-AZ"
    )
    assert rows[(SECONDARY, "read replica")].detail.endswith(f", {status} (routine)")


@pytest.mark.parametrize("status", FAILED_DB_STATUSES)
def test_rds_states_that_need_an_operator_fail(moto_clients: ClientFactory, status: str) -> None:
    world = build_world(moto_clients)
    _set_db_status(world, PRIMARY, status)
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(PRIMARY, "database")]
    assert by_key(checks)[(PRIMARY, "database")].detail == f"status {status}"


def test_an_rds_status_verify_does_not_know_fails_naming_it(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    _set_db_status(world, SECONDARY, "frobnicating")
    checks = verify(world.outputs, moto_clients)
    assert failed(checks) == [(SECONDARY, "read replica")]
    assert by_key(checks)[(SECONDARY, "read replica")].detail == (
        "status frobnicating (not a status verify knows)"
    )


# --- credentials and account ----------------------------------------------------------------


def _no_credentials() -> ClientFactory:
    """Clients of a session whose credential chain finds nothing (no env, files, IMDS...)."""
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver(providers=[]))
    return client_factory(session=new_session(core))


class _Rejecting:
    """A client of any service whose every call is answered `code` (e.g. an expired token)."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        self.calls = 0

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def call(**_: Any) -> Any:
            self.calls += 1
            error = {"Error": {"Code": self.code, "Message": self.message}}
            raise ClientError(error, operation)  # type: ignore[arg-type]

        return call


def test_without_credentials_verify_stops_with_one_line(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    with pytest.raises(OpsError) as error:
        verify(world.outputs, _no_credentials())
    assert (str(error.value), error.value.exit_code) == (
        "no usable AWS credentials (Unable to locate credentials): set AWS_PROFILE or pass "
        "--profile, or renew the session (e.g. `aws sso login`)",
        ExitCode.FAILED,
    )


def test_an_expired_token_stops_at_the_first_call(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    expired = _Rejecting("ExpiredToken", "The security token included in the request is expired")
    with pytest.raises(OpsError, match=r"^no usable AWS credentials \(ExpiredToken: The sec"):
        verify(world.outputs, lambda service, region: expired)
    assert expired.calls == 1


def test_a_missing_permission_fails_only_its_checks(moto_clients: ClientFactory) -> None:
    """AccessDenied is not a credentials problem: the other checks still run."""
    world = build_world(moto_clients)
    denied = _Rejecting("AccessDeniedException", "not authorized to perform: cloudtrail:Get")

    def clients(service: str, region: str) -> Any:
        return denied if service == "cloudtrail" else moto_clients(service, region)

    checks = verify(world.outputs, clients)
    assert failed(checks) == [("global", "cloudtrail logging")]


def _config(**changes: Any) -> tap_config.StackConfig:
    raw = stack_config("prod")
    raw.pop("dns")  # the shipped placeholder domain is refused; verify does not read it
    raw.pop("edge", None)
    return tap_config.parse_stack_config(
        {**raw, **changes}, str(changes.get("environment", "prod"))
    )


def test_run_checks_a_stack_of_any_name_in_its_account(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients, environment="prod-eu", production=True)
    config = _config(environment="prod-eu", production=True, aws={"account_id": ACCOUNT})
    lines: list[str] = []
    code = run(config.aws, "prod-eu", "prod-eu", world.outputs, moto_clients, lines.append, True)
    assert code == ExitCode.OK
    table = "\n".join(lines).splitlines()
    assert table[0].split() == ["REGION", "CHECK", "RESULT", "DETAIL"]
    assert table[-1] == "18 passed, 0 failed, 1 skipped"


def test_run_refuses_credentials_of_another_account(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    config = _config(aws={"account_id": "210987654321"})
    lines: list[str] = []
    with pytest.raises(OpsError) as error:
        run(config.aws, "prod", "prod", world.outputs, moto_clients, lines.append)
    assert (str(error.value), error.value.exit_code) == (
        f"stack prod deploys into account 210987654321 (tap:aws), but the credentials resolve "
        f"to account {ACCOUNT}",
        ExitCode.USAGE,
    )
    assert lines == []


def test_run_without_credentials_is_one_line(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients)
    lines: list[str] = []
    with pytest.raises(OpsError, match=r"^no usable AWS credentials \(Unable to locate"):
        run(_config().aws, "prod", "prod", world.outputs, _no_credentials(), lines.append)
    assert lines == []


def test_run_takes_production_from_the_config(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients, environment="qa")  # single-AZ, outputs say not production
    lines: list[str] = []
    config = _config(environment="qa", production=True)
    code = run(
        config.aws, "qa", "qa", world.outputs, moto_clients, lines.append, config.is_production
    )
    assert code == ExitCode.FAILED
    assert "not Multi-AZ (required in prod)" in "\n".join(lines)


def test_run_refuses_outputs_of_another_stack(moto_clients: ClientFactory) -> None:
    world = build_world(moto_clients, environment="qa")
    with pytest.raises(OpsError) as error:
        run(_config().aws, "prod", "prod", world.outputs, moto_clients, lambda _: None)
    assert error.value.exit_code == ExitCode.USAGE
    assert str(error.value) == (
        "the outputs are of environment qa, but stack prod deploys prod; "
        "pass the matching --stack or --outputs file"
    )


def test_cli_without_credentials_prints_one_line(
    moto_clients: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(moto_clients)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(world.outputs))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    tap_aws.shared_session.cache_clear()  # a session made earlier may hold resolved credentials
    try:
        code, lines, err = _cli(["verify", "--stack", "prod", "--outputs", str(outputs)])
    finally:
        tap_aws.shared_session.cache_clear()
    # One line, however cli.py orders its checks (the account check meets it first).
    assert (code, lines) == (ExitCode.FAILED, [])
    assert err.count("\n") == 1 and "Unable to locate credentials" in err
