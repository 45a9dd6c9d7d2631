"""Monitoring built on its own (the alarm set with and without a database or a replica, its
thresholds, actions and dashboard), then what only the whole program shows: every region's
alerts on its own topic and key, the global topic in us-east-1, every log group's key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.monitoring import Monitoring, MonitoringArgs, dashboard_body
from tap.config import ThresholdsConfig
from tap.global_provider import GLOBAL_REGION
from tap_tooling.offline import MOCK_ACCOUNT_ID, PlanResult, Recorded
from tests.conftest import inputs_of
from tests.harness import ACCOUNT, Built, build, in_region, shipped_stack

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# The Front's alarms (us-east-1, global topic): Route53 health checks, the edge's WAF.
GLOBAL_NAMESPACES = ("AWS/Route53", "AWS/WAFV2")
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
GLOBAL = "global"
"""Name prefix of the global pieces' own key and topic (`global-key`, `global-alerts`), which
sit in us-east-1 whether or not us-east-1 is a stack region."""


# --- the component alone ----------------------------------------------------------------------

TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:qa-alerts-eu-west-1"
ASG_NAME = "qa-app-eu-west-1"
ALB_SUFFIX = "app/qa-alb-eu-west-1/0123456789abcdef"
TG_SUFFIX = "targetgroup/qa-app8080-eu-west-1/fedcba9876543210"
DB_ID = "qa-db-eu-west-1"
APP_ALARMS = {
    "app-cpu": ("AWS/EC2", "CPUUtilization"),
    "alb-5xx": ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
    "target-5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
    "unhealthy-hosts": ("AWS/ApplicationELB", "UnHealthyHostCount"),
    "response-time": ("AWS/ApplicationELB", "TargetResponseTime"),
}
DB_ALARMS = {
    "db-cpu": ("AWS/RDS", "CPUUtilization"),
    "db-free-storage": ("AWS/RDS", "FreeStorageSpace"),
    "db-free-memory": ("AWS/RDS", "FreeableMemory"),
    "db-connections": ("AWS/RDS", "DatabaseConnections"),
}
REPLICA_ALARMS = {"replica-lag": ("AWS/RDS", "ReplicaLag")}


def build_monitoring(
    thresholds: ThresholdsConfig | None = None, region: str = "eu-west-1", **changes: Any
) -> Built:
    def program() -> dict[str, Any]:
        monitoring = Monitoring(
            f"{region}-monitoring",
            MonitoringArgs(
                **{
                    "environment": "qa",
                    "region": region,
                    "topic_arn": TOPIC_ARN,
                    "asg_name": ASG_NAME,
                    "alb_arn_suffix": ALB_SUFFIX,
                    "target_group_arn_suffix": TG_SUFFIX,
                    "thresholds": thresholds or ThresholdsConfig(),
                    **changes,
                }
            ),
            opts=in_region(region),
        )
        return {"dashboard_name": monitoring.dashboard_name, "alarm_names": monitoring.alarm_names}

    return build(program)


def alarms_by_key(built: Built) -> dict[str, Recorded]:
    """Alarms keyed by what they watch (`app-cpu`, `replica-lag`...)."""
    return {a.name.removeprefix("eu-west-1-monitoring-"): a for a in built.of_type(ALARM)}


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ({}, APP_ALARMS),
        ({"db_identifier": DB_ID}, {**APP_ALARMS, **DB_ALARMS}),
        ({"db_identifier": DB_ID, "db_is_replica": True},
         {**APP_ALARMS, **DB_ALARMS, **REPLICA_ALARMS}),
    ],
    ids=["no-database", "primary", "replica"],
)  # fmt: skip
def test_the_alarm_set_follows_the_regions_database(
    database: dict[str, Any], expected: dict[str, tuple[str, str]]
) -> None:
    built = build_monitoring(**database)
    alarms = alarms_by_key(built)
    assert {k: (a.inputs["namespace"], a.inputs["metricName"]) for k, a in alarms.items()} == (
        expected
    )
    names = [f"qa-{key}-eu-west-1" for key in expected]
    assert sorted(a.inputs["name"] for a in alarms.values()) == sorted(names)
    assert sorted(built.outputs["alarm_names"]) == sorted(names)
    for key in DB_ALARMS.keys() & alarms.keys():
        assert alarms[key].inputs["dimensions"] == {"DBInstanceIdentifier": DB_ID}


def test_every_alarm_pages_the_topic_on_alarm_and_recovery() -> None:
    thresholds = ThresholdsConfig(evaluation_periods=5)
    built = build_monitoring(thresholds, db_identifier=DB_ID, db_is_replica=True)
    for alarm in built.of_type(ALARM):
        inputs = alarm.inputs
        assert inputs["alarmActions"] == inputs["okActions"] == [TOPIC_ARN], alarm.name
        assert inputs["period"] == 60
        assert inputs["evaluationPeriods"] == inputs["datapointsToAlarm"] == 5
        assert inputs["tags"] == {"Name": inputs["name"]}
        assert alarm.region == "eu-west-1"


def test_dimensions_point_at_the_given_group_load_balancer_and_target_group() -> None:
    alarms = {k: a.inputs["dimensions"] for k, a in alarms_by_key(build_monitoring()).items()}
    assert alarms["app-cpu"] == {"AutoScalingGroupName": ASG_NAME}
    for key in ("alb-5xx", "target-5xx", "response-time"):
        assert alarms[key] == {"LoadBalancer": ALB_SUFFIX}
    assert alarms["unhealthy-hosts"] == {"LoadBalancer": ALB_SUFFIX, "TargetGroup": TG_SUFFIX}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_thresholds_of_each_shipped_stack_reach_their_alarms(stack: str) -> None:
    t = shipped_stack(stack).alerts.thresholds
    alarms = {
        k: a.inputs
        for k, a in alarms_by_key(
            build_monitoring(t, db_identifier=DB_ID, db_is_replica=True)
        ).items()
    }
    expected = {
        "app-cpu": ("GreaterThanThreshold", t.instance_cpu_percent, "missing"),
        "alb-5xx": ("GreaterThanThreshold", t.alb_5xx_count, "notBreaching"),
        "target-5xx": ("GreaterThanThreshold", t.alb_5xx_count, "notBreaching"),
        "unhealthy-hosts": ("GreaterThanOrEqualToThreshold", t.unhealthy_hosts, "breaching"),
        "response-time": ("GreaterThanThreshold", t.target_response_seconds, "notBreaching"),
        "db-cpu": ("GreaterThanThreshold", t.db_cpu_percent, "missing"),
        # Storage and memory are configured in GB and MB, measured in bytes.
        "db-free-storage": ("LessThanThreshold", t.db_free_storage_gb * 1024**3, "missing"),
        "db-free-memory": ("LessThanThreshold", t.db_free_memory_mb * 1024**2, "missing"),
        "db-connections": ("GreaterThanThreshold", t.db_connections, "missing"),
        # A replica that stops replicating reports nothing: as bad as lagging.
        "replica-lag": ("GreaterThanThreshold", t.replica_lag_seconds, "breaching"),
    }
    assert {
        k: (a["comparisonOperator"], a["threshold"], a["treatMissingData"])
        for k, a in alarms.items()
    } == expected


def test_the_shipped_stacks_page_sooner_in_prod() -> None:
    dev, prod = (shipped_stack(s).alerts.thresholds for s in ("dev", "prod"))
    assert prod.instance_cpu_percent < dev.instance_cpu_percent
    assert prod.alb_5xx_count < dev.alb_5xx_count
    assert prod.target_response_seconds < dev.target_response_seconds
    assert prod.replica_lag_seconds < dev.replica_lag_seconds


def test_a_replica_alarm_needs_a_database() -> None:
    with pytest.raises(ValueError, match=r"MonitoringArgs\.db_is_replica needs db_identifier"):
        build_monitoring(db_is_replica=True)


@pytest.mark.parametrize("with_database", [False, True])
def test_one_dashboard_of_the_region_with_a_database_widget_only_for_a_database(
    with_database: bool,
) -> None:
    database: dict[str, Any] = {"db_identifier": DB_ID} if with_database else {}
    built = build_monitoring(**database)
    (dashboard,) = built.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert (
        dashboard.inputs["dashboardName"] == built.outputs["dashboard_name"] == ("qa-tap-eu-west-1")
    )
    body = dashboard.inputs["dashboardBody"]
    assert body == dashboard_body(
        "eu-west-1", {"alb": ALB_SUFFIX, "asg": ASG_NAME, "db": DB_ID if with_database else ""}
    )
    widgets = json.loads(body)["widgets"]
    assert all(w["properties"]["region"] == "eu-west-1" for w in widgets)
    titles = [w["properties"]["title"] for w in widgets]
    assert ("Database" in titles) is with_database
    assert (DB_ID in body) is with_database


def test_everything_sits_under_monitoring_on_its_provider() -> None:
    built = build_monitoring(db_identifier=DB_ID)
    (component,) = built.components("tap:monitoring:Monitoring")
    children = built.under(component)
    assert len(children) == len(APP_ALARMS) + len(DB_ALARMS) + 1
    assert {r.provider_urn for r in children if r.custom} == {built.provider_urn("aws-eu-west-1")}


# --- in the whole program ---------------------------------------------------------------------


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
        outer = any_plan.component_of(alarm)
        if outer is not None and outer.type == "tap:audit:Audit":
            # CIS monitoring alarms on the trail's logs: the primary region's topic, alarm only
            # (an API call that happened cannot "recover").
            primary = any_plan.outputs["deployment_summary"]["primary_region"]
            topic = any_plan.outputs["regions"][primary]["alert_topic_arn"]
            assert alarm.region == primary and alarm.inputs["alarmActions"] == [topic]
            continue
        if alarm.inputs["namespace"] in GLOBAL_NAMESPACES:
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
        if a["namespace"] not in GLOBAL_NAMESPACES
    }


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


def test_every_log_group_has_retention_and_a_rotating_key_of_its_region(
    stack_plan: PlanResult,
) -> None:
    """A region's groups use that region's key; the others (the trail's copy, the edge's WAF
    logs, the zone's query logs) a key of their own region too, never an AWS-owned one."""
    groups = stack_plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) >= 3 * len(regions_of(stack_plan))
    keys = {key_arn(stack_plan, key): key for key in stack_plan.of_type(KEY)}
    by_urn = stack_plan.by_urn()
    for group in groups:
        assert group.inputs["retentionInDays"] > 0, group.name
        key = keys.get(group.inputs["kmsKeyId"])
        assert key is not None, group.name
        assert key.region == group.region and key.inputs["enableKeyRotation"] is True, group.name
        parent = by_urn.get(group.parent_urn)
        while parent is not None and parent.type != "tap:region:Region":
            parent = by_urn.get(parent.parent_urn)
        if parent is not None:
            regional_key = stack_plan.outputs["regions"][group.region]["kms_key_arn"]
            assert group.inputs["kmsKeyId"] == regional_key, group.name


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
