"""The database tier of each stack: primary, DR replicas, secrets, access, protection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.database import engine_family
from tap.offline import PlanResult
from tests.conftest import inputs_of, planned

RDS = "aws:rds/instance:Instance"
SECRET_WORDS = ("password", "passwd", "secret_string", "secretstring")


def primary(plan: PlanResult) -> dict[str, Any]:
    (instance,) = [i for i in inputs_of(plan, RDS) if "replicateSourceDb" not in i]
    return instance


def replicas(plan: PlanResult) -> list[Any]:
    return [r for r in plan.of_type(RDS) if "replicateSourceDb" in r.inputs]


def test_primary_in_primary_region_encrypted_private(stack_plan: PlanResult) -> None:
    (record,) = [r for r in stack_plan.of_type(RDS) if "replicateSourceDb" not in r.inputs]
    assert record.region == "us-east-1"
    db = record.inputs
    assert db["engine"] == "postgres" and int(db["engineVersion"].split(".")[0]) >= 16
    assert db["storageEncrypted"] is True and db["storageType"] == "gp3"
    assert db["kmsKeyId"] == stack_plan.outputs["regions"]["us-east-1"]["kms_key_arn"]
    assert db["publiclyAccessible"] is False
    assert db["maxAllocatedStorage"] >= db["allocatedStorage"]
    assert db["copyTagsToSnapshot"] is True and db["autoMinorVersionUpgrade"] is True
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_password_is_managed_by_aws_and_never_an_input(stack_plan: PlanResult) -> None:
    db = primary(stack_plan)
    assert db["manageMasterUserPassword"] is True
    assert db["masterUserSecretKmsKeyId"] == db["kmsKeyId"]
    for resource in stack_plan.resources:
        for key, value in resource.inputs.items():
            named_like_secret = any(word in key.lower() for word in SECRET_WORDS)
            # manageMasterUserPassword (a flag) is fine; any string value is a leak.
            assert not (named_like_secret and isinstance(value, str)), (resource.name, key)


def test_subnet_group_is_the_database_tier_and_sg_admits_only_the_app(
    stack_plan: PlanResult,
) -> None:
    for record in stack_plan.of_type(RDS):
        region = record.region
        (group,) = inputs_of(stack_plan, "aws:rds/subnetGroup:SubnetGroup", region)
        assert sorted(group["subnetIds"]) == sorted(
            stack_plan.outputs["regions"][region]["database_subnet_ids"]
        )
        assert record.inputs["dbSubnetGroupName"] == group["name"]
        (sg_id,) = record.inputs["vpcSecurityGroupIds"]
        rules = [
            r
            for r in inputs_of(
                stack_plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", region
            )
            if r["securityGroupId"] == sg_id
        ]
        assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in rules] == [
            (5432, f"{region}-compute-app-sg-id")
        ]
        app_out = [
            r
            for r in inputs_of(
                stack_plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", region
            )
            if r.get("referencedSecurityGroupId") == sg_id
        ]
        assert [(r["securityGroupId"], r["fromPort"]) for r in app_out] == [
            (f"{region}-compute-app-sg-id", 5432)
        ]


def test_parameter_group_forces_tls_and_logs_slow_queries(stack_plan: PlanResult) -> None:
    for group in inputs_of(stack_plan, "aws:rds/parameterGroup:ParameterGroup"):
        assert group["family"] == "postgres16"
        params = {p["name"]: p["value"] for p in group["parameters"]}
        assert params["rds.force_ssl"] == "1"
        assert int(params["log_min_duration_statement"]) > 0


def test_prod_is_multi_az_protected_monitored_and_replicated(prod_plan: PlanResult) -> None:
    db = primary(prod_plan)
    assert db["multiAz"] is True and db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "prod-db-us-east-1-final"
    assert db["backupRetentionPeriod"] >= 7
    assert db["monitoringInterval"] > 0 and db["monitoringRoleArn"]
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsKmsKeyId"] == db["kmsKeyId"]
    (replica,) = replicas(prod_plan)
    assert replica.region == "us-west-2"


def test_dev_is_destroyable_unattended(dev_plan: PlanResult) -> None:
    db = primary(dev_plan)
    assert db["deletionProtection"] is False and db["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db
    assert db["multiAz"] is False and db["applyImmediately"] is True
    assert replicas(dev_plan) == []
    assert not any(r.protect for r in dev_plan.resources)


def test_replica_uses_its_own_region_key_subnets_and_parameters(stack_plan: PlanResult) -> None:
    for replica in replicas(stack_plan):
        region = replica.region
        db = replica.inputs
        assert (
            db["replicateSourceDb"]
            == "arn:aws:rds:us-east-1:123456789012:db:" + primary(stack_plan)["identifier"]
        )
        assert db["kmsKeyId"] == stack_plan.outputs["regions"][region]["kms_key_arn"]
        assert db["storageEncrypted"] is True and db["skipFinalSnapshot"] is True
        assert db["dbSubnetGroupName"].endswith(region) and db["parameterGroupName"].endswith(
            region
        )
        assert "manageMasterUserPassword" not in db and "username" not in db
        assert db["monitoringInterval"] == primary(stack_plan)["monitoringInterval"]


def test_replicas_can_be_switched_off(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("staging", database={"replicas_enabled": False})
    assert replicas(plan) == []
    assert "db_endpoint" not in plan.outputs["regions"]["us-west-2"]


def test_three_regions_get_two_replicas(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config(
        "staging",
        regions=[
            {"name": "us-east-1", "cidr": "10.20.0.0/16"},
            {"name": "us-west-2", "cidr": "10.21.0.0/16"},
            {"name": "eu-west-1", "cidr": "10.22.0.0/16"},
        ],
    )
    assert sorted(r.region for r in replicas(plan)) == ["eu-west-1", "us-west-2"]


def test_app_learns_endpoint_and_secret_and_may_read_only_those(stack_plan: PlanResult) -> None:
    for record in stack_plan.of_type(RDS):
        region = record.region
        params = {
            p["name"].rsplit("/", 1)[-1]: p["value"]
            for p in inputs_of(stack_plan, "aws:ssm/parameter:Parameter", region)
        }
        assert params["endpoint"] == stack_plan.outputs["regions"][region]["db_endpoint"]
        secret = stack_plan.outputs["regions"]["us-east-1"]["db_secret_arn"]
        assert params["secret_arn"] == secret
        (access,) = [
            json.loads(p["policy"])
            for p in inputs_of(stack_plan, "aws:iam/rolePolicy:RolePolicy", region)
            if p.get("name") == "database-access"
        ]
        statements = {s["Sid"]: s for s in access["Statement"]}
        assert statements["ReadDatabaseSecret"]["Resource"] == secret
        assert statements["ReadDatabaseSecret"]["Action"] == "secretsmanager:GetSecretValue"
        decrypt = statements["DecryptDatabaseSecret"]
        assert decrypt["Resource"] == stack_plan.outputs["regions"]["us-east-1"]["kms_key_arn"]
        assert (
            decrypt["Condition"]["StringEquals"]["kms:ViaService"]
            == "secretsmanager.us-east-1.amazonaws.com"
        )
        assert statements["ReadDatabaseParameters"]["Resource"].endswith(
            f"/tap/{stack_plan.stack}/{region}/database/*"
        )
        for statement in access["Statement"]:
            assert statement["Resource"] != "*"


def test_rds_log_groups_precreated_with_retention_and_key(stack_plan: PlanResult) -> None:
    for record in stack_plan.of_type(RDS):
        groups = {
            g["name"]: g
            for g in inputs_of(stack_plan, "aws:cloudwatch/logGroup:LogGroup", record.region)
            if g["name"].startswith("/aws/rds/")
        }
        identifier = record.inputs["identifier"]
        assert set(groups) == {
            f"/aws/rds/instance/{identifier}/{k}" for k in ("postgresql", "upgrade")
        }
        for group in groups.values():
            assert group["retentionInDays"] > 0 and group["kmsKeyId"] == record.inputs["kmsKeyId"]


def test_database_outputs(stack_plan: PlanResult) -> None:
    east = stack_plan.outputs["regions"]["us-east-1"]
    assert east["db_port"] == 5432 and east["db_address"] in east["db_endpoint"]
    assert east["db_secret_arn"].startswith("arn:aws:secretsmanager:us-east-1:")
    assert east["db_is_replica"] is False
    assert east["db_multi_az"] is (stack_plan.stack == "prod")


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ({"multi_az": False}, "tap:database.multi_az = false: must be true in prod"),
        (
            {"backup_retention_days": 3},
            "tap:database.backup_retention_days = 3: must be at least 7",
        ),
        ({"monitoring_interval": 0}, "tap:database.monitoring_interval = 0: must be above 0"),
        ({"replicas_enabled": False}, "tap:database.replicas_enabled = false"),
    ],
)
def test_prod_cannot_be_weakened(
    run_config: Callable[..., PlanResult], database: dict, message: str
) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_config("prod", database=database)
    assert str(caught.value).startswith(f"invalid config {message}")


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ({"engine_version": "14"}, 'tap:database.engine_version = "14": must be PostgreSQL 16'),
        ({"instance_class": "m5.large"}, 'tap:database.instance_class = "m5.large"'),
        ({"max_allocated_storage": 10}, "tap:database.max_allocated_storage = 10"),
        ({"monitoring_interval": 7}, "tap:database.monitoring_interval = 7"),
        ({"backup_window": "3am"}, 'tap:database.backup_window = "3am"'),
    ],
)
def test_database_config_errors(
    run_config: Callable[..., PlanResult], database: dict, message: str
) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_config("dev", database=database)
    assert str(caught.value).startswith(f"invalid config {message}")


def test_engine_family() -> None:
    assert engine_family("16") == "postgres16" and engine_family("17.2") == "postgres17"


@pytest.mark.parametrize(("version", "auto_minor"), [("16", True), ("16.4", False), ("17", True)])
def test_minor_upgrades_only_when_no_minor_is_pinned(
    run_config: Callable[..., PlanResult], version: str, auto_minor: bool
) -> None:
    db = primary(run_config("dev", database={"engine_version": version}))
    assert db["autoMinorVersionUpgrade"] is auto_minor
    assert db["allowMajorVersionUpgrade"] is True
    assert db["engineVersion"] == version


def test_a_promoted_replica_is_adopted_not_replaced(run_config: Callable[..., PlanResult]) -> None:
    """The DR runbook's last step: the program takes over the promoted database as it is."""
    before = planned("prod")
    after = run_config("prod", database={"promoted_regions": ["us-west-2"]})
    old = before.one(RDS, "us-west-2-database-replica").inputs
    new = after.one(RDS, "us-west-2-database-replica").inputs
    assert new["identifier"] == old["identifier"] == "prod-db-replica-us-west-2"
    assert "replicateSourceDb" not in new  # standalone and writable
    assert new["manageMasterUserPassword"] is True
    assert new["masterUserSecretKmsKeyId"] == new["kmsKeyId"]  # its own region's key
    assert new["multiAz"] is True and new["deletionProtection"] is True
    assert "username" not in new and "engine" not in new  # forced-new on an existing instance
    west = after.outputs["regions"]["us-west-2"]
    assert west["db_is_replica"] is False
    assert west["db_secret_arn"].startswith("arn:aws:secretsmanager:us-west-2:")
    # The app of us-west-2 now reads its own region's secret.
    params = {
        p["name"].rsplit("/", 1)[-1]: p["value"]
        for p in inputs_of(after, "aws:ssm/parameter:Parameter", "us-west-2")
    }
    assert params["secret_arn"] == west["db_secret_arn"]
    # Failover keeps traffic on the promoted side even when us-east-1 comes back.
    policies = {
        r.inputs["failoverRoutingPolicies"][0]["type"]: r.inputs["aliases"][0]["name"]
        for r in after.of_type("aws:route53/record:Record")
        if "failoverRoutingPolicies" in r.inputs
    }
    assert policies["PRIMARY"] == west["alb_dns_name"]
    # The old primary is left alone: same resource, same inputs.
    assert after.one(RDS, "us-east-1-database-primary").inputs == primary(before)


@pytest.mark.parametrize(
    ("database", "region"),
    [
        ({"promoted_regions": ["us-east-1"]}, "us-east-1"),
        ({"promoted_regions": ["eu-west-1"]}, "eu-west-1"),
    ],
)
def test_only_a_secondary_with_a_replica_can_be_promoted(
    run_config: Callable[..., PlanResult], database: dict, region: str
) -> None:
    with pytest.raises(pulumi.RunError, match=rf'promoted_regions\[0\] = "{region}"'):
        run_config("prod", database=database)
