"""Alerts, alarms and dashboards per region; every log group's retention and key."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pytest

from components.monitoring import dashboard_body
from tap.offline import PlanResult
from tests.conftest import inputs_of

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"


def regions_of(plan: PlanResult) -> list[str]:
    return plan.outputs["deployment_summary"]["regions"]


def test_topic_per_region_encrypted_with_its_key_and_emails(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (topic,) = inputs_of(stack_plan, TOPIC, region)
        assert topic["kmsMasterKeyId"] == stack_plan.outputs["regions"][region]["kms_key_arn"]
        subscriptions = inputs_of(stack_plan, "aws:sns/topicSubscription:TopicSubscription", region)
        assert [(s["protocol"], s["endpoint"]) for s in subscriptions] == [
            ("email", "platform-oncall@example.com")
        ]
        (policy,) = inputs_of(stack_plan, "aws:sns/topicPolicy:TopicPolicy", region)
        statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
        publish = statements["CloudWatchAlarmsOfThisAccount"]
        assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
        (key,) = [
            k
            for k in inputs_of(stack_plan, "aws:kms/key:Key", region)
            if "data key" in k["description"]
        ]
        key_statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
        assert "kms:GenerateDataKey*" in key_statements["CloudWatchAlarmsPublish"]["Action"]


def test_every_alarm_notifies_its_own_regions_topic(stack_plan: PlanResult) -> None:
    alarms = stack_plan.of_type(ALARM)
    assert alarms
    for alarm in alarms:
        topic = stack_plan.outputs["regions"][alarm.region]["alert_topic_arn"]
        assert alarm.inputs["alarmActions"] == [topic], alarm.name
        assert alarm.inputs["okActions"] == [topic], alarm.name
        assert alarm.inputs["treatMissingData"] in ("missing", "breaching", "notBreaching")
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


def test_alarm_publishing_is_limited_to_this_regions_alarms(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (policy,) = inputs_of(stack_plan, "aws:sns/topicPolicy:TopicPolicy", region)
        publish = json.loads(policy["policy"])["Statement"][0]
        assert publish["Condition"]["ArnLike"]["aws:SourceArn"] == (
            f"arn:aws:cloudwatch:{region}:123456789012:alarm:*"
        )


def test_auto_scaling_group_carries_the_cost_tags(stack_plan: PlanResult) -> None:
    for group in inputs_of(stack_plan, "aws:autoscaling/group:Group"):
        tags = {t["key"]: t for t in group["tags"]}
        assert {"Environment", "Project", "Owner", "CostCenter", "Name"} <= set(tags)
        assert not any(t["propagateAtLaunch"] for t in tags.values())
