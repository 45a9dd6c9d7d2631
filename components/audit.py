"""The stack's one CloudTrail trail: every region, global events, validated, KMS-encrypted."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs, Statements, Transition
from tap import naming
from tap.policy_doc import document
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
    is_production: bool = False
    """Keeps the bucket on destroy; longer key deletion window."""
    transition_ia_days: int = 30
    """Logs move to STANDARD_IA after this many days."""
    transition_glacier_days: int = 90
    """Then to GLACIER."""
    expiration_days: int = 365
    """Then they are deleted."""


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
    """One multi-region trail with log-file validation, its KMS key and its bucket."""

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
            deletion_window_in_days=30 if args.is_production else 7,
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
                expiration_days=args.expiration_days,
                transitions=(
                    Transition(args.transition_ia_days, "STANDARD_IA"),
                    Transition(args.transition_glacier_days, "GLACIER"),
                ),
                force_destroy=not args.is_production,
                kms_key_arn=key.arn,
                policy_statements=statements,
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
            tags=name_tag(trail_name),
            # CloudTrail checks the bucket policy when the trail is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=bucket.ready),
        )
        self.trail_name: str = trail_name
        self.trail_arn: pulumi.Output[str] = trail.arn
        self.trail_bucket: pulumi.Output[str] = bucket.bucket_name
        self.trail_key_arn: pulumi.Output[str] = key.arn
        self.register_outputs({"trail_arn": self.trail_arn, "trail_bucket": self.trail_bucket})
