"""What stands in front of the regions, in us-east-1: Route53 health checks and failover with
their alarm topic, and CloudFront with its certificate and WAF when the edge is on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alerts import AlertTopic, AlertTopicArgs
from components.certificate import Certificate, CertificateArgs
from components.edge import Edge, EdgeArgs
from components.failover import Endpoint, Failover, FailoverArgs
from components.keys import RegionKey, RegionKeyArgs
from tap import naming
from tap.config import StackConfig
from tap.global_provider import GLOBAL_REGION
from tap.tags import name_tag

# Route 53 Developer Guide, "Monitoring DNSSEC signing with CloudWatch" (AWS/Route53, dimension
# HostedZoneId, us-east-1): DNSSECInternalFailure is 1 while signing is broken, and
# DNSSECKeySigningKeysNeedingAction counts KSKs that need action (their KMS key disabled or its
# policy changed): left alone, either ends in the zone failing validation (SERVFAIL).
DNSSEC_METRICS = {
    "dnssec-internal-failure": "DNSSECInternalFailure",
    "dnssec-ksk-action-needed": "DNSSECKeySigningKeysNeedingAction",
}


@dataclass(frozen=True)
class FrontArgs:
    """Inputs of Front."""

    stack: StackConfig
    """The validated stack config; its `dns` must be set."""
    zone_id: pulumi.Input[str]
    """The stack's public zone."""
    endpoints: Mapping[str, Endpoint]
    """Every region's ALB, primary first."""
    account_id: pulumi.Input[str]
    """Account id (log bucket names, policies)."""
    origin_secret: pulumi.Input[str] | None
    """The origin header CloudFront sends (OriginSecret.current); None: no edge."""
    origin_rules: Sequence[pulumi.Resource]
    """Every region's listener rules accepting the origin secret: the distribution changes
    after them, so a rotation never sends a value an ALB refuses."""


class Front(pulumi.ComponentResource):
    """Build it with `providers=[<the aws-global provider>]` (see tap.global_provider): health
    -check metrics, CloudFront's certificate and its web ACL exist only in us-east-1."""

    def __init__(
        self, name: str, args: FrontArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:front:Front", name, None, opts)
        stack, dns, fqdn = args.stack, args.stack.dns, args.stack.failover_fqdn
        if dns is None or fqdn is None:
            raise ValueError("FrontArgs.stack.dns is required: the front serves the domain")
        child = pulumi.ResourceOptions(parent=self)
        # Health-check alarms may only notify a topic of their own region: the front always
        # gets a small topic (and key) in us-east-1, so adding or removing us-east-1 as a stack
        # region changes nothing here.
        key = RegionKey(
            f"{name}-key",
            RegionKeyArgs(
                environment=stack.environment,
                region=GLOBAL_REGION,
                protection=stack.protection,
                # Not the names a us-east-1 region takes.
                service="global-key",
            ),
            opts=child,
        )
        self.alerts = AlertTopic(
            f"{name}-alerts",
            AlertTopicArgs(
                environment=stack.environment,
                region=GLOBAL_REGION,
                kms_key_arn=key.key_arn,
                account_id=key.account_id,
                emails=stack.alerts.emails,
                service="global-alerts",
            ),
            opts=child,
        )
        self.failover = Failover(
            f"{name}-failover",
            FailoverArgs(
                environment=stack.environment,
                zone_id=args.zone_id,
                record_fqdn=fqdn,
                # After a DR promotion, traffic stays with the promoted database's region even
                # when the old primary region comes back (its database is stale by then).
                primary_region=stack.active_region,
                endpoints=args.endpoints,
                health_check=dns.health_check,
                alarm_topic_arn=self.alerts.topic_arn,
            ),
            opts=child,
        )
        if stack.zone_dnssec:
            self._dnssec_alarms(name, args.zone_id, self.alerts.topic_arn, stack.environment)
        self.edge: Edge | None = None
        if args.origin_secret is not None:
            certificate = Certificate(
                f"{name}-edge-certificate",
                CertificateArgs(
                    domain_name=dns.app_fqdn,
                    zone_id=args.zone_id,
                    environment=stack.environment,
                    region=GLOBAL_REGION,
                    owns_validation_record=True,
                ),
                opts=child,
            )
            self.edge = Edge(
                f"{name}-edge",
                EdgeArgs(
                    environment=stack.environment,
                    app_fqdn=dns.app_fqdn,
                    origin_fqdn=fqdn,
                    zone_id=args.zone_id,
                    certificate_arn=certificate.certificate_arn,
                    account_id=args.account_id,
                    origin_secret=args.origin_secret,
                    origin_rules=args.origin_rules,
                    settings=stack.edge,
                    retain_on_delete=stack.protection.retain_on_delete,
                    kms_key_arn=key.key_arn,
                    alarm_topic_arn=self.alerts.topic_arn,
                    blocked_requests_alarm=stack.alerts.thresholds.waf_blocked_requests,
                    alarm_evaluation_periods=stack.alerts.thresholds.evaluation_periods,
                ),
                opts=child,
            )
        self.register_outputs(
            {
                "failover_fqdn": self.failover.record_fqdn,
                "distribution_id": self.edge.distribution_id if self.edge else None,
            }
        )

    def _dnssec_alarms(
        self, name: str, zone_id: pulumi.Input[str], topic_arn: pulumi.Input[str], environment: str
    ) -> None:
        """A signed zone pages when its signing breaks (AWS recommends both alarms)."""
        for key, metric in DNSSEC_METRICS.items():
            label = naming.global_name(environment, key, naming.ALARM_NAME)
            aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                name=label,
                alarm_description=f"DNSSEC signing of the stack's zone: {metric} (Route 53)",
                namespace="AWS/Route53",
                metric_name=metric,
                dimensions={"HostedZoneId": zone_id},
                statistic="Maximum",
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=1,
                period=300,
                evaluation_periods=1,
                treat_missing_data="notBreaching",
                alarm_actions=[topic_arn],
                ok_actions=[topic_arn],
                tags=name_tag(label),
                opts=pulumi.ResourceOptions(parent=self),
            )
