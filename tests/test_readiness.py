"""Deploy readiness: each AWS constraint fires on what AWS refuses and stays quiet otherwise."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from policy import crossguard
from tap_tooling import plan, readiness, rules
from tap_tooling.graph import Resource
from tap_tooling.offline import PlanResult
from tap_tooling.plan import judge
from tap_tooling.rules import Context, PrefixList
from tests.conftest import STACKS, all_features_config, planned
from tests.test_rules import input_names, sdk_class

CTX = Context(environment="dev")
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Case:
    """A readiness resource rule, a type, props AWS accepts and props AWS refuses."""

    rule: str
    type: str
    good: Mapping[str, Any]
    bad: Mapping[str, Any]


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


LOGS_CONTEXT = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}}

RESOURCE_CASES = [
    # EC2 security groups: the bastion's apostrophe, the 'sg-' prefix, rule descriptions.
    Case(
        "TAP-AWS-EC2-1",
        rules.SECURITY_GROUP,
        {"name": "dev-bastion-sg", "description": "Bastion: SSH from the operators CIDR only"},
        {"name": "dev-bastion-sg", "description": "Bastion: SSH from the operator's CIDR"},
    ),
    Case("TAP-AWS-EC2-1", rules.SECURITY_GROUP, {"name": "app-sg"}, {"name": "sg-app"}),
    Case(
        "TAP-AWS-EC2-1",
        rules.SECURITY_GROUP,
        {"ingress": [{"description": "HTTPS from anywhere (443)"}]},
        {"ingress": [{"description": "HTTPS <public>"}]},
    ),
    Case(
        "TAP-AWS-EC2-1",
        rules.SECURITY_GROUP,
        {"description": "x" * 255},
        {"description": "x" * 256},
    ),
    Case(
        "TAP-AWS-EC2-1",
        rules.SG_INGRESS_RULE,
        {"description": "App port from the ALB"},
        {"description": "App port from the ALB's group"},
    ),
    Case(
        "TAP-AWS-EC2-1",
        readiness.SG_EGRESS_RULE,
        {"description": "To the app instances"},
        {"description": 'To the app "instances"'},
    ),
    Case(
        "TAP-AWS-EC2-3",
        rules.LAUNCH_TEMPLATE,
        {"networkInterfaces": [{"securityGroups": ["sg-1"], "associatePublicIpAddress": "true"}]},
        {
            "networkInterfaces": [{"associatePublicIpAddress": "true"}],
            "vpcSecurityGroupIds": ["sg-1"],
        },
    ),
    Case("TAP-AWS-EC2-6", rules.LAUNCH_TEMPLATE, {"name": "dev-app-us-east-1"}, {"name": "a b"}),
    # RDS identifiers.
    Case(
        "TAP-AWS-RDS-1",
        rules.RDS_INSTANCE,
        {"identifier": "dev-db-us-east-1"},
        {"identifier": "1db"},
    ),
    Case("TAP-AWS-RDS-1", rules.RDS_INSTANCE, {"identifier": "dev-db"}, {"identifier": "dev--db"}),
    Case(
        "TAP-AWS-RDS-1",
        rules.RDS_INSTANCE,
        {"finalSnapshotIdentifier": "prod-db-us-east-1-final-1a2b3c"},
        {"finalSnapshotIdentifier": "prod-db-us-east-1-final-"},
    ),
    Case("TAP-AWS-RDS-1", rules.RDS_INSTANCE, {"identifier": "d" * 63}, {"identifier": "d" * 64}),
    Case(
        "TAP-AWS-RDS-1",
        readiness.RDS_PARAMETER_GROUP,
        {"name": "prod-db-postgres16-us-east-1"},
        {"name": "prod_db_postgres16"},
    ),
    Case(
        "TAP-AWS-RDS-1",
        readiness.RDS_SUBNET_GROUP,
        {"name": "prod-db-subnets"},
        {"name": "default"},
    ),
    Case(
        "TAP-AWS-RDS-3",
        rules.RDS_INSTANCE,
        {"engine": "postgres", "username": "tap_admin", "password": "Abcdefgh12!#"},
        {"engine": "postgres", "username": "tap_admin", "password": "Abc/def@gh 12"},
    ),
    Case("TAP-AWS-RDS-3", rules.RDS_INSTANCE, {"username": "tap_admin"}, {"username": "1admin"}),
    Case("TAP-AWS-RDS-3", rules.RDS_INSTANCE, {"username": "tap_admin"}, {"username": "rdsadmin"}),
    Case(
        "TAP-AWS-RDS-3",
        rules.RDS_INSTANCE,
        {"engine": "postgres", "passwordWo": "p" * 128},
        {"engine": "postgres", "passwordWo": "short"},
    ),
    Case(
        "TAP-AWS-RDS-3",
        rules.RDS_INSTANCE,
        {"manageMasterUserPassword": True},
        {"manageMasterUserPassword": True, "password": "Abcdefgh1234"},
    ),
    Case(
        "TAP-AWS-RDS-4",
        rules.RDS_CLUSTER,
        {"globalClusterIdentifier": "tap-global"},
        {"globalClusterIdentifier": "tap-global", "manageMasterUserPassword": True},
    ),
    # S3.
    Case(
        "TAP-AWS-S3-1", rules.S3_BUCKET, {"bucket": f"dev-audit-{ACCOUNT}"}, {"bucket": "Dev_Audit"}
    ),
    Case("TAP-AWS-S3-1", rules.S3_BUCKET, {"bucket": "a.b-c"}, {"bucket": "a..b"}),
    Case("TAP-AWS-S3-1", rules.S3_BUCKET, {"bucket": "logs-s3"}, {"bucket": "logs-s3alias"}),
    Case("TAP-AWS-S3-1", rules.S3_BUCKET, {"bucket": "abc"}, {"bucket": "192.168.5.4"}),
    Case("TAP-AWS-S3-1", rules.S3_BUCKET, {"bucket": "b" * 63}, {"bucket": "b" * 64}),
    # Lifecycle: dev's audit bucket (GLACIER at 60, expiry at 90) and IA before 30 days.
    Case(
        "TAP-AWS-S3-2",
        readiness.S3_LIFECYCLE,
        {
            "rules": [
                _rule := {
                    "id": "age-out",
                    "status": "Enabled",
                    "transitions": [
                        {"days": 30, "storageClass": "STANDARD_IA"},
                        {"days": 90, "storageClass": "GLACIER"},
                    ],
                    "expiration": {"days": 365},
                }
            ]
        },
        {
            "rules": [
                {
                    **_rule,
                    "transitions": [
                        {"days": 30, "storageClass": "STANDARD_IA"},
                        {"days": 60, "storageClass": "GLACIER"},
                    ],
                    "expiration": {"days": 90},
                }
            ]
        },
    ),
    Case(
        "TAP-AWS-S3-2",
        readiness.S3_LIFECYCLE,
        {"rules": [{"transitions": [{"days": 30, "storageClass": "STANDARD_IA"}]}]},
        {"rules": [{"transitions": [{"days": 7, "storageClass": "STANDARD_IA"}]}]},
    ),
    Case(
        "TAP-AWS-S3-2",
        readiness.S3_LIFECYCLE,
        {
            "rules": [
                {
                    "transitions": [{"days": 0, "storageClass": "DEEP_ARCHIVE"}],
                    "expiration": {"days": 180},
                }
            ]
        },
        {
            "rules": [
                {
                    "transitions": [{"days": 0, "storageClass": "DEEP_ARCHIVE"}],
                    "expiration": {"days": 179},
                }
            ]
        },
    ),
    Case(
        "TAP-AWS-S3-2",
        readiness.S3_LIFECYCLE,
        {
            "rules": [
                {
                    "transitions": [
                        {"days": 30, "storageClass": "STANDARD_IA"},
                        {"days": 60, "storageClass": "GLACIER_IR"},
                    ]
                }
            ]
        },
        {
            "rules": [
                {
                    "transitions": [
                        {"days": 30, "storageClass": "ONEZONE_IA"},
                        {"days": 45, "storageClass": "GLACIER_IR"},
                    ]
                }
            ]
        },
    ),
    # Load balancers.
    Case("TAP-AWS-ELB-1", rules.LOAD_BALANCER, {"name": "prod-alb-us-east-1"}, {"name": "-alb"}),
    Case("TAP-AWS-ELB-1", rules.LOAD_BALANCER, {"name": "alb-internal"}, {"name": "internal-alb"}),
    Case("TAP-AWS-ELB-1", rules.TARGET_GROUP, {"name": "t" * 32}, {"name": "t" * 33}),
    Case("TAP-AWS-ELB-1", rules.TARGET_GROUP, {"name": "prod-app8080"}, {"name": "prod_app"}),
    Case(
        "TAP-AWS-ELB-2",
        readiness.LISTENER_RULE,
        {
            "conditions": [
                {"httpHeader": {"httpHeaderName": "X-Origin-Verify", "values": ["a" * 128]}}
            ]
        },
        {
            "conditions": [
                {"httpHeader": {"httpHeaderName": "X-Origin-Verify", "values": ["a*b?c"]}}
            ]
        },
    ),
    Case(
        "TAP-AWS-ELB-2",
        readiness.LISTENER_RULE,
        {"conditions": [{"httpHeader": {"httpHeaderName": "X-Origin-Verify", "values": ["v"]}}]},
        {
            "conditions": [
                {"httpHeader": {"httpHeaderName": "X-Origin-Verify", "values": ["v" * 129]}}
            ]
        },
    ),
    Case(
        "TAP-AWS-ELB-2",
        readiness.LISTENER_RULE,
        {
            "conditions": [
                {"httpHeader": {"httpHeaderName": "X-A", "values": ["1", "2", "3", "4"]}},
                {"pathPattern": {"values": ["/health"]}},
            ]
        },
        {
            "conditions": [
                {"httpHeader": {"httpHeaderName": "X-A", "values": ["1", "2", "3", "4"]}},
                {"pathPattern": {"values": ["/health", "/ready"]}},
            ]
        },
    ),
    Case(
        "TAP-AWS-ELB-2",
        readiness.LISTENER_RULE,
        {"conditions": [{"httpHeader": {"httpHeaderName": "x" * 40, "values": ["v"]}}]},
        {"conditions": [{"httpHeader": {"httpHeaderName": "X Origin", "values": ["v"]}}]},
    ),
    # CloudWatch Logs.
    Case(
        "TAP-AWS-LOG-1",
        rules.LOG_GROUP,
        {"name": "/tap/dev/us-east-1/app"},
        {"name": "/tap/dev app"},
    ),
    Case("TAP-AWS-LOG-2", rules.LOG_GROUP, {"retentionInDays": 14}, {"retentionInDays": 10}),
    Case("TAP-AWS-LOG-2", rules.LOG_GROUP, {"retentionInDays": 3653}, {"retentionInDays": 3650}),
    Case(
        "TAP-AWS-LOG-3",
        readiness.LOG_DELIVERY_SOURCE,
        {"name": "prod-edge-access-logs"},
        {"name": "prod/edge"},
    ),
    Case(
        "TAP-AWS-LOG-3",
        readiness.LOG_DELIVERY_DESTINATION,
        {"name": "d" * 60},
        {"name": "d" * 61},
    ),
    # KMS.
    Case("TAP-AWS-KMS-1", readiness.KMS_ALIAS, {"name": "alias/prod-key"}, {"name": "prod-key"}),
    Case("TAP-AWS-KMS-1", readiness.KMS_ALIAS, {"name": "alias/awsome"}, {"name": "alias/aws/s3"}),
    Case(
        "TAP-AWS-KMS-2",
        rules.KMS_KEY,
        {
            "policy": _policy(
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Condition": LOGS_CONTEXT,
                },
                {"Sid": "Describe", "Effect": "Allow", "Action": "kms:DescribeKey"},
            )
        },
        {
            "policy": _policy(
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:DescribeKey"],
                    "Condition": LOGS_CONTEXT,
                }
            )
        },
    ),
    Case(
        "TAP-AWS-KMS-2",
        readiness.KMS_KEY_POLICY,
        {"policy": _policy({"Effect": "Allow", "Action": "kms:*", "Condition": LOGS_CONTEXT})},
        {"policy": _policy({"Effect": "Allow", "Action": "kms:Get*", "Condition": LOGS_CONTEXT})},
    ),
    # SNS, IAM.
    Case(
        "TAP-AWS-SNS-1", rules.SNS_TOPIC, {"name": "prod-alerts-us-east-1"}, {"name": "prod.alerts"}
    ),
    Case(
        "TAP-AWS-SNS-1",
        rules.SNS_TOPIC,
        {"name": "alerts.fifo", "fifoTopic": True},
        {"name": "alerts", "fifoTopic": True},
    ),
    Case("TAP-AWS-IAM-1", rules.IAM_ROLE, {"name": "prod-app-us-east-1"}, {"name": "prod app"}),
    Case("TAP-AWS-IAM-1", rules.IAM_ROLE, {"name": "r" * 64}, {"name": "r" * 65}),
    Case(
        "TAP-AWS-IAM-1",
        rules.IAM_ROLE,
        {"description": "TAP app instances, prod us-east-1"},
        {"description": "TAP app \u2014 prod"},
    ),
    Case("TAP-AWS-IAM-1", readiness.IAM_INSTANCE_PROFILE, {"path": "/tap/"}, {"path": "tap"}),
    # DNS: reserved names (issue 11, item 3), name lengths, one owner per record.
    Case("TAP-AWS-DNS-1", readiness.ZONE, {"name": "tap.acme.io"}, {"name": "example.com"}),
    Case("TAP-AWS-DNS-1", readiness.ZONE, {"name": "example.co"}, {"name": "shop.example.org."}),
    Case("TAP-AWS-DNS-1", readiness.ZONE, {"name": "testing.io"}, {"name": "tap.test"}),
    Case("TAP-AWS-DNS-1", readiness.ZONE, {"name": "local.io"}, {"name": "printer.local"}),
    Case("TAP-AWS-DNS-1", readiness.ZONE, {"name": "localhost.dev"}, {"name": "a.localhost"}),
    Case("TAP-AWS-DNS-1", readiness.ZONE, {"name": "invalids.net"}, {"name": "x.invalid"}),
    Case(
        "TAP-AWS-DNS-1",
        readiness.CERTIFICATE,
        {"domainName": "app.acme.io", "subjectAlternativeNames": ["*.acme.io"]},
        {"domainName": "app.acme.io", "subjectAlternativeNames": ["*.example.net"]},
    ),
    Case(
        "TAP-AWS-DNS-1", readiness.RECORD, {"name": "origin.app.acme.io"}, {"name": "app.example"}
    ),
    Case("TAP-AWS-DNS-1", readiness.HEALTH_CHECK, {"fqdn": "a.acme.io"}, {"fqdn": "a.example.com"}),
    Case(
        "TAP-AWS-DNS-1",
        readiness.DISTRIBUTION,
        {"aliases": ["app.acme.io"]},
        {"aliases": ["app.example.com"]},
    ),
    Case(
        "TAP-AWS-DNS-3",
        readiness.RECORD,
        {"name": f"{'l' * 63}.acme.io"},
        {"name": f"{'l' * 64}.acme.io"},
    ),
    Case("TAP-AWS-DNS-3", readiness.ZONE, {"name": "acme.io."}, {"name": "acme..io"}),
    Case(
        "TAP-AWS-DNS-3",
        readiness.HEALTH_CHECK,
        {"resourcePath": "/health"},
        {"resourcePath": "/" + "h" * 255},
    ),
    Case(
        "TAP-AWS-ACM-1",
        readiness.CERTIFICATE,
        {"domainName": "a" * 60 + ".io"},
        {"domainName": "a" * 62 + ".io"},
    ),
    Case(
        "TAP-AWS-ACM-1",
        readiness.CERTIFICATE,
        {"domainName": "acme.io", "subjectAlternativeNames": [f"s{i}.acme.io" for i in range(9)]},
        {"domainName": "acme.io", "subjectAlternativeNames": [f"s{i}.acme.io" for i in range(10)]},
    ),
    # CloudFront origin headers (the edge's secret header must be one CloudFront can send).
    Case(
        "TAP-AWS-CF-1",
        readiness.DISTRIBUTION,
        {"origins": [{"customHeaders": [{"name": "X-Origin-Verify", "value": "s3cr3t"}]}]},
        {"origins": [{"customHeaders": [{"name": "X-Amz-Origin-Verify", "value": "s3cr3t"}]}]},
    ),
    Case(
        "TAP-AWS-CF-1",
        readiness.DISTRIBUTION,
        {"origins": [{"customHeaders": [{"name": "X-Origin-Verify", "value": "v" * 1783}]}]},
        {"origins": [{"customHeaders": [{"name": "Via", "value": "v" * 1784}]}]},
    ),
    Case("TAP-AWS-CF-1", readiness.DISTRIBUTION, {"comment": "c" * 128}, {"comment": "c" * 129}),
    # WAF, SSM, Secrets Manager, CloudTrail, CloudWatch.
    Case(
        "TAP-AWS-WAF-1",
        readiness.WEB_ACL,
        {"name": "prod-edge-waf", "description": "TAP prod: managed rules, app.acme.io"},
        {"name": "prod edge waf", "description": "TAP prod's managed rules"},
    ),
    Case(
        "TAP-AWS-WAF-1",
        readiness.WEB_ACL,
        {"visibilityConfig": {"metricName": "prod-edge-waf"}},
        {"rules": [{"visibilityConfig": {"metricName": "Default_Action"}}]},
    ),
    # WAF logging destinations, rate-based rules; CloudFront security headers.
    Case(
        "TAP-AWS-WAF-2",
        readiness.WAF_LOGGING,
        {
            "resourceArn": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/prod-edge-waf/1",
            "logDestinationConfigs": [
                f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:aws-waf-logs-prod-edge-waf"
            ],
        },
        {
            "resourceArn": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/prod-edge-waf/1",
            "logDestinationConfigs": [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/tap/prod/waf"],
        },
    ),
    Case(
        "TAP-AWS-WAF-2",
        readiness.WAF_LOGGING,
        {"logDestinationConfigs": ["arn:aws:s3:::aws-waf-logs-prod-edge"]},
        {
            "resourceArn": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/prod-edge-waf/1",
            "logDestinationConfigs": [
                f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:aws-waf-logs-prod-edge-waf"
            ],
        },
    ),
    Case(
        "TAP-AWS-WAF-3",
        readiness.WEB_ACL,
        {
            "rules": [
                {
                    "name": "rate-limit-per-ip",
                    "statement": {"rateBasedStatement": {"limit": 10, "evaluationWindowSec": 300}},
                }
            ]
        },
        {"rules": [{"name": "r", "statement": {"rateBasedStatement": {"limit": 9}}}]},
    ),
    Case(
        "TAP-AWS-WAF-3",
        readiness.WEB_ACL,
        {"rules": [{"statement": {"rateBasedStatement": {"limit": 2_000_000_000}}}]},
        {"rules": [{"statement": {"rateBasedStatement": {"limit": 2_000_000_001}}}]},
    ),
    Case(
        "TAP-AWS-WAF-3",
        readiness.WEB_ACL,
        {"rules": [{"statement": {"rateBasedStatement": {"evaluationWindowSec": 600}}}]},
        {"rules": [{"statement": {"rateBasedStatement": {"evaluationWindowSec": 3600}}}]},
    ),
    Case(
        "TAP-AWS-CF-2",
        readiness.RESPONSE_HEADERS_POLICY,
        {
            "securityHeadersConfig": {
                "strictTransportSecurity": {
                    "accessControlMaxAgeSec": 31536000,
                    "includeSubdomains": True,
                    "override": True,
                }
            }
        },
        {
            "securityHeadersConfig": {
                "strictTransportSecurity": {
                    "accessControlMaxAgeSec": 86400,
                    "includeSubdomains": True,
                    "override": True,
                }
            }
        },
    ),
    Case(
        "TAP-AWS-CF-2",
        readiness.RESPONSE_HEADERS_POLICY,
        {"securityHeadersConfig": {"strictTransportSecurity": {"includeSubdomains": "true"}}},
        {"securityHeadersConfig": {"strictTransportSecurity": {"includeSubdomains": False}}},
    ),
    Case(
        "TAP-AWS-CF-2",
        readiness.RESPONSE_HEADERS_POLICY,
        {
            "securityHeadersConfig": {
                "strictTransportSecurity": {"accessControlMaxAgeSec": 63072000}
            }
        },
        {"securityHeadersConfig": {"frameOptions": {"frameOption": "DENY", "override": True}}},
    ),
    Case(
        "TAP-AWS-CF-2",
        readiness.DISTRIBUTION,
        {
            "defaultCacheBehavior": {
                "responseHeadersPolicyId": "67f7725c-6f97-4210-82d7-5512b31e9d03"
            }
        },
        {"defaultCacheBehavior": {"targetOriginId": "failover-origin"}},
    ),
    Case(
        "TAP-AWS-SSM-1",
        readiness.SSM_PARAMETER,
        {"name": "/tap/prod/us-east-1/database/endpoint"},
        {"name": "/aws/tap/endpoint"},
    ),
    Case("TAP-AWS-SSM-1", readiness.SSM_PARAMETER, {"name": "/a" * 15}, {"name": "/a" * 16}),
    Case("TAP-AWS-SM-1", readiness.SECRET, {"name": "tap/prod/db"}, {"name": "tap prod db"}),
    Case(
        "TAP-AWS-SM-1",
        readiness.SECRET,
        {"recoveryWindowInDays": 0},
        {"recoveryWindowInDays": 3},
    ),
    Case("TAP-AWS-TRAIL-1", rules.TRAIL, {"name": "prod-trail"}, {"name": "prod--trail"}),
    Case("TAP-AWS-TRAIL-1", rules.TRAIL, {"name": "t_1"}, {"name": "tr"}),
    Case(
        "TAP-AWS-CW-1",
        readiness.DASHBOARD,
        {"dashboardName": "prod-us-east-1"},
        {"dashboardName": "prod us-east-1"},
    ),
    Case("TAP-AWS-CW-1", readiness.METRIC_ALARM, {"name": "a" * 255}, {"name": "a" * 256}),
]


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: f"{c.rule}-{c.type.split(':')[-1]}")
def test_readiness_rule_fires_on_what_aws_refuses_only(case: Case) -> None:
    rule = readiness.CATALOGUE_BY_ID[case.rule]
    assert isinstance(rule, rules.ResourceRule)
    assert rule.check(case.type, case.good, CTX) == []
    assert rule.check(case.type, case.bad, CTX), f"{case.rule} missed {case.bad}"


def test_messages_name_the_refused_characters() -> None:
    rule = readiness.CATALOGUE_BY_ID["TAP-AWS-EC2-1"]
    assert isinstance(rule, rules.ResourceRule)
    [message] = rule.check(rules.SECURITY_GROUP, {"description": "the operator's CIDR"}, CTX)
    assert '"\'" not accepted' in message and "description" in message


def test_unknown_values_are_not_judged() -> None:
    for case in RESOURCE_CASES:
        rule = readiness.CATALOGUE_BY_ID[case.rule]
        assert isinstance(rule, rules.ResourceRule)
        assert rule.check(case.type, {}, CTX) == []


# ---------------------------------------------------------------------------------------------
# Stack rules, on synthetic plans


def view(type_: str, name: str, props: dict[str, Any], region: str = "us-east-1") -> Resource:
    """A resource whose handles are its name-based id, the way the mocks answer."""
    return Resource(
        type=type_,
        name=name,
        props=props,
        urn=f"urn:pulumi:dev::tap::{type_}::{name}",
        region=region,
        handles=frozenset({f"{name}-id", f"arn:{name}", *(
            v for k in ("identifier", "name") if isinstance(v := props.get(k), str)
        )}),
    )  # fmt: skip


def findings(rule_id: str, resources: list[Resource], context: Context = CTX) -> list[str]:
    rule = readiness.CATALOGUE_BY_ID[rule_id]
    assert isinstance(rule, rules.StackRule)
    return [message for _r, message in rule.check(resources, context)]


def test_no_replica_of_a_source_with_a_managed_password() -> None:
    primary = {"identifier": "prod-db-us-east-1", "manageMasterUserPassword": True}
    replica = view(
        rules.RDS_INSTANCE,
        "replica",
        {"replicateSourceDb": "arn:primary", "identifier": "prod-db-us-west-2"},
        "us-west-2",
    )
    bad = findings("TAP-AWS-RDS-2", [view(rules.RDS_INSTANCE, "primary", primary), replica])
    assert bad and "manages its master password" in bad[0]
    good_primary = {"identifier": "prod-db-us-east-1", "passwordWo": "x" * 32}
    assert (
        findings("TAP-AWS-RDS-2", [view(rules.RDS_INSTANCE, "primary", good_primary), replica])
        == []
    )


def test_instance_network_settings_do_not_fight_the_launch_template() -> None:
    template = view(rules.LAUNCH_TEMPLATE, "lt", {"vpcSecurityGroupIds": ["sg-1"]})
    bastion = {"launchTemplate": {"id": "lt-id"}, "subnetId": "subnet-1"}
    bad = findings("TAP-AWS-EC2-2", [template, view(rules.EC2_INSTANCE, "bastion", bastion)])
    assert bad and "InvalidParameterCombination" in bad[0]
    public = {"launchTemplate": {"id": "lt-id"}, "associatePublicIpAddress": True}
    assert findings("TAP-AWS-EC2-2", [template, view(rules.EC2_INSTANCE, "b", public)])
    interfaces = view(
        rules.LAUNCH_TEMPLATE,
        "lt",
        {"networkInterfaces": [{"subnetId": "subnet-1", "securityGroups": ["sg-1"]}]},
    )
    groups = {"launchTemplate": {"id": "lt-id"}, "vpcSecurityGroupIds": ["sg-1"]}
    assert findings("TAP-AWS-EC2-2", [interfaces, view(rules.EC2_INSTANCE, "b", groups)])
    # Good: everything network-related in the template (or everything on the instance).
    only_template = {"launchTemplate": {"id": "lt-id"}}
    assert (
        findings("TAP-AWS-EC2-2", [interfaces, view(rules.EC2_INSTANCE, "b", only_template)]) == []
    )
    plain = view(rules.LAUNCH_TEMPLATE, "lt", {"imageId": "ami-1"})
    assert findings("TAP-AWS-EC2-2", [plain, view(rules.EC2_INSTANCE, "b", bastion)]) == []


CLOUDFRONT_LIST = "pl-3b927c52"
HEALTH_LIST = "pl-7a1b2c3d"
WEIGHTS = Context(
    environment="dev",
    prefix_lists={CLOUDFRONT_LIST: PrefixList(55), HEALTH_LIST: PrefixList(25)},
)


def _ingress(name: str, group: str, **peer: Any) -> Resource:
    return view(
        rules.SG_INGRESS_RULE,
        name,
        {
            "securityGroupId": f"{group}-id",
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            **peer,
        },
    )


def test_prefix_lists_count_at_their_weight_against_the_rule_quota() -> None:
    group = view(rules.SECURITY_GROUP, "alb-sg", {"name": "alb"})
    cloudfront = _ingress("cf", "alb-sg", prefixListId=CLOUDFRONT_LIST)
    health = _ingress("health", "alb-sg", prefixListId=HEALTH_LIST)
    bad = findings("TAP-AWS-EC2-4", [group, cloudfront, health], WEIGHTS)
    assert bad == ["80 IPv4 inbound rules (prefix lists counted at their weight); the quota is 60"]
    # One list per group fits; five CIDRs besides the CloudFront list still fit (55 + 5).
    cidrs = [_ingress(f"c{i}", "alb-sg", cidrIpv4=f"10.0.{i}.0/24") for i in range(5)]
    assert findings("TAP-AWS-EC2-4", [group, cloudfront, *cidrs], WEIGHTS) == []
    assert findings(
        "TAP-AWS-EC2-4",
        [group, cloudfront, *cidrs, _ingress("c5", "alb-sg", cidrIpv4="10.1.0.0/24")],
        WEIGHTS,
    )


def test_inline_rules_count_per_direction_and_family() -> None:
    ingress = [{"cidrBlocks": [f"10.0.{i}.0/24" for i in range(60)]}]
    group = view(rules.SECURITY_GROUP, "sg", {"ingress": ingress, "egress": ingress})
    assert findings("TAP-AWS-EC2-4", [group]) == []
    v6 = [{"ipv6CidrBlocks": [f"2001:db8:{i:x}::/48" for i in range(61)]}]
    bad = findings("TAP-AWS-EC2-4", [view(rules.SECURITY_GROUP, "sg", {"ingress": v6})])
    assert bad == ["61 IPv6 inbound rules (prefix lists counted at their weight); the quota is 60"]


def test_groups_per_network_interface() -> None:
    groups = [view(rules.SECURITY_GROUP, f"g{i}", {}) for i in range(6)]
    alb = view(rules.LOAD_BALANCER, "alb", {"securityGroups": [f"g{i}-id" for i in range(5)]})
    assert findings("TAP-AWS-EC2-5", [*groups, alb]) == []
    alb6 = view(rules.LOAD_BALANCER, "alb", {"securityGroups": [f"g{i}-id" for i in range(6)]})
    assert findings("TAP-AWS-EC2-5", [*groups, alb6]) == [
        "6 security groups on one network interface; the quota is 5"
    ]


def test_the_harness_weighs_managed_prefix_lists_like_aws() -> None:
    assert (
        readiness.managed_prefix_list_weight("com.amazonaws.global.cloudfront.origin-facing") == 55
    )
    assert (
        readiness.managed_prefix_list_weight("com.amazonaws.eu-west-1.route53-healthchecks") == 25
    )
    assert readiness.managed_prefix_list_weight("com.amazonaws.us-east-1.s3") == 1
    assert readiness.managed_prefix_list_weight("my-own-list") is None


def test_listener_rule_priorities_are_unique_per_listener() -> None:
    def rule(name: str, listener: str, priority: int) -> Resource:
        return view(readiness.LISTENER_RULE, name, {"listenerArn": listener, "priority": priority})

    assert (
        findings("TAP-AWS-ELB-3", [rule("a", "l1", 1), rule("b", "l1", 2), rule("c", "l2", 1)])
        == []
    )
    assert findings("TAP-AWS-ELB-3", [rule("a", "l1", 1), rule("b", "l1", 1)]) == [
        "priority 1 already used by a (PriorityInUse)"
    ]
    assert findings("TAP-AWS-ELB-3", [rule("a", "l1", 50001)]) == ["priority 50001 outside 1-50000"]


def _record(resource_name: str, **props: Any) -> Resource:
    return view(readiness.RECORD, resource_name, {"zoneId": "Z1", "type": "CNAME", **props})


def test_each_dns_record_has_one_owner() -> None:
    validation = "_x.origin.app.acme.io."
    one = _record("us-east-1-validation", name=validation)
    two = _record("us-west-2-validation", name=validation.rstrip("."))
    assert findings("TAP-AWS-DNS-2", [one]) == []
    assert findings("TAP-AWS-DNS-2", [one, two]) == [
        "CNAME _x.origin.app.acme.io is also written by us-east-1-validation: two owners"
    ]
    assert findings("TAP-AWS-DNS-2", [_record("v", name=validation, allowOverwrite=True)])
    # Failover records share a name and type and differ by set identifier.
    primary = _record("p", name="origin.acme.io", type="A", setIdentifier="primary")
    secondary = _record("s", name="origin.acme.io", type="A", setIdentifier="secondary")
    assert findings("TAP-AWS-DNS-2", [primary, secondary]) == []
    other_zone = view(readiness.RECORD, "o", {"zoneId": "Z2", "type": "CNAME", "name": validation})
    assert findings("TAP-AWS-DNS-2", [one, other_zone]) == []
    alias = _record("a", name="_x.origin.app.acme.io", type="A")
    assert findings("TAP-AWS-DNS-2", [one, alias])


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def test_regional_resources_reference_their_own_region() -> None:
    secret = _arn("secretsmanager", "us-east-1", "secret:tap/prod/db-AbCdEf")
    param = {"name": "/tap/prod/us-west-2/database/secret", "value": secret}
    assert findings(
        "TAP-AWS-REGION-1", [view(readiness.SSM_PARAMETER, "p", param, "us-west-2")]
    ) == ["value is a secretsmanager ARN of us-east-1, used in us-west-2"]
    own = {**param, "value": secret.replace("us-east-1", "us-west-2")}
    assert (
        findings("TAP-AWS-REGION-1", [view(readiness.SSM_PARAMETER, "p", own, "us-west-2")]) == []
    )
    # A cross-Region replica names its source by ARN; its key must still be its region's.
    replica = {
        "replicateSourceDb": _arn("rds", "us-east-1", "db:prod-db-us-east-1"),
        "kmsKeyId": _arn("kms", "us-west-2", "key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    }
    assert findings("TAP-AWS-REGION-1", [view(rules.RDS_INSTANCE, "r", replica, "us-west-2")]) == []
    wrong_key = {**replica, "kmsKeyId": replica["kmsKeyId"].replace("us-west-2", "us-east-1")}
    assert findings("TAP-AWS-REGION-1", [view(rules.RDS_INSTANCE, "r", wrong_key, "us-west-2")])
    # IAM ARNs carry no region; policy documents are not whole ARNs.
    role = {"monitoringRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"}
    assert findings("TAP-AWS-REGION-1", [view(rules.RDS_INSTANCE, "p", role, "us-west-2")]) == []


def test_global_resources_take_us_east_1_certificates_and_web_acls() -> None:
    cdn = {
        "viewerCertificate": {"acmCertificateArn": _arn("acm", "us-east-1", "certificate/c")},
        "webAclId": _arn("wafv2", "us-east-1", "global/webacl/w/1"),
    }
    # CloudFront is global whichever region's provider creates it.
    assert (
        findings("TAP-AWS-REGION-1", [view(readiness.DISTRIBUTION, "cdn", cdn, "eu-west-1")]) == []
    )
    wrong = {"viewerCertificate": {"acmCertificateArn": _arn("acm", "eu-west-1", "certificate/c")}}
    assert findings("TAP-AWS-REGION-1", [view(readiness.DISTRIBUTION, "cdn", wrong, "eu-west-1")])
    acl = view(readiness.WEB_ACL, "waf", {"scope": "CLOUDFRONT"}, "eu-west-1")
    assert findings("TAP-AWS-REGION-1", [acl]) == [
        "CLOUDFRONT scope in eu-west-1: create it in us-east-1"
    ]
    source = {"resourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1"}
    assert findings(
        "TAP-AWS-REGION-1", [view(readiness.LOG_DELIVERY_SOURCE, "s", source, "eu-west-1")]
    )
    assert findings("TAP-AWS-REGION-1", [view(readiness.LOG_DELIVERY_SOURCE, "s", source)]) == []


def test_arns_are_parsed_wherever_they_sit() -> None:
    props = {"a": [{"b": _arn("sns", "eu-west-1", "t")}], "c": "not an arn:aws:x"}
    assert list(readiness.arns_in(props)) == [("a[0].b", "sns", "eu-west-1")]


def test_reserved_domains_cover_subdomains_only() -> None:
    assert readiness.reserved_domain("api.example.com") == "example.com"
    assert readiness.reserved_domain("*.example.org.") == "example.org"
    assert readiness.reserved_domain("myexample.com") is None
    assert readiness.reserved_domain("test.acme.io") is None


# ---------------------------------------------------------------------------------------------
# The catalogue itself


# The readiness tests of a family of rules may live in a module of their own.
READINESS_TEST_MODULES = (__name__, "tests.test_readiness_audit", "tests.test_readiness_nat")


def test_every_readiness_rule_is_exercised_here() -> None:
    tested: set[str] = set()
    for module in READINESS_TEST_MODULES:
        source = inspect.getsource(importlib.import_module(module))
        tested |= set(re.findall(r'"(TAP-AWS-[A-Z0-9]+-\d+)"', source))
    assert tested == {rule.id for rule in readiness.READINESS_RULES}


def test_readiness_rules_cite_a_document_and_are_mandatory() -> None:
    ids = [rule.id for rule in readiness.CATALOGUE]
    assert len(ids) == len(set(ids))
    for rule in readiness.READINESS_RULES:
        assert re.fullmatch(r"TAP-AWS-[A-Z0-9]+-\d+", rule.id)
        assert rule.description.endswith((".", ")"))
        assert re.search(r"<https://[^ >]+>$", rule.source), rule.id
        # Each rule is a refusal by AWS or a setting that can never do what it says (the
        # lifecycle rule: an early-deletion charge on every object).
        assert rule.severity == rules.MANDATORY


def test_readiness_types_and_properties_exist_in_the_sdk() -> None:
    used: dict[str, set[str]] = {
        rules.SECURITY_GROUP: {"name", "description", "ingress", "egress"},
        rules.SG_INGRESS_RULE: {"description", "prefixListId", "referencedSecurityGroupId"},
        readiness.SG_EGRESS_RULE: {"description", "cidrIpv4", "cidrIpv6", "securityGroupId"},
        rules.LAUNCH_TEMPLATE: {
            "name", "networkInterfaces", "vpcSecurityGroupIds", "securityGroupNames",
        },
        rules.EC2_INSTANCE: {"launchTemplate", *readiness._INSTANCE_NETWORK},
        rules.RDS_INSTANCE: {
            "identifier", "finalSnapshotIdentifier", "username", "password", "passwordWo",
            "manageMasterUserPassword", "replicateSourceDb", "engine", "vpcSecurityGroupIds",
        },
        rules.RDS_CLUSTER: {
            "manageMasterUserPassword", "globalClusterIdentifier", "replicationSourceIdentifier",
        },
        readiness.RDS_PARAMETER_GROUP: {"name"},
        readiness.RDS_SUBNET_GROUP: {"name"},
        rules.S3_BUCKET: {"bucket"},
        readiness.S3_LIFECYCLE: {"rules"},
        rules.LOAD_BALANCER: {"name", "securityGroups"},
        rules.TARGET_GROUP: {"name"},
        readiness.LISTENER_RULE: {"conditions", "priority", "listenerArn"},
        rules.LOG_GROUP: {"name", "retentionInDays"},
        readiness.LOG_DELIVERY_SOURCE: {"name", "resourceArn"},
        readiness.LOG_DELIVERY_DESTINATION: {"name"},
        readiness.KMS_ALIAS: {"name"},
        rules.KMS_KEY: {"policy"},
        readiness.KMS_KEY_POLICY: {"policy"},
        rules.SNS_TOPIC: {"name", "fifoTopic"},
        rules.IAM_ROLE: {"name", "description", "path"},
        readiness.IAM_INSTANCE_PROFILE: {"name", "path"},
        readiness.IAM_POLICY: {"name", "path"},
        readiness.IAM_ROLE_POLICY: {"name"},
        readiness.ZONE: {"name"},
        readiness.RECORD: {"name", "type", "zoneId", "setIdentifier", "allowOverwrite"},
        readiness.HEALTH_CHECK: {"fqdn", "resourcePath"},
        readiness.CERTIFICATE: {"domainName", "subjectAlternativeNames"},
        readiness.DISTRIBUTION: {"aliases", "origins", "comment", "viewerCertificate", "webAclId"},
        readiness.WEB_ACL: {"name", "description", "visibilityConfig", "rules", "scope"},
        readiness.SSM_PARAMETER: {"name", "value"},
        readiness.SECRET: {"name", "recoveryWindowInDays", "replicas"},
        rules.TRAIL: {"name"},
        readiness.METRIC_ALARM: {"name"},
        readiness.DASHBOARD: {"dashboardName"},
        readiness.VPC_ENDPOINT: {"securityGroupIds"},
    }  # fmt: skip
    for token, props in used.items():
        assert props <= input_names(token), (token, props - input_names(token))
    for rule in readiness.RESOURCE_RULES:
        for token in rule.checks:
            assert sdk_class(token), token
    for type_, prop in readiness.CROSS_REGION_ALLOWED:
        assert prop in input_names(type_), (type_, prop)


def test_crossguard_applies_the_whole_catalogue_with_sources() -> None:
    built = crossguard.policies()
    assert [p.name for p in built] == [r.id.lower() for r in readiness.CATALOGUE]
    by_name = {p.name: p for p in built}
    assert "rfc6761" in by_name["tap-aws-dns-1"].description
    assert by_name["tap-aws-dns-2"].enforcement_level == crossguard.EnforcementLevel.MANDATORY


def test_crossguard_reports_a_readiness_violation() -> None:
    reported: list[str] = []
    rule = readiness.CATALOGUE_BY_ID["TAP-AWS-DNS-1"]
    assert isinstance(rule, rules.ResourceRule)
    validate = crossguard.resource_validator(rule)
    args = type(
        "Args",
        (),
        {
            "resource_type": readiness.ZONE,
            "props": {"name": "example.com"},
            "urn": "u",
            "provider": None,
        },
    )()
    validate(args, lambda message, urn=None: reported.append(message))
    assert reported == [
        "TAP-AWS-DNS-1: name 'example.com' is under the reserved domain example.com"
    ]


def test_the_plan_lists_readiness_violations_with_their_source() -> None:
    violation = rules.violation(
        readiness.CATALOGUE_BY_ID["TAP-AWS-DNS-1"],
        view(readiness.ZONE, "zone", {"name": "example.com"}),
        "name 'example.com' is under the reserved domain example.com",
    )
    lines = plan.render_policy([violation])
    assert any(line.strip().startswith("source: RFC 2606") for line in lines)
    assert violation.as_dict()["source"].endswith("<https://www.rfc-editor.org/rfc/rfc6761>")
    assert lines[-1].strip() == "mandatory violations fail the plan (exit 1) and `pulumi up`"


# ---------------------------------------------------------------------------------------------
# The shipped stacks and the all-features config: zero mandatory violations


def _mandatory(result: PlanResult) -> list[str]:
    return [
        f"{v.rule_id} {v.resource_type} {v.resource_name} ({v.region}): {v.message}"
        for v in rules.mandatory(judge(result).violations)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_are_deploy_ready(stack: str) -> None:
    assert _mandatory(planned(stack)) == []


@pytest.mark.parametrize("base", ["dev", "prod"])
def test_all_features_config_is_deploy_ready(base: str) -> None:
    """Every optional feature on, over dev's sizes and over prod's guard rails."""
    result = planned(base, all_features_config(base))  # dev's is the ALL_FEATURES run
    assert {r.region for r in result.resources if r.region} >= {"eu-west-1", "eu-central-1"}
    assert result.of_type(rules.EC2_INSTANCE), "the bastion is planned"
    assert _mandatory(result) == []


def test_waf_messages_name_the_destination_and_the_limit() -> None:
    logging = readiness.CATALOGUE_BY_ID["TAP-AWS-WAF-2"]
    assert isinstance(logging, rules.ResourceRule)
    [message] = logging.check(
        readiness.WAF_LOGGING,
        {"logDestinationConfigs": [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/tap/waf:*"]},
        CTX,
    )
    assert "'/tap/waf' does not start with 'aws-waf-logs-'" in message
    rate = readiness.CATALOGUE_BY_ID["TAP-AWS-WAF-3"]
    assert isinstance(rate, rules.ResourceRule)
    assert rate.check(
        readiness.WEB_ACL,
        {"rules": [{"name": "r", "statement": {"rateBasedStatement": {"limit": 5.0}}}]},
        CTX,
    ) == ["rules[0] (r) limit 5.0 outside 10-2,000,000,000 requests"]


# --- Route 53 DNSSEC and query logging (stack rules, synthetic plans) ---

DNSSEC_ZONE_ID = "Z0123456789ABCDEFGHIJ"
DNSSEC_ZONE_ID = "Z0123456789ABCDEFGHIJ"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DNSSEC_POLICY = _policy(
    {
        "Effect": "Allow",
        "Principal": {"Service": "dnssec-route53.amazonaws.com"},
        "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
)


def _signed_zone(key: dict[str, Any], region: str = "us-east-1", **ksk: Any) -> list:
    signing_key = view(rules.KMS_KEY, "dnssec-key", key, region)
    signing_key = dataclasses.replace(signing_key, handles=frozenset({KEY_ARN}))
    return [
        signing_key,
        view(
            readiness.KSK,
            "ksk",
            {"hostedZoneId": DNSSEC_ZONE_ID, "keyManagementServiceArn": KEY_ARN,
             "name": "prod_ksk", "status": "ACTIVE", **ksk},
        ),
        view(
            readiness.ZONE_SIGNING,
            "signing",
            {"hostedZoneId": DNSSEC_ZONE_ID, "signingStatus": "SIGNING"},
        ),
    ]  # fmt: skip


GOOD_KEY = {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY",
            "policy": DNSSEC_POLICY}  # fmt: skip


def test_dnssec_takes_an_ecc_p256_signing_key_of_us_east_1_route53_may_use() -> None:
    assert findings("TAP-AWS-DNS-4", _signed_zone(GOOD_KEY)) == []
    symmetric = {"policy": DNSSEC_POLICY}
    assert findings("TAP-AWS-DNS-4", _signed_zone(symmetric)) == [
        "key dnssec-key: a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key: Route 53 signs with "
        "ECC_NIST_P256 SIGN_VERIFY only"
    ]
    assert findings(
        "TAP-AWS-DNS-4", _signed_zone({**GOOD_KEY, "customerMasterKeySpec": "ECC_NIST_P384"})
    )
    assert findings("TAP-AWS-DNS-4", _signed_zone(GOOD_KEY, region="eu-west-1")) == [
        "key dnssec-key: in eu-west-1: Route 53 takes DNSSEC keys of us-east-1"
    ]
    no_sign = json.loads(DNSSEC_POLICY)
    no_sign["Statement"][0]["Action"] = ["kms:DescribeKey", "kms:GetPublicKey"]
    assert findings("TAP-AWS-DNS-4", _signed_zone({**GOOD_KEY, "policy": json.dumps(no_sign)})) == [
        "key dnssec-key: its policy does not allow kms:Sign to dnssec-route53.amazonaws.com"
    ]
    # A policy unknown at plan time is not judged.
    assert findings("TAP-AWS-DNS-4", _signed_zone({**GOOD_KEY, "policy": None})) == []


def test_a_ksk_name_fits_route53_and_signing_needs_an_active_ksk() -> None:
    assert findings("TAP-AWS-DNS-4", _signed_zone(GOOD_KEY, name="prod-ksk")) == [
        "name 'prod-ksk' does not match what AWS accepts (allowed: letters, digits and '_')"
    ]
    assert findings("TAP-AWS-DNS-4", _signed_zone(GOOD_KEY, name="k1"))
    assert findings("TAP-AWS-DNS-4", _signed_zone(GOOD_KEY, status="INACTIVE")) == [
        f"signs zone {DNSSEC_ZONE_ID}, which has no ACTIVE key-signing key"
    ]


GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/route53/acme.io"


def _logged_zone(
    group_arn: str = GROUP_ARN, policy_region: str = "us-east-1", **statement: Any
) -> list:
    document = _policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "route53.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{GROUP_ARN}:*",
            **statement,
        }
    )
    return [
        view(readiness.LOG_RESOURCE_POLICY, "query-logs-policy", {"policyDocument": document},
             policy_region),
        view(readiness.QUERY_LOG, "query-log",
             {"zoneId": DNSSEC_ZONE_ID, "cloudwatchLogGroupArn": group_arn}),
    ]  # fmt: skip


def test_query_logs_go_to_us_east_1_through_a_resource_policy_there() -> None:
    assert findings("TAP-AWS-DNS-5", _logged_zone()) == []
    assert (
        findings(
            "TAP-AWS-DNS-5",
            _logged_zone(Resource="arn:aws:logs:us-east-1:*:log-group:/aws/route53/*"),
        )
        == []
    )
    west = GROUP_ARN.replace("us-east-1", "eu-west-1")
    assert findings("TAP-AWS-DNS-5", _logged_zone(west)) == [
        "log group /aws/route53/acme.io is in eu-west-1: Route 53 logs queries to us-east-1 only"
    ]
    missing = ("no CloudWatch Logs resource policy in us-east-1 allows {} on /aws/route53/acme.io "
               "to route53.amazonaws.com")  # fmt: skip
    both = "logs:CreateLogStream, logs:PutLogEvents"
    assert findings("TAP-AWS-DNS-5", _logged_zone(policy_region="eu-west-1")) == [
        missing.format(both)
    ]
    assert findings("TAP-AWS-DNS-5", _logged_zone(Resource=f"{GROUP_ARN}-other:*")) == [
        missing.format(both)
    ]
    assert findings("TAP-AWS-DNS-5", _logged_zone(Action="logs:PutLogEvents")) == [
        missing.format("logs:CreateLogStream")
    ]
    assert findings(
        "TAP-AWS-DNS-5", _logged_zone(Principal={"Service": "delivery.logs.amazonaws.com"})
    )
    # Unknown at plan time: not judged.
    assert findings("TAP-AWS-DNS-5", _logged_zone(group_arn=None)) == []  # type: ignore[arg-type]
