"""TAP: wiring only. Read the config, build one Region per region on its own provider, the
global pieces, and export the stack's outputs. Every decision lives in the config model
(tap/config.py, tap/protection.py) or in a component."""

import pulumi

from components.audit import Audit, AuditArgs
from components.db_credential import DatabaseCredential, DatabaseCredentialArgs
from components.failover import Endpoint
from components.front import Front, FrontArgs
from components.origin_secret import OriginSecret, OriginSecretArgs
from components.region import Region, RegionArgs
from components.zone import Zone, ZoneArgs
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tap.outputs import (
    AuditOutputs,
    DeploymentSummary,
    DnsOutputs,
    EdgeOutputs,
    StackOutputs,
    export,
)
from tap.providers import stack_provider
from tap.stack_config import load_stack_config

config = load_stack_config()

# Global, before the regions: the zone every region's certificate is validated in. CloudFront,
# its certificate and web ACL, and Route53 health-check metrics exist only in us-east-1: one
# provider of their own whatever the region list (see tap/global_provider).
in_global: pulumi.ResourceOptions | None = None
zone: Zone | None = None
if config.dns is not None:
    in_global = pulumi.ResourceOptions(
        providers=[stack_provider(GLOBAL_PROVIDER_NAME, GLOBAL_REGION, config)]
    )
    zone = Zone(
        "zone",
        ZoneArgs(
            domain=config.dns.domain,
            environment=config.environment,
            zone_id=config.dns.zone_id,
            create=config.dns.create_zone,
            retain_on_delete=config.protection.retain_on_delete,
            dnssec=config.zone_dnssec,
            query_log_retention_days=config.zone_query_log_retention_days,
            key_deletion_window_days=config.protection.key_deletion_window_days,
        ),
        opts=in_global,
    )
# Drawn once, kept encrypted in state: every region writes the database password into its own
# secret, and every ALB behind CloudFront requires the origin header only CloudFront sends.
credential = DatabaseCredential(
    "database-credential",
    DatabaseCredentialArgs(version=config.database.master_password_version),
)
origin_secret = (
    OriginSecret("origin-secret", OriginSecretArgs(version=config.edge.origin_secret_version))
    if config.edge.cloudfront_enabled
    else None
)

# One explicit provider per region (default providers are disabled in Pulumi.yaml, so a
# resource that forgets its provider fails instead of landing in some ambient region).
providers = {name: stack_provider(f"aws-{name}", name, config) for name in config.region_names}
# The primary region comes first: its database is the source of the others' replicas.
regions: dict[str, Region] = {}
for plan in config.region_plans:
    primary = regions.get(config.primary_region)
    regions[plan.name] = Region(
        plan.name,
        RegionArgs(
            stack=config,
            plan=plan,
            credential=credential.credential,
            zone_id=zone.zone_id if zone else None,
            origin_secrets=origin_secret.accepted if origin_secret else (),
            replicate_from=primary.database.db_arn if primary and primary.database else None,
        ),
        opts=pulumi.ResourceOptions(providers=[providers[plan.name]]),
    )
primary = regions[config.primary_region]

# Account-wide: one multi-region trail, in the primary region.
audit = Audit(
    "audit",
    AuditArgs(
        environment=config.environment,
        region=config.primary_region,
        account_id=primary.key.account_id,
        protection=config.protection,
        retention=config.audit,
        log_key_arn=primary.key.key_arn,
        alarm_topic_arn=primary.alerts.topic_arn,
    ),
    opts=pulumi.ResourceOptions(providers=[providers[config.primary_region]]),
)

# Global, after the regions: health checks and failover records, then the edge.
front: Front | None = None
if config.dns is not None and zone is not None:
    front = Front(
        "global",
        FrontArgs(
            stack=config,
            zone_id=zone.zone_id,
            endpoints={
                name: Endpoint(region.compute.alb_dns_name, region.compute.alb_zone_id)
                for name, region in regions.items()
            },
            account_id=primary.key.account_id,
            origin_secret=origin_secret.current if origin_secret else None,
            origin_rules=[
                rule for region in regions.values() for rule in region.compute.origin_listener_rules
            ],
        ),
        opts=in_global,
    )


export(
    StackOutputs(
        regions={name: region.outputs for name, region in regions.items()},
        dns=None
        if config.dns is None or zone is None or front is None
        else DnsOutputs(
            zone_id=zone.zone_id,
            app_fqdn=config.dns.app_fqdn,
            url=f"https://{config.dns.app_fqdn}",
            failover_fqdn=front.failover.record_fqdn,
            health_check_ids=front.failover.health_check_ids,
            name_servers=zone.name_servers,
        ),
        edge=None
        if front is None or front.edge is None
        else EdgeOutputs(
            distribution_id=front.edge.distribution_id,
            domain_name=front.edge.domain_name,
            web_acl_arn=front.edge.web_acl_arn,
        ),
        audit=AuditOutputs(
            trail_name=audit.trail_name,
            trail_arn=audit.trail_arn,
            trail_bucket=audit.trail_bucket,
            trail_region=config.primary_region,
        ),
        notices=[notice for region in regions.values() for notice in region.notices],
        deployment_summary=DeploymentSummary(
            environment=config.environment,
            production=config.is_production,
            primary_region=config.primary_region,
            regions=list(config.region_names),
            az_count=config.network.az_count,
            nat_strategy=config.network.nat_strategy,
        ),
    )
)
