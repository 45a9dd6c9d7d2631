"""The region's customer-managed KMS key, shared by every encrypted resource of that region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.policy_doc import document
from tap.protection import Protection
from tap.tags import name_tag


@dataclass(frozen=True)
class RegionKeyArgs:
    """Inputs of RegionKey."""

    environment: str
    """Environment name, for the alias and tags."""
    region: str
    """The region this key lives in (its provider is the component's)."""
    protection: Protection
    """The key's deletion window (short outside production, so teardown is quick)."""
    service: str = "key"
    """Service label of the alias and Name tag (`<environment>-<service>-<region>`)."""


def key_policy(account_id: str, region: str) -> str:
    """Key policy: the account administers it; AWS services of this region may use it.

    Services are admitted only for what they do with the key, and CloudWatch Logs only for
    log groups of this account and region (encryption-context condition).
    """
    root = f"arn:aws:iam::{account_id}:root"
    autoscaling_role = (
        f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    # Cryptographic operations only: they carry an encryption context, which the CloudWatch
    # Logs grant below is conditioned on. DescribeKey carries none, so under that condition it
    # would never be allowed; it gets a statement of its own.
    crypto = [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]
    use = [*crypto, "kms:DescribeKey"]
    autoscaling_role_only = {
        "StringEquals": {"kms:CallerAccount": account_id},
        "ArnEquals": {"aws:PrincipalArn": autoscaling_role},
    }
    return document(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsOfThisRegion",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": crypto,
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:{region}:{account_id}:log-group:*"
                    )
                }
            },
        },
        {
            # DescribeKey is metadata only and has no encryption context to match, which is why
            # AWS's own CloudWatchLogsAPIKeyAccess policy grants it apart from the data actions.
            "Sid": "CloudWatchLogsDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        {
            # Alarms publish to the SNS topic encrypted with this key.
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"},
            },
        },
        {
            # Auto Scaling launches instances whose EBS volumes use this key. Its service-linked
            # role exists only once the account has had an Auto Scaling group, and KMS rejects a
            # policy naming a principal that does not exist: so the role is matched by a
            # condition (conditions are not checked for existence), never named as principal.
            "Sid": "AutoScalingUsesKeyForVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": use,
            "Resource": "*",
            "Condition": autoscaling_role_only,
        },
        {
            "Sid": "AutoScalingGrantsForVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                **autoscaling_role_only,
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        },
    )


class RegionKey(pulumi.ComponentResource):
    """A KMS key with rotation and an alias `alias/<environment>-<region>`."""

    def __init__(
        self, name: str, args: RegionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:keys:RegionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        key_name = naming.physical_name(args.environment, args.service, args.region)

        key = aws.kms.Key(
            f"{name}-cmk",
            description=f"TAP {args.environment} data key for {args.region}",
            enable_key_rotation=True,
            deletion_window_in_days=args.protection.key_deletion_window_days,
            policy=identity.account_id.apply(lambda account: key_policy(account, args.region)),
            tags=name_tag(key_name),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{key_name}",
            target_key_id=key.key_id,
            opts=child,
        )

        self.key_arn: pulumi.Output[str] = key.arn
        self.key_id: pulumi.Output[str] = key.key_id
        self.account_id: pulumi.Output[str] = identity.account_id
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id})
