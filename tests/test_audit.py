"""The account-wide audit trail: exactly one, multi-region, validated, encrypted, aging out."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pytest

from tap_tooling.offline import PlanResult
from tests.conftest import inputs_of

TRAIL = "aws:cloudtrail/trail:Trail"
LIFECYCLE = {"dev": (30, 60, 150), "staging": (30, 90, 180), "prod": (30, 90, 365)}
# Minimum storage durations: an object deleted or moved on earlier is charged for the rest
# (S3 User Guide, "Understanding and managing Amazon S3 storage classes",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare).
MINIMUM_DAYS = {"STANDARD_IA": 30, "GLACIER": 90}


def test_exactly_one_multi_region_trail_in_the_primary_region(stack_plan: PlanResult) -> None:
    (trail,) = stack_plan.of_type(TRAIL)
    assert trail.region == stack_plan.outputs["deployment_summary"]["primary_region"]
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["enableLogging"] is True
    assert trail.inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")


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


def test_trail_key_admits_cloudtrail_for_this_trail_only(stack_plan: PlanResult) -> None:
    trail_arn = stack_plan.outputs["audit"]["trail_arn"]
    (key,) = [
        k for k in inputs_of(stack_plan, "aws:kms/key:Key") if "CloudTrail" in k["description"]
    ]
    assert key["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    encrypt = statements["CloudTrailEncryptsLogs"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn


def test_trail_bucket_policy_admits_only_this_trail_and_tls(stack_plan: PlanResult) -> None:
    trail = stack_plan.of_type(TRAIL)[0].inputs
    trail_arn = stack_plan.outputs["audit"]["trail_arn"]
    (policy,) = [
        p for p in stack_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if "audit" in p.name
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {"cloudtrail.amazonaws.com"}
    assert all(s["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn for s in allows)
    write = next(s for s in allows if s["Action"] == "s3:PutObject")
    assert write["Resource"].endswith("/AWSLogs/123456789012/*")
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for s in statements
    )
    assert stack_plan.outputs["audit"]["trail_bucket"] == trail["s3BucketName"]


def test_trail_bucket_lifecycle_and_encryption(stack_plan: PlanResult) -> None:
    ia, glacier, expiry = LIFECYCLE[stack_plan.stack]
    (lifecycle,) = [
        r.inputs
        for r in stack_plan.of_type(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        )
        if "audit" in r.name
    ]
    rule = lifecycle["rules"][0]
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [
        (ia, "STANDARD_IA"),
        (glacier, "GLACIER"),
    ]
    assert rule["expiration"]["days"] == expiry
    # Each class holds an object at least its minimum, so no early-deletion charge.
    ends = [t["days"] for t in rule["transitions"][1:]] + [rule["expiration"]["days"]]
    for transition, end in zip(rule["transitions"], ends, strict=True):
        assert end - transition["days"] >= MINIMUM_DAYS[transition["storageClass"]], transition
    (encryption,) = [
        r.inputs
        for r in stack_plan.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        if "audit" in r.name
    ]
    default = encryption["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith(
        "arn:aws:kms:"
    )


def test_trail_waits_for_its_bucket_policy(stack_plan: PlanResult) -> None:
    (trail,) = stack_plan.of_type(TRAIL)
    policies = {
        p.urn for p in stack_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if "audit" in p.name
    }
    assert policies <= set(trail.depends_on)


def test_audit_outputs(stack_plan: PlanResult) -> None:
    audit = stack_plan.outputs["audit"]
    assert (
        audit["trail_arn"]
        == f"arn:aws:cloudtrail:us-east-1:123456789012:trail/{audit['trail_name']}"
    )
    assert audit["trail_region"] == "us-east-1"


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
