"""The control matrix (docs/security.md) against the rule catalogue and the plans, and the
policy rules that enforce its controls: each fires on a broken resource, stays quiet on a
compliant one, and fires on the shipped plan once the plan is broken the same way."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tap_tooling import readiness, rules
from tap_tooling.graph import Resource
from tap_tooling.offline import PlanResult
from tap_tooling.plan import judge
from tap_tooling.rules import Context
from tests.conftest import ALL_FEATURES, planned, stack_config
from tests.test_rules import input_names

DOC = Path(__file__).resolve().parent.parent / "docs" / "security.md"
DEV = Context(environment="dev", provider_tags={t: "x" for t in rules.REQUIRED_TAGS})
PROD = Context(environment="prod", provider_tags=DEV.provider_tags)
KEY = "arn:aws:kms:us-east-1:123456789012:key/k"


def doc(*statements: Mapping[str, Any]) -> str:
    """A policy document, as the program hands it to AWS (JSON text)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# ---------------------------------------------------------------------------------------------
# Resource rules: a compliant and a broken resource each


@dataclass(frozen=True)
class Case:
    rule: str
    type: str
    good: Mapping[str, Any]
    bad: Mapping[str, Any]
    context: Context = DEV


ELB_ACCOUNT_WRITE = allow(
    "s3:PutObject", "arn:aws:s3:::logs/alb/*", Principal={"AWS": "arn:aws:iam::127311923021:root"}
)
ACCOUNT_ONLY = {"StringEquals": {"kms:CallerAccount": "123456789012"}}
GOOD_VIEWER = {
    "acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/c",
    "sslSupportMethod": "sni-only",
    "minimumProtocolVersion": "TLSv1.2_2021",
}
HTTPS_ORIGIN = {
    "originId": "app",
    "customOriginConfig": {"originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1.2"]},
}
METRICS = {"cloudwatchMetricsEnabled": True, "metricName": "m", "sampledRequestsEnabled": True}
WAF_RULE = {"name": "rate", "priority": 0, "visibilityConfig": METRICS}

CASES = [
    Case(
        "TAP-S3-5",
        rules.BUCKET_POLICY,
        {"policy": doc(ELB_ACCOUNT_WRITE)},
        {"policy": doc(allow("s3:*", Principal={"AWS": "arn:aws:iam::999999999999:root"}))},
    ),
    Case(
        "TAP-S3-5",
        rules.BUCKET_POLICY,
        {"policy": doc(allow("s3:PutBucketPolicy", Principal={"Service": "x.amazonaws.com"}))},
        {"policy": doc(allow("s3:PutObjectAcl", Principal="*"))},
    ),
    Case(
        "TAP-ELB-4",
        rules.LOAD_BALANCER,
        {"dropInvalidHeaderFields": True},
        {"dropInvalidHeaderFields": False},
    ),
    Case("TAP-ELB-4", rules.LOAD_BALANCER, {"loadBalancerType": "network"}, {}),
    Case(
        "TAP-ELB-5",
        rules.LOAD_BALANCER,
        {"accessLogs": {"enabled": True, "bucket": "logs"}},
        {"accessLogs": {"enabled": False, "bucket": "logs"}},
    ),
    Case("TAP-ELB-6", rules.LOAD_BALANCER, {}, {"desyncMitigationMode": "monitor"}),
    Case(
        "TAP-ELB-6",
        rules.LOAD_BALANCER,
        {"desyncMitigationMode": "strictest"},
        {"desyncMitigationMode": "off"},
    ),
    Case("TAP-ELB-7", rules.LOAD_BALANCER, {"subnets": ["a", "b"]}, {"subnets": ["a"]}),
    Case(
        "TAP-ELB-7",
        rules.LOAD_BALANCER,
        {"subnetMappings": [{"subnetId": "a"}, {"subnetId": "b"}]},
        {},
    ),
    Case(
        "TAP-ASG-1",
        rules.AUTOSCALING_GROUP,
        {"targetGroupArns": ["tg"], "healthCheckType": "ELB"},
        {"targetGroupArns": ["tg"], "healthCheckType": "EC2"},
    ),
    Case(
        "TAP-ASG-1",
        rules.AUTOSCALING_GROUP,
        {"healthCheckType": "EC2"},  # no load balancer: EC2 status checks are all there is
        {"targetGroupArns": ["tg"]},
    ),
    Case(
        "TAP-ASG-2",
        rules.AUTOSCALING_GROUP,
        {"targetGroupArns": ["tg"], "vpcZoneIdentifiers": ["a", "b"]},
        {"targetGroupArns": ["tg"], "vpcZoneIdentifiers": ["a"]},
    ),
    Case(
        "TAP-ASG-2",
        rules.AUTOSCALING_GROUP,
        {"vpcZoneIdentifiers": ["a"]},  # a NAT instance's group, pinned to its interface's AZ
        {"targetGroupArns": ["tg"]},
    ),
    Case(
        "TAP-ASG-3",
        rules.AUTOSCALING_GROUP,
        {"launchTemplate": {"id": "lt", "version": "3"}},
        {"launchConfiguration": "lc"},
    ),
    Case("TAP-ASG-3", rules.AUTOSCALING_GROUP, {"mixedInstancesPolicy": {"x": 1}}, {}),
    Case("TAP-EC2-2", rules.SUBNET, {"mapPublicIpOnLaunch": False}, {"mapPublicIpOnLaunch": True}),
    Case(
        "TAP-RDS-6",
        rules.RDS_INSTANCE,
        {"engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql", "upgrade"]},
        {"engine": "postgres", "enabledCloudwatchLogsExports": ["upgrade"]},
    ),
    Case(
        "TAP-RDS-6",
        rules.RDS_INSTANCE,
        {"replicateSourceDb": "arn:db", "enabledCloudwatchLogsExports": ["postgresql"]},
        {"replicateSourceDb": "arn:db"},
    ),
    Case(
        "TAP-RDS-7",
        rules.RDS_INSTANCE,
        {"iamDatabaseAuthenticationEnabled": True},
        {"iamDatabaseAuthenticationEnabled": False},
    ),
    Case(
        "TAP-RDS-8",
        rules.RDS_INSTANCE,
        {"monitoringInterval": 30.0},
        {"monitoringInterval": 0.0},
        PROD,
    ),
    Case("TAP-RDS-9", rules.RDS_INSTANCE, {}, {"autoMinorVersionUpgrade": False}),
    Case(
        "TAP-RDS-10",
        rules.RDS_INSTANCE,
        {"copyTagsToSnapshot": True},
        {"copyTagsToSnapshot": False},
    ),
    Case("TAP-RDS-11", rules.RDS_INSTANCE, {"username": "tap_admin"}, {"username": "postgres"}),
    Case("TAP-RDS-11", rules.RDS_INSTANCE, {"replicateSourceDb": "arn:db"}, {"username": "Admin"}),
    Case(
        "TAP-KMS-2",
        rules.KMS_KEY,
        {"policy": doc(allow("kms:Decrypt", Principal={"AWS": "*"}, Condition=ACCOUNT_ONLY))},
        {"policy": doc(allow("kms:Decrypt", Principal={"AWS": "*"}))},
    ),
    Case(
        "TAP-KMS-2",
        rules.KMS_KEY_POLICY,
        {"policy": doc({**allow("kms:*", Principal="*"), "Effect": "Deny"})},
        {"policy": doc(allow("kms:*", Principal="*", Condition={"Bool": {"x": "true"}}))},
    ),
    Case(
        "TAP-SNS-2",
        rules.TOPIC_POLICY,
        {
            "policy": doc(
                allow(
                    "sns:Publish",
                    Principal={"Service": "cloudwatch.amazonaws.com"},
                    Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}},
                )
            )
        },
        {"policy": doc(allow("sns:Publish", Principal="*"))},
    ),
    Case(
        "TAP-IAM-1",
        rules.ROLE_POLICY,
        {"policy": doc(allow(["logs:CreateLogStream", "kms:GenerateDataKey*"], "arn:x"))},
        {"policy": doc(allow("s3:*", "arn:aws:s3:::b/*"))},
    ),
    Case(
        "TAP-IAM-1",
        rules.IAM_ROLE,
        {"inlinePolicies": [{"name": "p", "policy": doc(allow("ec2:Describe*"))}]},
        {"inlinePolicies": [{"name": "p", "policy": doc(allow("*"))}]},
    ),
    Case(
        "TAP-IAM-1",
        rules.ROLE_POLICY_ATTACHMENT,
        {"policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
        {"policyArn": rules.ADMINISTRATOR_ACCESS},
    ),
    Case(
        "TAP-IAM-1",
        rules.IAM_POLICY,
        {"policy": doc({"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"})},
        {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})},
    ),
    Case(
        "TAP-IAM-2",
        rules.ROLE_POLICY,
        {"policy": doc(allow(["kms:Decrypt", "secretsmanager:GetSecretValue"], KEY))},
        {"policy": doc(allow("kms:Decrypt"))},
    ),
    Case(
        "TAP-IAM-2",
        rules.IAM_POLICY,
        {"policy": doc(allow("kms:Encrypt", "arn:aws:kms:*:*:key/*"))},
        {"policy": doc(allow("kms:*", "arn:aws:kms:*:123456789012:key/*"))},
    ),
    Case(
        "TAP-ACM-1",
        rules.CERTIFICATE,
        {"domainName": "app.example.org", "validationMethod": "DNS"},
        {"domainName": "app.example.org", "validationMethod": "EMAIL"},
    ),
    Case("TAP-ACM-1", rules.CERTIFICATE, {"certificateBody": "-----BEGIN"}, {}),
    Case("TAP-ACM-2", rules.CERTIFICATE, {}, {"keyAlgorithm": "RSA_1024"}),
    Case(
        "TAP-ACM-2",
        rules.CERTIFICATE,
        {"keyAlgorithm": "EC_prime256v1"},
        {"keyAlgorithm": "EC_prime192v1"},
    ),
    Case(
        "TAP-CF-1",
        rules.DISTRIBUTION,
        {"defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"}},
        {
            "defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
            "orderedCacheBehaviors": [{"viewerProtocolPolicy": "allow-all"}],
        },
    ),
    Case(
        "TAP-CF-2",
        rules.DISTRIBUTION,
        {"viewerCertificate": GOOD_VIEWER},
        {"viewerCertificate": {"cloudfrontDefaultCertificate": True}},
    ),
    Case(
        "TAP-CF-2",
        rules.DISTRIBUTION,
        {"viewerCertificate": {**GOOD_VIEWER, "minimumProtocolVersion": "TLSv1.3_2025"}},
        {"viewerCertificate": {**GOOD_VIEWER, "minimumProtocolVersion": "TLSv1_2016"}},
    ),
    Case(
        "TAP-CF-2",
        rules.DISTRIBUTION,
        {"viewerCertificate": GOOD_VIEWER},
        {"viewerCertificate": {**GOOD_VIEWER, "sslSupportMethod": "vip"}},
    ),
    Case(
        "TAP-CF-3",
        rules.DISTRIBUTION,
        {"origins": [HTTPS_ORIGIN, {"originId": "s3", "s3OriginConfig": {}}]},
        {
            "origins": [
                {
                    "originId": "app",
                    "customOriginConfig": {
                        "originProtocolPolicy": "https-only",
                        "originSslProtocols": ["TLSv1.1", "TLSv1.2"],
                    },
                }
            ]
        },
    ),
    Case(
        "TAP-CF-3",
        rules.DISTRIBUTION,
        {"origins": [HTTPS_ORIGIN]},
        {
            "origins": [
                {**HTTPS_ORIGIN, "customOriginConfig": {"originProtocolPolicy": "match-viewer"}}
            ]
        },
    ),
    Case("TAP-CF-5", rules.DISTRIBUTION, {"webAclId": "arn:aws:wafv2:acl"}, {}, PROD),
    Case("TAP-WAF-1", rules.WEB_ACL, {"rules": [WAF_RULE]}, {"rules": []}),
    Case(
        "TAP-WAF-2",
        rules.WEB_ACL,
        {"visibilityConfig": METRICS, "rules": [WAF_RULE]},
        {
            "visibilityConfig": METRICS,
            "rules": [
                {**WAF_RULE, "visibilityConfig": {**METRICS, "cloudwatchMetricsEnabled": False}}
            ],
        },
    ),
    Case(
        "TAP-TRAIL-5",
        rules.TRAIL,
        {"cloudWatchLogsGroupArn": "arn:lg:*", "cloudWatchLogsRoleArn": "arn:role"},
        {"cloudWatchLogsGroupArn": "arn:lg:*"},
    ),
    Case(
        "TAP-LOG-3",
        rules.LOG_GROUP,
        {"retentionInDays": 365.0},
        {"retentionInDays": 180.0},
        PROD,
    ),
]


def _case_id(case: Case) -> str:
    return f"{case.rule}-{case.type.rsplit(':', 1)[-1]}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_resource_rule_fires_on_bad_props_only(case: Case) -> None:
    rule = rules.RULES_BY_ID[case.rule]
    assert isinstance(rule, rules.ResourceRule)
    assert rule.check(case.type, case.good, case.context) == []
    assert rule.check(case.type, case.bad, case.context), f"{case.rule} missed {case.bad}"


@pytest.mark.parametrize("rule_id", ["TAP-RDS-8", "TAP-CF-5", "TAP-LOG-3"])
def test_production_rules_only_bind_production(rule_id: str) -> None:
    case = next(c for c in CASES if c.rule == rule_id)
    rule = rules.RULES_BY_ID[rule_id]
    assert isinstance(rule, rules.ResourceRule)
    assert rule.check(case.type, case.bad, PROD)
    assert rule.check(case.type, case.bad, DEV) == []


def test_unknown_policy_documents_wait_until_they_are_known() -> None:
    """A policy still unknown at preview has no statements to judge; a document that is not
    a policy at all (no Statement) grants nothing either."""
    for value in (None, "", "not json", {"Version": "2012-10-17"}):
        assert rules.policy_statements(value) == []
    assert rules.policy_statements({"Statement": {"Effect": "Allow"}}) == [{"Effect": "Allow"}]


# ---------------------------------------------------------------------------------------------
# Stack rules, over synthetic stacks


def res(type_: str, name: str, **props: Any) -> Resource:
    """A synthetic resource whose mock id is `<name>-id`, as in the offline plan."""
    return Resource(
        type_, name, props, urn=f"urn:{name}", region="us-east-1", handles=frozenset({f"{name}-id"})
    )


def findings(rule_id: str, resources: list[Resource], context: Context = DEV) -> list[str]:
    rule = rules.RULES_BY_ID[rule_id]
    assert isinstance(rule, rules.StackRule)
    return [f"{r.name if r else 'stack'}: {m}" for r, m in rule.check(resources, context)]


TLS_ONLY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_buckets_deny_requests_without_tls() -> None:
    bucket = res(rules.S3_BUCKET, "logs")
    policy = res(rules.BUCKET_POLICY, "logs-policy", bucket="logs-id", policy=doc(TLS_ONLY))
    assert findings("TAP-S3-4", [bucket, policy]) == []
    objects_only = {**TLS_ONLY, "Resource": "arn:aws:s3:::logs/*"}
    weak = replace(policy, props={"bucket": "logs-id", "policy": doc(objects_only)})
    assert findings("TAP-S3-4", [bucket, weak]) == [
        "logs-policy: no statement denies s3:* without TLS (aws:SecureTransport false) on "
        "bucket and objects"
    ]
    assert findings("TAP-S3-4", [bucket]) == ["logs: no bucket policy"]


def test_buckets_disable_acls_and_age_out() -> None:
    bucket = res(rules.S3_BUCKET, "logs")
    owned = res(
        rules.BUCKET_OWNERSHIP,
        "logs-ownership",
        bucket="logs-id",
        rule={"objectOwnership": "BucketOwnerEnforced"},
    )
    aging = res(
        rules.BUCKET_LIFECYCLE, "logs-lifecycle", bucket="logs-id", rules=[{"status": "Enabled"}]
    )
    assert findings("TAP-S3-6", [bucket, owned]) == []
    assert findings("TAP-S3-7", [bucket, aging]) == []
    writer = replace(
        owned, props={"bucket": "logs-id", "rule": {"objectOwnership": "ObjectWriter"}}
    )
    assert findings("TAP-S3-6", [bucket, writer])
    disabled = replace(aging, props={"bucket": "logs-id", "rules": [{"status": "Disabled"}]})
    assert findings("TAP-S3-7", [bucket, disabled]) == ["logs-lifecycle: no enabled lifecycle rule"]
    assert findings("TAP-S3-7", [bucket]) == ["logs: no lifecycle configuration"]


def _network(db_subnets: list[str]) -> list[Resource]:
    """A VPC's public and database subnets, their route tables, and a database."""
    return [
        res(rules.INTERNET_GATEWAY, "igw"),
        res(rules.SUBNET, "public"),
        res(rules.SUBNET, "data"),
        res(rules.ROUTE_TABLE, "public-rt"),
        res(rules.ROUTE_TABLE, "data-rt"),
        res(rules.ROUTE, "public-default", routeTableId="public-rt-id", gatewayId="igw-id"),
        res(
            rules.ROUTE_TABLE_ASSOCIATION,
            "public-rta",
            subnetId="public-id",
            routeTableId="public-rt-id",
        ),
        res(
            rules.ROUTE_TABLE_ASSOCIATION, "data-rta", subnetId="data-id", routeTableId="data-rt-id"
        ),
        res(rules.RDS_SUBNET_GROUP, "db-subnets", subnetIds=[f"{s}-id" for s in db_subnets]),
        res(rules.RDS_INSTANCE, "db", dbSubnetGroupName="db-subnets-id"),
    ]


def test_databases_stay_off_subnets_routed_to_the_internet() -> None:
    assert findings("TAP-RDS-12", _network(["data"])) == []
    assert findings("TAP-RDS-12", _network(["data", "public"])) == [
        "db: subnet group db-subnets holds subnets routed to an internet gateway: public"
    ]
    inline = [
        r if r.name != "data-rt" else replace(r, props={"routes": [{"gatewayId": "igw-0abc"}]})
        for r in _network(["data"])
    ]
    assert findings("TAP-RDS-12", inline)


def _edge(delivered: bool = True, **distribution: Any) -> list[Resource]:
    stack = [
        res(rules.DISTRIBUTION, "cdn", **distribution),
        res(rules.LOG_DELIVERY_SOURCE, "cdn-source", logType="ACCESS_LOGS", resourceArn="cdn-id"),
    ]
    if delivered:
        stack.append(res(rules.LOG_DELIVERY, "cdn-delivery", deliverySourceName="cdn-source-id"))
    return stack


def test_distributions_deliver_access_logs() -> None:
    assert findings("TAP-CF-4", _edge()) == []
    assert findings("TAP-CF-4", _edge(delivered=False)) == [
        "cdn: no access-log delivery (standard logging v2 or legacy)"
    ]
    assert findings("TAP-CF-4", _edge(delivered=False, loggingConfig={"bucket": "b.s3"})) == []


def test_production_zones_log_their_queries() -> None:
    zone = res(rules.ZONE, "zone", comment="example.org")
    logged = [zone, res(rules.QUERY_LOG, "zone-queries", zoneId="zone-id")]
    assert findings("TAP-DNS-1", logged, PROD) == []
    assert findings("TAP-DNS-1", [zone], PROD) == ["zone: no DNS query logging"]
    assert findings("TAP-DNS-1", [zone], DEV) == []  # a year of query logs is production's
    private = res(rules.ZONE, "internal", vpcs=[{"vpcId": "vpc-1"}])
    assert findings("TAP-DNS-1", [private], PROD) == []  # Route53.2 is about public zones


def test_web_acls_log_their_requests() -> None:
    acl = res(rules.WEB_ACL, "waf")
    logging = res(
        rules.WEB_ACL_LOGGING, "waf-logging", resourceArn="waf-id", logDestinationConfigs=["arn:lg"]
    )
    assert findings("TAP-WAF-3", [acl, logging]) == []
    assert findings("TAP-WAF-3", [acl]) == [
        "waf: no logging configuration (requests the web ACL judges leave no record)"
    ]


def _filter_pattern(terms: tuple[str, ...]) -> str:
    return "{ " + " || ".join(f'($.eventName = "{t}")' for t in terms) + " }"


def _monitored(
    drop_term: str | None = None, alarm_actions: bool = True, trail_logs: bool = True
) -> list[Resource]:
    """A trail delivering to a log group with a filter and an alarm per CIS control."""
    trail: dict[str, Any] = {"isMultiRegionTrail": True}
    if trail_logs:
        trail["cloudWatchLogsGroupArn"] = "arn:aws:logs:us-east-1:1:log-group:/trail:*"
    group = Resource(
        rules.LOG_GROUP,
        "trail-logs",
        {},
        handles=frozenset({"/trail", "arn:aws:logs:us-east-1:1:log-group:/trail"}),
    )
    stack = [res(rules.TRAIL, "trail", **trail), group]
    for control in rules.CIS_MONITORING:
        terms = tuple(t for t in control.terms if t != drop_term)
        metric = {"namespace": "CIS", "name": f"m{control.id}"}
        stack += [
            res(
                rules.LOG_METRIC_FILTER,
                f"f{control.id}",
                logGroupName="/trail",
                pattern=_filter_pattern(terms),
                metricTransformation=metric,
            ),
            res(
                rules.METRIC_ALARM,
                f"a{control.id}",
                namespace="CIS",
                metricName=f"m{control.id}",
                alarmActions=["arn:topic"] if alarm_actions else [],
            ),
        ]
    return stack


def test_every_cis_monitoring_control_has_a_filter_and_an_alarm() -> None:
    assert findings("TAP-CIS-1", _monitored()) == []
    assert findings("TAP-CIS-1", _monitored(drop_term="StopLogging")) == [
        "stack: CIS 4.5: no filter on the trail's log group matches CreateTrail, UpdateTrail, "
        "DeleteTrail, StartLogging, StopLogging"
    ]
    silent = findings("TAP-CIS-1", _monitored(alarm_actions=False))
    assert len(silent) == len(rules.CIS_MONITORING)
    assert silent[0] == "f4.1: CIS 4.1: no alarm with an action on the filter's metric"
    assert findings("TAP-CIS-1", _monitored(trail_logs=False)) == [
        "stack: no multi-region trail delivers to a CloudWatch Logs group"
    ]


def test_cis_terms_match_whole_words_only() -> None:
    """CreateRoute must not be satisfied by CreateRouteTable alone (CIS 4.13 lists both)."""
    control = next(c for c in rules.CIS_MONITORING if c.id == "4.13")
    with_table_only = _filter_pattern(tuple(t for t in control.terms if t != "CreateRoute"))
    assert "CreateRouteTable" in with_table_only
    stack = [
        replace(r, props={**r.props, "pattern": with_table_only}) if r.name == "f4.13" else r
        for r in _monitored()
    ]
    assert [f for f in findings("TAP-CIS-1", stack) if "CIS 4.13" in f]


def test_cis_monitoring_covers_recommendations_4_1_to_4_14() -> None:
    assert [c.id for c in rules.CIS_MONITORING] == [f"4.{n}" for n in range(1, 15)]
    assert rules.RULES_BY_ID["TAP-CIS-1"].controls == tuple(f"CIS 3.0 4.{n}" for n in range(1, 15))


# ---------------------------------------------------------------------------------------------
# The rules read properties the real plan has: breaking the shipped prod plan makes them fire


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = props
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _first_of_list(key: str, path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        _set(path, value)(props[key][0])

    return change


def _policy_with(statement: Mapping[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        document = json.loads(props["policy"])
        document["Statement"].append(dict(statement))
        props["policy"] = json.dumps(document)

    return change


def _without_tls_statement(props: dict[str, Any]) -> None:
    document = json.loads(props["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Effect") != "Deny"]
    props["policy"] = json.dumps(document)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda props: props.pop(key)


def _pattern_without(term: str) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        props["pattern"] = props["pattern"].replace(term, "Nothing")

    return change


def _with_a_public_subnet(props: dict[str, Any]) -> None:
    public = next(v for v in _prod_views() if v.type == rules.SUBNET and "public" in v.name)
    props["subnetIds"] = [
        *props["subnetIds"],
        *(h for h in public.handles if h.startswith("subnet-")),
    ]


# (rule, resource type, which resource (name contains), how to break it)
BREAKS: list[tuple[str, str, str, Callable[[dict[str, Any]], None]]] = [
    ("TAP-S3-4", rules.BUCKET_POLICY, "", _without_tls_statement),
    ("TAP-S3-5", rules.BUCKET_POLICY, "", _policy_with(allow("s3:PutBucketAcl", Principal="*"))),
    ("TAP-S3-6", rules.BUCKET_OWNERSHIP, "", _set("rule.objectOwnership", "ObjectWriter")),
    ("TAP-S3-7", rules.BUCKET_LIFECYCLE, "", _first_of_list("rules", "status", "Disabled")),
    ("TAP-ELB-4", rules.LOAD_BALANCER, "", _set("dropInvalidHeaderFields", False)),
    ("TAP-ELB-5", rules.LOAD_BALANCER, "", _set("accessLogs.enabled", False)),
    ("TAP-ELB-6", rules.LOAD_BALANCER, "", _set("desyncMitigationMode", "monitor")),
    ("TAP-ELB-7", rules.LOAD_BALANCER, "", lambda p: p.update(subnets=p["subnets"][:1])),
    ("TAP-ASG-1", rules.AUTOSCALING_GROUP, "compute", _set("healthCheckType", "EC2")),
    (
        "TAP-ASG-2",
        rules.AUTOSCALING_GROUP,
        "compute",
        lambda p: p.update(vpcZoneIdentifiers=p["vpcZoneIdentifiers"][:1]),
    ),
    ("TAP-ASG-3", rules.AUTOSCALING_GROUP, "", _drop("launchTemplate")),
    ("TAP-EC2-2", rules.SUBNET, "public", _set("mapPublicIpOnLaunch", True)),
    ("TAP-RDS-6", rules.RDS_INSTANCE, "primary", _set("enabledCloudwatchLogsExports", ["upgrade"])),
    ("TAP-RDS-7", rules.RDS_INSTANCE, "", _set("iamDatabaseAuthenticationEnabled", False)),
    ("TAP-RDS-8", rules.RDS_INSTANCE, "", _set("monitoringInterval", 0.0)),
    ("TAP-RDS-9", rules.RDS_INSTANCE, "", _set("autoMinorVersionUpgrade", False)),
    ("TAP-RDS-10", rules.RDS_INSTANCE, "", _set("copyTagsToSnapshot", False)),
    ("TAP-RDS-11", rules.RDS_INSTANCE, "primary", _set("username", "postgres")),
    ("TAP-RDS-12", rules.RDS_SUBNET_GROUP, "", _with_a_public_subnet),
    ("TAP-KMS-2", rules.KMS_KEY, "", _policy_with(allow("kms:Decrypt", Principal="*"))),
    ("TAP-SNS-2", rules.TOPIC_POLICY, "", _policy_with(allow("sns:Publish", Principal="*"))),
    ("TAP-IAM-1", rules.ROLE_POLICY, "", _policy_with(allow("s3:*"))),
    ("TAP-IAM-1", rules.ROLE_POLICY_ATTACHMENT, "", _set("policyArn", rules.ADMINISTRATOR_ACCESS)),
    ("TAP-IAM-2", rules.ROLE_POLICY, "", _policy_with(allow("kms:Decrypt"))),
    ("TAP-ACM-1", rules.CERTIFICATE, "", _set("validationMethod", "EMAIL")),
    ("TAP-ACM-2", rules.CERTIFICATE, "", _set("keyAlgorithm", "RSA_1024")),
    (
        "TAP-CF-1",
        rules.DISTRIBUTION,
        "",
        _set("defaultCacheBehavior.viewerProtocolPolicy", "allow-all"),
    ),
    ("TAP-CF-2", rules.DISTRIBUTION, "", _set("viewerCertificate.minimumProtocolVersion", "TLSv1")),
    (
        "TAP-CF-3",
        rules.DISTRIBUTION,
        "",
        _first_of_list("origins", "customOriginConfig.originProtocolPolicy", "http-only"),
    ),
    ("TAP-CF-4", rules.LOG_DELIVERY, "", lambda p: p.update(deliverySourceName="elsewhere")),
    ("TAP-CF-5", rules.DISTRIBUTION, "", _drop("webAclId")),
    ("TAP-WAF-1", rules.WEB_ACL, "", lambda p: p.update(rules=[])),
    ("TAP-WAF-2", rules.WEB_ACL, "", _set("visibilityConfig.cloudwatchMetricsEnabled", False)),
    ("TAP-WAF-3", rules.WEB_ACL_LOGGING, "", _set("resourceArn", "arn:other")),
    ("TAP-TRAIL-5", rules.TRAIL, "", _drop("cloudWatchLogsRoleArn")),
    ("TAP-LOG-3", rules.LOG_GROUP, "", _set("retentionInDays", 90.0)),
    ("TAP-CIS-1", rules.LOG_METRIC_FILTER, "root", _pattern_without("Root")),
    ("TAP-CIS-1", rules.TRAIL, "", _drop("cloudWatchLogsGroupArn")),
    ("TAP-DNS-1", rules.QUERY_LOG, "", _set("zoneId", "Zelsewhere")),
]


@cache
def _prod_views() -> tuple[Resource, ...]:
    return tuple(judge(planned("prod")).index.resources)


def _broken(type_: str, name_part: str, change: Callable[[dict[str, Any]], None]) -> list[Resource]:
    views, broken, done = list(_prod_views()), [], False
    for view in views:
        if not done and view.type == type_ and name_part in view.name:
            props = copy.deepcopy(dict(view.props))
            change(props)
            view, done = replace(view, props=props), True
        broken.append(view)
    assert done, f"the prod plan has no {type_} named like {name_part!r}"
    return broken


def _fired(resources: list[Resource]) -> Counter[str]:
    return Counter(v.rule_id for v in readiness.evaluate(resources, "prod", production=True))


def test_the_shipped_prod_plan_passes_every_matrix_rule() -> None:
    matrix_rules = {rule for rule, *_ in BREAKS}
    assert not set(_fired(list(_prod_views()))) & matrix_rules


@pytest.mark.parametrize(
    ("rule_id", "type_", "name_part", "change"),
    BREAKS,
    ids=[f"{b[0]}-{b[1].rsplit(':', 1)[-1]}" for b in BREAKS],
)
def test_breaking_the_shipped_plan_makes_the_rule_fire(
    rule_id: str, type_: str, name_part: str, change: Callable[[dict[str, Any]], None]
) -> None:
    assert rule_id in _fired(_broken(type_, name_part, change))


def test_every_rule_with_a_control_is_broken_here_or_in_test_rules() -> None:
    """New matrix rules prove themselves on the real plan above; the older ones do so in
    tests/test_rules.py."""
    older = {
        "TAP-KMS-1", "TAP-EBS-1", "TAP-EC2-1", "TAP-RDS-1", "TAP-RDS-2", "TAP-RDS-3", "TAP-RDS-4",
        "TAP-RDS-5", "TAP-SNS-1", "TAP-SG-1", "TAP-SG-3", "TAP-ELB-1", "TAP-ELB-3",
        "TAP-TRAIL-1", "TAP-TRAIL-2", "TAP-VPC-1", "TAP-S3-2", "TAP-SG-2", "TAP-ELB-2",
        "TAP-TRAIL-3", "TAP-TRAIL-4",
    }  # fmt: skip
    with_controls = {r.id for r in readiness.CATALOGUE if r.controls}
    assert with_controls - older <= {rule for rule, *_ in BREAKS}


def test_new_rules_read_properties_the_sdk_has() -> None:
    for token, props in {
        rules.LOAD_BALANCER: {
            "dropInvalidHeaderFields",
            "accessLogs",
            "desyncMitigationMode",
            "subnets",
            "subnetMappings",
            "loadBalancerType",
        },
        rules.AUTOSCALING_GROUP: {
            "targetGroupArns",
            "loadBalancers",
            "trafficSources",
            "healthCheckType",
            "vpcZoneIdentifiers",
            "availabilityZones",
            "launchTemplate",
            "launchConfiguration",
            "mixedInstancesPolicy",
        },
        rules.SUBNET: {"mapPublicIpOnLaunch"},
        rules.RDS_INSTANCE: {
            "enabledCloudwatchLogsExports",
            "engine",
            "iamDatabaseAuthenticationEnabled",
            "monitoringInterval",
            "autoMinorVersionUpgrade",
            "copyTagsToSnapshot",
            "username",
            "dbSubnetGroupName",
        },
        rules.RDS_SUBNET_GROUP: {"subnetIds"},
        rules.BUCKET_POLICY: {"policy", "bucket"},
        rules.BUCKET_OWNERSHIP: {"rule", "bucket"},
        rules.BUCKET_LIFECYCLE: {"rules", "bucket"},
        rules.KMS_KEY: {"policy"},
        rules.KMS_KEY_POLICY: {"policy"},
        rules.TOPIC_POLICY: {"policy"},
        rules.SNS_TOPIC: {"policy"},
        rules.ROLE_POLICY: {"policy"},
        rules.IAM_POLICY: {"policy"},
        rules.IAM_ROLE: {"inlinePolicies", "managedPolicyArns"},
        rules.ROLE_POLICY_ATTACHMENT: {"policyArn"},
        rules.CERTIFICATE: {
            "validationMethod",
            "keyAlgorithm",
            "certificateBody",
            "certificateAuthorityArn",
        },
        rules.DISTRIBUTION: {
            "defaultCacheBehavior",
            "orderedCacheBehaviors",
            "viewerCertificate",
            "origins",
            "webAclId",
            "loggingConfig",
        },
        rules.LOG_DELIVERY_SOURCE: {"logType", "resourceArn"},
        rules.LOG_DELIVERY: {"deliverySourceName"},
        rules.WEB_ACL: {"rules", "ruleJson", "visibilityConfig"},
        rules.WEB_ACL_LOGGING: {"resourceArn", "logDestinationConfigs"},
        rules.TRAIL: {"cloudWatchLogsGroupArn", "cloudWatchLogsRoleArn"},
        rules.LOG_METRIC_FILTER: {"logGroupName", "pattern", "metricTransformation"},
        rules.METRIC_ALARM: {"namespace", "metricName", "alarmActions"},
        rules.ROUTE: {"routeTableId", "gatewayId"},
        rules.ROUTE_TABLE: {"routes"},
        rules.ROUTE_TABLE_ASSOCIATION: {"subnetId", "routeTableId"},
        rules.ZONE: {"vpcs"},
        rules.QUERY_LOG: {"zoneId"},
    }.items():
        assert props <= input_names(token), (token, props - input_names(token))


# ---------------------------------------------------------------------------------------------
# The control matrix


STATUSES = ("met", "n/a", "not met")
RULE_ID = re.compile(r"TAP-[A-Z0-9]+(?:-[A-Z0-9]+)*-\d+")


@dataclass(frozen=True)
class Row:
    """One control of the matrix."""

    service: str
    """The `## ` section it sits in."""
    control: str
    security_hub: str
    title: str
    status: str
    rules: tuple[str, ...]
    evidence: str
    rules_cell: str
    """The `rules` cell as written: rule ids separated by commas, or —."""


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(text: str) -> tuple[list[Row], dict[str, str]]:
    """The matrix rows, and the resource-type table ({type: service})."""
    rows: list[Row] = []
    types: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        if cells[0] in ("control", "resource type"):
            continue  # header rows
        if len(cells) == 2 and section == "Resource types":
            types[cells[0].strip("`")] = cells[1]
        elif len(cells) == 6:
            control, security_hub, title, status, named, evidence = cells
            ids = tuple(RULE_ID.findall(named))
            rows.append(Row(section, control, security_hub, title, status, ids, evidence, named))
    return rows, types


@cache
def matrix() -> tuple[tuple[Row, ...], Mapping[str, str]]:
    rows, types = parse(DOC.read_text())
    return tuple(rows), types


def test_rows_are_well_formed() -> None:
    rows, _ = matrix()
    assert len(rows) > 100
    for row in rows:
        assert rules.CONTROL_FORMAT.fullmatch(row.control), row
        assert row.status in STATUSES, row
        assert row.title, row
        assert row.rules_cell == "—" or row.rules_cell == ", ".join(row.rules), row
        assert row.security_hub == "—" or re.fullmatch(r"[A-Za-z0-9]+\.\d+", row.security_hub), row
        if row.control.startswith(("FSBP ", "NIST ")):
            assert row.control.split(" ", 1)[1] == row.security_hub, row


def test_no_control_has_two_rows() -> None:
    rows, _ = matrix()
    counts = Counter(row.control for row in rows)
    assert [c for c, n in counts.items() if n > 1] == []


def test_rows_name_rules_that_carry_their_control() -> None:
    rows, _ = matrix()
    for row in rows:
        for rule_id in row.rules:
            assert rule_id in readiness.CATALOGUE_BY_ID, (row.control, rule_id)
            assert row.control in readiness.CATALOGUE_BY_ID[rule_id].controls, (
                row.control,
                rule_id,
            )


def test_every_row_says_why() -> None:
    """Not met and not applicable rows give their reason; met rows give their evidence
    (the rule, or, for what the plan cannot show, the resource or setting)."""
    rows, _ = matrix()
    for row in rows:
        assert len(row.evidence.split()) >= 3, row


def test_every_rule_control_has_a_row_naming_the_rule() -> None:
    rows, _ = matrix()
    by_control = {row.control: row for row in rows}
    for rule in readiness.CATALOGUE:
        for control in rule.controls:
            assert rules.CONTROL_FORMAT.fullmatch(control), (rule.id, control)
            assert control in by_control, (rule.id, control)
            assert rule.id in by_control[control].rules, (rule.id, control)


def test_every_rule_id_the_document_mentions_exists() -> None:
    assert set(RULE_ID.findall(DOC.read_text())) <= set(readiness.CATALOGUE_BY_ID)


def test_the_summary_counts_the_rows() -> None:
    rows, _ = matrix()
    text = DOC.read_text()
    counts = Counter(row.status for row in rows)
    for standard, prefix in (("FSBP", "FSBP "), ("CIS 3.0", "CIS 3.0 "), ("NIST", "NIST ")):
        of = Counter(row.status for row in rows if row.control.startswith(prefix))
        line = f"| {standard} | {of['met']} | {of['n/a']} | {of['not met']} | {sum(of.values())} |"
        assert line in text, f"summary line for {standard} should read: {line}"
    total = f"| all | {counts['met']} | {counts['n/a']} | {counts['not met']} | {len(rows)} |"
    assert total in text, f"summary total should read: {total}"


def test_all_62_cis_recommendations_have_a_row() -> None:
    rows, _ = matrix()
    cis = {row.control.removeprefix("CIS 3.0 ") for row in rows if row.control.startswith("CIS ")}
    expected = (
        {f"1.{n}" for n in range(1, 23)}
        | {"2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.2.1", "2.3.1", "2.3.2", "2.3.3", "2.4.1"}
        | {f"3.{n}" for n in range(1, 10)}
        | {f"4.{n}" for n in range(1, 17)}
        | {f"5.{n}" for n in range(1, 7)}
    )
    assert len(expected) == 62
    assert cis == expected


def nat_instance_config() -> dict[str, Any]:
    config = stack_config("dev")
    config["network"] = {**config["network"], "nat_strategy": "instance"}
    return config


PLANS: dict[str, Callable[[], PlanResult]] = {
    "prod": lambda: planned("prod"),
    "dev": lambda: planned("dev"),
    ALL_FEATURES: lambda: planned(ALL_FEATURES),
    "dev, nat_strategy instance": lambda: planned("dev", nat_instance_config()),
}


@pytest.mark.parametrize("plan", PLANS)
def test_every_resource_type_the_plan_creates_was_reviewed(plan: str) -> None:
    """A resource type new to the program fails here until docs/security.md maps it to a
    service whose controls were reviewed."""
    _, types = matrix()
    created = {r.type for r in PLANS[plan]().resources if r.type.startswith("aws:")}
    assert sorted(created - set(types)) == []


def test_every_reviewed_service_has_its_controls() -> None:
    rows, types = matrix()
    services_with_rows = {row.service for row in rows}
    assert set(types.values()) <= services_with_rows
    for type_ in types:
        assert re.fullmatch(r"aws:[a-z0-9]+/[A-Za-z0-9]+:[A-Za-z0-9]+", type_), type_
