"""One region of the stack: key, network, certificate, compute, bastion, database, alerts and
monitoring, all on the region's provider, which the Region hands down once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.alerts import AlertTopic, AlertTopicArgs
from components.bastion import Bastion, BastionArgs
from components.certificate import Certificate, CertificateArgs
from components.compute import Compute, ComputeArgs, Exposure
from components.database import Database, DatabaseArgs
from components.db_credential import Credential
from components.keys import RegionKey, RegionKeyArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from tap.config import RegionPlan, StackConfig
from tap.outputs import DatabaseOutputs, RegionOutputs
from tap.tags import default_tags


@dataclass(frozen=True)
class RegionArgs:
    """Inputs of Region."""

    stack: StackConfig
    """The validated stack config: the sections every tier reads, its protection."""
    plan: RegionPlan
    """This region's place in the stack (StackConfig.region_plans)."""
    credential: Credential
    """The stack's database master credential (DatabaseCredential.credential)."""
    zone_id: pulumi.Input[str] | None
    """The stack's public zone, where this region's certificate is validated; None without a
    domain."""
    origin_secrets: Sequence[pulumi.Input[str]]
    """Behind CloudFront: the origin header values the ALB accepts (OriginSecret.accepted);
    empty without the edge."""
    replicate_from: pulumi.Input[str] | None
    """The primary database's ARN, for a DR replica here; None in the primary region."""


class Region(pulumi.ComponentResource):
    """Every tier of one region. Build it with `providers=[<the region's aws.Provider>]`:
    its children inherit that provider and never name one."""

    def __init__(
        self, name: str, args: RegionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:region:Region", name, None, opts)
        stack, plan = args.stack, args.plan
        child = pulumi.ResourceOptions(parent=self)
        environment, region = stack.environment, plan.name
        protection = stack.protection

        self.key = RegionKey(
            f"{name}-key",
            RegionKeyArgs(environment=environment, region=region, protection=protection),
            opts=child,
        )
        key_arn, account_id = self.key.key_arn, self.key.account_id
        self.network = Network(
            f"{name}-network",
            NetworkArgs(
                environment=environment,
                region=region,
                vpc_cidr=plan.cidr,
                kms_key_arn=key_arn,
                shape=stack.network,
                tags=default_tags(stack),
            ),
            opts=child,
        )
        self.compute = Compute(
            f"{name}-compute",
            ComputeArgs(
                environment=environment,
                region=region,
                vpc_id=self.network.vpc_id,
                public_subnet_ids=self.network.public_subnet_ids,
                private_subnet_ids=self.network.private_subnet_ids,
                kms_key_arn=key_arn,
                account_id=account_id,
                tags=default_tags(stack),
                settings=stack.compute,
                exposure=self._exposure(name, args),
                protection=protection,
            ),
            opts=child,
        )
        self._bastion(name, args)
        self.database = self._database(name, args)
        self.alerts = AlertTopic(
            f"{name}-alerts",
            AlertTopicArgs(
                environment=environment,
                region=region,
                kms_key_arn=key_arn,
                account_id=account_id,
                emails=stack.alerts.emails,
            ),
            opts=child,
        )
        self.monitoring = Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                environment=environment,
                region=region,
                topic_arn=self.alerts.topic_arn,
                asg_name=self.compute.asg_name,
                alb_arn_suffix=self.compute.alb_arn_suffix,
                target_group_arn_suffix=self.compute.target_group_arn_suffix,
                thresholds=stack.alerts.thresholds,
                db_identifier=self.database.db_identifier if self.database else None,
                db_is_replica=bool(self.database and self.database.is_replica),
            ),
            opts=child,
        )
        self.notices: list[str] = (
            []
            if self.compute.https_enabled
            else [
                f"{region}: no certificate configured, the ALB serves plain HTTP only "
                "(set tap:compute.certificate_arns or a tap:dns domain)"
            ]
        )
        """What the plan should tell the user about this region."""
        self.outputs = self._outputs()
        """This region's `regions.<region>` stack output."""
        self.register_outputs(
            {
                "key_arn": key_arn,
                "vpc_id": self.network.vpc_id,
                "alb_dns_name": self.compute.alb_dns_name,
                "alert_topic_arn": self.alerts.topic_arn,
            }
        )

    def _outputs(self) -> RegionOutputs:
        network, compute, database = self.network, self.compute, self.database
        return RegionOutputs(
            vpc_id=network.vpc_id,
            vpc_cidr=network.vpc_cidr,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            database_subnet_ids=network.database_subnet_ids,
            public_route_table_id=network.public_route_table_id,
            private_route_table_ids=network.private_route_table_ids,
            database_route_table_id=network.database_route_table_id,
            kms_key_arn=self.key.key_arn,
            alb_arn=compute.alb_arn,
            alb_dns_name=compute.alb_dns_name,
            alb_zone_id=compute.alb_zone_id,
            target_group_arn=compute.target_group_arn,
            asg_name=compute.asg_name,
            url=compute.url,
            https=compute.https_enabled,
            alert_topic_arn=self.alerts.topic_arn,
            dashboard_name=self.monitoring.dashboard_name,
            database=None
            if database is None
            else DatabaseOutputs(
                db_identifier=database.db_identifier,
                db_endpoint=database.db_endpoint,
                db_address=database.db_address,
                db_port=database.db_port,
                db_is_replica=database.is_replica,
                db_multi_az=database.multi_az,
                # Every region's own secret: a region never reads another's credentials.
                db_secret_arn=database.db_secret_arn,
            ),
        )

    def _exposure(self, name: str, args: RegionArgs) -> Exposure:
        """HTTPS with the configured certificate, else one validated in the stack's zone
        through this region's own provider (no region waits on another); behind CloudFront
        only the edge reaches the ALB."""
        stack, plan = args.stack, args.plan
        certificate_arn: pulumi.Input[str] | None = plan.certificate_arn
        fqdn = stack.failover_fqdn
        if certificate_arn is None and args.zone_id is not None and fqdn is not None:
            certificate_arn = Certificate(
                f"{name}-certificate",
                CertificateArgs(
                    domain_name=fqdn,
                    zone_id=args.zone_id,
                    environment=stack.environment,
                    region=plan.name,
                    # ACM asks every region for the same validation record: one writes it.
                    owns_validation_record=plan.is_primary,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            ).certificate_arn
        if args.origin_secrets:
            if certificate_arn is None:
                raise ValueError(
                    f"{plan.name}: behind the edge the ALB needs a certificate (tap:dns or "
                    "tap:compute.certificate_arns)"
                )
            return Exposure.behind_edge(certificate_arn, args.origin_secrets)
        return Exposure.direct(
            stack.compute.allowed_cidrs, certificate_arn, health_checked=stack.dns is not None
        )

    def _bastion(self, name: str, args: RegionArgs) -> None:
        bastion = args.stack.compute.bastion
        if not bastion.enabled:
            return
        if bastion.ssh_cidr is None or bastion.key_name is None:  # BastionConfig requires both
            raise ValueError("tap:compute.bastion needs ssh_cidr and key_name when enabled")
        Bastion(
            f"{name}-bastion",
            BastionArgs(
                environment=args.stack.environment,
                region=args.plan.name,
                vpc_id=self.network.vpc_id,
                subnet_id=self.network.public_subnet_ids[0],
                ssh_cidr=bastion.ssh_cidr,
                vpc_cidr=args.plan.cidr,
                key_name=bastion.key_name,
                kms_key_arn=self.key.key_arn,
                tags=default_tags(args.stack),
                instance_type=bastion.instance_type,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _database(self, name: str, args: RegionArgs) -> Database | None:
        if args.plan.database is None:
            return None
        return Database(
            f"{name}-database",
            DatabaseArgs(
                environment=args.stack.environment,
                region=args.plan.name,
                vpc_id=self.network.vpc_id,
                database_subnet_ids=self.network.database_subnet_ids,
                app_security_group_id=self.compute.app_security_group_id,
                app_role_name=self.compute.instance_role_name,
                kms_key_arn=self.key.key_arn,
                account_id=self.key.account_id,
                credential=args.credential,
                settings=args.stack.database,
                plan=args.plan.database,
                protection=args.stack.protection,
                replicate_from=args.replicate_from,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
