"""CIS monitoring (CIS AWS Foundations Benchmark v3.0.0, 4.1 to 4.14): the controls as data,
CisAlarms built on its own (one metric filter and one alarm per control, wired to the topic),
the Audit that feeds it (the trail's CloudWatch Logs copy: encrypted group with retention, a
delivery role CloudTrail can assume and that writes only there, the trail wired to both), then
the whole program: the alarms sit in the primary region and page its alert topic."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.audit import Audit, AuditArgs
from components.cis_alarms import (
    CIS_MONITORING_CONTROLS,
    CisAlarms,
    CisAlarmsArgs,
    metric_namespace,
)
from tap.config import AuditConfig
from tap.protection import NON_PRODUCTION
from tap_tooling.offline import PlanResult
from tests.conftest import STACKS
from tests.harness import ACCOUNT, Built, build, in_region, shipped_stack

FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"

REGION = "eu-west-1"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:qa-alerts-{REGION}"
LOG_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e0d0c-0b0a-0908-0706-050403020100"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/tap/qa/cloudtrail"

# The filter patterns of Security Hub controls CloudWatch.1 to CloudWatch.14, copied from the
# AWS Security Hub User Guide, "Amazon CloudWatch controls" (remediation, "Filter Pattern").
# Security Hub fails a control whose filter differs from these, so they are compared verbatim.
DOCUMENTED_PATTERNS = {
    "CloudWatch.1": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',  # noqa: E501
    "CloudWatch.2": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    "CloudWatch.3": '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',  # noqa: E501
    "CloudWatch.4": "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}",  # noqa: E501
    "CloudWatch.5": "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}",  # noqa: E501
    "CloudWatch.6": '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
    "CloudWatch.7": "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",  # noqa: E501
    "CloudWatch.8": "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}",  # noqa: E501
    "CloudWatch.9": "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}",  # noqa: E501
    "CloudWatch.10": "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",  # noqa: E501
    "CloudWatch.11": "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}",  # noqa: E501
    "CloudWatch.12": "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}",  # noqa: E501
    "CloudWatch.13": "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}",  # noqa: E501
    "CloudWatch.14": "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}",  # noqa: E501
}

# CIS v3.0.0 section 4 keeps v1.4.0's numbering, the one Security Hub's controls cite
# ("Related requirements: CIS AWS Foundations Benchmark v1.4.0/4.N").
CIS_TO_SECURITY_HUB = {
    "4.1": "CloudWatch.2",
    "4.2": "CloudWatch.3",
    "4.3": "CloudWatch.1",
    **{f"4.{n}": f"CloudWatch.{n}" for n in range(4, 15)},
}

# What the alarms are called in AWS: changing one replaces that alarm and its filter.
EXPECTED_NAMES = [
    "qa-cis-unauthorized-api-calls",
    "qa-cis-console-signin-without-mfa",
    "qa-cis-root-usage",
    "qa-cis-iam-policy-changes",
    "qa-cis-cloudtrail-changes",
    "qa-cis-console-auth-failures",
    "qa-cis-cmk-disable-or-deletion",
    "qa-cis-s3-bucket-policy-changes",
    "qa-cis-config-changes",
    "qa-cis-security-group-changes",
    "qa-cis-nacl-changes",
    "qa-cis-network-gateway-changes",
    "qa-cis-route-table-changes",
    "qa-cis-vpc-changes",
]


# --- the controls as data ---------------------------------------------------------------------


def test_the_fourteen_monitoring_controls_in_cis_order() -> None:
    assert [c.id for c in CIS_MONITORING_CONTROLS] == [f"4.{n}" for n in range(1, 15)]
    assert {c.id: c.security_hub for c in CIS_MONITORING_CONTROLS} == CIS_TO_SECURITY_HUB


@pytest.mark.parametrize("control", CIS_MONITORING_CONTROLS, ids=lambda c: c.id)
def test_each_pattern_is_the_one_aws_documents(control: Any) -> None:
    assert control.pattern == DOCUMENTED_PATTERNS[control.security_hub]


def test_keys_metrics_and_titles_are_unique() -> None:
    for field in ("key", "metric", "title", "pattern"):
        values = [getattr(c, field) for c in CIS_MONITORING_CONTROLS]
        assert len(set(values)) == len(values), field


def test_what_cloudwatch_logs_accepts() -> None:
    """PutMetricFilter (CloudWatch Logs API Reference): filterPattern 0-1024 characters;
    metricName and metricNamespace up to 255 of [^:*$]; filterName 1-512 of [^:*]."""
    namespace = metric_namespace("qa")
    assert re.fullmatch(r"[^:*$]{1,255}", namespace)
    assert not namespace.startswith("AWS/")  # AWS's own namespaces
    for control in CIS_MONITORING_CONTROLS:
        assert len(control.pattern) <= 1024, control.id
        assert re.fullmatch(r"[^:*$]{1,255}", control.metric), control.id
        assert re.fullmatch(r"[a-z0-9-]+", control.key), control.id


# --- CisAlarms on its own ---------------------------------------------------------------------


def build_alarms(environment: str = "qa", region: str = REGION) -> Built:
    def program() -> dict[str, Any]:
        alarms = CisAlarms(
            "audit-cis",
            CisAlarmsArgs(
                environment=environment,
                log_group_name=f"/tap/{environment}/cloudtrail",
                alarm_topic_arn=TOPIC_ARN,
            ),
            opts=in_region(region),
        )
        return {"alarm_names": alarms.alarm_names, "namespace": alarms.metric_namespace}

    return build(program)


def per_control(built: Built, type_: str, suffix: str) -> list[Any]:
    """The filters or alarms, one per control in CIS order (registration order is not)."""
    by_name = {r.name: r for r in built.of_type(type_)}
    assert len(by_name) == len(CIS_MONITORING_CONTROLS)
    return [by_name[f"audit-cis-{c.key}-{suffix}"] for c in CIS_MONITORING_CONTROLS]


def test_one_filter_per_control_on_the_trails_group_with_the_documented_pattern() -> None:
    built = build_alarms()
    filters = per_control(built, FILTER, "filter")
    assert [f.inputs["pattern"] for f in filters] == [
        DOCUMENTED_PATTERNS[c.security_hub] for c in CIS_MONITORING_CONTROLS
    ]
    for control, metric_filter in zip(CIS_MONITORING_CONTROLS, filters, strict=True):
        assert metric_filter.inputs["logGroupName"] == "/tap/qa/cloudtrail"
        assert metric_filter.inputs["metricTransformation"] == {
            "name": control.metric,
            "namespace": "TAP/qa/CIS",
            "value": "1",
        }
        assert re.fullmatch(r"[^:*]{1,512}", metric_filter.inputs["name"])


def test_each_alarm_counts_its_filters_metric_and_pages_the_topic() -> None:
    built = build_alarms()
    filters = per_control(built, FILTER, "filter")
    alarms = per_control(built, ALARM, "alarm")
    assert len(alarms) == 14
    for control, alarm, metric_filter in zip(CIS_MONITORING_CONTROLS, alarms, filters, strict=True):
        inputs = alarm.inputs
        assert inputs["metricName"] == control.metric
        assert inputs["namespace"] == metric_filter.inputs["metricTransformation"]["namespace"]
        assert inputs["name"] == metric_filter.inputs["name"]
        assert (inputs["statistic"], inputs["comparisonOperator"], inputs["threshold"]) == (
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
        )
        assert (inputs["period"], inputs["evaluationPeriods"]) == (300, 1)
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmActions"] == [TOPIC_ARN]
        assert "okActions" not in inputs
        assert inputs.get("actionsEnabled", True) is True
        assert control.id in inputs["alarmDescription"]
        assert control.security_hub in inputs["alarmDescription"]
        assert inputs["tags"] == {"Name": inputs["name"]}


def test_names_are_unique_and_stable() -> None:
    built = build_alarms()
    assert built.outputs["alarm_names"] == EXPECTED_NAMES
    # Pulumi names from the control's key (per_control finds each one), physical names too.
    assert [a.inputs["name"] for a in per_control(built, ALARM, "alarm")] == EXPECTED_NAMES
    assert [f.inputs["name"] for f in per_control(built, FILTER, "filter")] == EXPECTED_NAMES
    assert built.outputs["namespace"] == "TAP/qa/CIS"


def test_two_environments_never_share_a_metric_or_an_alarm_name() -> None:
    qa, prod = build_alarms("qa"), build_alarms("prod")
    assert not {a.inputs["name"] for a in qa.of_type(ALARM)} & {
        a.inputs["name"] for a in prod.of_type(ALARM)
    }
    assert qa.outputs["namespace"] != prod.outputs["namespace"]


def test_everything_sits_under_cis_alarms_on_its_provider() -> None:
    built = build_alarms(region="us-east-2")
    (component,) = built.components("tap:cis_alarms:CisAlarms")
    children = built.under(component)
    assert len(children) == 2 * len(CIS_MONITORING_CONTROLS)
    assert {r.provider_urn for r in children} == {built.provider_urn("aws-us-east-2")}


# --- the Audit that feeds them ----------------------------------------------------------------


def build_audit(retention: AuditConfig | None = None) -> Built:
    def program() -> dict[str, Any]:
        audit = Audit(
            "audit",
            AuditArgs(
                environment="qa",
                region=REGION,
                account_id=ACCOUNT,
                protection=NON_PRODUCTION,
                retention=retention or AuditConfig(),
                log_key_arn=LOG_KEY_ARN,
                alarm_topic_arn=TOPIC_ARN,
            ),
            opts=in_region(REGION),
        )
        return {
            "trail_arn": audit.trail_arn,
            "trail_log_group_name": audit.trail_log_group_name,
            "cis_alarm_names": audit.cis_alarm_names,
        }

    return build(program)


def only(built: Built, type_: str) -> Any:
    (resource,) = built.of_type(type_)
    return resource


@pytest.mark.parametrize("stack", STACKS)
def test_the_trails_group_is_encrypted_with_the_given_key_and_kept_as_configured(
    stack: str,
) -> None:
    retention = shipped_stack(stack).audit
    built = build_audit(retention)
    group = only(built, LOG_GROUP).inputs
    assert group["name"] == built.outputs["trail_log_group_name"] == "/tap/qa/cloudtrail"
    assert group["kmsKeyId"] == LOG_KEY_ARN
    assert group["retentionInDays"] == retention.log_retention_days
    assert group["tags"] == {"Name": "qa-trail-logs"}


def test_only_cloudtrail_may_assume_the_delivery_role_without_source_conditions() -> None:
    """CloudTrail sends no aws:SourceArn or aws:SourceAccount when it assumes this role
    (CloudTrail User Guide): a condition on either would lock it out."""
    role = only(build_audit(), ROLE).inputs
    assert role["name"] == "qa-trail-logs"
    (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


def test_the_role_may_only_create_streams_and_put_events_in_the_trails_group() -> None:
    built = build_audit()
    policy = only(built, ROLE_POLICY)
    assert policy.inputs["role"] == built.id_of(only(built, ROLE))
    statements = json.loads(policy.inputs["policy"])["Statement"]
    streams = f"{LOG_GROUP_ARN}:log-stream:{ACCOUNT}_CloudTrail_{REGION}*"
    assert sorted((s["Effect"], s["Action"], s["Resource"]) for s in statements) == [
        ("Allow", "logs:CreateLogStream", streams),
        ("Allow", "logs:PutLogEvents", streams),
    ]
    assert all("Condition" not in s for s in statements)


def test_the_trail_delivers_to_the_group_with_the_stream_wildcard_through_the_role() -> None:
    built = build_audit()
    trail = only(built, TRAIL).inputs
    assert trail["cloudWatchLogsGroupArn"] == f"{LOG_GROUP_ARN}:*"
    assert trail["cloudWatchLogsGroupArn"].endswith(":*")
    assert trail["cloudWatchLogsRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/qa-trail-logs"


def test_the_trail_waits_for_the_roles_policy_and_the_bucket_policy() -> None:
    """CloudTrail checks both when the trail is created."""
    built = build_audit()
    depends_on = only(built, TRAIL).depends_on
    assert only(built, ROLE_POLICY).urn in depends_on
    assert only(built, BUCKET_POLICY).urn in depends_on


def test_the_audit_raises_the_cis_alarms_on_its_group_and_adds_no_key() -> None:
    built = build_audit()
    (audit,) = built.components("tap:audit:Audit")
    (alarms,) = built.components("tap:cis_alarms:CisAlarms")
    assert alarms.parent_urn == audit.urn
    assert {f.inputs["logGroupName"] for f in built.of_type(FILTER)} == {"/tap/qa/cloudtrail"}
    assert {tuple(a.inputs["alarmActions"]) for a in built.of_type(ALARM)} == {(TOPIC_ARN,)}
    assert built.outputs["cis_alarm_names"] == EXPECTED_NAMES
    # The group uses the region's key: the trail's own key stays the only one here.
    assert len(built.of_type(KEY)) == 1


# --- in the whole program ---------------------------------------------------------------------


def test_the_cis_alarms_page_the_primary_regions_topic(stack_plan: PlanResult) -> None:
    primary = stack_plan.outputs["deployment_summary"]["primary_region"]
    topic = stack_plan.outputs["regions"][primary]["alert_topic_arn"]
    key = stack_plan.outputs["regions"][primary]["kms_key_arn"]
    filters = stack_plan.of_type(FILTER)
    alarms = [a for a in stack_plan.of_type(ALARM) if a.inputs["namespace"].endswith("/CIS")]
    assert len(filters) == len(alarms) == len(CIS_MONITORING_CONTROLS)
    assert {r.region for r in filters + alarms} == {primary}
    assert {tuple(a.inputs["alarmActions"]) for a in alarms} == {(topic,)}
    (trail,) = stack_plan.of_type(TRAIL)
    (group,) = [
        g for g in stack_plan.of_type(LOG_GROUP) if g.inputs["name"].endswith("/cloudtrail")
    ]
    assert group.region == primary and group.inputs["kmsKeyId"] == key
    assert trail.inputs["cloudWatchLogsGroupArn"] == (
        f"arn:aws:logs:{primary}:{ACCOUNT}:log-group:{group.inputs['name']}:*"
    )
    assert {f.inputs["logGroupName"] for f in filters} == {group.inputs["name"]}
