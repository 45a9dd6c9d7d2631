"""The account-wide audit trail. Audit built on its own (one multi-region, validated trail; its
key's window from Protection; its bucket's lifecycle from AuditConfig; policies admitting this
trail only), then what only the whole program shows: exactly one trail, in the primary region."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.audit import Audit, AuditArgs
from tap.config import AuditConfig
from tap.protection import NON_PRODUCTION, PRODUCTION, Protection
from tap_tooling.offline import PlanResult
from tests.conftest import STACKS
from tests.harness import ACCOUNT, Built, build, in_region, shipped_stack

TRAIL = "aws:cloudtrail/trail:Trail"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
# Minimum storage durations: an object deleted or moved on earlier is charged for the rest
# (S3 User Guide, "Understanding and managing Amazon S3 storage classes",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare).
MINIMUM_DAYS = {"STANDARD_IA": 30, "GLACIER": 90}
TRAIL_ARN = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/qa-trail"
LOG_KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f0e0d0c-0b0a-0908-0706-050403020100"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT}:qa-alerts-eu-west-1"


# --- the component alone ----------------------------------------------------------------------


@functools.cache
def build_audit(
    protection: Protection = NON_PRODUCTION,
    retention: AuditConfig | None = None,
    region: str = "eu-west-1",
) -> Built:
    """The Audit of these Args, built once per test process (read it, never modify it)."""

    def program() -> dict[str, Any]:
        audit = Audit(
            "audit",
            AuditArgs(
                environment="qa",
                region=region,
                account_id=ACCOUNT,
                protection=protection,
                retention=retention or AuditConfig(),
                log_key_arn=LOG_KEY_ARN,
                alarm_topic_arn=TOPIC_ARN,
            ),
            opts=in_region(region),
        )
        return {
            "trail_name": audit.trail_name,
            "trail_arn": audit.trail_arn,
            "trail_bucket": audit.trail_bucket,
            "trail_key_arn": audit.trail_key_arn,
        }

    return build(program)


def only(built: Built, type_: str) -> Any:
    (resource,) = built.of_type(type_)
    return resource


def test_one_multi_region_validated_encrypted_trail() -> None:
    built = build_audit()
    trail = only(built, TRAIL).inputs
    assert trail["name"] == "qa-trail" and trail["tags"] == {"Name": "qa-trail"}
    assert trail["isMultiRegionTrail"] is True
    assert trail["includeGlobalServiceEvents"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["enableLogging"] is True
    assert trail["kmsKeyId"] == built.outputs["trail_key_arn"]
    assert trail["s3BucketName"] == built.outputs["trail_bucket"]
    assert built.outputs["trail_arn"] == TRAIL_ARN
    assert built.outputs["trail_name"] == "qa-trail"


def test_the_trail_waits_for_its_bucket_policy() -> None:
    """CloudTrail checks the bucket policy when the trail is created."""
    built = build_audit()
    assert only(built, POLICY).urn in only(built, TRAIL).depends_on


@pytest.mark.parametrize(("protection", "days", "force_destroy"),
                         [(PRODUCTION, 30, False), (NON_PRODUCTION, 7, True)])  # fmt: skip
def test_protection_sets_the_key_window_and_keeps_the_logs(
    protection: Protection, days: int, force_destroy: bool
) -> None:
    built = build_audit(protection)
    key = only(built, KEY).inputs
    assert key["deletionWindowInDays"] == days
    assert key["enableKeyRotation"] is True
    assert only(built, BUCKET).inputs["forceDestroy"] is force_destroy


def test_the_key_admits_cloudtrail_for_this_trail_only() -> None:
    built = build_audit()
    key = only(built, KEY)
    assert (
        built.outputs["trail_key_arn"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{built.id_of(key)}"
    )
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert set(statements) == {
        "AccountAdministers",
        "CloudTrailEncryptsLogs",
        "CloudTrailDescribesKey",
        "AccountReadsLogs",
    }
    encrypt = statements["CloudTrailEncryptsLogs"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": TRAIL_ARN}
    assert statements["CloudTrailDescribesKey"]["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN}
    }
    reads = statements["AccountReadsLogs"]
    assert reads["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT}
    assert sorted(reads["Action"]) == ["kms:Decrypt", "kms:ReEncryptFrom"]
    (alias,) = built.of_type(ALIAS)
    assert alias.inputs["name"] == "alias/qa-trail"
    assert alias.inputs["targetKeyId"] == built.id_of(key)


def test_the_bucket_admits_only_this_trails_delivery_and_tls() -> None:
    built = build_audit()
    bucket_arn = f"arn:aws:s3:::{built.outputs['trail_bucket']}"
    statements = json.loads(only(built, POLICY).inputs["policy"])["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {"cloudtrail.amazonaws.com"}
    assert all(s["Condition"]["StringEquals"]["aws:SourceArn"] == TRAIL_ARN for s in allows)
    acl = next(s for s in allows if s["Action"] == "s3:GetBucketAcl")
    assert acl["Resource"] == bucket_arn
    write = next(s for s in allows if s["Action"] == "s3:PutObject")
    assert write["Resource"] == f"{bucket_arn}/AWSLogs/{ACCOUNT}/*"
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_the_logs_are_encrypted_with_the_trails_key() -> None:
    built = build_audit()
    (rule,) = only(built, ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": built.outputs["trail_key_arn"],
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_lifecycle_of_each_shipped_stack_pays_no_early_deletion(stack: str) -> None:
    retention = shipped_stack(stack).audit
    (rule,) = only(build_audit(retention=retention), LIFECYCLE).inputs["rules"]
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [
        (retention.transition_ia_days, "STANDARD_IA"),
        (retention.transition_glacier_days, "GLACIER"),
    ]
    assert rule["expiration"]["days"] == retention.expiration_days
    # Each class holds an object at least its minimum, so no early-deletion charge.
    ends = [t["days"] for t in rule["transitions"][1:]] + [rule["expiration"]["days"]]
    for transition, end in zip(rule["transitions"], ends, strict=True):
        assert end - transition["days"] >= MINIMUM_DAYS[transition["storageClass"]], transition


def test_everything_sits_under_the_audit_on_its_provider() -> None:
    built = build_audit(region="us-east-2")
    (component,) = built.components("tap:audit:Audit")
    children = built.under(component)
    assert sorted(r.urn for r in built.aws_resources()) == sorted(
        r.urn for r in children if r.custom
    )
    assert {r.provider_urn for r in children if r.custom} == {built.provider_urn("aws-us-east-2")}
    # The trail's bucket is a SecureBucket inside the audit.
    bucket = only(built, BUCKET)
    assert built.by_urn()[bucket.parent_urn].type == "tap:bucket:SecureBucket"


# --- in the whole program ---------------------------------------------------------------------


def test_exactly_one_multi_region_trail_in_the_primary_region(stack_plan: PlanResult) -> None:
    (trail,) = stack_plan.of_type(TRAIL)
    primary = stack_plan.outputs["deployment_summary"]["primary_region"]
    assert trail.region == primary
    assert trail.inputs["kmsKeyId"].startswith(f"arn:aws:kms:{primary}:")
    audit = stack_plan.outputs["audit"]
    assert audit["trail_region"] == primary
    assert (
        audit["trail_arn"] == f"arn:aws:cloudtrail:{primary}:{ACCOUNT}:trail/{audit['trail_name']}"
    )
    assert audit["trail_bucket"] == trail.inputs["s3BucketName"]


def test_three_regions_still_one_trail(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config(
        "dev",
        regions=[
            {"name": "us-east-1", "cidr": "10.10.0.0/16"},
            {"name": "us-west-2", "cidr": "10.11.0.0/16"},
            {"name": "eu-central-1", "cidr": "10.12.0.0/16"},
        ],
    )
    assert len(plan.of_type(TRAIL)) == 1


def test_lifecycle_order_is_checked(run_config: Callable[..., PlanResult]) -> None:
    with pytest.raises(pulumi.RunError, match=r"tap:audit\.expiration_days = 60"):
        run_config(
            "dev",
            audit={"transition_ia_days": 30, "transition_glacier_days": 90, "expiration_days": 60},
        )


def test_glacier_waits_thirty_days_after_standard_ia(run_config: Callable[..., PlanResult]) -> None:
    with pytest.raises(pulumi.RunError, match=r"tap:audit\.transition_glacier_days = 45"):
        run_config(
            "dev",
            audit={"transition_ia_days": 30, "transition_glacier_days": 45, "expiration_days": 90},
        )
