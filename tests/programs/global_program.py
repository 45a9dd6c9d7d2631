"""Test program: the global traffic pieces (zone, certificates, failover, edge) wired the way
`__main__.py` is to wire them, with each region's ALB given as fixed strings instead of a real
Compute tier. Run it with `tap.offline.run_program(stack, config, program=PATH)`."""

import pulumi
import pulumi_aws as aws

from components.certificate import Certificate, CertificateArgs
from components.edge import Edge, EdgeArgs
from components.failover import Endpoint, Failover, FailoverArgs
from components.zone import Zone, ZoneArgs
from tap.global_provider import GLOBAL_REGION, global_provider_name, needs_global_provider
from tap.stack_config import load_stack_config
from tap.tags import default_tags
from tests.programs.fakes import (
    ALB_ZONES,
    ALERT_TOPIC_ARN,
    fake_alb_dns_name,
    fake_listener_alb_arn,
)

config = load_stack_config()
tags = default_tags(config)
providers = {
    region.name: aws.Provider(
        f"aws-{region.name}",
        region=region.name,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    for region in config.regions
}

# --- before the region loop ---------------------------------------------------------------
dns = config.dns
zone_id: pulumi.Output[str] | None = None
global_provider: aws.Provider | None = None
global_opts: pulumi.ResourceOptions | None = None
if dns is not None:
    # CloudFront's certificate and web ACL, and Route53 health-check metrics, exist only in
    # us-east-1: reuse that region's provider, or make the one extra provider for them.
    if needs_global_provider(config.region_names):
        global_provider = aws.Provider(
            global_provider_name(config.region_names),
            region=GLOBAL_REGION,
            default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
        )
    else:
        global_provider = providers[GLOBAL_REGION]
    global_opts = pulumi.ResourceOptions(providers={"aws": global_provider})
    zone = Zone(
        "zone",
        ZoneArgs(
            domain=dns.domain,
            environment=config.environment,
            zone_id=dns.zone_id,
            create=dns.create_zone,
            is_production=config.is_production,
        ),
        opts=global_opts,
    )
    zone_id = zone.zone_id
    app_fqdn = dns.app_fqdn
    # With CloudFront in front, users resolve app_fqdn to the distribution and the failover
    # records live at the origin name; without it, app_fqdn itself fails over.
    failover_fqdn = f"origin.{app_fqdn}" if config.edge.cloudfront_enabled else app_fqdn

# --- inside the region loop (stands in for each region's Compute) --------------------------
endpoints: dict[str, Endpoint] = {}
certificate_arns: dict[str, pulumi.Output[str]] = {}
for region in config.regions:
    in_region = pulumi.ResourceOptions(providers={"aws": providers[region.name]})
    if dns is not None and zone_id is not None:
        certificate = Certificate(
            f"{region.name}-certificate",
            CertificateArgs(
                domain_name=failover_fqdn,
                zone_id=zone_id,
                environment=config.environment,
                region=region.name,
            ),
            opts=in_region,
        )
        certificate_arns[region.name] = certificate.certificate_arn
        # What ComputeArgs.certificate_arn feeds: the HTTPS listener of the region's ALB.
        aws.lb.Listener(
            f"{region.name}-https",
            load_balancer_arn=fake_listener_alb_arn(config.environment, region.name),
            port=443,
            protocol="HTTPS",
            certificate_arn=certificate.certificate_arn,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="text/plain", status_code="200"
                    ),
                )
            ],
            opts=in_region,
        )
    endpoints[region.name] = Endpoint(
        dns_name=fake_alb_dns_name(config.environment, region.name),
        zone_id=ALB_ZONES[region.name],
    )

# --- after the region loop -----------------------------------------------------------------
if dns is not None and zone_id is not None and global_provider is not None:
    failover = Failover(
        "failover",
        FailoverArgs(
            environment=config.environment,
            zone_id=zone_id,
            record_fqdn=failover_fqdn,
            primary_region=config.primary_region,
            endpoints=endpoints,
            failure_threshold=dns.health_check.failure_threshold,
            request_interval=dns.health_check.request_interval,
            alarm_topic_arn=ALERT_TOPIC_ARN.format(region=GLOBAL_REGION),
        ),
        opts=global_opts,
    )
    edge = None
    if config.edge.cloudfront_enabled:
        edge_certificate = Certificate(
            "edge-certificate",
            CertificateArgs(
                domain_name=app_fqdn,
                zone_id=zone_id,
                environment=config.environment,
                region=GLOBAL_REGION,
            ),
            opts=global_opts,
        )
        edge = Edge(
            "edge",
            EdgeArgs(
                environment=config.environment,
                app_fqdn=app_fqdn,
                origin_fqdn=failover_fqdn,
                zone_id=zone_id,
                certificate_arn=edge_certificate.certificate_arn,
                account_id=aws.get_caller_identity_output(
                    opts=pulumi.InvokeOutputOptions(provider=global_provider)
                ).account_id,
                price_class=config.edge.price_class,
                waf_enabled=config.edge.waf_enabled,
                log_retention_days=config.edge.log_retention_days,
                is_production=config.is_production,
            ),
            opts=global_opts,
        )
    pulumi.export(
        "dns",
        {
            "app_url": f"https://{app_fqdn}",
            "failover_fqdn": failover.record_fqdn,
            "zone_id": zone_id,
            "name_servers": zone.name_servers,
            "health_check_ids": failover.health_check_ids,
            "cloudfront_domain": edge.domain_name if edge else None,
            "distribution_id": edge.distribution_id if edge else None,
            "web_acl_arn": edge.web_acl_arn if edge else None,
        },
    )
else:
    pulumi.export("dns", None)
pulumi.export("certificate_arns", certificate_arns)
