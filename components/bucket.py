"""The one way TAP makes an S3 bucket: private, versioned, encrypted, TLS-only, aging out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.policy_doc import document
from tap.tags import name_tag

Statements = Callable[[str, str], list[dict[str, Any]]]
"""Builds extra bucket-policy statements from (bucket ARN, account id)."""


@dataclass(frozen=True)
class Transition:
    """Move current objects to a cheaper storage class after some days."""

    days: int
    storage_class: str


@dataclass(frozen=True)
class SecureBucketArgs:
    """Inputs of SecureBucket. Every field has the safe default."""

    environment: str
    """Environment name, for the bucket name and tags."""
    region: str
    """Region of the component's provider (part of the name: bucket names are global)."""
    service: str
    """What the bucket is for, e.g. "alb-logs" (part of the name)."""
    account_id: pulumi.Input[str]
    """The account id, suffixed to the name so it is globally unique but still predictable."""
    expiration_days: int
    """Current objects are deleted after this many days."""
    retain_on_delete: bool
    """Protection.retain_on_delete: keep the objects on destroy (else `pulumi destroy`
    empties the bucket, so a test stack tears down in one go)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """SSE-KMS with this key; None means SSE-S3 (ALB access logs accept nothing else)."""
    transitions: Sequence[Transition] = field(default_factory=tuple)
    """Storage-class transitions of current objects."""
    noncurrent_days: int = 30
    """Old versions are deleted after this many days."""
    policy_statements: Statements | None = None
    """Extra statements admitting the bucket's one writer (ELB, CloudTrail, ...)."""


def tls_only_statement(bucket_arn: str) -> dict[str, Any]:
    """Deny every request not made over TLS (FSBP S3.5)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


class SecureBucket(pulumi.ComponentResource):
    """A bucket with versioning, encryption, a full public-access block, owner-enforced
    object ownership, a TLS-only policy and a lifecycle rule; nothing is optional."""

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:bucket:SecureBucket", name, None, opts)
        if args.expiration_days < 1:
            raise ValueError(f"SecureBucketArgs.expiration_days {args.expiration_days}")
        for transition in args.transitions:
            if not 0 < transition.days < args.expiration_days:
                raise ValueError(f"SecureBucketArgs.transitions {transition}")
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = pulumi.Output.from_input(args.account_id).apply(
            lambda account: naming.fit(
                f"{naming.physical_name(args.environment, args.service, args.region)}-{account}",
                naming.S3_BUCKET,
            )
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            force_destroy=not args.retain_on_delete,
            tags=name_tag(naming.physical_name(args.environment, args.service, args.region)),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        by_default = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
        )
        if args.kms_key_arn is None:
            default = by_default(sse_algorithm="AES256")
        else:
            default = by_default(sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default,
                    # S3 Bucket Keys cut KMS request costs by orders of magnitude.
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="age-out",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=t.days, storage_class=t.storage_class
                        )
                        for t in args.transitions
                    ],
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expiration_days
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child,
        )
        extra = args.policy_statements

        def policy(arn: str, account: str) -> str:
            return document(tls_only_statement(arn), *(extra(arn, account) if extra else []))

        # After the public-access block: S3 rejects a policy while that block is being applied.
        bucket_policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, args.account_id).apply(lambda v: policy(*v)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )

        self.bucket_name: pulumi.Output[str] = bucket.bucket
        self.bucket_arn: pulumi.Output[str] = bucket.arn
        self.bucket_id: pulumi.Output[str] = bucket.id
        # Writers (ALB, CloudTrail) check the policy when they are configured: wait for it.
        self.ready: list[pulumi.Resource] = [bucket_policy]
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
