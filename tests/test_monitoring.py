"""Alerts, alarms and dashboards per region; every log group's retention and key."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pytest

from components.monitoring import dashboard_body
from tap.global_provider import GLOBAL_REGION
from tap_tooling.offline import MOCK_ACCOUNT_ID, PlanResult, Recorded
from tests.conftest import inputs_of

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
GLOBAL = "global"
"""Name prefix of the global pieces' own key and topic (`global-key`, `global-alerts`), which
sit in us-east-1 whether or not us-east-1 is a stack region."""


def regions_of(plan: PlanResult) -> list[str]:
    return plan.outputs["deployment_summary"]["regions"]


def in_component(plan: PlanResult, type_: str, component: str) -> list[Recorded]:
    """Resources of `type_` inside the top-level component named `component` (us-east-1 can
    hold both the region's `us-east-1-alerts` topic and the global `global-alerts` one)."""
    return [
        r
        for r in plan.of_type(type_)
        if (outer := plan.component_of(r)) is not None and outer.name == component
    ]


def has_global_pieces(plan: PlanResult) -> bool:
    """A domain brings the global pieces: zone, health checks and their alarms, the edge."""
    return "dns" in plan.outputs


def key_arn(plan: PlanResult, key: Recorded) -> str:
    return f"arn:aws:kms:{key.region}:{MOCK_ACCOUNT_ID}:key/{plan.id_of(key)}"


def assert_alert_topic(plan: PlanResult, scope: str, region: str) -> Recorded:
    """`<scope>-alerts` is one topic in `region`, under `<scope>-key`, paging the on-call
    address, publishable by this account's alarms only; its key lets those alarms publish."""
    (topic,) = in_component(plan, TOPIC, f"{scope}-alerts")
    (key,) = in_component(plan, KEY, f"{scope}-key")
    assert topic.region == key.region == region
    assert topic.inputs["kmsMasterKeyId"] == key_arn(plan, key)
    subscriptions = in_component(
        plan, "aws:sns/topicSubscription:TopicSubscription", f"{scope}-alerts"
    )
    assert [(s.region, s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions] == [
        (region, "email", "platform-oncall@example.com")
    ]
    (policy,) = in_component(plan, "aws:sns/topicPolicy:TopicPolicy", f"{scope}-alerts")
    assert policy.region == region
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    publish = statements["CloudWatchAlarmsOfThisAccount"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    assert "data key" in key.inputs["description"]
    key_statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert "kms:GenerateDataKey*" in key_statements["CloudWatchAlarmsPublish"]["Action"]
    return topic


def test_topic_per_region_encrypted_with_its_key_and_emails(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        topic = assert_alert_topic(stack_plan, region, region)
        assert stack_plan.id_of(topic) == stack_plan.outputs["regions"][region]["alert_topic_arn"]
        assert (
            topic.inputs["kmsMasterKeyId"] == stack_plan.outputs["regions"][region]["kms_key_arn"]
        )
    # Besides those, only the global pieces' topic, in us-east-1 (prod: next to the region's).
    expected = len(regions_of(stack_plan))
    if has_global_pieces(stack_plan):
        assert_alert_topic(stack_plan, GLOBAL, GLOBAL_REGION)
        expected += 1
    assert len(stack_plan.of_type(TOPIC)) == expected


def test_the_global_topic_is_in_us_east_1_without_it_too(any_plan: PlanResult) -> None:
    if not has_global_pieces(any_plan):
        assert in_component(any_plan, TOPIC, f"{GLOBAL}-alerts") == []
        return
    topic = assert_alert_topic(any_plan, GLOBAL, GLOBAL_REGION)
    regional = {out["alert_topic_arn"] for out in any_plan.outputs["regions"].values()}
    regional_keys = {out["kms_key_arn"] for out in any_plan.outputs["regions"].values()}
    assert any_plan.id_of(topic) not in regional
    assert topic.inputs["kmsMasterKeyId"] not in regional_keys


def test_every_alarm_notifies_its_own_regions_topic(any_plan: PlanResult) -> None:
    """A region's alarms page through that region's topic; the Route53 health-check alarms
    (global pieces, us-east-1 only) through the global topic, never a region's."""
    alarms = any_plan.of_type(ALARM)
    assert alarms
    global_topics = [any_plan.id_of(t) for t in in_component(any_plan, TOPIC, f"{GLOBAL}-alerts")]
    for alarm in alarms:
        assert alarm.inputs["treatMissingData"] in ("missing", "breaching", "notBreaching")
        if alarm.inputs["namespace"] == "AWS/Route53":
            (topic,) = global_topics
            assert alarm.region == GLOBAL_REGION, alarm.name
        else:
            outer = any_plan.component_of(alarm)
            assert outer is not None and outer.name == f"{alarm.region}-monitoring", alarm.name
            topic = any_plan.outputs["regions"][alarm.region]["alert_topic_arn"]
        assert alarm.inputs["alarmActions"] == [topic], alarm.name
        assert alarm.inputs["okActions"] == [topic], alarm.name
        assert topic.startswith(f"arn:aws:sns:{alarm.region}:")


def _metrics(plan: PlanResult, region: str) -> dict[str, dict]:
    """The region's own alarms (Route53 health-check alarms are global, tested in test_dns)."""
    return {
        a["metricName"] + ":" + a["namespace"]: a
        for a in inputs_of(plan, ALARM, region)
        if a["namespace"] != "AWS/Route53"
    }


def test_alarm_set_per_region(prod_plan: PlanResult) -> None:
    expected_common = {
        "CPUUtilization:AWS/EC2",
        "HTTPCode_ELB_5XX_Count:AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count:AWS/ApplicationELB",
        "UnHealthyHostCount:AWS/ApplicationELB",
        "TargetResponseTime:AWS/ApplicationELB",
        "CPUUtilization:AWS/RDS",
        "FreeStorageSpace:AWS/RDS",
        "FreeableMemory:AWS/RDS",
        "DatabaseConnections:AWS/RDS",
    }
    assert set(_metrics(prod_plan, "us-east-1")) == expected_common
    # The DR replica region also watches replication lag.
    assert set(_metrics(prod_plan, "us-west-2")) == expected_common | {"ReplicaLag:AWS/RDS"}


def test_thresholds_follow_the_environment(prod_plan: PlanResult, dev_plan: PlanResult) -> None:
    prod = _metrics(prod_plan, "us-east-1")
    dev = _metrics(dev_plan, "us-east-1")
    assert prod["CPUUtilization:AWS/EC2"]["threshold"] == 80
    assert dev["CPUUtilization:AWS/EC2"]["threshold"] == 90
    assert prod["TargetResponseTime:AWS/ApplicationELB"]["threshold"] == 1.0
    assert prod["FreeStorageSpace:AWS/RDS"]["threshold"] == 5 * 1024**3
    assert prod["FreeStorageSpace:AWS/RDS"]["comparisonOperator"] == "LessThanThreshold"
    lag = _metrics(prod_plan, "us-west-2")["ReplicaLag:AWS/RDS"]
    assert lag["threshold"] == 120 and lag["treatMissingData"] == "breaching"
    assert lag["dimensions"] == {"DBInstanceIdentifier": "prod-db-replica-us-west-2"}


def test_alarm_dimensions_point_at_the_regions_resources(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        alarms = _metrics(stack_plan, region)
        out = stack_plan.outputs["regions"][region]
        assert alarms["CPUUtilization:AWS/EC2"]["dimensions"] == {
            "AutoScalingGroupName": out["asg_name"]
        }
        unhealthy = alarms["UnHealthyHostCount:AWS/ApplicationELB"]["dimensions"]
        assert unhealthy["LoadBalancer"].startswith("app/") and unhealthy["TargetGroup"].startswith(
            "targetgroup/"
        )


def test_dashboard_per_region_is_deterministic(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (dashboard,) = inputs_of(stack_plan, "aws:cloudwatch/dashboard:Dashboard", region)
        assert dashboard["dashboardName"] == stack_plan.outputs["regions"][region]["dashboard_name"]
        body = json.loads(dashboard["dashboardBody"])
        assert dashboard["dashboardBody"] == json.dumps(body, sort_keys=True)
        titles = [w["properties"]["title"] for w in body["widgets"]]
        assert "Requests and errors" in titles
        assert all(w["properties"]["region"] == region for w in body["widgets"])
        assert ("Database" in titles) == ("db_identifier" in stack_plan.outputs["regions"][region])


def test_dashboard_body_is_order_independent() -> None:
    a = dashboard_body("eu-west-1", {"alb": "app/x/1", "asg": "g", "db": "d"})
    b = dashboard_body("eu-west-1", {"db": "d", "asg": "g", "alb": "app/x/1"})
    assert a == b and "DBInstanceIdentifier" in a


def test_every_log_group_has_retention_and_its_regions_key(stack_plan: PlanResult) -> None:
    groups = stack_plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) >= 3 * len(regions_of(stack_plan))
    for group in groups:
        assert group.inputs["retentionInDays"] > 0, group.name
        assert (
            group.inputs["kmsKeyId"] == stack_plan.outputs["regions"][group.region]["kms_key_arn"]
        )


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"emails": ["not-an-address"]}, 'tap:alerts.emails[0] = "not-an-address"'),
        ({"emails": ["a@example.com", "a@example.com"]}, "tap:alerts.emails = "),
        (
            {"thresholds": {"instance_cpu_percent": 150}},
            "tap:alerts.thresholds.instance_cpu_percent",
        ),
        (
            {"thresholds": {"evaluation_period": 2}},
            "tap:alerts.thresholds.evaluation_period = 2: unknown key",
        ),
    ],
)
def test_alert_config_errors(
    run_config: Callable[..., PlanResult], alerts: dict, message: str
) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_config("dev", alerts=alerts)
    assert str(caught.value).startswith(f"invalid config {message}")


def test_no_emails_means_no_subscriptions(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", alerts={"emails": []})
    assert plan.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    assert len(plan.of_type(TOPIC)) == 2


def test_alarm_publishing_is_limited_to_this_regions_alarms(any_plan: PlanResult) -> None:
    scopes = [(region, region) for region in regions_of(any_plan)]
    if has_global_pieces(any_plan):
        scopes.append((GLOBAL, GLOBAL_REGION))
    policies = any_plan.of_type("aws:sns/topicPolicy:TopicPolicy")
    assert len(policies) == len(scopes)
    for scope, region in scopes:
        (policy,) = in_component(any_plan, "aws:sns/topicPolicy:TopicPolicy", f"{scope}-alerts")
        assert policy.region == region
        publish = json.loads(policy.inputs["policy"])["Statement"][0]
        assert publish["Condition"]["ArnLike"]["aws:SourceArn"] == (
            f"arn:aws:cloudwatch:{region}:123456789012:alarm:*"
        )


def test_auto_scaling_group_carries_the_cost_tags(stack_plan: PlanResult) -> None:
    for group in inputs_of(stack_plan, "aws:autoscaling/group:Group"):
        tags = {t["key"]: t for t in group["tags"]}
        assert {"Environment", "Project", "Owner", "CostCenter", "Name"} <= set(tags)
        assert not any(t["propagateAtLaunch"] for t in tags.values())
