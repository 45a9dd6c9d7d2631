"""TAP: wiring only. Validate config, one provider per region, regional tiers, global pieces."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alerts import AlertTopic, AlertTopicArgs
from components.audit import Audit, AuditArgs
from components.bastion import Bastion, BastionArgs
from components.certificate import Certificate, CertificateArgs
from components.compute import Compute, ComputeArgs
from components.database import Database, DatabaseArgs
from components.db_credential import DatabaseCredential, DatabaseCredentialArgs
from components.edge import Edge, EdgeArgs
from components.failover import Endpoint, Failover, FailoverArgs
from components.keys import RegionKey, RegionKeyArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.origin_secret import OriginSecret, OriginSecretArgs
from components.zone import Zone, ZoneArgs
from tap.config import RegionConfig
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tap.providers import provider_account_args
from tap.stack_config import load_stack_config
from tap.tags import default_tags

config = load_stack_config()
tags = default_tags(config)

regions: dict[str, dict[str, object]] = {}
notices: list[str] = []
database_config = config.database
# One explicit provider per region; default providers are disabled in Pulumi.yaml, so a
# resource that forgets its provider fails instead of landing in some ambient region.
# Every provider reaches the stack's own account: the role tap:aws names (assumed from the
# deployer's credentials), and the provider refuses to act in any other account.
account = provider_account_args(config.aws)
providers: dict[str, aws.Provider] = {
    region.name: aws.Provider(
        f"aws-{region.name}",
        region=region.name,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
        **account,
    )
    for region in config.regions
}


@dataclass(frozen=True)
class RegionStack:
    """What one region's wiring built, for the global pieces and the outputs."""

    key: RegionKey
    network: Network
    compute: Compute
    database: Database | None
    alerts: AlertTopic
    monitoring: Monitoring
    is_writable: bool


def build_region(
    region: RegionConfig,
    zone: Zone | None,
    failover_fqdn: str | None,
    primary_database: Database | None,
) -> RegionStack:
    """Every tier of one region, on that region's provider."""
    in_region = pulumi.ResourceOptions(providers={"aws": providers[region.name]})

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
    certificate_arn: pulumi.Input[str] | None = compute_config.certificate_arns.get(region.name)
    if certificate_arn is None and zone is not None and failover_fqdn is not None:
        # Validated in the zone through this region's own provider: no region waits on another.
        certificate_arn = Certificate(
            f"{region.name}-certificate",
            CertificateArgs(
                domain_name=failover_fqdn,
                zone_id=zone.zone_id,
                environment=config.environment,
                region=region.name,
                owns_validation_record=region.name == config.primary_region,
            ),
            opts=in_region,
        ).certificate_arn
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
            edge_only=config.edge.cloudfront_enabled,
            origin_secrets=origin_secret.accepted if origin_secret is not None else (),
            route53_health_checks=config.dns is not None,
        ),
        opts=in_region,
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
                vpc_cidr=region.cidr,
                key_name=bastion.key_name,
                kms_key_arn=key.key_arn,
                tags=tags,
                instance_type=bastion.instance_type,
            ),
            opts=in_region,
        )

    is_primary = region.name == config.primary_region
    # A promoted replica is the writable database of the stack until the region flips back.
    is_writable = is_primary or region.name in database_config.promoted_regions
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
                multi_az=database_config.multi_az if is_writable else False,
                backup_retention_days=database_config.backup_retention_days,
                backup_window=database_config.backup_window,
                maintenance_window=database_config.maintenance_window,
                monitoring_interval=database_config.monitoring_interval,
                performance_insights=database_config.performance_insights,
                protected=config.is_production,
                log_retention_days=database_config.log_retention_days,
                replicate_from=None if primary_database is None else primary_database.db_arn,
                master_username=credential.username,
                master_password=credential.password,
                master_password_version=credential.version,
                secret_recovery_window_days=30 if config.is_production else 0,
                promoted=region.name in database_config.promoted_regions,
            ),
            opts=in_region,
        )

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

    return RegionStack(key, network, compute, database, alerts, monitoring, is_writable)


def region_outputs(built: RegionStack) -> dict[str, object]:
    """The `regions.<region>` stack output."""
    network, compute, database = built.network, built.compute, built.database
    return {
        "vpc_id": network.vpc_id,
        "vpc_cidr": network.vpc_cidr,
        "public_subnet_ids": network.public_subnet_ids,
        "private_subnet_ids": network.private_subnet_ids,
        "database_subnet_ids": network.database_subnet_ids,
        "public_route_table_id": network.public_route_table_id,
        "private_route_table_ids": network.private_route_table_ids,
        "database_route_table_id": network.database_route_table_id,
        "kms_key_arn": built.key.key_arn,
        "alb_arn": compute.alb_arn,
        "alb_dns_name": compute.alb_dns_name,
        "alb_zone_id": compute.alb_zone_id,
        "target_group_arn": compute.target_group_arn,
        "asg_name": compute.asg_name,
        "url": compute.url,
        "https": compute.https_enabled,
        "alert_topic_arn": built.alerts.topic_arn,
        "dashboard_name": built.monitoring.dashboard_name,
        **(
            {
                "db_identifier": database.db_identifier,
                "db_endpoint": database.db_endpoint,
                "db_address": database.db_address,
                "db_port": database.db_port,
                "db_is_replica": database.is_replica,
                "db_multi_az": database_config.multi_az and built.is_writable,
                # Every region's own secret: a region never reads another's credentials.
                "db_secret_arn": database.db_secret_arn,
            }
            if database
            else {}
        ),
    }


# Global, before the regions: the zone every region's certificate is validated in.
dns = config.dns
zone: Zone | None = None
failover_fqdn: str | None = None
if dns is not None:
    # CloudFront's certificate and web ACL, and Route53 health-check metrics, exist only in
    # us-east-1. One provider of their own, whatever the region list: see tap/global_provider.
    global_provider = aws.Provider(
        GLOBAL_PROVIDER_NAME,
        region=GLOBAL_REGION,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
        **account,
    )
    in_global = pulumi.ResourceOptions(providers={"aws": global_provider})
    zone = Zone(
        "zone",
        ZoneArgs(
            domain=dns.domain,
            environment=config.environment,
            zone_id=dns.zone_id,
            create=dns.create_zone,
            is_production=config.is_production,
        ),
        opts=in_global,
    )
    # Behind CloudFront the regions fail over at the origin name and users resolve app_fqdn to
    # the distribution; without it, app_fqdn itself fails over.
    failover_fqdn = f"origin.{dns.app_fqdn}" if config.edge.cloudfront_enabled else dns.app_fqdn
# The master password, drawn once and kept encrypted in state; every region writes it into its
# own secret, so no region reads another's credentials.
credential = DatabaseCredential(
    "database-credential",
    DatabaseCredentialArgs(version=database_config.master_password_version),
)
# The header only CloudFront sends, which every ALB behind it requires.
origin_secret: OriginSecret | None = (
    OriginSecret("origin-secret", OriginSecretArgs(version=config.edge.origin_secret_version))
    if config.edge.cloudfront_enabled
    else None
)
# The primary region first: its database is the source of the others' replicas (the one
# cross-region edge besides the global pieces).
built_regions: dict[str, RegionStack] = {}
primary_database: Database | None = None
for region in sorted(config.regions, key=lambda r: r.name != config.primary_region):
    built = build_region(region, zone, failover_fqdn, primary_database)
    built_regions[region.name] = built
    if region.name == config.primary_region:
        primary_database = built.database
    if not built.compute.https_enabled:
        notices.append(
            f"{region.name}: no certificate configured, the ALB serves plain HTTP only "
            "(set tap:compute.certificate_arns or a tap:dns domain)"
        )
    regions[region.name] = region_outputs(built)
account_ids = {name: built.key.account_id for name, built in built_regions.items()}
endpoints = {
    name: Endpoint(dns_name=built.compute.alb_dns_name, zone_id=built.compute.alb_zone_id)
    for name, built in built_regions.items()
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

# Global, after the regions: health checks and failover records, then the edge.
if dns is not None:
    assert zone is not None and failover_fqdn is not None  # made with dns, before the regions
    # Health-check alarms live in us-east-1 and may only notify a topic of their own region:
    # the global pieces always get a small topic (and key) there, so adding or removing
    # us-east-1 as a stack region changes nothing here.
    global_key = RegionKey(
        "global-key",
        RegionKeyArgs(
            environment=config.environment,
            region=GLOBAL_REGION,
            deletion_window_in_days=30 if config.is_production else 7,
            # Not the names a us-east-1 region takes.
            service="global-key",
        ),
        opts=in_global,
    )
    health_topic = AlertTopic(
        "global-alerts",
        AlertTopicArgs(
            environment=config.environment,
            region=GLOBAL_REGION,
            kms_key_arn=global_key.key_arn,
            account_id=global_key.account_id,
            emails=config.alerts.emails,
            service="global-alerts",
        ),
        opts=in_global,
    ).topic_arn
    failover = Failover(
        "failover",
        FailoverArgs(
            environment=config.environment,
            zone_id=zone.zone_id,
            record_fqdn=failover_fqdn,
            # After a DR promotion, traffic stays with the promoted database's region even when
            # the old primary region comes back (its database is stale by then).
            primary_region=config.active_region,
            endpoints=endpoints,
            failure_threshold=dns.health_check.failure_threshold,
            request_interval=dns.health_check.request_interval,
            alarm_topic_arn=health_topic,
        ),
        opts=in_global,
    )
    edge: Edge | None = None
    if origin_secret is not None:
        edge_certificate = Certificate(
            "edge-certificate",
            CertificateArgs(
                domain_name=dns.app_fqdn,
                zone_id=zone.zone_id,
                environment=config.environment,
                region=GLOBAL_REGION,
                owns_validation_record=True,
            ),
            opts=in_global,
        )
        edge = Edge(
            "edge",
            EdgeArgs(
                environment=config.environment,
                app_fqdn=dns.app_fqdn,
                origin_fqdn=failover_fqdn,
                zone_id=zone.zone_id,
                certificate_arn=edge_certificate.certificate_arn,
                account_id=account_ids[config.primary_region],
                price_class=config.edge.price_class,
                waf_enabled=config.edge.waf_enabled,
                log_retention_days=config.edge.log_retention_days,
                is_production=config.is_production,
                origin_secret=origin_secret.current,
                origin_rules=[
                    rule
                    for built in built_regions.values()
                    for rule in built.compute.origin_listener_rules
                ],
            ),
            opts=in_global,
        )
    pulumi.export(
        "dns",
        {
            "zone_id": zone.zone_id,
            "app_fqdn": dns.app_fqdn,
            "url": f"https://{dns.app_fqdn}",
            "failover_fqdn": failover.record_fqdn,
            "health_check_ids": failover.health_check_ids,
            "name_servers": zone.name_servers,
        },
    )
    if edge is not None:
        pulumi.export(
            "edge",
            {
                "distribution_id": edge.distribution_id,
                "domain_name": edge.domain_name,
                "web_acl_arn": edge.web_acl_arn,
            },
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
        "production": config.is_production,
        "primary_region": config.primary_region,
        "regions": list(config.region_names),
        "az_count": config.network.az_count,
        "nat_strategy": config.network.nat_strategy,
    },
)
