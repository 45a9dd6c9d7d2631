"""Front on its own: the global pieces of a shipped stack built on the aws-global provider with
their Args alone. Failover (primary: the stack's active region) always; CloudFront with its
certificate only with an origin secret; everything on that provider and under the Front."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.failover import Endpoint
from components.front import Front, FrontArgs
from components.origin_secret import ORIGIN_SECRET_HEADER, OriginSecret, OriginSecretArgs
from tap.config import StackConfig
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tap_tooling.offline import ALB_ZONE_IDS, OFFLINE_DOMAIN, PROVIDER_TYPE
from tests.harness import ACCOUNT, Built, build, in_region, provider, shipped_stack

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CERT = "aws:acm/certificate:Certificate"
RECORD = "aws:route53/record:Record"
HEALTH = "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
RULE = "aws:lb/listenerRule:ListenerRule"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
DOMAIN = {"domain": "tap-unit-test.net", "create_zone": True}


def alb(region: str) -> str:
    return f"alb-{region}-1234567890.{region}.elb.amazonaws.com"


def build_front(stack: StackConfig, edge: bool) -> Built:
    """The Front of `stack` in front of an ALB per stack region; with `edge`, an origin secret
    and a stand-in for the us-west-2 listener rule that accepts it."""
    assert stack.dns is not None

    def program() -> dict[str, Any]:
        origin_secret: pulumi.Output[str] | None = None
        rules: list[pulumi.Resource] = []
        if edge:
            origin_secret = OriginSecret("origin-secret", OriginSecretArgs(version=1)).current
            # A region's rule accepting the secret (built by Compute in the program).
            rules.append(
                aws.lb.ListenerRule(
                    "us-west-2-compute-edge-origin",
                    listener_arn="arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/x",
                    priority=10,
                    conditions=[aws.lb.ListenerRuleConditionArgs(
                        http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                            http_header_name=ORIGIN_SECRET_HEADER, values=[origin_secret]))],
                    actions=[aws.lb.ListenerRuleActionArgs(type="fixed-response",
                        fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                            content_type="text/plain", status_code="200"))],
                    opts=pulumi.ResourceOptions(provider=provider("us-west-2")),
                )
            )  # fmt: skip
        front = Front(
            "global",
            FrontArgs(
                stack=stack,
                zone_id=ZONE_ID,
                endpoints={
                    region: Endpoint(dns_name=alb(region), zone_id=ALB_ZONE_IDS[region])
                    for region in stack.region_names
                },
                account_id=ACCOUNT,
                origin_secret=origin_secret,
                origin_rules=rules,
            ),
            opts=in_region(GLOBAL_REGION, GLOBAL_PROVIDER_NAME),
        )
        return {
            "origin_secret": origin_secret,
            "topic_arn": front.alerts.topic_arn,
            "health_check_ids": front.failover.health_check_ids,
            "failover_fqdn": front.failover.record_fqdn,
            "distribution_id": front.edge.distribution_id if front.edge else None,
        }

    return build(program)


def front_resources(built: Built) -> list[Any]:
    (front,) = built.components("tap:front:Front")
    return [r for r in built.under(front) if r.custom]


def failover_records(built: Built) -> dict[str, dict[str, Any]]:
    return {
        r.name.removeprefix("global-failover-"): r.inputs
        for r in built.of_type(RECORD)
        if r.name in ("global-failover-primary", "global-failover-secondary")
    }


@pytest.fixture(scope="module")
def prod_front() -> Built:
    """prod (its placeholder domain replaced, as offline plans do): CloudFront and WAF on."""
    stack = shipped_stack("prod")
    assert stack.edge.cloudfront_enabled and stack.edge.waf_enabled
    return build_front(stack, edge=True)


@pytest.fixture(scope="module")
def staging_front() -> Built:
    """staging with a domain and without CloudFront."""
    return build_front(shipped_stack("staging", dns=DOMAIN), edge=False)


def test_everything_sits_on_the_global_provider_and_under_the_front(prod_front: Built) -> None:
    global_provider = prod_front.provider_urn(GLOBAL_PROVIDER_NAME)
    resources = front_resources(prod_front)
    assert {r.type for r in resources} >= {DISTRIBUTION, CERT, HEALTH, ALARM, TOPIC, RECORD}
    for resource in resources:
        assert resource.provider_urn == global_provider, resource.name
        assert resource.region == GLOBAL_REGION, resource.name
    # Nothing of the Front is outside it, and it registers no provider of its own.
    outside = [r for r in prod_front.aws_resources() if r not in resources]
    assert [r.name for r in outside] == ["us-west-2-compute-edge-origin"]
    assert sorted(p.name for p in prod_front.of_type(PROVIDER_TYPE)) == [
        GLOBAL_PROVIDER_NAME,
        "aws-us-west-2",
    ]


def test_with_an_origin_secret_cloudfront_serves_the_app_name_with_its_own_certificate(
    prod_front: Built,
) -> None:
    app_fqdn = f"app.{OFFLINE_DOMAIN}"
    (component,) = prod_front.components("tap:edge:Edge")
    assert component.name == "global-edge"
    (distribution,) = prod_front.of_type(DISTRIBUTION)
    assert distribution.inputs["aliases"] == [app_fqdn]
    assert prod_front.outputs["distribution_id"] == prod_front.id_of(distribution)
    # The edge certificate is for the app name; the regions' are for the origin name.
    (certificate,) = prod_front.of_type(CERT)
    assert certificate.name == "global-edge-certificate-cert"
    assert certificate.inputs["domainName"] == app_fqdn
    # CloudFront reaches the regions at the failover name, sending the origin secret.
    (origin,) = distribution.inputs["origins"]
    assert origin["domainName"] == f"origin.{app_fqdn}" == prod_front.outputs["failover_fqdn"]
    (header,) = origin["customHeaders"]
    assert header == {"name": ORIGIN_SECRET_HEADER, "value": prod_front.outputs["origin_secret"]}
    assert prod_front.sent_as_secret(distribution.name, ".origins[0].customHeaders[0].value")
    # After every region's rule that accepts the value: a rotation never sends one refused.
    rule = prod_front.one(RULE, "us-west-2-compute-edge-origin")
    assert rule.urn in distribution.depends_on


def test_without_an_origin_secret_no_edge_and_the_app_name_fails_over(staging_front: Built) -> None:
    assert staging_front.components("tap:edge:Edge") == []
    assert staging_front.of_type(DISTRIBUTION) == [] and staging_front.of_type(CERT) == []
    assert staging_front.outputs["distribution_id"] is None
    records = failover_records(staging_front)
    assert {r["name"] for r in records.values()} == {"app.tap-unit-test.net"}
    assert staging_front.outputs["failover_fqdn"] == "app.tap-unit-test.net"
    for resource in front_resources(staging_front):
        assert resource.provider_urn == staging_front.provider_urn(GLOBAL_PROVIDER_NAME)


@pytest.mark.parametrize("promoted", [False, True])
def test_the_failover_primary_is_the_stacks_active_region(promoted: bool) -> None:
    changes: dict[str, Any] = {"dns": DOMAIN}
    if promoted:
        changes["database"] = {"promoted_regions": ["us-west-2"]}
    stack = shipped_stack("staging", **changes)
    assert stack.primary_region == "us-east-1"
    active = stack.active_region
    assert active == ("us-west-2" if promoted else "us-east-1")
    built = build_front(stack, edge=False)
    records = failover_records(built)
    (other,) = set(stack.region_names) - {active}
    assert records["primary"]["aliases"][0]["name"] == alb(active)
    assert records["secondary"]["aliases"][0]["name"] == alb(other)
    checks = {r.inputs["fqdn"]: built.id_of(r) for r in built.of_type(HEALTH)}
    assert records["primary"]["healthCheckId"] == checks[alb(active)]


def test_health_alarms_page_the_fronts_own_topic_under_its_own_key(prod_front: Built) -> None:
    topic_arn = prod_front.outputs["topic_arn"]
    assert topic_arn == f"arn:aws:sns:{GLOBAL_REGION}:{ACCOUNT}:prod-global-alerts-{GLOBAL_REGION}"
    alarms = prod_front.of_type(ALARM)
    health = [a for a in alarms if a.inputs["metricName"] == "HealthCheckStatus"]
    assert len(health) == len(shipped_stack("prod").region_names)
    # Every alarm of the global pieces (health checks, WAF, DNSSEC) pages this us-east-1
    # topic: an alarm may only notify a topic of its own region.
    for alarm in alarms:
        assert alarm.region == GLOBAL_REGION, alarm.name
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.name
    for alarm in health:
        assert alarm.inputs["okActions"] == [topic_arn], alarm.name
    (key,) = [k for k in prod_front.of_type("aws:kms/key:Key") if k.name == "global-key-cmk"]
    (topic,) = prod_front.of_type(TOPIC)
    assert topic.inputs["kmsMasterKeyId"].endswith(f":key/{prod_front.id_of(key)}")
    # Production protection reaches the global key too.
    assert key.inputs["deletionWindowInDays"] == 30
    (alias,) = [
        a for a in prod_front.of_type("aws:kms/alias:Alias") if a.name == "global-key-alias"
    ]
    assert alias.inputs["name"] == f"alias/prod-global-key-{GLOBAL_REGION}"
    policy = json.loads(key.inputs["policy"])
    assert any(s.get("Sid") == "CloudWatchAlarmsPublish" for s in policy["Statement"])


def test_health_checks_follow_the_stacks_dns_settings() -> None:
    stack = shipped_stack(
        "staging",
        dns={**DOMAIN, "health_check": {"failure_threshold": 2, "request_interval": 10}},
    )
    built = build_front(stack, edge=False)
    checks = built.of_type(HEALTH)
    assert sorted(c.inputs["fqdn"] for c in checks) == sorted(alb(r) for r in stack.region_names)
    for check in checks:
        assert check.inputs["failureThreshold"] == 2
        assert check.inputs["requestInterval"] == 10
