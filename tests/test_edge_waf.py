"""The edge on its own, with its Args alone: the web ACL's rules and metrics, its logging to an
encrypted `aws-waf-logs-` group with credentials redacted, the blocked-requests alarm, and the
security headers CloudFront adds to every response."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.edge import (
    COMMON_RULE_SET,
    HSTS_MAX_AGE_SECONDS,
    KNOWN_BAD_INPUTS_RULE_SET,
    RATE_LIMIT_RULE,
    WAF_LOG_PREFIX,
    Edge,
    EdgeArgs,
    waf_log_delivery_policy,
)
from tap.config import EdgeConfig
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tests.harness import ACCOUNT, Built, build, in_region

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOG_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
HEADERS = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:qa-global-alerts-us-east-1"
WAF_ON = EdgeConfig(
    cloudfront_enabled=True, waf_enabled=True, waf_rate_limit=1234, waf_log_retention_days=400
)


def build_edge(settings: EdgeConfig = WAF_ON) -> Built:
    def program() -> dict[str, Any]:
        edge = Edge(
            "global-edge",
            EdgeArgs(
                environment="qa",
                app_fqdn="app.acme.io",
                origin_fqdn="origin.app.acme.io",
                zone_id="Z0123456789ABCDEFGHIJ",
                certificate_arn=f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/unit",
                account_id=ACCOUNT,
                origin_secret="s3cr3t-value",
                origin_rules=[],
                settings=settings,
                retain_on_delete=False,
                kms_key_arn=KEY,
                alarm_topic_arn=TOPIC,
                blocked_requests_alarm=77,
                alarm_evaluation_periods=2,
            ),
            opts=in_region(GLOBAL_REGION, GLOBAL_PROVIDER_NAME),
        )
        return {
            "web_acl_arn": edge.web_acl_arn,
            "waf_log_group_name": edge.waf_log_group_name,
            "response_headers_policy_id": edge.response_headers_policy_id,
        }

    return build(program)


@pytest.fixture(scope="module")
def built() -> Built:
    return build_edge()


def only(built: Built, type_: str) -> Any:
    (resource,) = built.of_type(type_)
    return resource


def log_group_arn(name: str) -> str:
    return f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"


def test_waf_logs_go_to_an_encrypted_aws_waf_logs_group_in_us_east_1(built: Built) -> None:
    group = only(built, LOG_GROUP)
    # AWS WAF refuses any other name for a CloudWatch Logs destination, and a CLOUDFRONT web
    # ACL logs only to a group in us-east-1.
    assert group.inputs["name"] == "aws-waf-logs-qa-edge-waf"
    assert group.inputs["name"].startswith(WAF_LOG_PREFIX)
    assert group.region == GLOBAL_REGION
    assert group.inputs["retentionInDays"] == 400  # settings.waf_log_retention_days
    assert group.inputs["kmsKeyId"] == KEY
    assert group.inputs["tags"] == {"Name": "qa-edge-waf-logs"}
    assert built.outputs["waf_log_group_name"] == "aws-waf-logs-qa-edge-waf"


def test_the_web_acl_logs_to_that_group_without_credentials(built: Built) -> None:
    logging = only(built, LOGGING)
    assert logging.region == GLOBAL_REGION
    assert logging.inputs["resourceArn"] == built.outputs["web_acl_arn"]
    assert logging.inputs["logDestinationConfigs"] == [log_group_arn("aws-waf-logs-qa-edge-waf")]
    assert logging.inputs["redactedFields"] == [
        {"singleHeader": {"name": "authorization"}},
        {"singleHeader": {"name": "cookie"}},
    ]
    assert "loggingFilter" not in logging.inputs  # every request is logged
    # WAF checks the destination's permissions when logging is turned on.
    assert only(built, LOG_POLICY).urn in logging.depends_on


def test_only_log_delivery_may_write_and_only_to_that_group(built: Built) -> None:
    policy = only(built, LOG_POLICY)
    arn = log_group_arn("aws-waf-logs-qa-edge-waf")
    # Scoped to the group: no account-wide policy (10 per Region) and nothing left on destroy.
    assert policy.inputs["resourceArn"] == arn
    assert "policyName" not in policy.inputs
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert statement == {
        "Sid": "AWSLogDeliveryWrite20150319",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{arn}:log-stream:*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:*"},
        },
    }
    assert policy.inputs["policyDocument"] == waf_log_delivery_policy(arn, ACCOUNT)


def test_rules_rate_limit_then_managed_common_and_known_bad_inputs(built: Built) -> None:
    acl = only(built, WEB_ACL)
    assert acl.inputs["scope"] == "CLOUDFRONT" and acl.region == GLOBAL_REGION
    assert acl.inputs["defaultAction"] == {"allow": {}}
    rules = {rule["name"]: rule for rule in acl.inputs["rules"]}
    assert list(rules) == [RATE_LIMIT_RULE, COMMON_RULE_SET, KNOWN_BAD_INPUTS_RULE_SET]
    priorities = [rule["priority"] for rule in acl.inputs["rules"]]
    assert len(set(priorities)) == len(priorities) and priorities == sorted(priorities)

    rate = rules[RATE_LIMIT_RULE]
    assert rate["statement"] == {
        "rateBasedStatement": {
            "aggregateKeyType": "IP",
            "limit": 1234,  # settings.waf_rate_limit, not the default 2000
            "evaluationWindowSec": 300,
        }
    }
    assert rate["action"] == {"block": {}}
    assert "overrideAction" not in rate

    for rule_set in (COMMON_RULE_SET, KNOWN_BAD_INPUTS_RULE_SET):
        rule = rules[rule_set]
        assert rule["statement"] == {
            "managedRuleGroupStatement": {"name": rule_set, "vendorName": "AWS"}
        }
        # The groups' own block actions apply ("count" would only log).
        assert rule["overrideAction"] == {"none": {}}
        assert "action" not in rule


def test_every_rule_and_the_acl_emit_metrics_and_samples(built: Built) -> None:
    acl = only(built, WEB_ACL)
    configs = [
        acl.inputs["visibilityConfig"],
        *(r["visibilityConfig"] for r in acl.inputs["rules"]),
    ]
    for config in configs:
        assert config["cloudwatchMetricsEnabled"] is True
        assert config["sampledRequestsEnabled"] is True
    metrics = [config["metricName"] for config in configs]
    assert len(set(metrics)) == len(metrics)
    assert metrics == [
        "qa-edge-waf",
        "qa-edge-waf-rate-limit",
        "qa-edge-waf-common",
        "qa-edge-waf-known-bad-inputs",
    ]


def test_a_spike_of_blocked_requests_pages_the_global_topic(built: Built) -> None:
    alarm = only(built, ALARM)
    acl = only(built, WEB_ACL)
    assert alarm.region == GLOBAL_REGION  # CloudFront's WAF metrics are in us-east-1
    assert alarm.inputs["namespace"] == "AWS/WAFV2"
    assert alarm.inputs["metricName"] == "BlockedRequests"
    # All rules of this web ACL; a CloudFront web ACL's metrics carry no Region dimension.
    assert alarm.inputs["dimensions"] == {"WebACL": "qa-edge-waf", "Rule": "ALL"}
    assert acl.inputs["name"] == acl.inputs["visibilityConfig"]["metricName"] == "qa-edge-waf"
    assert alarm.inputs["statistic"] == "Sum" and alarm.inputs["period"] == 60
    assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm.inputs["threshold"] == 77
    assert alarm.inputs["evaluationPeriods"] == alarm.inputs["datapointsToAlarm"] == 2
    assert alarm.inputs["treatMissingData"] == "notBreaching"
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [TOPIC]
    assert alarm.inputs["name"] == "qa-edge-waf-blocked"


def test_security_headers_on_every_response(built: Built) -> None:
    policy = only(built, HEADERS)
    assert policy.region == GLOBAL_REGION and policy.inputs["name"] == "qa-edge-security-headers"
    security = policy.inputs["securityHeadersConfig"]
    hsts = security["strictTransportSecurity"]
    assert hsts["accessControlMaxAgeSec"] == HSTS_MAX_AGE_SECONDS >= 31_536_000
    assert hsts["includeSubdomains"] is True and hsts["override"] is True
    assert hsts["preload"] is False  # see components/edge.py: not the app name's to ask
    assert security["contentTypeOptions"] == {"override": True}
    assert security["frameOptions"] == {"frameOption": "DENY", "override": True}
    assert security["referrerPolicy"] == {
        "referrerPolicy": "strict-origin-when-cross-origin",
        "override": True,
    }
    assert set(security) == {
        "strictTransportSecurity",
        "contentTypeOptions",
        "frameOptions",
        "referrerPolicy",
    }
    assert "customHeadersConfig" not in policy.inputs and "corsConfig" not in policy.inputs


def test_the_headers_policy_is_on_the_default_behavior(built: Built) -> None:
    policy = only(built, HEADERS)
    behavior = only(built, DISTRIBUTION).inputs["defaultCacheBehavior"]
    assert behavior["responseHeadersPolicyId"] == built.id_of(policy)
    assert built.outputs["response_headers_policy_id"] == built.id_of(policy)


def test_without_waf_no_logs_or_alarm_but_the_headers_stay() -> None:
    built = build_edge(EdgeConfig(cloudfront_enabled=True))
    for type_ in (WEB_ACL, LOG_GROUP, LOG_POLICY, LOGGING, ALARM):
        assert built.of_type(type_) == [], type_
    assert built.outputs["web_acl_arn"] is None
    assert built.outputs["waf_log_group_name"] is None
    (policy,) = built.of_type(HEADERS)
    behavior = only(built, DISTRIBUTION).inputs["defaultCacheBehavior"]
    assert behavior["responseHeadersPolicyId"] == built.id_of(policy)


def test_everything_sits_on_the_global_provider(built: Built) -> None:
    provider = built.provider_urn(GLOBAL_PROVIDER_NAME)
    for resource in built.aws_resources():
        assert resource.provider_urn.startswith(provider), resource.name
        assert resource.region == GLOBAL_REGION, resource.name
