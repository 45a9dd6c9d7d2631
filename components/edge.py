"""The edge: CloudFront serving the application name over HTTPS only, in front of the failover
name, with access logs to a SecureBucket and an optional AWS WAF web ACL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs
from components.origin_secret import ORIGIN_SECRET_HEADER
from tap import naming
from tap.global_provider import GLOBAL_REGION
from tap.tags import name_tag

PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
ORIGIN_ID = "failover-origin"
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
CACHED_METHODS = ("GET", "HEAD")
# The app is dynamic: nothing is cached, every viewer header, cookie and query string reaches
# the origin, except Host. With Host forwarded, CloudFront would check the origin's certificate
# against the viewer's name (app.<domain>), while the ALBs hold one for the origin name; without
# it CloudFront sends and checks the origin name, which the ALB certificate covers.
CACHE_POLICY = "Managed-CachingDisabled"
ORIGIN_REQUEST_POLICY = "Managed-AllViewerExceptHostHeader"
VIEWER_TLS = "TLSv1.2_2021"
ORIGIN_TLS = ("TLSv1.2",)
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
# Log names of CloudWatch vended-log delivery sources and destinations: [\w-], at most 60.
DELIVERY_NAME = 60


@dataclass(frozen=True)
class EdgeArgs:
    """Inputs of Edge."""

    environment: str
    """Environment name, for names and tags."""
    app_fqdn: str
    """The name users use; CloudFront's alias and the A/AAAA records pointing at it."""
    origin_fqdn: str
    """The failover name CloudFront fetches from (HTTPS, the ALBs' certificate name)."""
    zone_id: pulumi.Input[str]
    """Public hosted zone receiving the alias records of app_fqdn."""
    certificate_arn: pulumi.Input[str]
    """Validated us-east-1 ACM certificate for app_fqdn (CloudFront takes no other region)."""
    account_id: pulumi.Input[str]
    """Account id: log bucket name and its delivery policy."""
    origin_secret: pulumi.Input[str]
    """Secret CloudFront sends in ORIGIN_SECRET_HEADER; the ALBs forward nothing else
    (OriginSecret.current)."""
    origin_rules: Sequence[pulumi.Resource] = ()
    """The ALB listener rules accepting origin_secret (Compute.origin_listener_rules of every
    region): the distribution changes after them, so in a rotation CloudFront sends a new
    value only once every ALB accepts it."""
    price_class: str = "PriceClass_100"
    """Edge locations used (PriceClass_100: North America and Europe, the cheapest)."""
    waf_enabled: bool = False
    """Put an AWS WAF web ACL with the AWS managed common rule set in front."""
    log_retention_days: int = 90
    """Days access logs are kept."""
    is_production: bool = False
    """Keep the log bucket on destroy."""


def log_delivery_statements(bucket_arn: str, account: str) -> list[dict[str, Any]]:
    """Bucket-policy statement admitting only this account's CloudWatch log deliveries.

    CloudFront standard logging v2 writes through the CloudWatch vended-logs service, which
    needs no bucket ACL (the bucket enforces owner-only object ownership, so legacy logging,
    which writes ACL grants, cannot be used).
    """
    return [
        {
            "Sid": "CloudFrontLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {
                    "aws:SourceArn": f"arn:aws:logs:{GLOBAL_REGION}:{account}:delivery-source:*"
                },
            },
        }
    ]


class Edge(pulumi.ComponentResource):
    """CloudFront (HTTPS only, TLS 1.2+, nothing cached) -> origin.<app> over HTTPS only,
    alias records for the app name, standard logs v2 to S3, optional WAF.

    Build it on the us-east-1 provider: CloudFront's certificate and CLOUDFRONT-scoped web ACLs
    exist only there, and CloudFront's log delivery source must be created there.
    """

    def __init__(
        self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:edge:Edge", name, None, opts)
        if args.price_class not in PRICE_CLASSES:
            raise ValueError(f"EdgeArgs.price_class {args.price_class!r}")
        if args.log_retention_days < 1:
            raise ValueError(f"EdgeArgs.log_retention_days {args.log_retention_days}")
        if not args.app_fqdn or not args.origin_fqdn or args.app_fqdn == args.origin_fqdn:
            raise ValueError(
                f"EdgeArgs.origin_fqdn {args.origin_fqdn!r} must be a name other than "
                f"app_fqdn {args.app_fqdn!r}"
            )
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)

        web_acl = self._web_acl() if args.waf_enabled else None
        distribution = self._distribution(web_acl)
        logs = self._access_logs(distribution)
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{name}-alias-{record_type.lower()}",
                zone_id=args.zone_id,
                name=args.app_fqdn,
                type=record_type,
                # CloudFront alias targets cannot evaluate target health; failover happens
                # behind it, at the origin name.
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=distribution.domain_name,
                        zone_id=distribution.hosted_zone_id,
                        evaluate_target_health=False,
                    )
                ],
                opts=self._child,
            )

        self.distribution_id: pulumi.Output[str] = distribution.id
        self.distribution_arn: pulumi.Output[str] = distribution.arn
        self.domain_name: pulumi.Output[str] = distribution.domain_name
        self.web_acl_arn: pulumi.Output[str] | None = web_acl.arn if web_acl else None
        self.log_bucket_name: pulumi.Output[str] = logs.bucket_name
        self.register_outputs(
            {
                "distribution_id": self.distribution_id,
                "domain_name": self.domain_name,
                "web_acl_arn": self.web_acl_arn,
                "log_bucket_name": self.log_bucket_name,
            }
        )

    def _label(self, service: str, limit: int = naming.DEFAULT_LIMIT) -> str:
        return naming.global_name(self._args.environment, service, limit)

    def _web_acl(self) -> aws.wafv2.WebAcl:
        label = self._label("edge-waf")

        def visibility(metric: str) -> dict[str, Any]:
            return {
                "cloudwatch_metrics_enabled": True,
                "metric_name": metric,
                "sampled_requests_enabled": True,
            }

        return aws.wafv2.WebAcl(
            f"{self._name}-waf",
            name=label,
            description=f"TAP {self._args.environment}: AWS managed common rules in front of "
            f"{self._args.app_fqdn}",
            scope="CLOUDFRONT",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            rules=[
                aws.wafv2.WebAclRuleArgs(
                    name=COMMON_RULE_SET,
                    priority=1,
                    # "none" keeps the rule group's own block actions (count would only log).
                    override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                        none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                            name=COMMON_RULE_SET, vendor_name="AWS"
                        )
                    ),
                    visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                        **visibility(f"{label}-common")
                    ),
                )
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(**visibility(label)),
            tags=name_tag(label),
            opts=self._child,
        )

    def _distribution(self, web_acl: aws.wafv2.WebAcl | None) -> aws.cloudfront.Distribution:
        args = self._args
        lookup = pulumi.InvokeOutputOptions(parent=self)
        cache_policy = aws.cloudfront.get_cache_policy_output(name=CACHE_POLICY, opts=lookup)
        request_policy = aws.cloudfront.get_origin_request_policy_output(
            name=ORIGIN_REQUEST_POLICY, opts=lookup
        )
        return aws.cloudfront.Distribution(
            f"{self._name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            comment=f"TAP {args.environment}: {args.app_fqdn}",
            aliases=[args.app_fqdn],
            price_class=args.price_class,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=ORIGIN_ID,
                    domain_name=args.origin_fqdn,
                    # CloudFront overwrites a viewer's header of the same name ("Add custom
                    # headers to origin requests"), so a viewer can neither forge nor read it.
                    custom_headers=[
                        aws.cloudfront.DistributionOriginCustomHeaderArgs(
                            name=ORIGIN_SECRET_HEADER,
                            value=pulumi.Output.secret(args.origin_secret),
                        )
                    ],
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="https-only",
                        origin_ssl_protocols=list(ORIGIN_TLS),
                    ),
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=ORIGIN_ID,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=list(ALL_METHODS),
                cached_methods=list(CACHED_METHODS),
                compress=True,
                cache_policy_id=cache_policy.id,
                origin_request_policy_id=request_policy.id,
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=args.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=VIEWER_TLS,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            web_acl_id=web_acl.arn if web_acl else None,
            tags=name_tag(self._label("edge")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.origin_rules)),
        )

    def _access_logs(self, distribution: aws.cloudfront.Distribution) -> SecureBucket:
        args = self._args
        logs = SecureBucket(
            f"{self._name}-logs",
            SecureBucketArgs(
                environment=args.environment,
                region=GLOBAL_REGION,
                service="edge-logs",
                account_id=args.account_id,
                expiration_days=args.log_retention_days,
                force_destroy=not args.is_production,
                policy_statements=log_delivery_statements,
            ),
            opts=self._child,
        )
        source = aws.cloudwatch.LogDeliverySource(
            f"{self._name}-log-source",
            name=self._label("edge-access-logs", DELIVERY_NAME),
            log_type="ACCESS_LOGS",
            resource_arn=distribution.arn,
            tags=name_tag(self._label("edge-access-logs")),
            opts=self._child,
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{self._name}-log-destination",
            name=self._label("edge-logs-s3", DELIVERY_NAME),
            delivery_destination_configuration=aws.cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs(
                destination_resource_arn=logs.bucket_arn
            ),
            tags=name_tag(self._label("edge-logs-s3")),
            opts=self._child,
        )
        # The delivery is checked against the bucket policy when it is created: wait for it.
        aws.cloudwatch.LogDelivery(
            f"{self._name}-log-delivery",
            delivery_source_name=source.name,
            delivery_destination_arn=destination.arn,
            tags=name_tag(self._label("edge-access-logs")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=logs.ready),
        )
        return logs
