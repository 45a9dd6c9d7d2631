"""Failover on its own: a health check and alarm per region's ALB, PRIMARY and SECONDARY
records, a latency-routed secondary set from three regions on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from components.failover import HEALTH_PATH, Endpoint, Failover, FailoverArgs
from tap.config import HealthCheckConfig
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tap_tooling.offline import ALB_ZONE_IDS
from tests.harness import ACCOUNT, Built, build, in_region

HEALTH = "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RECORD = "aws:route53/record:Record"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
FQDN = "origin.app.acme.io"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:qa-global-alerts-us-east-1"


def alb(region: str) -> str:
    return f"qa-alb-{region}-1234567890.{region}.elb.amazonaws.com"


def endpoints(regions: Sequence[str]) -> dict[str, Endpoint]:
    return {r: Endpoint(dns_name=alb(r), zone_id=ALB_ZONE_IDS[r]) for r in regions}


def failover_args(**changes: Any) -> FailoverArgs:
    fields: dict[str, Any] = dict(
        environment="qa",
        zone_id=ZONE_ID,
        record_fqdn=FQDN,
        primary_region="us-east-1",
        endpoints=endpoints(["us-east-1", "us-west-2"]),
        health_check=HealthCheckConfig(),
        alarm_topic_arn=TOPIC,
    )
    return FailoverArgs(**{**fields, **changes})


def build_failover(**changes: Any) -> Built:
    def program() -> dict[str, Any]:
        failover = Failover(
            "global-failover",
            failover_args(**changes),
            opts=in_region(GLOBAL_REGION, GLOBAL_PROVIDER_NAME),
        )
        return {"health_check_ids": failover.health_check_ids, "fqdn": failover.record_fqdn}

    return build(program)


def checks_by_region(built: Built) -> dict[str, Any]:
    return {r.name.rsplit("health-", 1)[1]: r for r in built.of_type(HEALTH)}


def records(built: Built) -> dict[str, Any]:
    return {r.name.removeprefix("global-failover-"): r for r in built.of_type(RECORD)}


@pytest.mark.parametrize(("threshold", "interval"), [(3, 30), (1, 10)])
def test_a_health_check_per_endpoint_against_its_own_alb(threshold: int, interval: int) -> None:
    built = build_failover(
        health_check=HealthCheckConfig.model_validate(
            {"failure_threshold": threshold, "request_interval": interval}
        )
    )
    checks = checks_by_region(built)
    assert set(checks) == {"us-east-1", "us-west-2"}
    for region, check in checks.items():
        assert check.inputs["fqdn"] == alb(region)
        assert check.inputs["type"] == "HTTPS" and check.inputs["port"] == 443
        assert check.inputs["resourcePath"] == HEALTH_PATH and check.inputs["enableSni"] is True
        assert check.inputs["failureThreshold"] == threshold
        assert check.inputs["requestInterval"] == interval
        assert check.inputs["tags"] == {"Name": f"qa-health-{region}"}
    assert built.outputs["health_check_ids"] == {
        region: built.id_of(check) for region, check in checks.items()
    }
    assert built.outputs["fqdn"] == FQDN


def test_an_alarm_per_health_check_in_us_east_1_paging_the_topic() -> None:
    built = build_failover()
    checks = checks_by_region(built)
    alarms = {a.name.rsplit("alarm-", 1)[1]: a for a in built.of_type(ALARM)}
    assert set(alarms) == set(checks)
    for region, alarm in alarms.items():
        inputs = alarm.inputs
        # Route53 publishes health-check metrics only in us-east-1.
        assert alarm.region == GLOBAL_REGION
        assert (inputs["namespace"], inputs["metricName"]) == ("AWS/Route53", "HealthCheckStatus")
        assert inputs["dimensions"] == {"HealthCheckId": built.id_of(checks[region])}
        assert inputs["statistic"] == "Minimum"
        assert inputs["comparisonOperator"] == "LessThanThreshold" and inputs["threshold"] == 1
        assert inputs["treatMissingData"] == "breaching"
        assert inputs["alarmActions"] == inputs["okActions"] == [TOPIC]
        assert inputs["name"] == f"qa-health-check-{region}"
        assert FQDN in inputs["alarmDescription"] and region in inputs["alarmDescription"]


def test_without_a_topic_the_alarms_notify_nobody() -> None:
    built = build_failover(alarm_topic_arn=None)
    alarms = built.of_type(ALARM)
    assert len(alarms) == 2
    for alarm in alarms:
        assert not alarm.inputs.get("alarmActions") and not alarm.inputs.get("okActions")


@pytest.mark.parametrize("primary", ["us-east-1", "us-west-2"])
def test_two_regions_fail_over_from_the_primary_to_the_other(primary: str) -> None:
    built = build_failover(primary_region=primary)
    checks = checks_by_region(built)
    by_role = records(built)
    assert set(by_role) == {"primary", "secondary"}
    (other,) = {"us-east-1", "us-west-2"} - {primary}
    for role, region in (("primary", primary), ("secondary", other)):
        record = by_role[role].inputs
        assert record["zoneId"] == ZONE_ID and record["name"] == FQDN and record["type"] == "A"
        assert record["setIdentifier"] == role
        assert record["failoverRoutingPolicies"] == [{"type": role.upper()}]
        assert record["aliases"] == [
            {"name": alb(region), "zoneId": ALB_ZONE_IDS[region], "evaluateTargetHealth": True}
        ]
        assert record["healthCheckId"] == built.id_of(checks[region])


def test_three_regions_make_the_secondary_a_latency_set_of_the_others() -> None:
    regions = ["eu-west-1", "us-east-1", "us-west-2"]
    built = build_failover(primary_region="us-east-1", endpoints=endpoints(regions))
    checks = checks_by_region(built)
    assert set(checks) == set(regions) and len(built.of_type(ALARM)) == 3
    by_role = records(built)
    assert set(by_role) == {"primary", "secondary", "latency-eu-west-1", "latency-us-west-2"}
    latency_name = f"secondary.{FQDN}"
    for region in ("eu-west-1", "us-west-2"):
        member = by_role[f"latency-{region}"].inputs
        assert member["name"] == latency_name and member["zoneId"] == ZONE_ID
        assert member["setIdentifier"] == region
        assert member["latencyRoutingPolicies"] == [{"region": region}]
        assert member["aliases"][0]["name"] == alb(region)
        assert member["healthCheckId"] == built.id_of(checks[region])
        assert not member.get("failoverRoutingPolicies")
    secondary = by_role["secondary"]
    assert secondary.inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    # The set answers only while one member is healthy: no check of its own.
    assert secondary.inputs["aliases"] == [
        {"name": latency_name, "zoneId": ZONE_ID, "evaluateTargetHealth": True}
    ]
    assert not secondary.inputs.get("healthCheckId")
    # Route53 rejects an alias to a name that does not exist yet.
    members = {by_role[f"latency-{r}"].urn for r in ("eu-west-1", "us-west-2")}
    assert members <= set(secondary.depends_on)
    assert by_role["primary"].inputs["aliases"][0]["name"] == alb("us-east-1")


def test_everything_sits_under_the_failover_on_its_provider() -> None:
    built = build_failover()
    (component,) = built.components("tap:failover:Failover")
    children = built.under(component)
    assert len(children) == 2 + 2 + 2  # checks, alarms, records
    assert {r.provider_urn for r in children if r.custom} == {
        built.provider_urn(GLOBAL_PROVIDER_NAME)
    }
    assert {r.region for r in children} == {GLOBAL_REGION}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"primary_region": "eu-west-1"},
            "FailoverArgs.primary_region 'eu-west-1' has no endpoint",
        ),
        (
            {"endpoints": endpoints(["us-east-1"])},
            "FailoverArgs.endpoints: 1 region(s), need 2+",
        ),
        ({"endpoints": {}, "primary_region": "us-east-1"}, "has no endpoint"),
        ({"record_fqdn": ""}, "FailoverArgs.record_fqdn is empty"),
    ],
)
def test_args_that_cannot_fail_over_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_failover(**changes)
