"""The stack's one CloudTrail trail: every region, global events, validated, KMS-encrypted, and
copied to a CloudWatch Logs group whose CIS metric filters alarm to the primary region's topic."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs, Statements, Transition
from components.cis_alarms import CisAlarms, CisAlarmsArgs
from tap import naming
from tap.config import AuditConfig
from tap.policy_doc import assume_role, document
from tap.protection import Protection
from tap.tags import name_tag


@dataclass(frozen=True)
class AuditArgs:
    """Inputs of Audit."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """The primary region, home of the trail, its key and its bucket."""
    account_id: pulumi.Input[str]
    """Account id (trail ARN, policies)."""
    protection: Protection
    """Keeps the bucket on destroy; the key's deletion window."""
    retention: AuditConfig
    """When logs move to STANDARD_IA, then GLACIER, and when they are deleted; how long the
    CloudWatch Logs copy is kept."""
    log_key_arn: pulumi.Input[str]
    """The primary region's key (components/keys.py), which encrypts the trail's log group:
    its policy already admits CloudWatch Logs of this region for this account's groups."""
    alarm_topic_arn: pulumi.Input[str]
    """The primary region's alert topic, which the CIS alarms notify."""


def trail_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def trail_key_policy(account: str, arn: str) -> str:
    """The trail's key: the account administers it and reads logs; CloudTrail encrypts."""
    trails = f"arn:aws:cloudtrail:*:{account}:trail/*"
    return document(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudTrailEncryptsLogs",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": arn},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
            },
        },
        {
            "Sid": "CloudTrailDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": arn}},
        },
        {
            "Sid": "AccountReadsLogs",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:CallerAccount": account},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
            },
        },
    )


def log_group_name(environment: str) -> str:
    """The trail's CloudWatch Logs group: account-wide, so no region in the name."""
    return f"/tap/{environment}/cloudtrail"


def delivery_trust_policy() -> str:
    """CloudTrail may assume the delivery role.

    No aws:SourceArn or aws:SourceAccount condition, unlike every other service trust here:
    "Confused deputy prevention is not applicable to the role policy for CloudWatch Logs
    monitoring. The role policy doesn't support the use of aws:SourceArn and
    aws:SourceAccount" (CloudTrail User Guide, "Role policy document for CloudTrail to use
    CloudWatch Logs for monitoring"). CloudTrail sends neither key when it assumes the role, so
    such a condition would deny it and CreateTrail would fail
    (InvalidCloudWatchLogsRoleArnException).
    """
    return assume_role("cloudtrail.amazonaws.com")


def delivery_policy(log_group_arn: str, account: str, region: str) -> str:
    """Create streams and put events in this trail's group, nothing else.

    The streams are the ones CloudTrail names `<account>_CloudTrail_<trail region>[_<n>]`
    (CloudTrail User Guide, "CloudWatch log group and log stream naming for CloudTrail"), and
    the resource is the prefix AWS's own default role policy grants.
    """
    streams = f"{log_group_arn}:log-stream:{account}_CloudTrail_{region}*"
    return document(
        {
            "Sid": "CloudTrailCreatesItsStreams",
            "Effect": "Allow",
            "Action": "logs:CreateLogStream",
            "Resource": streams,
        },
        {
            "Sid": "CloudTrailPutsItsEvents",
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": streams,
        },
    )


def trail_bucket_statements(arn: str) -> Statements:
    """Bucket-policy statements admitting only this trail's delivery."""

    def statements(bucket_arn: str, account: str) -> list[dict]:
        return [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": {"aws:SourceArn": arn}},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceArn": arn,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            },
        ]

    return statements


class Audit(pulumi.ComponentResource):
    """One multi-region trail with log-file validation, its KMS key and its bucket, and its
    CloudWatch Logs copy with the CIS monitoring alarms."""

    def __init__(
        self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:audit:Audit", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        trail_name = naming.global_name(args.environment, "trail", 128)
        arn = pulumi.Output.from_input(args.account_id).apply(
            lambda account: trail_arn(args.region, account, trail_name)
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"TAP {args.environment} CloudTrail logs",
            enable_key_rotation=True,
            deletion_window_in_days=args.protection.key_deletion_window_days,
            policy=pulumi.Output.all(args.account_id, arn).apply(
                lambda values: trail_key_policy(*values)
            ),
            tags=name_tag(naming.global_name(args.environment, "trail-key")),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{naming.global_name(args.environment, 'trail')}",
            target_key_id=key.key_id,
            opts=child,
        )

        def statements(bucket_arn: str, account: str) -> list[dict]:
            return trail_bucket_statements(trail_arn(args.region, account, trail_name))(
                bucket_arn, account
            )

        bucket = SecureBucket(
            f"{name}-logs",
            SecureBucketArgs(
                environment=args.environment,
                region=args.region,
                service="trail",
                account_id=args.account_id,
                expiration_days=args.retention.expiration_days,
                transitions=(
                    Transition(args.retention.transition_ia_days, "STANDARD_IA"),
                    Transition(args.retention.transition_glacier_days, "GLACIER"),
                ),
                retain_on_delete=args.protection.retain_on_delete,
                kms_key_arn=key.arn,
                policy_statements=statements,
            ),
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-trail-logs",
            name=log_group_name(args.environment),
            retention_in_days=args.retention.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=name_tag(naming.global_name(args.environment, "trail-logs")),
            opts=child,
        )
        role_name = naming.global_name(args.environment, "trail-logs", naming.IAM_ROLE_NAME)
        role = aws.iam.Role(
            f"{name}-trail-logs-role",
            name=role_name,
            description=f"CloudTrail delivery of {trail_name} to CloudWatch Logs",
            assume_role_policy=delivery_trust_policy(),
            tags=name_tag(role_name),
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            f"{name}-trail-logs-delivery",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, args.account_id).apply(
                lambda values: delivery_policy(values[0], values[1], args.region)
            ),
            opts=child,
        )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=bucket.bucket_name,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=key.arn,
            # CloudTrail wants the group's ARN with the log-stream wildcard, which the
            # provider's LogGroup.arn (since AWS provider 3.0) no longer ends with: without it
            # CreateTrail fails with InvalidCloudWatchLogsLogGroupArnException (Pulumi AWS
            # registry, cloudtrail.Trail: "CloudTrail requires the Log Stream wildcard";
            # hashicorp/terraform-provider-aws #14557).
            cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=name_tag(trail_name),
            # CloudTrail checks the bucket policy, and assumes the role to check it may write to
            # the group, when the trail is created: the role's ARN alone would not wait for the
            # role's policy. (IAM's propagation lag after that is the provider's: it retries
            # CreateTrail's "Access denied" for a minute, terraform-provider-aws #1312, #5499.)
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*bucket.ready, delivery]),
        )
        alarms = CisAlarms(
            f"{name}-cis",
            CisAlarmsArgs(
                environment=args.environment,
                log_group_name=log_group.name,
                alarm_topic_arn=args.alarm_topic_arn,
            ),
            opts=child,
        )
        self.trail_name: str = trail_name
        self.trail_arn: pulumi.Output[str] = trail.arn
        self.trail_bucket: pulumi.Output[str] = bucket.bucket_name
        self.trail_key_arn: pulumi.Output[str] = key.arn
        self.trail_log_group_name: pulumi.Output[str] = log_group.name
        self.cis_alarm_names: list[str] = alarms.alarm_names
        self.register_outputs(
            {
                "trail_arn": self.trail_arn,
                "trail_bucket": self.trail_bucket,
                "trail_log_group_name": self.trail_log_group_name,
                "cis_alarm_names": self.cis_alarm_names,
            }
        )
