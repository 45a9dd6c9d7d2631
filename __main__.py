"""TAP: wiring only. Validate config, one provider per region, regional tiers, global pieces."""

import pulumi
import pulumi_aws as aws

from components.alerts import AlertTopic, AlertTopicArgs
from components.audit import Audit, AuditArgs
from components.bastion import Bastion, BastionArgs
from components.compute import Compute, ComputeArgs
from components.database import Database, DatabaseArgs
from components.keys import RegionKey, RegionKeyArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from tap.stack_config import load_stack_config
from tap.tags import default_tags

config = load_stack_config()
tags = default_tags(config)

regions: dict[str, dict[str, object]] = {}
notices: list[str] = []
primary_database: Database | None = None
providers: dict[str, aws.Provider] = {}
account_ids: dict[str, pulumi.Output[str]] = {}
database_config = config.database
# The primary region first: its database is the source of the others' replicas (the one
# cross-region edge besides the global pieces).
for region in sorted(config.regions, key=lambda r: r.name != config.primary_region):
    # One explicit provider per region; default providers are disabled in Pulumi.yaml, so a
    # resource that forgets its provider fails instead of landing in some ambient region.
    provider = aws.Provider(
        f"aws-{region.name}",
        region=region.name,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    providers[region.name] = provider
    in_region = pulumi.ResourceOptions(providers={"aws": provider})

    key = RegionKey(
        f"{region.name}-key",
        RegionKeyArgs(
            environment=config.environment,
            region=region.name,
            deletion_window_in_days=30 if config.is_production else 7,
        ),
        opts=in_region,
    )
    network = Network(
        f"{region.name}-network",
        NetworkArgs(
            environment=config.environment,
            region=region.name,
            vpc_cidr=region.cidr,
            kms_key_arn=key.key_arn,
            az_count=config.network.az_count,
            nat_strategy=config.network.nat_strategy,
            flow_log_retention_days=config.network.flow_log_retention_days,
        ),
        opts=in_region,
    )
    compute_config = config.compute
    certificate_arn = compute_config.certificate_arns.get(region.name)
    compute = Compute(
        f"{region.name}-compute",
        ComputeArgs(
            environment=config.environment,
            region=region.name,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            kms_key_arn=key.key_arn,
            account_id=key.account_id,
            tags=tags,
            is_production=config.is_production,
            instance_type=compute_config.instance_type,
            min_size=compute_config.min_size,
            max_size=compute_config.max_size,
            desired_capacity=compute_config.desired_capacity,
            cpu_target_percent=compute_config.cpu_target_percent,
            app_port=compute_config.app_port,
            ami_id=compute_config.ami_id,
            root_volume_gb=compute_config.root_volume_gb,
            allowed_cidrs=compute_config.allowed_cidrs,
            certificate_arn=certificate_arn,
            log_retention_days=compute_config.log_retention_days,
            alb_log_retention_days=compute_config.alb_log_retention_days,
        ),
        opts=in_region,
    )
    if not compute.https_enabled:
        notices.append(
            f"{region.name}: no certificate configured, the ALB serves plain HTTP only "
            "(set tap:compute.certificate_arns or a tap:dns domain)"
        )
    bastion = compute_config.bastion
    if bastion.enabled and bastion.ssh_cidr and bastion.key_name:
        Bastion(
            f"{region.name}-bastion",
            BastionArgs(
                environment=config.environment,
                region=region.name,
                vpc_id=network.vpc_id,
                subnet_id=network.public_subnet_ids[0],
                ssh_cidr=bastion.ssh_cidr,
                key_name=bastion.key_name,
                kms_key_arn=key.key_arn,
                tags=tags,
                instance_type=bastion.instance_type,
            ),
            opts=in_region,
        )

    is_primary = region.name == config.primary_region
    database: Database | None = None
    if is_primary or database_config.replicas_enabled:
        database = Database(
            f"{region.name}-database",
            DatabaseArgs(
                environment=config.environment,
                region=region.name,
                vpc_id=network.vpc_id,
                database_subnet_ids=network.database_subnet_ids,
                app_security_group_id=compute.app_security_group_id,
                app_role_name=compute.instance_role_name,
                kms_key_arn=key.key_arn,
                account_id=key.account_id,
                engine_version=database_config.engine_version,
                instance_class=(
                    database_config.instance_class
                    if is_primary
                    else database_config.replica_instance_class or database_config.instance_class
                ),
                allocated_storage=database_config.allocated_storage,
                max_allocated_storage=database_config.max_allocated_storage,
                multi_az=database_config.multi_az if is_primary else False,
                backup_retention_days=database_config.backup_retention_days,
                backup_window=database_config.backup_window,
                maintenance_window=database_config.maintenance_window,
                monitoring_interval=database_config.monitoring_interval,
                performance_insights=database_config.performance_insights,
                protected=config.is_production,
                log_retention_days=database_config.log_retention_days,
                replicate_from=None if primary_database is None else primary_database.db_arn,
                secret_arn=None if primary_database is None else primary_database.db_secret_arn,
                secret_kms_key_arn=(
                    None if primary_database is None else primary_database.db_secret_kms_key_arn
                ),
                secret_region=config.primary_region,
            ),
            opts=in_region,
        )
        if is_primary:
            primary_database = database

    alerts = AlertTopic(
        f"{region.name}-alerts",
        AlertTopicArgs(
            environment=config.environment,
            region=region.name,
            kms_key_arn=key.key_arn,
            account_id=key.account_id,
            emails=config.alerts.emails,
        ),
        opts=in_region,
    )
    monitoring = Monitoring(
        f"{region.name}-monitoring",
        MonitoringArgs(
            environment=config.environment,
            region=region.name,
            topic_arn=alerts.topic_arn,
            asg_name=compute.asg_name,
            alb_arn_suffix=compute.alb_arn_suffix,
            target_group_arn_suffix=compute.target_group_arn_suffix,
            thresholds=config.alerts.thresholds,
            db_identifier=database.db_identifier if database else None,
            db_is_replica=bool(database and database.is_replica),
        ),
        opts=in_region,
    )
    account_ids[region.name] = key.account_id

    regions[region.name] = {
        "vpc_id": network.vpc_id,
        "vpc_cidr": network.vpc_cidr,
        "public_subnet_ids": network.public_subnet_ids,
        "private_subnet_ids": network.private_subnet_ids,
        "database_subnet_ids": network.database_subnet_ids,
        "public_route_table_id": network.public_route_table_id,
        "private_route_table_ids": network.private_route_table_ids,
        "database_route_table_id": network.database_route_table_id,
        "kms_key_arn": key.key_arn,
        "alb_arn": compute.alb_arn,
        "alb_dns_name": compute.alb_dns_name,
        "alb_zone_id": compute.alb_zone_id,
        "target_group_arn": compute.target_group_arn,
        "asg_name": compute.asg_name,
        "url": compute.url,
        "https": compute.https_enabled,
        "alert_topic_arn": alerts.topic_arn,
        "dashboard_name": monitoring.dashboard_name,
        **(
            {
                "db_identifier": database.db_identifier,
                "db_endpoint": database.db_endpoint,
                "db_address": database.db_address,
                "db_port": database.db_port,
                "db_is_replica": database.is_replica,
                "db_multi_az": database_config.multi_az and is_primary,
                "db_secret_arn": None if database.is_replica else database.db_secret_arn,
            }
            if database
            else {}
        ),
    }

# Account-wide: one multi-region trail, in the primary region.
audit = Audit(
    "audit",
    AuditArgs(
        environment=config.environment,
        region=config.primary_region,
        account_id=account_ids[config.primary_region],
        is_production=config.is_production,
        transition_ia_days=config.audit.transition_ia_days,
        transition_glacier_days=config.audit.transition_glacier_days,
        expiration_days=config.audit.expiration_days,
    ),
    opts=pulumi.ResourceOptions(providers={"aws": providers[config.primary_region]}),
)

pulumi.export("regions", regions)
pulumi.export(
    "audit",
    {
        "trail_name": audit.trail_name,
        "trail_arn": audit.trail_arn,
        "trail_bucket": audit.trail_bucket,
        "trail_region": config.primary_region,
    },
)
pulumi.export("notices", notices)
pulumi.export(
    "deployment_summary",
    {
        "environment": config.environment,
        "primary_region": config.primary_region,
        "regions": list(config.region_names),
        "az_count": config.network.az_count,
        "nat_strategy": config.network.nat_strategy,
    },
)
