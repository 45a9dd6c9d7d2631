"""One region's PostgreSQL: the primary in the primary region, a cross-region read replica
(disaster recovery) in a secondary region.

Credentials (issue 11, part A):
- The master password comes from DatabaseCredential (one per stack) and reaches RDS only as a
  write-only argument (`password_wo`): RDS does not create a read replica of a source whose
  master password it manages in Secrets Manager (RDS User Guide, "Limitations for Secrets
  Manager integration with Amazon RDS"), so RDS-managed passwords are not used. Replicas get no
  password: PostgreSQL replicates its roles, the master user's included.
- Every region keeps its own Secrets Manager secret under its own key, written write-only
  (`secret_string_wo`), and its own SSM parameters: a region never reads another region's
  secret, before or after a promotion.
- The app connects as APP_DB_USER with IAM database authentication to its own region's
  instance; the master secret serves only the one-shot role bootstrap in the user data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.db_credential import Credential
from components.security_rules import tcp_rule
from tap import naming
from tap.config import DatabaseConfig, DatabasePlan
from tap.policy_doc import assume_role, document
from tap.protection import Protection
from tap.tags import name_tag
from tap.user_data import APP_DB_USER, DB_NAME

PORT = 5432
MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
LOG_EXPORTS = ("postgresql", "upgrade")
# Bytes of the per-database RandomId: 8 hex characters in the final snapshot and secret names.
GENERATION_BYTES = 4
# RDS DeleteDBInstance, FinalDBSnapshotIdentifier (and CreateDBSnapshot, DBSnapshotIdentifier):
# "Must be 1 to 255 letters, numbers, or hyphens. First character must be a letter. Can't end
# with a hyphen or contain two consecutive hyphens."
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")


@dataclass(frozen=True)
class DatabaseArgs:
    """Inputs of Database."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider."""
    vpc_id: pulumi.Input[str]
    """VPC of the region."""
    database_subnet_ids: pulumi.Input[Sequence[str]]
    """The database tier's subnets (no route out): the DB subnet group."""
    app_security_group_id: pulumi.Input[str]
    """The app instances' group: the only source admitted on the DB port."""
    app_role_name: pulumi.Input[str]
    """The app instances' role: may read this database's secret and parameters."""
    kms_key_arn: pulumi.Input[str]
    """This region's key: storage, secret, Performance Insights, log groups."""
    account_id: pulumi.Input[str]
    """Account id, for ARNs in policies."""
    credential: Credential
    """The master credential (DatabaseCredential.credential): the user and password set on
    the primary at creation, written write-only to a writable database and to this region's
    secret everywhere."""
    settings: DatabaseConfig
    """tap:database: engine, storage, backups, windows, monitoring, log retention (validated
    there). Its instance class and Multi-AZ are read only through `plan`."""
    plan: DatabasePlan
    """This region's role (primary, DR replica or promoted replica), class and Multi-AZ."""
    protection: Protection
    """Deletion protection, final snapshot, secret recovery window, when changes apply."""
    replicate_from: pulumi.Input[str] | None = None
    """ARN of the primary: needed by a DR replica (role "replica"), ignored otherwise."""
    slow_query_ms: int = 1000
    """Statements slower than this are logged."""


def final_snapshot_name(identifier: str, generation: str) -> str:
    """`<identifier>-final-<generation>`: unique per created instance (the generation is a
    RandomId drawn with it), so a re-created stack never meets its predecessor's snapshot
    (DBSnapshotAlreadyExists). Raises ValueError for a name RDS would refuse."""
    name = f"{identifier}-final-{generation}"
    if not _SNAPSHOT_NAME.match(name) or "--" in name or name.endswith("-"):
        raise ValueError(f"final snapshot name {name!r} is not a valid DB snapshot identifier")
    return name


def secret_name(environment: str, region: str, generation: str) -> str:
    """Name of a region's master secret. The generation keeps a re-created stack clear of its
    predecessor's secret, which Secrets Manager keeps (name taken) for the recovery window."""
    return f"tap/{environment}/{region}/database/master-{generation}"


def master_secret_json(username: str, password: str) -> str:
    """The secret's value: the shape Secrets Manager's RDS rotation functions read."""
    return json.dumps({"password": password, "username": username}, sort_keys=True)


def engine_family(engine_version: str) -> str:
    """Parameter-group family of a PostgreSQL version: "16.4" -> "postgres16"."""
    return f"postgres{engine_version.split('.')[0]}"


class Database(pulumi.ComponentResource):
    """RDS PostgreSQL (primary or cross-region replica) with its network, parameters, logs,
    monitoring and the app's narrow access to its endpoint and secret."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:database:Database", name, None, opts)
        if args.plan.role == "replica" and args.replicate_from is None:
            raise ValueError("DatabaseArgs.replicate_from is required for a DR replica")
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        is_replica = args.plan.role == "replica"
        promoted = args.plan.role == "promoted"
        identifier = naming.physical_name(
            args.environment,
            # A promoted replica keeps its identifier: renaming would replace it.
            "db" if args.plan.role == "primary" else "db-replica",
            args.region,
            naming.DB_IDENTIFIER,
        )

        security_group = self._security_group()
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=self._label("db-subnets"),
            description=f"Database tier of {args.environment} in {args.region}",
            subnet_ids=args.database_subnet_ids,
            tags=name_tag(self._label("db-subnets")),
            opts=self._child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            # The family is in the name: a major upgrade needs a new group beside the old one.
            name=self._label(f"db-{engine_family(args.settings.engine_version)}"),
            family=engine_family(args.settings.engine_version),
            description=f"TAP PostgreSQL parameters, {args.environment}",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value=str(args.slow_query_ms)
                ),
            ],
            tags=name_tag(self._label("db-params")),
            opts=self._child,
        )
        # RDS would create these on first export, unencrypted and kept forever: create them
        # first, with retention and the region's key.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{kind}",
                name=f"/aws/rds/instance/{identifier}/{kind}",
                retention_in_days=args.settings.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=name_tag(self._label(f"db-{kind}-logs")),
                opts=self._child,
            )
            for kind in LOG_EXPORTS
        ]
        monitoring_role = self._monitoring_role() if args.settings.monitoring_interval else None
        # Drawn once with the database and kept in state: it tells this instance's final
        # snapshot and secret apart from those of an earlier life of the same stack.
        generation = random.RandomId(
            f"{name}-generation",
            byte_length=GENERATION_BYTES,
            keepers={"identifier": identifier},
            opts=self._child,
        ).hex

        common: dict[str, Any] = dict(
            identifier=identifier,
            instance_class=args.plan.instance_class,
            storage_type="gp3",
            max_allocated_storage=args.settings.max_allocated_storage,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            publicly_accessible=False,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            port=PORT,
            multi_az=args.plan.multi_az,
            backup_retention_period=args.settings.backup_retention_days,
            backup_window=args.settings.backup_window,
            maintenance_window=args.settings.maintenance_window,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            monitoring_interval=args.settings.monitoring_interval,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            performance_insights_enabled=args.settings.performance_insights,
            performance_insights_kms_key_id=args.kms_key_arn
            if args.settings.performance_insights
            else None,
            performance_insights_retention_period=7 if args.settings.performance_insights else None,
            deletion_protection=args.protection.deletion_protection,
            copy_tags_to_snapshot=True,
            # With a major version only ("16"), RDS applies minor upgrades and the program
            # follows; a pinned minor ("16.4") turns them off, or the next `up` would try to
            # downgrade what AWS upgraded.
            auto_minor_version_upgrade="." not in args.settings.engine_version,
            apply_immediately=not args.protection.changes_wait_for_maintenance,
            # The app signs in as APP_DB_USER with a token of its own region's role; replicas
            # need it too, for reads before a promotion and writes after.
            iam_database_authentication_enabled=True,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            tags=name_tag(identifier),
        )
        instance_opts = pulumi.ResourceOptions(parent=self, depends_on=log_groups)
        if is_replica:
            instance = aws.rds.Instance(
                f"{name}-replica",
                replicate_source_db=args.replicate_from,
                # A replica cannot leave a final snapshot; its data lives on in the primary.
                skip_final_snapshot=True,
                **common,
                opts=instance_opts,
            )
        else:
            # A primary, or a former replica promoted by the DR runbook: the latter keeps the
            # replica's logical name and identifier so the program adopts it as it is
            # (dropping replicate_source_db promotes it, should that not have been done by hand
            # yet); its engine, user and database name come from the old primary.
            created_here: dict[str, Any] = (
                {}
                if promoted
                else {
                    "engine": "postgres",
                    "engine_version": args.settings.engine_version,
                    # A major bump in config ("16" -> "17") is a deliberate upgrade: allow it
                    # (prod still waits for its maintenance window).
                    "allow_major_version_upgrade": True,
                    "allocated_storage": args.settings.allocated_storage,
                    "db_name": DB_NAME,
                    "username": args.credential.username,
                }
            )
            instance = aws.rds.Instance(
                f"{name}-replica" if promoted else f"{name}-primary",
                # Write-only: sent to RDS when the version changes, never read back, so a
                # rotation made outside Pulumi shows no diff and is not reverted. Pulumi keeps
                # the value it sent only in the state's inputs, encrypted as a secret.
                password_wo=args.credential.password,
                password_wo_version=args.credential.version,
                skip_final_snapshot=not args.protection.retain_on_delete,
                final_snapshot_identifier=(
                    generation.apply(lambda suffix: final_snapshot_name(identifier, suffix))
                    if args.protection.retain_on_delete
                    else None
                ),
                **created_here,
                **common,
                opts=instance_opts,
            )

        secret = self._master_secret(generation)
        self._publish(instance, secret)

        self.db_identifier: pulumi.Output[str] = instance.identifier
        self.db_arn: pulumi.Output[str] = instance.arn
        self.db_endpoint: pulumi.Output[str] = instance.endpoint
        self.db_address: pulumi.Output[str] = instance.address
        self.db_port: pulumi.Output[int] = instance.port
        self.db_resource_id: pulumi.Output[str] = instance.resource_id
        self.db_secret_arn: pulumi.Output[str] = secret.arn
        self.db_security_group_id: pulumi.Output[str] = security_group.id
        self.is_replica: bool = is_replica
        self.multi_az: bool = args.plan.multi_az
        self.register_outputs(
            {
                "db_identifier": self.db_identifier,
                "db_endpoint": self.db_endpoint,
                "db_address": self.db_address,
                "db_port": self.db_port,
                "db_resource_id": self.db_resource_id,
                "db_secret_arn": self.db_secret_arn,
            }
        )

    def _label(self, service: str, limit: int = naming.DEFAULT_LIMIT) -> str:
        return naming.physical_name(self._args.environment, service, self._args.region, limit)

    def _security_group(self) -> aws.ec2.SecurityGroup:
        name, args = self._name, self._args
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=self._label("db-sg"),
            description="PostgreSQL from the app instances only",
            vpc_id=args.vpc_id,
            tags=name_tag(self._label("db-sg")),
            opts=self._child,
        )
        tcp_rule(
            f"{name}-from-app",
            "ingress",
            group_id=group.id,
            port=PORT,
            peer_group_id=args.app_security_group_id,
            description="PostgreSQL from the app instances",
            tag=self._label("db-from-app"),
            parent=self,
        )
        # The app's only other way out besides HTTPS: this database's port.
        tcp_rule(
            f"{name}-app-to-db",
            "egress",
            group_id=args.app_security_group_id,
            port=PORT,
            peer_group_id=group.id,
            description="App to PostgreSQL",
            tag=self._label("app-to-db"),
            parent=self,
        )
        return group

    def _monitoring_role(self) -> aws.iam.Role:
        name = self._name
        role_name = self._label("rds-monitoring", naming.IAM_ROLE_NAME)
        role = aws.iam.Role(
            f"{name}-monitoring-role",
            name=role_name,
            description="RDS enhanced monitoring",
            assume_role_policy=pulumi.Output.from_input(self._args.account_id).apply(
                lambda account: assume_role("monitoring.rds.amazonaws.com", account)
            ),
            tags=name_tag(role_name),
            opts=self._child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=role.name,
            policy_arn=MONITORING_POLICY,
            opts=self._child,
        )
        return role

    def _master_secret(self, generation: pulumi.Output[str]) -> aws.secretsmanager.Secret:
        """This region's copy of the master credential, under this region's key."""
        name, args = self._name, self._args
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=generation.apply(
                lambda suffix: secret_name(args.environment, args.region, suffix)
            ),
            description=f"TAP {args.environment} database master credential in {args.region}",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.protection.secret_recovery_window_days,
            tags=name_tag(self._label("db-master-secret")),
            opts=self._child,
        )
        plain: pulumi.Output[str] = pulumi.Output.from_input(args.credential.password).apply(
            lambda password: master_secret_json(args.credential.username, password)
        )
        value: pulumi.Output[str] = pulumi.Output.secret(plain)
        aws.secretsmanager.SecretVersion(
            f"{name}-secret-value",
            secret_id=secret.id,
            # Write-only, as the instance's password: a new version of the credential replaces
            # this resource (a new secret version, AWSCURRENT moves to it); an outside
            # rotation is never read back nor reverted.
            secret_string_wo=value,
            secret_string_wo_version=args.credential.version,
            opts=self._child,
        )
        return secret

    def _publish(self, instance: aws.rds.Instance, secret: aws.secretsmanager.Secret) -> None:
        """SSM parameters the instances read, and the app role's access: this region's
        parameters, secret and key, and IAM sign-in as APP_DB_USER to this region's instance."""
        name, args = self._name, self._args
        path = f"/tap/{args.environment}/{args.region}/database"
        for key, value in (("endpoint", instance.endpoint), ("secret_arn", secret.arn)):
            aws.ssm.Parameter(
                f"{name}-param-{key.replace('_', '-')}",
                name=f"{path}/{key}",
                type="String",
                value=value,
                description=f"TAP database {key} for the app in {args.region}",
                tags=name_tag(self._label(f"db-{key}")),
                opts=self._child,
            )

        def policy(values: list[str]) -> str:
            account, secret_arn, key, resource_id = values
            return document(
                {
                    "Sid": "ReadDatabaseParameters",
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                    "Resource": f"arn:aws:ssm:{args.region}:{account}:parameter{path}/*",
                },
                {
                    # Only the root-run role bootstrap reads it (tap/user_data.py).
                    "Sid": "ReadDatabaseSecret",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": secret_arn,
                },
                {
                    "Sid": "DecryptDatabaseSecret",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key,
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{args.region}.amazonaws.com"
                        }
                    },
                },
                {
                    # Service Authorization Reference, rds-db resource db-user:
                    # arn:${Partition}:rds-db:${Region}:${Account}:dbuser:
                    #   ${DbiResourceId}/${DbUserName}
                    "Sid": "ConnectAsAppUser",
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    "Resource": (
                        f"arn:aws:rds-db:{args.region}:{account}:dbuser:{resource_id}/{APP_DB_USER}"
                    ),
                },
            )

        aws.iam.RolePolicy(
            f"{name}-app-access",
            name="database-access",
            role=args.app_role_name,
            policy=pulumi.Output.all(
                args.account_id, secret.arn, args.kms_key_arn, instance.resource_id
            ).apply(policy),
            opts=self._child,
        )
