"""CIS AWS Foundations Benchmark v3.0.0, section 4 (Monitoring): a metric filter on the trail's
CloudWatch Logs group and an alarm to the alert topic for each of controls 4.1 to 4.14.

The controls are data (`CIS_MONITORING_CONTROLS`) so that tests, the plan's rules and the
control matrix read the same tuple the component builds from. The filter patterns are the ones
the AWS Security Hub user guide gives for controls CloudWatch.1 to CloudWatch.14, which "fail if
the exact metric filters prescribed by CIS are not used. Additional fields or terms cannot be
added to the metric filters" (Security Hub User Guide, "Amazon CloudWatch controls",
https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html): so they are
copied verbatim, never reformatted. CIS v3.0.0 numbers section 4 as v1.4.0 did, which is the
numbering those controls cite (CloudWatch.1 is 4.3, CloudWatch.2 4.1, CloudWatch.3 4.2, and
CloudWatch.N is 4.N from 4 to 14). Security Hub's own CIS v3.0.0 standard does not evaluate
section 4; the CIS benchmark still requires it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.tags import name_tag


@dataclass(frozen=True)
class CisControl:
    """One CIS monitoring control: what to match in CloudTrail events and what to call it."""

    id: str
    """CIS AWS Foundations Benchmark v3.0.0 recommendation (`4.1`)."""
    security_hub: str
    """The AWS Security Hub control that checks it (`CloudWatch.2`)."""
    key: str
    """Stable slug: the Pulumi names and the physical names derive from it, never from `id`."""
    metric: str
    """CloudWatch metric name the filter emits (the name AWS's remediation examples use)."""
    title: str
    """What the alarm means, for its description."""
    pattern: str
    """The CloudWatch Logs filter pattern, exactly as AWS documents it for `security_hub`."""


CIS_MONITORING_CONTROLS: tuple[CisControl, ...] = (
    CisControl(
        "4.1",
        "CloudWatch.2",
        "unauthorized-api-calls",
        "UnauthorizedAPICalls",
        "Unauthorized API calls",
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    ),
    CisControl(
        "4.2",
        "CloudWatch.3",
        "console-signin-without-mfa",
        "ConsoleSigninWithoutMFA",
        "Management Console sign-in without MFA",
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
    ),
    CisControl(
        "4.3",
        "CloudWatch.1",
        "root-usage",
        "RootAccountUsage",
        'Usage of the "root" user',
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && '
        '$.eventType !="AwsServiceEvent"}',
    ),
    CisControl(
        "4.4",
        "CloudWatch.4",
        "iam-policy-changes",
        "IAMPolicyChanges",
        "IAM policy changes",
        "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || "
        "($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || "
        "($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
        "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || "
        "($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || "
        "($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
        "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || "
        "($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}",
    ),
    CisControl(
        "4.5",
        "CloudWatch.5",
        "cloudtrail-changes",
        "CloudTrailChanges",
        "CloudTrail configuration changes",
        "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
        "($.eventName=StartLogging) || ($.eventName=StopLogging)}",
    ),
    CisControl(
        "4.6",
        "CloudWatch.6",
        "console-auth-failures",
        "ConsoleAuthenticationFailure",
        "Management Console authentication failures",
        '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
    ),
    CisControl(
        "4.7",
        "CloudWatch.7",
        "cmk-disable-or-deletion",
        "DisableOrDeleteCMK",
        "Disabling or scheduled deletion of customer managed KMS keys",
        "{($.eventSource=kms.amazonaws.com) && "
        "(($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
    ),
    CisControl(
        "4.8",
        "CloudWatch.8",
        "s3-bucket-policy-changes",
        "S3BucketPolicyChanges",
        "S3 bucket policy changes",
        "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || "
        "($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || "
        "($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
        "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || "
        "($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}",
    ),
    CisControl(
        "4.9",
        "CloudWatch.9",
        "config-changes",
        "AWSConfigChanges",
        "AWS Config configuration changes",
        "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
        "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
        "($.eventName=PutConfigurationRecorder))}",
    ),
    CisControl(
        "4.10",
        "CloudWatch.10",
        "security-group-changes",
        "SecurityGroupChanges",
        "Security group changes",
        "{($.eventName=AuthorizeSecurityGroupIngress) || "
        "($.eventName=AuthorizeSecurityGroupEgress) || "
        "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
        "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",
    ),
    CisControl(
        "4.11",
        "CloudWatch.11",
        "nacl-changes",
        "NetworkACLChanges",
        "Network ACL changes",
        "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || "
        "($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || "
        "($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}",
    ),
    CisControl(
        "4.12",
        "CloudWatch.12",
        "network-gateway-changes",
        "NetworkGatewayChanges",
        "Network gateway changes",
        "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
        "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
        "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}",
    ),
    CisControl(
        "4.13",
        "CloudWatch.13",
        "route-table-changes",
        "RouteTableChanges",
        "Route table changes",
        "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || "
        "($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || "
        "($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
        "($.eventName=DisassociateRouteTable)}",
    ),
    CisControl(
        "4.14",
        "CloudWatch.14",
        "vpc-changes",
        "VPCChanges",
        "VPC changes",
        "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || "
        "($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || "
        "($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || "
        "($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || "
        "($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || "
        "($.eventName=EnableVpcClassicLink)}",
    ),
)
"""CIS v3.0.0 controls 4.1 to 4.14, in CIS order."""

ALARM_PERIOD_SECONDS = 300
"""One event in five minutes raises the alarm (the period AWS's remediation steps keep)."""


def metric_namespace(environment: str) -> str:
    """The stack's own namespace: two stacks sharing an account never add up each other's
    events in one metric."""
    return f"TAP/{environment}/CIS"


def physical_name(environment: str, control: CisControl) -> str:
    """Name of a control's metric filter and alarm (`<environment>-cis-<key>`): letters,
    digits and hyphens, so never the ':' or '*' a filter name refuses."""
    return naming.global_name(environment, f"cis-{control.key}", naming.ALARM_NAME)


@dataclass(frozen=True)
class CisAlarmsArgs:
    """Inputs of CisAlarms."""

    environment: str
    """Environment name, for names, the metric namespace and tags."""
    log_group_name: pulumi.Input[str]
    """The CloudWatch Logs group the trail delivers to (pass the group's Output, so every
    filter waits for the group)."""
    alarm_topic_arn: pulumi.Input[str]
    """The SNS topic every alarm notifies: it must be in the alarms' region and admit this
    account's alarms (components/alerts.py)."""


class CisAlarms(pulumi.ComponentResource):
    """One metric filter and one alarm per CIS v3.0.0 monitoring control (4.1 to 4.14)."""

    def __init__(
        self, name: str, args: CisAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:cis_alarms:CisAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = metric_namespace(args.environment)
        alarm_names: list[str] = []
        for control in CIS_MONITORING_CONTROLS:
            label = physical_name(args.environment, control)
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{control.key}-filter",
                name=label,
                log_group_name=args.log_group_name,
                pattern=control.pattern,
                # No default value: the metric is published on a match only, so an idle
                # filter is no custom metric billed every month (CloudWatch pricing).
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=control.metric, namespace=namespace, value="1"
                ),
                opts=child,
            )
            aws.cloudwatch.MetricAlarm(
                f"{name}-{control.key}-alarm",
                name=label,
                alarm_description=(
                    f"CIS AWS Foundations v3.0.0 {control.id} (Security Hub "
                    f"{control.security_hub}): {control.title} in the account's CloudTrail events"
                ),
                namespace=namespace,
                metric_name=control.metric,
                statistic="Sum",
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=1.0,
                period=ALARM_PERIOD_SECONDS,
                evaluation_periods=1,
                # The filter emits nothing while no event matches: quiet is OK, not unknown.
                treat_missing_data="notBreaching",
                # ALARM only: each event is its own notification, and the OK that follows
                # five quiet minutes later would double every page and carry nothing.
                alarm_actions=[args.alarm_topic_arn],
                tags=name_tag(label),
                opts=child,
            )
            alarm_names.append(label)
        self.alarm_names: list[str] = alarm_names
        self.metric_namespace: str = namespace
        self.register_outputs({"alarm_names": self.alarm_names})
