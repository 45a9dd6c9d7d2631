"""The database tier: credentials that work with DR, each region on its own, protection.

Two layers of tests. The component tests build DatabaseCredential and Database on their own,
with their Args alone, under the recording mocks of tap_tooling.offline (plus what those mocks
do not answer yet: an RDS DbiResourceId, a fresh RandomId per "re-created" stack, and which inputs
were sent as secrets). The stack tests run the whole program for each shipped stack.
"""

from __future__ import annotations

import json
import logging
import re
import string
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.database import (
    Database,
    DatabaseArgs,
    engine_family,
    final_snapshot_name,
    secret_name,
)
from components.db_credential import (
    FORBIDDEN_IN_PASSWORD,
    PASSWORD_SPECIALS,
    DatabaseCredential,
    DatabaseCredentialArgs,
)
from tap import naming
from tap.config import DatabaseConfig, DatabasePlan
from tap.protection import NON_PRODUCTION, PRODUCTION
from tap.user_data import APP_DB_USER
from tap_tooling import sdk
from tap_tooling.offline import (
    PlanResult,
    RecordingMocks,
    RecordingMonitor,
    _import_quietly,
    without_cyclic_gc,
)
from tests.conftest import inputs_of, planned

RDS = "aws:rds/instance:Instance"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_ID = "random:index/randomId:RandomId"
PARAMETER = "aws:ssm/parameter:Parameter"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PRIMARY, SECONDARY = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"
# Input names that may carry the master password, and must then be write-only and secret.
WRITE_ONLY_SECRETS = {"passwordWo", "secretStringWo"}
SECRET_WORDS = ("password", "passwd", "secret_string", "secretstring")
# RDS CreateDBSnapshot / DeleteDBInstance FinalDBSnapshotIdentifier: 1-255 letters, digits or
# hyphens, first a letter, no trailing hyphen, no two consecutive hyphens.
SNAPSHOT_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")


# --- component harness -------------------------------------------------------------------


class _Mocks(RecordingMocks):
    """tap_tooling.offline's mocks (plus an RDS DbiResourceId, should they lack one), and a RandomId
    salted by `generation`:
    the real provider draws a new value each time a stack is created."""

    def __init__(self, generation: int = 1) -> None:
        super().__init__()
        self.generation = generation

    def new_resource(self, args: sdk.MockResourceArgs) -> tuple[str, dict]:
        resource_id, state = super().new_resource(args)
        if args.typ == RDS and "resourceId" not in state:
            digest = sum(map(ord, args.name)) * 7919
            state["resourceId"] = "db-" + f"{digest:026X}"[-26:].replace("0", "Q")
        if args.typ == RANDOM_ID and self.generation != 1:
            state["hex"] = f"{int(state['hex'], 16) ^ self.generation:08x}"
        return resource_id, state


class _Monitor(RecordingMonitor):
    """Also keeps, per resource name, which inputs were sent as secrets."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.secret_inputs: dict[str, set[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        inputs = sdk.deserialize(request.object)
        self.secret_inputs[request.name] = {
            key for key, value in inputs.items() if sdk.is_secret(value)
        }
        return super().RegisterResource(request)


class Built(PlanResult):
    secret_inputs: dict[str, set[str]]


def build(program: Callable[[], dict[str, Any]], generation: int = 1) -> Built:
    """Run `program` (which builds components) under the recording mocks, as
    tap_tooling.offline.run_program runs __main__.py."""
    _import_quietly()
    mocks = _Mocks(generation)
    monitor = _Monitor(mocks)
    sdk.install_mocks(mocks, monitor, "tap", "test", logging.getLogger("tap.test"), {})
    result = Built(stack="test")

    async def body() -> None:
        result.outputs = await pulumi.Output.from_input(program()).future() or {}

    with without_cyclic_gc():  # as tap_tooling.offline's runs
        sdk.run(body)
    assert not monitor.violations, monitor.violations
    result.resources = monitor.recorded
    result.secret_inputs = monitor.secret_inputs
    return result


def _args(
    region: str, credential: DatabaseCredential, plan: DatabasePlan, **overrides: Any
) -> DatabaseArgs:
    values: dict[str, Any] = dict(
        environment="prod",
        region=region,
        vpc_id=f"vpc-{region}",
        database_subnet_ids=[f"subnet-{region}-a", f"subnet-{region}-b"],
        app_security_group_id=f"sg-app-{region}",
        app_role_name=f"prod-app-{region}",
        kms_key_arn=f"arn:aws:kms:{region}:{ACCOUNT}:key/{region}-key",
        account_id=ACCOUNT,
        credential=credential.credential,
        settings=DatabaseConfig(multi_az=True, backup_retention_days=7),
        plan=plan,
        protection=PRODUCTION,
    )
    return DatabaseArgs(**{**values, **overrides})


def two_regions(
    version: int = 1, promoted: bool = False, **overrides: Any
) -> Callable[[], dict[str, Any]]:
    """The credential, then a primary in us-east-1 and its replica in us-west-2, each on
    its own region's provider, wired as __main__.py wires them."""

    def program() -> dict[str, Any]:
        credential = DatabaseCredential(
            "database-credential", DatabaseCredentialArgs(version=version)
        )
        databases: dict[str, Database] = {}
        for region in (PRIMARY, SECONDARY):
            provider = aws.Provider(f"aws-{region}", region=region)
            source = databases[PRIMARY].db_arn if region == SECONDARY else None
            role = "primary" if region == PRIMARY else "promoted" if promoted else "replica"
            plan = DatabasePlan(role, "db.t4g.micro", multi_az=role != "replica")
            databases[region] = Database(
                f"{region}-database",
                _args(region, credential, plan, replicate_from=source, **overrides),
                opts=pulumi.ResourceOptions(providers={"aws": provider}),
            )
        return {
            region: {
                "db_secret_arn": db.db_secret_arn,
                "db_resource_id": db.db_resource_id,
                "db_endpoint": db.db_endpoint,
                "is_replica": db.is_replica,
            }
            for region, db in databases.items()
        }

    return program


def _one(plan: PlanResult, type_: str, region: str | None) -> Any:
    (record,) = [r for r in plan.of_type(type_) if region is None or r.region == region]
    return record


def _inputs_by_urn(plan: PlanResult) -> dict[str, dict[str, Any]]:
    return {r.urn: r.inputs for r in plan.resources}


# --- the credential ----------------------------------------------------------------------


def test_credential_is_one_random_password_rds_accepts() -> None:
    plan = build(two_regions())
    (password,) = plan.of_type(PASSWORD)
    inputs = password.inputs
    assert inputs["keepers"] == {"version": "1"}
    assert 8 <= inputs["length"] <= 128  # RDS for PostgreSQL: 8 to 128 characters
    assert inputs["special"] is True and inputs["overrideSpecial"] == PASSWORD_SPECIALS
    assert set(PASSWORD_SPECIALS) <= set(string.printable) - set(string.whitespace)
    assert not set(PASSWORD_SPECIALS) & FORBIDDEN_IN_PASSWORD
    assert "number" not in inputs  # deprecated in pulumi_random 4: numeric instead
    assert password.provider_urn == ""  # no AWS provider: global, state only
    value = password_of(plan)
    assert not set(value) & FORBIDDEN_IN_PASSWORD and len(value) == inputs["length"]


def password_of(plan: PlanResult) -> str:
    (primary,) = [r for r in plan.of_type(RDS) if "passwordWo" in r.inputs]
    return str(primary.inputs["passwordWo"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (DatabaseCredentialArgs(version=1, username="rdsadmin"), "'rdsadmin' must be 1-16"),
        (DatabaseCredentialArgs(version=1, username="pg_app"), "'pg_app' must be 1-16"),
        (DatabaseCredentialArgs(version=1, username="1admin"), "'1admin' must be 1-16"),
        (DatabaseCredentialArgs(version=1, username="a" * 17), "must be 1-16"),
    ],
)
def test_credential_refuses_what_rds_refuses(args: DatabaseCredentialArgs, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build(lambda: {"c": DatabaseCredential("c", args).version})


# --- primary and replica -----------------------------------------------------------------


def test_primary_takes_the_password_write_only_and_replica_inherits_it() -> None:
    plan = build(two_regions())
    primary = _one(plan, RDS, PRIMARY)
    db = primary.inputs
    assert "manageMasterUserPassword" not in db and "masterUserSecretKmsKeyId" not in db
    assert "password" not in db  # the plain argument is stored in state outputs
    assert db["passwordWo"] == password_of(plan) and db["passwordWoVersion"] == 1
    assert "passwordWo" in plan.secret_inputs[primary.name]
    assert db["username"] == "tap_admin" and db["dbName"] == "tap"
    assert db["iamDatabaseAuthenticationEnabled"] is True

    replica = _one(plan, RDS, SECONDARY).inputs
    assert replica["replicateSourceDb"] == f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:{db['identifier']}"
    # AWS refuses a replica of a source with a managed password (RDS User Guide, "Limitations
    # for Secrets Manager integration with Amazon RDS"); a replica takes no password at all.
    for key in ("passwordWo", "passwordWoVersion", "password", "manageMasterUserPassword"):
        assert key not in replica, key
    assert "username" not in replica and "dbName" not in replica
    assert replica["iamDatabaseAuthenticationEnabled"] is True
    assert replica["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in replica


def test_the_password_is_only_ever_a_write_only_secret_input() -> None:
    plan = build(two_regions())
    password = password_of(plan)
    for resource in plan.resources:
        for key, value in resource.inputs.items():
            if password in json.dumps(value) and resource.type != PASSWORD:
                assert key in WRITE_ONLY_SECRETS, (resource.name, key)
                assert key in plan.secret_inputs[resource.name], (resource.name, key)
    assert password not in json.dumps(plan.outputs)


def test_each_region_keeps_its_own_secret_under_its_own_key() -> None:
    plan = build(two_regions())
    password = password_of(plan)
    for region in (PRIMARY, SECONDARY):
        secret = _one(plan, SECRET, region)
        assert secret.inputs["kmsKeyId"] == f"arn:aws:kms:{region}:{ACCOUNT}:key/{region}-key"
        assert secret.inputs["name"].startswith(f"tap/prod/{region}/database/master-")
        assert secret.inputs["recoveryWindowInDays"] == 30
        version = _one(plan, SECRET_VERSION, region)
        # The secret's id is its ARN: this region's secret.
        assert version.inputs["secretId"] == plan.outputs[region]["db_secret_arn"]
        assert json.loads(version.inputs["secretStringWo"]) == {
            "username": "tap_admin",
            "password": password,
        }
        assert version.inputs["secretStringWoVersion"] == 1
        assert "secretString" not in version.inputs
        assert "secretStringWo" in plan.secret_inputs[version.name]
        # The app's parameter names this region's secret, never another region's.
        params = {p["name"]: p["value"] for p in inputs_of(plan, PARAMETER, region) if "name" in p}
        secret_arn = plan.outputs[region]["db_secret_arn"]
        assert params[f"/tap/prod/{region}/database/secret_arn"] == secret_arn
        assert secret_arn.startswith(f"arn:aws:secretsmanager:{region}:")


def test_no_region_reads_another_regions_credentials() -> None:
    """The replica's only cross-region input is its source; everything else is its own."""
    plan = build(two_regions())
    for resource in plan.in_region(SECONDARY):
        inputs = dict(resource.inputs)
        inputs.pop("replicateSourceDb", None)
        assert PRIMARY not in json.dumps(inputs), resource.name


def test_app_may_sign_in_as_the_app_user_of_its_own_instance_only() -> None:
    plan = build(two_regions())
    for region in (PRIMARY, SECONDARY):
        (access,) = [
            json.loads(p["policy"])
            for p in inputs_of(plan, ROLE_POLICY, region)
            if p.get("name") == "database-access"
        ]
        statements = {s["Sid"]: s for s in access["Statement"]}
        resource_id = plan.outputs[region]["db_resource_id"]
        assert resource_id.startswith("db-")
        assert statements["ConnectAsAppUser"] == {
            "Sid": "ConnectAsAppUser",
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:{resource_id}/{APP_DB_USER}",
        }
        assert statements["ReadDatabaseSecret"]["Resource"] == plan.outputs[region]["db_secret_arn"]
        assert statements["ReadDatabaseSecret"]["Action"] == "secretsmanager:GetSecretValue"
        decrypt = statements["DecryptDatabaseSecret"]
        assert decrypt["Resource"] == f"arn:aws:kms:{region}:{ACCOUNT}:key/{region}-key"
        assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
            f"secretsmanager.{region}.amazonaws.com"
        )
        assert statements["ReadDatabaseParameters"]["Resource"] == (
            f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/tap/prod/{region}/database/*"
        )
        assert set(statements) == {
            "ReadDatabaseParameters",
            "ReadDatabaseSecret",
            "DecryptDatabaseSecret",
            "ConnectAsAppUser",
        }
        assert all("*" not in s["Action"] for s in access["Statement"])


def test_a_promoted_replica_takes_the_password_like_a_primary() -> None:
    before, after = build(two_regions()), build(two_regions(promoted=True))
    old, new = _one(before, RDS, SECONDARY), _one(after, RDS, SECONDARY)
    assert new.name == old.name == "us-west-2-database-replica"  # adopted, not replaced
    assert new.inputs["identifier"] == old.inputs["identifier"]
    assert "replicateSourceDb" not in new.inputs
    assert new.inputs["passwordWo"] == password_of(before)
    assert new.inputs["passwordWoVersion"] == 1
    assert "username" not in new.inputs and "engine" not in new.inputs  # forced-new
    assert new.inputs["finalSnapshotIdentifier"].startswith(old.inputs["identifier"] + "-final-")
    # Its secret, parameters and access were its own already: unchanged by the promotion.
    for type_ in (SECRET, SECRET_VERSION, PARAMETER, ROLE_POLICY):
        assert sorted(map(json.dumps, inputs_of(after, type_, SECONDARY))) == sorted(
            map(json.dumps, inputs_of(before, type_, SECONDARY))
        )


# --- rotation ----------------------------------------------------------------------------


def _changed(before: PlanResult, after: PlanResult) -> dict[str, set[str]]:
    """Per resource name, the inputs that differ."""
    old, new = _inputs_by_urn(before), _inputs_by_urn(after)
    assert old.keys() == new.keys()  # no resource appears or disappears
    names = {r.urn: r.name for r in after.resources}
    return {
        names[urn]: {
            k for k in old[urn].keys() | new[urn].keys() if old[urn].get(k) != new[urn].get(k)
        }
        for urn in old
        if old[urn] != new[urn]
    }


def test_same_config_same_inputs() -> None:
    assert _inputs_by_urn(build(two_regions())) == _inputs_by_urn(build(two_regions()))


def test_rotation_changes_only_the_password_and_its_versions() -> None:
    before, after = build(two_regions(version=1)), build(two_regions(version=2))
    assert _changed(before, after) == {
        "database-credential-password": {"keepers"},  # a new draw
        "us-east-1-database-primary": {"passwordWo", "passwordWoVersion"},
        "us-east-1-database-secret-value": {"secretStringWo", "secretStringWoVersion"},
        "us-west-2-database-secret-value": {"secretStringWo", "secretStringWoVersion"},
    }
    assert password_of(after) != password_of(before)
    assert _one(after, RDS, PRIMARY).inputs["passwordWoVersion"] == 2


# --- final snapshots and a re-created stack ----------------------------------------------


def test_final_snapshot_name_carries_the_generation_drawn_with_the_instance() -> None:
    plan = build(two_regions())
    db = _one(plan, RDS, PRIMARY).inputs
    generation = [r for r in plan.of_type(RANDOM_ID) if r.name == "us-east-1-database-generation"]
    assert generation and generation[0].inputs["keepers"] == {"identifier": db["identifier"]}
    snapshot = db["finalSnapshotIdentifier"]
    assert re.fullmatch(rf"{db['identifier']}-final-[0-9a-f]{{8}}", snapshot)
    assert SNAPSHOT_ID.match(snapshot) and db["skipFinalSnapshot"] is False
    assert db["deletionProtection"] is True


def test_destroy_recreate_destroy_never_reuses_a_snapshot_or_secret_name() -> None:
    """A re-created stack draws a new generation: its final snapshot and its secrets get new
    names (RDS keeps the old snapshot; Secrets Manager holds the old name for the recovery
    window), and nothing else differs."""
    first, second = build(two_regions(), generation=1), build(two_regions(), generation=2)
    changed = _changed(first, second)
    assert changed.pop("us-east-1-database-primary") == {"finalSnapshotIdentifier"}
    for region in (PRIMARY, SECONDARY):
        assert changed.pop(f"{region}-database-secret") == {"name"}
        # What follows from the new secret's ARN (AWS derives it from the name).
        for follower, key in (("secret-value", "secretId"), ("param-secret-arn", "value")):
            assert changed.pop(f"{region}-database-{follower}", {key}) == {key}
        assert changed.pop(f"{region}-database-app-access", {"policy"}) == {"policy"}
    assert changed == {}  # the instances, the password, logs, groups, the endpoint: as they were
    names = [
        {_one(plan, RDS, PRIMARY).inputs["finalSnapshotIdentifier"]}
        | {secret["name"] for secret in inputs_of(plan, SECRET)}
        for plan in (first, second)
    ]
    assert len(names[0]) == len(names[1]) == 3 and not names[0] & names[1]


def test_unprotected_database_has_no_final_snapshot() -> None:
    plan = build(two_regions(protection=NON_PRODUCTION))
    db = _one(plan, RDS, PRIMARY).inputs
    assert db["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db
    assert db["deletionProtection"] is False
    assert {s["recoveryWindowInDays"] for s in inputs_of(plan, SECRET)} == {0}


@given(
    environment=st.sampled_from(["dev", "staging", "prod", "perf-test"]),
    service=st.sampled_from(["db", "db-replica"]),
    region=st.sampled_from(["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]),
    generation=st.text("0123456789abcdef", min_size=8, max_size=8),
)
def test_final_snapshot_names_are_valid_identifiers(
    environment: str, service: str, region: str, generation: str
) -> None:
    identifier = naming.physical_name(environment, service, region, naming.DB_IDENTIFIER)
    name = final_snapshot_name(identifier, generation)
    assert SNAPSHOT_ID.match(name) and len(name) <= 255


@pytest.mark.parametrize(
    ("identifier", "generation"),
    [("1db", "abcd1234"), ("db-", "abcd1234"), ("db", "abcd123-"), ("db", "x" * 250)],
)
def test_final_snapshot_name_refuses_what_rds_refuses(identifier: str, generation: str) -> None:
    with pytest.raises(ValueError, match="not a valid DB snapshot identifier"):
        final_snapshot_name(identifier, generation)


def test_secret_name_is_within_what_secrets_manager_accepts() -> None:
    name = secret_name("prod", "ap-southeast-2", "0123abcd")
    assert re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", name)


def test_a_replica_needs_its_source() -> None:
    def program() -> dict[str, Any]:
        credential = DatabaseCredential("c", DatabaseCredentialArgs(version=1))
        plan = DatabasePlan("replica", "db.t4g.micro", multi_az=False)
        Database("r", _args(SECONDARY, credential, plan, replicate_from=None))
        return {}

    with pytest.raises(ValueError, match=r"replicate_from is required for a DR replica"):
        build(program)


# --- the shipped stacks ------------------------------------------------------------------


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


def test_every_stack_can_be_created_by_aws(stack_plan: PlanResult) -> None:
    """No managed master password anywhere (it would block the replicas), IAM auth on every
    instance, the password only in write-only inputs, every region with its own secret."""
    # prod's edge has passwords of its own (the origin secret, tested in test_compute).
    (credential,) = [
        r
        for r in stack_plan.of_type(PASSWORD)
        if (outer := stack_plan.component_of(r)) is not None
        and outer.type == "tap:db_credential:DatabaseCredential"
    ]
    assert credential.inputs["keepers"] == {"version": "1"}
    password = primary(stack_plan)["passwordWo"]
    for record in stack_plan.of_type(RDS):
        assert "manageMasterUserPassword" not in record.inputs
        assert record.inputs["iamDatabaseAuthenticationEnabled"] is True
    for resource in stack_plan.resources:
        for key, value in resource.inputs.items():
            named_like_secret = any(word in key.lower() for word in SECRET_WORDS)
            if resource.type != PASSWORD and (named_like_secret or password in json.dumps(value)):
                assert key in WRITE_ONLY_SECRETS | {"passwordWoVersion", "secretStringWoVersion"}
    regions_with_db = {r.region for r in stack_plan.of_type(RDS)}
    assert {r.region for r in stack_plan.of_type(SECRET)} == regions_with_db
    for region in regions_with_db:
        out = stack_plan.outputs["regions"][region]
        assert out["db_secret_arn"].startswith(f"arn:aws:secretsmanager:{region}:")
        (secret,) = inputs_of(stack_plan, SECRET, region)
        assert secret["kmsKeyId"] == out["kms_key_arn"]


def test_subnet_group_is_the_database_tier_and_sg_admits_only_the_app(
    stack_plan: PlanResult,
) -> None:
    for record in stack_plan.of_type(RDS):
        region = record.region
        (app_group,) = [
            g
            for g in stack_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
            if g.name == f"{region}-compute-app-sg" and g.region == region
        ]
        app_sg = stack_plan.id_of(app_group)
        (group,) = inputs_of(stack_plan, "aws:rds/subnetGroup:SubnetGroup", region)
        assert sorted(group["subnetIds"]) == sorted(
            stack_plan.outputs["regions"][region]["database_subnet_ids"]
        )
        assert record.inputs["dbSubnetGroupName"] == group["name"]
        (sg_id,) = record.inputs["vpcSecurityGroupIds"]
        (db_group,) = [
            g
            for g in stack_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
            if stack_plan.id_of(g) == sg_id
        ]
        assert db_group.region == region and sg_id != app_sg
        rules = [
            r
            for r in inputs_of(
                stack_plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", region
            )
            if r["securityGroupId"] == sg_id
        ]
        assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in rules] == [(5432, app_sg)]
        app_out = [
            r
            for r in inputs_of(
                stack_plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", region
            )
            if r.get("referencedSecurityGroupId") == sg_id
        ]
        assert [(r["securityGroupId"], r["fromPort"]) for r in app_out] == [(app_sg, 5432)]


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
    assert re.fullmatch(r"prod-db-us-east-1-final-[0-9a-f]{8}", db["finalSnapshotIdentifier"])
    assert db["backupRetentionPeriod"] >= 7
    assert db["monitoringInterval"] > 0 and db["monitoringRoleArn"]
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsKmsKeyId"] == db["kmsKeyId"]
    (replica,) = replicas(prod_plan)
    assert replica.region == "us-west-2"
    assert {s["recoveryWindowInDays"] for s in inputs_of(prod_plan, SECRET)} == {30}


def test_dev_is_destroyable_unattended(dev_plan: PlanResult) -> None:
    db = primary(dev_plan)
    assert db["deletionProtection"] is False and db["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db
    assert db["multiAz"] is False and db["applyImmediately"] is True
    assert replicas(dev_plan) == []
    assert not any(r.protect for r in dev_plan.resources)
    # Deleted at once on destroy: nothing left behind in the recovery window.
    assert [s["recoveryWindowInDays"] for s in inputs_of(dev_plan, SECRET)] == [0]


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
        assert "passwordWo" not in db and "username" not in db
        assert db["monitoringInterval"] == primary(stack_plan)["monitoringInterval"]


def test_replicas_can_be_switched_off(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("staging", database={"replicas_enabled": False})
    assert replicas(plan) == []
    assert "db_endpoint" not in plan.outputs["regions"]["us-west-2"]
    assert {s.region for s in plan.of_type(SECRET)} == {"us-east-1"}


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
    assert sorted(str(s.region) for s in plan.of_type(SECRET)) == sorted(
        ["us-east-1", "us-west-2", "eu-west-1"]
    )


def test_app_learns_its_own_regions_endpoint_and_secret(stack_plan: PlanResult) -> None:
    for record in stack_plan.of_type(RDS):
        region = record.region
        params = {
            p["name"].rsplit("/", 1)[-1]: p["value"]
            for p in inputs_of(stack_plan, PARAMETER, region)
            if p.get("name", "").startswith(f"/tap/{stack_plan.stack}/{region}/database/")
        }
        out = stack_plan.outputs["regions"][region]
        assert params == {"endpoint": out["db_endpoint"], "secret_arn": out["db_secret_arn"]}
        (access,) = [
            json.loads(p["policy"])
            for p in inputs_of(stack_plan, ROLE_POLICY, region)
            if p.get("name") == "database-access"
        ]
        statements = {s["Sid"]: s for s in access["Statement"]}
        assert statements["ReadDatabaseSecret"]["Resource"] == out["db_secret_arn"]
        assert statements["DecryptDatabaseSecret"]["Resource"] == out["kms_key_arn"]
        assert statements["ConnectAsAppUser"]["Resource"].startswith(
            f"arn:aws:rds-db:{region}:123456789012:dbuser:"
        )
        assert statements["ConnectAsAppUser"]["Resource"].endswith(f"/{APP_DB_USER}")


def test_rotation_through_config_changes_only_the_password(
    run_config: Callable[..., PlanResult],
) -> None:
    before = planned("staging")
    after = run_config("staging", database={"master_password_version": 2})
    assert _changed(before, after) == {
        "database-credential-password": {"keepers"},
        "us-east-1-database-primary": {"passwordWo", "passwordWoVersion"},
        "us-east-1-database-secret-value": {"secretStringWo", "secretStringWoVersion"},
        "us-west-2-database-secret-value": {"secretStringWo", "secretStringWoVersion"},
    }
    assert _changed(before, run_config("staging")) == {}


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
def test_minor_upgrades_only_when_no_minor_is_pinned(version: str, auto_minor: bool) -> None:
    settings = DatabaseConfig(engine_version=version, multi_az=True, backup_retention_days=7)
    db = primary(build(two_regions(settings=settings)))
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
    assert new["passwordWo"] == primary(before)["passwordWo"]
    assert "manageMasterUserPassword" not in new
    assert new["multiAz"] is True and new["deletionProtection"] is True
    assert "username" not in new and "engine" not in new  # forced-new on an existing instance
    west = after.outputs["regions"]["us-west-2"]
    assert west["db_is_replica"] is False
    # The app of us-west-2 keeps reading its own region's secret, before and after.
    assert west["db_secret_arn"] == before.outputs["regions"]["us-west-2"]["db_secret_arn"]
    assert west["db_secret_arn"].startswith("arn:aws:secretsmanager:us-west-2:")
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
