"""The edge, as the real `__main__.py` wires it: CloudFront serves app.<domain> over HTTPS only,
fetches from the failover name over HTTPS only, caches nothing, logs to a SecureBucket, and sits
behind WAF when enabled; behind it, the ALBs answer plain HTTP with a redirect only. The edge
built on its own (WAF rules, logging, alarm, security headers): tests/test_edge_waf.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.edge import (
    COMMON_RULE_SET,
    KNOWN_BAD_INPUTS_RULE_SET,
    RATE_LIMIT_RULE,
    Edge,
    EdgeArgs,
    log_delivery_statements,
)
from components.origin_secret import ORIGIN_SECRET_HEADER
from tap.config import EdgeConfig, ThresholdsConfig
from tap_tooling.offline import MOCK_ACCOUNT_ID, PlanResult, Recorded
from tests.conftest import STACKS, planned, stack_config
from tests.test_compute import build_offline, sent_as_secret
from tests.test_dns import CREATE, dev_three_regions, dev_zone_by_id, run

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
RECORD = "aws:route53/record:Record"
BUCKET = "aws:s3/bucket:Bucket"
SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
DESTINATION = "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"
DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
HEADERS = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # the one hosted zone of every CloudFront distribution
# AWS managed policy ids (the same in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# Access-log expiry: prod's stack file, and the edge config of dev_three_regions.
LOG_RETENTION = {"prod": 365, "dev": 30}


def dev_without_waf() -> PlanResult:
    """dev with CloudFront on, WAF left off, every edge location."""
    return run(
        "dev", dns=CREATE, edge={"cloudfront_enabled": True, "price_class": "PriceClass_All"}
    )


@pytest.fixture(params=["prod", "dev"])
def edge_plan(request: pytest.FixtureRequest) -> PlanResult:
    """The shipped prod stack, and dev with CloudFront + WAF switched on."""
    return planned("prod") if request.param == "prod" else dev_three_regions()


def only(plan: PlanResult, type_: str) -> Recorded:
    (resource,) = plan.of_type(type_)
    return resource


def in_edge(plan: PlanResult, type_: str) -> list[Recorded]:
    """Resources of `type_` inside the Edge component (its SecureBucket included)."""
    return [
        r
        for r in plan.of_type(type_)
        if (outer := plan.component_of(r)) is not None and outer.type == "tap:edge:Edge"
    ]


def app_fqdn(plan: PlanResult) -> str:
    """The name users use, as the plan exports it (the domain depends on the stack's config)."""
    return str(plan.outputs["dns"]["app_fqdn"])


def distribution(plan: PlanResult) -> dict[str, Any]:
    return only(plan, DISTRIBUTION).inputs


def test_viewers_get_https_only_with_tls_1_2(edge_plan: PlanResult) -> None:
    assert edge_plan.warnings == []
    cdn = distribution(edge_plan)
    assert cdn["enabled"] is True and cdn["isIpv6Enabled"] is True
    assert cdn["httpVersion"] == "http2and3"
    assert cdn["aliases"] == [app_fqdn(edge_plan)]
    assert cdn["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert not cdn.get("orderedCacheBehaviors")
    viewer = cdn["viewerCertificate"]
    assert viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert viewer["sslSupportMethod"] == "sni-only"
    assert not viewer.get("cloudfrontDefaultCertificate")


def test_viewer_certificate_is_the_validated_us_east_1_one_for_the_app_name(
    edge_plan: PlanResult,
) -> None:
    certificate = edge_plan.one("aws:acm/certificate:Certificate", "global-edge-certificate-cert")
    validation = edge_plan.one(
        "aws:acm/certificateValidation:CertificateValidation", "global-edge-certificate-validation"
    )
    assert certificate.region == "us-east-1"
    assert certificate.inputs["domainName"] == app_fqdn(edge_plan)
    cdn = only(edge_plan, DISTRIBUTION)
    assert (
        cdn.inputs["viewerCertificate"]["acmCertificateArn"]
        == (validation.inputs["certificateArn"])
    )
    assert validation.urn in cdn.depends_on  # no distribution before the certificate is issued


def test_origin_is_the_failover_name_over_https_only(edge_plan: PlanResult) -> None:
    (origin,) = distribution(edge_plan)["origins"]
    assert origin["domainName"] == f"origin.{app_fqdn(edge_plan)}"
    custom = origin["customOriginConfig"]
    assert custom["originProtocolPolicy"] == "https-only"
    assert custom["originSslProtocols"] == ["TLSv1.2"]
    assert custom["httpsPort"] == 443
    assert "s3OriginConfig" not in origin
    assert distribution(edge_plan)["defaultCacheBehavior"]["targetOriginId"] == origin["originId"]


def test_nothing_is_cached_and_the_origin_sees_the_viewer_request(edge_plan: PlanResult) -> None:
    behavior = distribution(edge_plan)["defaultCacheBehavior"]
    assert behavior["cachePolicyId"] == CACHING_DISABLED
    # Host stays the origin name, which the ALB certificates cover (see components/edge.py).
    assert behavior["originRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert "forwardedValues" not in behavior  # the deprecated way
    assert sorted(behavior["allowedMethods"]) == [
        "DELETE",
        "GET",
        "HEAD",
        "OPTIONS",
        "PATCH",
        "POST",
        "PUT",
    ]
    assert sorted(behavior["cachedMethods"]) == ["GET", "HEAD"]
    assert behavior["compress"] is True
    lookups = {token for token, _ in edge_plan.invokes}
    assert "aws:cloudfront/getCachePolicy:getCachePolicy" in lookups


def test_price_class_and_no_geo_restriction(edge_plan: PlanResult) -> None:
    cdn = distribution(edge_plan)
    assert cdn["priceClass"] == "PriceClass_100"
    assert cdn["restrictions"] == {"geoRestriction": {"restrictionType": "none"}}
    assert distribution(dev_without_waf())["priceClass"] == "PriceClass_All"


def test_every_edge_resource_is_in_us_east_1(edge_plan: PlanResult) -> None:
    edge_resources = [
        r
        for r in edge_plan.resources
        if r.custom and (outer := edge_plan.component_of(r)) and outer.type == "tap:edge:Edge"
    ]
    assert len(edge_resources) > 10
    assert {r.region for r in edge_resources} == {"us-east-1"}


def test_app_name_aliases_to_the_distribution(edge_plan: PlanResult) -> None:
    dns, edge = edge_plan.outputs["dns"], edge_plan.outputs["edge"]
    aliases = [r for r in edge_plan.of_type(RECORD) if r.inputs["name"] == app_fqdn(edge_plan)]
    assert sorted(r.inputs["type"] for r in aliases) == ["A", "AAAA"]
    for record in aliases:
        assert record.region == "us-east-1"
        assert record.inputs["zoneId"] == dns["zone_id"]
        assert record.inputs["aliases"] == [
            {
                "name": edge["domain_name"],
                "zoneId": CLOUDFRONT_ZONE_ID,
                "evaluateTargetHealth": False,
            }
        ]
        assert "failoverRoutingPolicies" not in record.inputs
    assert edge["domain_name"].endswith(".cloudfront.net")
    assert dns["url"] == f"https://{app_fqdn(edge_plan)}"
    distribution_id = edge_plan.id_of(only(edge_plan, DISTRIBUTION))
    assert edge["distribution_id"] == distribution_id
    assert re.fullmatch(r"E[0-9A-Z]{13}", distribution_id)


def test_log_bucket_has_the_secure_bucket_protections(edge_plan: PlanResult) -> None:
    prod = edge_plan.stack == "prod"
    (bucket,) = in_edge(edge_plan, BUCKET)
    assert bucket.inputs["bucket"] == f"{edge_plan.stack}-edge-logs-us-east-1-{MOCK_ACCOUNT_ID}"
    assert bucket.inputs["forceDestroy"] is not prod
    (block,) = in_edge(edge_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    (ownership,) = in_edge(edge_plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (versioning,) = in_edge(edge_plan, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (sse,) = in_edge(
        edge_plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "AES256"}
    (lifecycle,) = in_edge(
        edge_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    expiry = LOG_RETENTION[edge_plan.stack]
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": expiry}


def test_log_bucket_admits_only_this_accounts_log_delivery(edge_plan: PlanResult) -> None:
    (policy,) = in_edge(edge_plan, "aws:s3/bucketPolicy:BucketPolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    deny, allow = statements
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    arn = f"arn:aws:s3:::{edge_plan.stack}-edge-logs-us-east-1-{MOCK_ACCOUNT_ID}"
    assert allow == {
        "Sid": "CloudFrontLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/AWSLogs/{MOCK_ACCOUNT_ID}/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:aws:logs:us-east-1:{MOCK_ACCOUNT_ID}:delivery-source:*"
            },
        },
    }
    assert allow == log_delivery_statements(arn, MOCK_ACCOUNT_ID)[0]


def test_access_logs_go_through_standard_logging_v2(edge_plan: PlanResult) -> None:
    # Legacy logging writes object ACLs, which the owner-enforced bucket refuses.
    assert "loggingConfig" not in distribution(edge_plan)
    cdn = only(edge_plan, DISTRIBUTION)
    (bucket,) = in_edge(edge_plan, BUCKET)
    (policy,) = in_edge(edge_plan, "aws:s3/bucketPolicy:BucketPolicy")
    source, destination, delivery = (
        only(edge_plan, SOURCE),
        only(edge_plan, DESTINATION),
        only(edge_plan, DELIVERY),
    )
    assert source.inputs["logType"] == "ACCESS_LOGS"
    assert source.inputs["resourceArn"].startswith("arn:aws:cloudfront::")
    assert cdn.urn in source.depends_on
    assert destination.inputs["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"arn:aws:s3:::{bucket.inputs['bucket']}"
    }
    assert delivery.inputs["deliverySourceName"] == source.inputs["name"]
    assert delivery.inputs["deliveryDestinationArn"] == (
        f"arn:aws:logs:us-east-1:{MOCK_ACCOUNT_ID}:delivery-destination:{destination.inputs['name']}"
    )
    assert {source.urn, destination.urn, policy.urn} <= set(delivery.depends_on)
    for name in (source.inputs["name"], destination.inputs["name"]):
        assert len(name) <= 60 and name.startswith(f"{edge_plan.stack}-edge-")


def test_waf_with_managed_rules_and_a_rate_limit_in_front(edge_plan: PlanResult) -> None:
    acl = only(edge_plan, WEB_ACL)
    assert acl.region == "us-east-1"
    assert acl.inputs["scope"] == "CLOUDFRONT"
    assert acl.inputs["defaultAction"] == {"allow": {}}
    rules = {rule["name"]: rule for rule in acl.inputs["rules"]}
    assert set(rules) == {RATE_LIMIT_RULE, COMMON_RULE_SET, KNOWN_BAD_INPUTS_RULE_SET}
    # Both stacks leave tap:edge.waf_rate_limit at 2000 (prod says so in its stack file).
    assert rules[RATE_LIMIT_RULE]["statement"]["rateBasedStatement"]["limit"] == 2000
    assert all(rule["visibilityConfig"]["cloudwatchMetricsEnabled"] for rule in rules.values())
    assert acl.inputs["visibilityConfig"]["sampledRequestsEnabled"] is True
    arn = edge_plan.outputs["edge"]["web_acl_arn"]
    assert arn.startswith("arn:aws:wafv2:us-east-1:")
    assert distribution(edge_plan)["webAclId"] == arn


def test_waf_logs_under_the_front_key_and_alarms_to_the_global_topic(
    edge_plan: PlanResult,
) -> None:
    """The Front's wiring: its us-east-1 key encrypts the WAF logs, its topic gets the alarm,
    and the stack's retention and alert thresholds reach them."""
    shipped = stack_config(edge_plan.stack)  # dev_three_regions changes no edge/alerts value
    edge = {**EdgeConfig().model_dump(), **shipped.get("edge", {})}
    thresholds = {
        **ThresholdsConfig().model_dump(),
        **shipped.get("alerts", {}).get("thresholds", {}),
    }
    (group,) = in_edge(edge_plan, LOG_GROUP)
    assert group.inputs["name"] == f"aws-waf-logs-{edge_plan.stack}-edge-waf"
    assert group.inputs["retentionInDays"] == edge["waf_log_retention_days"]
    key = edge_plan.one("aws:kms/key:Key", "global-key-cmk")
    assert group.inputs["kmsKeyId"] == (
        f"arn:aws:kms:us-east-1:{MOCK_ACCOUNT_ID}:key/{edge_plan.id_of(key)}"
    )
    (logging,) = in_edge(edge_plan, WAF_LOGGING)
    assert logging.inputs["resourceArn"] == edge_plan.outputs["edge"]["web_acl_arn"]
    (alarm,) = in_edge(edge_plan, ALARM)
    topic = edge_plan.one("aws:sns/topic:Topic", "global-alerts-topic")
    topic_arn = f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:{topic.inputs['name']}"
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic_arn]
    assert alarm.inputs["threshold"] == thresholds["waf_blocked_requests"]
    assert alarm.inputs["evaluationPeriods"] == thresholds["evaluation_periods"]
    (headers,) = in_edge(edge_plan, HEADERS)
    assert distribution(edge_plan)["defaultCacheBehavior"]["responseHeadersPolicyId"] == (
        edge_plan.id_of(headers)
    )


def test_no_waf_unless_enabled() -> None:
    plan = dev_without_waf()
    assert plan.warnings == []
    assert plan.of_type(WEB_ACL) == []
    assert "webAclId" not in distribution(plan)
    assert plan.outputs["edge"]["web_acl_arn"] is None
    assert plan.outputs["edge"]["distribution_id"]
    for type_ in (LOG_GROUP, WAF_LOGGING, ALARM):
        assert in_edge(plan, type_) == [], type_
    (headers,) = in_edge(plan, HEADERS)  # security headers do not depend on WAF
    assert distribution(plan)["defaultCacheBehavior"]["responseHeadersPolicyId"] == (
        plan.id_of(headers)
    )


def test_no_edge_unless_enabled() -> None:
    plan = dev_zone_by_id()  # a domain, CloudFront left off
    assert plan.warnings == []
    assert "edge" not in plan.outputs and plan.outputs["dns"]
    for type_ in (DISTRIBUTION, WEB_ACL, SOURCE, DESTINATION, DELIVERY, WAF_LOGGING, HEADERS):
        assert plan.of_type(type_) == [], type_
    assert not [r for r in plan.of_type(LOG_GROUP) if r.inputs["name"].startswith("aws-waf-")]
    assert not [r for r in plan.of_type(BUCKET) if "edge" in r.name]
    assert not [r for r in plan.of_type(RECORD) if r.inputs["type"] == "AAAA"]
    names = {r.inputs["domainName"] for r in plan.of_type("aws:acm/certificate:Certificate")}
    assert names == {app_fqdn(plan)}  # the regional ALB certificates only


def test_edge_alone_sends_the_origin_secret_after_the_alb_rules_accept_it() -> None:
    """Built with its Args alone: CloudFront adds the secret header to every origin request,
    as a secret input, and the distribution waits for the listener rules it is given."""

    def build(provider: aws.Provider) -> dict[str, Any]:
        in_global = pulumi.ResourceOptions(provider=provider)
        rule = aws.lb.ListenerRule(
            "unit-edge-origin-rule",
            listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2",
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                        content_type="text/plain", status_code="200"
                    ),
                )
            ],
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=["/"])
                )
            ],
            opts=in_global,
        )
        edge = Edge(
            "unit-edge",
            EdgeArgs(
                environment="unit",
                app_fqdn="app.unit.example",
                origin_fqdn="origin.app.unit.example",
                zone_id="Z0123456789ABCDEFGHIJ",
                certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/unit",
                account_id=MOCK_ACCOUNT_ID,
                origin_secret="s3cr3t-value",
                origin_rules=[rule],
                settings=EdgeConfig(cloudfront_enabled=True),
                retain_on_delete=False,
                kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/unit",
                alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:unit-global-alerts",
                blocked_requests_alarm=100,
                alarm_evaluation_periods=3,
            ),
            opts=in_global,
        )
        return {"domain": edge.domain_name}

    built = build_offline(build)
    (cdn,) = built.named(DISTRIBUTION)
    (origin,) = cdn.inputs["origins"]
    assert origin["customHeaders"] == [{"name": ORIGIN_SECRET_HEADER, "value": "s3cr3t-value"}]
    assert sent_as_secret(built, cdn.name, ".origins[0].customHeaders[0].value")
    (rule,) = built.named("aws:lb/listenerRule:ListenerRule")
    assert rule.urn in cdn.depends_on


def test_edge_sends_the_current_origin_secret(edge_plan: PlanResult) -> None:
    (origin,) = distribution(edge_plan)["origins"]
    (header,) = origin["customHeaders"]
    assert header["name"] == ORIGIN_SECRET_HEADER and len(header["value"]) == 64
    assert header["value"] not in json.dumps(edge_plan.outputs)


def has_certificate(stack: str) -> bool:
    """The shipped stack gives its ALBs a certificate: one configured, or one validated in the
    stack's domain (components/region.py, Region._exposure)."""
    config = stack_config(stack)
    return bool(config.get("dns")) or bool(config.get("compute", {}).get("certificate_arns"))


def test_every_alb_with_a_certificate_answers_http_with_a_redirect_only() -> None:
    """Plain HTTP reaches no target: the port 80 listener's one default action is a permanent
    redirect to HTTPS on 443, and no listener rule hangs off it."""
    stacks = [stack for stack in STACKS if has_certificate(stack)]
    assert "prod" in stacks
    for stack in stacks:
        plan = planned(stack)
        listeners = plan.of_type(LISTENER)
        rule_listeners = {rule.inputs["listenerArn"] for rule in plan.of_type(LISTENER_RULE)}
        albs = plan.of_type(LOAD_BALANCER)
        assert albs, stack
        for alb in albs:
            mine = [
                listener
                for listener in listeners
                if listener.inputs["loadBalancerArn"] == plan.id_of(alb)
            ]
            by_protocol = {listener.inputs["protocol"]: listener for listener in mine}
            assert sorted(by_protocol) == ["HTTP", "HTTPS"] and len(mine) == 2, alb.name
            http = by_protocol["HTTP"]
            assert http.inputs["port"] == 80
            assert http.inputs["defaultActions"] == [
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
                }
            ], alb.name
            assert plan.id_of(http) not in rule_listeners, alb.name
