"""The edge: CloudFront serving the application name over HTTPS only, in front of the failover
name, with security response headers, access logs to a SecureBucket, and an optional AWS WAF web
ACL (managed rules and a per-IP rate limit) that logs to an encrypted log group and alarms on a
spike of blocked requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs
from components.origin_secret import ORIGIN_SECRET_HEADER
from tap import naming
from tap.config import EdgeConfig
from tap.global_provider import GLOBAL_REGION
from tap.policy_doc import document
from tap.tags import name_tag

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
# Log4j (CVE-2021-44228) and other request patterns known to be malicious.
KNOWN_BAD_INPUTS_RULE_SET = "AWSManagedRulesKnownBadInputsRuleSet"
RATE_LIMIT_RULE = "rate-limit-per-ip"
# The "per 5 minutes"; AWS WAF accepts 60, 120, 300 or 600 (RateBasedStatement.
# EvaluationWindowSec).
RATE_WINDOW_SECONDS = 300
# AWS WAF Developer Guide, "Amazon CloudWatch Logs" (logging destinations): "Your log group names
# must start with aws-waf-logs-", in the web ACL's Region: us-east-1 for a CLOUDFRONT web ACL.
WAF_LOG_PREFIX = "aws-waf-logs-"
# Logged requests keep every header but these two, which carry credentials and sessions.
REDACTED_HEADERS = ("authorization", "cookie")
# HSTS for a year (one year is also the floor of the HSTS preload list), for every name under
# the app's. No `preload`: the list (hstspreload.org) takes a registrable domain on the strength
# of the apex's own header, which this stack does not serve, so from app.<domain> it asks for
# nothing; and getting a domain off the list again takes months of browser releases.
HSTS_MAX_AGE_SECONDS = 31_536_000
# The app is never meant to be framed (clickjacking); no origin of its own needs SAMEORIGIN.
FRAME_OPTION = "DENY"
REFERRER_POLICY = "strict-origin-when-cross-origin"
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
    origin_rules: Sequence[pulumi.Resource]
    """The ALB listener rules accepting origin_secret (Compute.origin_listener_rules of every
    region): the distribution changes after them, so in a rotation CloudFront sends a new
    value only once every ALB accepts it."""
    settings: EdgeConfig
    """tap:edge: price class, WAF (rate limit, log retention), access-log expiry."""
    retain_on_delete: bool
    """Protection.retain_on_delete: keep the access logs on destroy."""
    kms_key_arn: pulumi.Input[str]
    """A us-east-1 key whose policy lets CloudWatch Logs of us-east-1 use it (the Front's
    RegionKey): encrypts the WAF log group."""
    alarm_topic_arn: pulumi.Input[str]
    """A us-east-1 SNS topic (the Front's global alerts): the blocked-requests alarm's alarm and
    OK action (an alarm may only notify a topic of its own region)."""
    blocked_requests_alarm: int
    """Blocked requests a minute that make a spike (alerts.thresholds.waf_blocked_requests)."""
    alarm_evaluation_periods: int
    """Breaching minutes before the alarm fires (alerts.thresholds.evaluation_periods)."""


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


def waf_log_delivery_policy(log_group_arn: str, account: str) -> str:
    """Resource policy of the WAF log group: CloudWatch Logs' delivery service, on behalf of
    this account's deliveries in us-east-1, may write streams of this group only.

    The statement AWS itself adds when WAF logging starts ("Logs sent to CloudWatch Logs", log
    group resource policy), scoped to the one group.
    """
    return document(
        {
            "Sid": "AWSLogDeliveryWrite20150319",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:log-stream:*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{GLOBAL_REGION}:{account}:*"},
            },
        }
    )


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
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)

        web_acl = self._web_acl() if args.settings.waf_enabled else None
        waf_logs = self._waf_logging(web_acl) if web_acl else None
        if web_acl:
            self._blocked_requests_alarm()
        headers = self._response_headers()
        distribution = self._distribution(web_acl, headers)
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
        self.waf_log_group_name: pulumi.Output[str] | None = waf_logs.name if waf_logs else None
        self.response_headers_policy_id: pulumi.Output[str] = headers.id
        self.register_outputs(
            {
                "distribution_id": self.distribution_id,
                "domain_name": self.domain_name,
                "web_acl_arn": self.web_acl_arn,
                "log_bucket_name": self.log_bucket_name,
                "waf_log_group_name": self.waf_log_group_name,
                "response_headers_policy_id": self.response_headers_policy_id,
            }
        )

    def _label(self, service: str, limit: int = naming.DEFAULT_LIMIT) -> str:
        return naming.global_name(self._args.environment, service, limit)

    @property
    def _waf_label(self) -> str:
        """The web ACL's name, also its metric name: the WebACL dimension of its metrics."""
        return self._label("edge-waf")

    def _web_acl(self) -> aws.wafv2.WebAcl:
        label = self._waf_label

        def visibility(metric: str) -> dict[str, Any]:
            return {
                "cloudwatch_metrics_enabled": True,
                "metric_name": metric,
                "sampled_requests_enabled": True,
            }

        def managed(rule_set: str, priority: int, metric: str) -> aws.wafv2.WebAclRuleArgs:
            return aws.wafv2.WebAclRuleArgs(
                name=rule_set,
                priority=priority,
                # "none" keeps the rule group's own block actions (count would only log).
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        name=rule_set, vendor_name="AWS"
                    )
                ),
                visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                    **visibility(f"{label}-{metric}")
                ),
            )

        return aws.wafv2.WebAcl(
            f"{self._name}-waf",
            name=label,
            description=f"TAP {self._args.environment}: AWS managed rules and a per-IP rate "
            f"limit in front of {self._args.app_fqdn}",
            scope="CLOUDFRONT",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            rules=[
                # First: a flooding address is blocked before the managed groups look at it.
                aws.wafv2.WebAclRuleArgs(
                    name=RATE_LIMIT_RULE,
                    priority=0,
                    action=aws.wafv2.WebAclRuleActionArgs(
                        block=aws.wafv2.WebAclRuleActionBlockArgs()
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                            aggregate_key_type="IP",
                            limit=self._args.settings.waf_rate_limit,
                            evaluation_window_sec=RATE_WINDOW_SECONDS,
                        )
                    ),
                    visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                        **visibility(f"{label}-rate-limit")
                    ),
                ),
                managed(COMMON_RULE_SET, 1, "common"),
                managed(KNOWN_BAD_INPUTS_RULE_SET, 2, "known-bad-inputs"),
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(**visibility(label)),
            tags=name_tag(label),
            opts=self._child,
        )

    def _waf_logging(self, web_acl: aws.wafv2.WebAcl) -> aws.cloudwatch.LogGroup:
        """Every request the web ACL sees, to an encrypted log group, credentials redacted."""
        args = self._args
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-waf-logs",
            name=f"{WAF_LOG_PREFIX}{self._waf_label}",
            retention_in_days=args.settings.waf_log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=name_tag(self._label("edge-waf-logs")),
            opts=self._child,
        )
        # WAF writes through CloudWatch Logs' vended-log delivery, which needs this grant on the
        # group. Left to itself, PutLoggingConfiguration writes one where none grants it: long
        # into the account-wide AWSLogDeliveryWrite20150319 policy (10 policies per Region, 5,120
        # characters, which busy accounts overflow: terraform-provider-aws #25296), and in any
        # case a policy the stack does not own and no destroy removes. Owned here and scoped to
        # the group (a resource policy with resourceArn), it exists before logging starts and
        # goes with the stack.
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{self._name}-waf-logs-policy",
            resource_arn=log_group.arn,
            policy_document=pulumi.Output.all(log_group.arn, args.account_id).apply(
                lambda values: waf_log_delivery_policy(values[0], values[1])
            ),
            opts=self._child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{self._name}-waf-logging",
            resource_arn=web_acl.arn,
            log_destination_configs=[log_group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name=header
                    )
                )
                for header in REDACTED_HEADERS
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return log_group

    def _blocked_requests_alarm(self) -> aws.cloudwatch.MetricAlarm:
        args = self._args
        name = self._label("edge-waf-blocked", naming.ALARM_NAME)
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-waf-blocked",
            name=name,
            alarm_description=(
                f"AWS WAF in front of {args.app_fqdn} blocks more than "
                f"{args.blocked_requests_alarm} requests a minute: an attack, or a rule "
                "refusing real users"
            ),
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            # AWS WAF Developer Guide, "AWS WAF metrics and dimensions": Rule=ALL sums every
            # rule; Region is "required for all protected resource types except for Amazon
            # CloudFront distributions", whose metrics have none (and are in us-east-1).
            dimensions={"WebACL": self._waf_label, "Rule": "ALL"},
            statistic="Sum",
            comparison_operator="GreaterThanThreshold",
            threshold=float(args.blocked_requests_alarm),
            period=60,
            evaluation_periods=args.alarm_evaluation_periods,
            datapoints_to_alarm=args.alarm_evaluation_periods,
            # No datapoint: nothing was blocked.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            tags=name_tag(name),
            opts=self._child,
        )

    def _response_headers(self) -> aws.cloudfront.ResponseHeadersPolicy:
        """Security headers on every response, whatever the origin sends (override)."""
        return aws.cloudfront.ResponseHeadersPolicy(
            f"{self._name}-headers",
            name=self._label("edge-security-headers"),
            comment=f"TAP {self._args.environment}: security headers for {self._args.app_fqdn}",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=HSTS_MAX_AGE_SECONDS,
                    include_subdomains=True,
                    preload=False,
                    override=True,
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option=FRAME_OPTION, override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy=REFERRER_POLICY, override=True
                ),
            ),
            opts=self._child,
        )

    def _distribution(
        self,
        web_acl: aws.wafv2.WebAcl | None,
        headers: aws.cloudfront.ResponseHeadersPolicy,
    ) -> aws.cloudfront.Distribution:
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
            price_class=args.settings.price_class,
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
                response_headers_policy_id=headers.id,
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
                expiration_days=args.settings.log_retention_days,
                retain_on_delete=args.retain_on_delete,
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
