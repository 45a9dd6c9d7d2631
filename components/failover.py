"""DNS failover between regions: a Route53 health check and alarm per region's ALB, and the
PRIMARY / SECONDARY records users (or CloudFront) resolve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.config import HealthCheckConfig
from tap.tags import name_tag

HEALTH_PATH = "/health"


@dataclass(frozen=True)
class Endpoint:
    """One region's ALB, as an alias target."""

    dns_name: pulumi.Input[str]
    """The ALB's DNS name."""
    zone_id: pulumi.Input[str]
    """The ALB's canonical hosted zone id (not the stack's zone)."""


@dataclass(frozen=True)
class FailoverArgs:
    """Inputs of Failover."""

    environment: str
    """Environment name, for names and tags."""
    zone_id: pulumi.Input[str]
    """Public hosted zone holding the records."""
    record_fqdn: str
    """The name that fails over, e.g. origin.app.example.com."""
    primary_region: str
    """Region served while its health check passes."""
    endpoints: Mapping[str, Endpoint]
    """Every region's ALB, primary included, in the stack's region order."""
    health_check: HealthCheckConfig
    """tap:dns.health_check: failures before a region counts as unhealthy, seconds between
    checks (10 costs more, fails over sooner)."""
    alarm_topic_arn: pulumi.Input[str] | None
    """SNS topic in us-east-1 (alarm actions must be in the alarm's region) told when a region
    turns unhealthy and healthy again; None: the alarms only show in the console."""


class Failover(pulumi.ComponentResource):
    """Health check + alarm per region; PRIMARY -> the primary ALB, SECONDARY -> the other one,
    or a latency-routed set of the others when there are several.

    Build it on the us-east-1 provider: Route53 health-check metrics exist only there, so the
    alarms must be there too (health checks and records are global either way).
    """

    def __init__(
        self, name: str, args: FailoverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:failover:Failover", name, None, opts)
        if args.primary_region not in args.endpoints:
            raise ValueError(f"FailoverArgs.primary_region {args.primary_region!r} has no endpoint")
        if len(args.endpoints) < 2:
            raise ValueError(f"FailoverArgs.endpoints: {len(args.endpoints)} region(s), need 2+")
        if not args.record_fqdn:
            raise ValueError("FailoverArgs.record_fqdn is empty")
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)

        checks = {region: self._health_check(region, ep) for region, ep in args.endpoints.items()}
        for region, check in checks.items():
            self._alarm(region, check)

        primary = args.endpoints[args.primary_region]
        self._failover_record(
            "primary", self._alias(primary), checks[args.primary_region].id, depends_on=[]
        )
        secondaries = [region for region in args.endpoints if region != args.primary_region]
        if len(secondaries) == 1:
            (only,) = secondaries
            self._failover_record(
                "secondary", self._alias(args.endpoints[only]), checks[only].id, depends_on=[]
            )
        else:
            latency_fqdn = f"secondary.{args.record_fqdn}"
            members = [
                self._latency_record(latency_fqdn, region, checks[region].id)
                for region in secondaries
            ]
            # An alias to a name of the same zone: the latency set answers only while one of
            # its members is healthy, and Route53 rejects the alias until that name exists.
            self._failover_record(
                "secondary",
                aws.route53.RecordAliasArgs(
                    name=latency_fqdn, zone_id=args.zone_id, evaluate_target_health=True
                ),
                None,
                depends_on=members,
            )

        self.health_check_ids: dict[str, pulumi.Output[str]] = {
            region: check.id for region, check in checks.items()
        }
        self.record_fqdn: str = args.record_fqdn
        self.register_outputs(
            {"health_check_ids": self.health_check_ids, "record_fqdn": self.record_fqdn}
        )

    def _label(self, service: str, region: str, limit: int = naming.DEFAULT_LIMIT) -> str:
        return naming.physical_name(self._args.environment, service, region, limit)

    def _health_check(self, region: str, endpoint: Endpoint) -> aws.route53.HealthCheck:
        args = self._args
        # Checked by the ALB's own DNS name over HTTPS, while the ALB's certificate is for the
        # failover name: Route53 HTTPS health checks do not validate certificates, so this
        # works, and it tests each region on its own instead of whatever the failover name
        # currently resolves to. `regions` is left unset: AWS's default spread of checkers.
        return aws.route53.HealthCheck(
            f"{self._name}-health-{region}",
            type="HTTPS",
            fqdn=endpoint.dns_name,
            port=443,
            resource_path=HEALTH_PATH,
            enable_sni=True,
            failure_threshold=args.health_check.failure_threshold,
            request_interval=args.health_check.request_interval,
            tags=name_tag(self._label("health", region)),
            opts=self._child,
        )

    def _alarm(self, region: str, check: aws.route53.HealthCheck) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        actions = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-alarm-{region}",
            name=self._label("health-check", region, naming.ALARM_NAME),
            alarm_description=(
                f"Route53 health check of the {region} ALB ({HEALTH_PATH}) is failing: "
                f"traffic for {args.record_fqdn} moves away from {region}"
            ),
            namespace="AWS/Route53",
            metric_name="HealthCheckStatus",
            dimensions={"HealthCheckId": check.id},
            statistic="Minimum",
            comparison_operator="LessThanThreshold",
            threshold=1,
            period=60,
            evaluation_periods=1,
            # No data means the check itself is gone or broken: as bad as a failing region.
            treat_missing_data="breaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=name_tag(self._label("health-check", region)),
            opts=self._child,
        )

    @staticmethod
    def _alias(endpoint: Endpoint) -> aws.route53.RecordAliasArgs:
        return aws.route53.RecordAliasArgs(
            name=endpoint.dns_name, zone_id=endpoint.zone_id, evaluate_target_health=True
        )

    def _failover_record(
        self,
        role: str,
        alias: aws.route53.RecordAliasArgs,
        health_check_id: pulumi.Input[str] | None,
        depends_on: Sequence[pulumi.Resource],
    ) -> aws.route53.Record:
        args = self._args
        return aws.route53.Record(
            f"{self._name}-{role}",
            zone_id=args.zone_id,
            name=args.record_fqdn,
            type="A",
            set_identifier=role,
            failover_routing_policies=[
                aws.route53.RecordFailoverRoutingPolicyArgs(type=role.upper())
            ],
            aliases=[alias],
            health_check_id=health_check_id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )

    def _latency_record(
        self, fqdn: str, region: str, health_check_id: pulumi.Input[str]
    ) -> aws.route53.Record:
        args = self._args
        return aws.route53.Record(
            f"{self._name}-latency-{region}",
            zone_id=args.zone_id,
            name=fqdn,
            type="A",
            set_identifier=region,
            latency_routing_policies=[aws.route53.RecordLatencyRoutingPolicyArgs(region=region)],
            aliases=[self._alias(args.endpoints[region])],
            health_check_id=health_check_id,
            opts=self._child,
        )
