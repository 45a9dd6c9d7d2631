"""Every S3 bucket of the stack goes through SecureBucket and carries all its protections."""

from __future__ import annotations

import json

from tap_tooling.offline import PlanResult, physical_id

BUCKET = "aws:s3/bucket:Bucket"


def _children(plan: PlanResult, type_: str) -> dict[str, dict]:
    """Bucket-scoped resources keyed by the bucket they point at (their `bucket` input)."""
    return {r.inputs["bucket"]: r.inputs for r in plan.of_type(type_)}


def test_every_bucket_has_the_four_protections_and_a_lifecycle(stack_plan: PlanResult) -> None:
    buckets = stack_plan.of_type(BUCKET)
    assert buckets, "the stack has buckets (ALB access logs at least)"
    public = _children(stack_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    versioning = _children(stack_plan, "aws:s3/bucketVersioning:BucketVersioning")
    encryption = _children(
        stack_plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    policies = _children(stack_plan, "aws:s3/bucketPolicy:BucketPolicy")
    lifecycles = _children(
        stack_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    )
    ownership = _children(stack_plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    for bucket in buckets:
        bucket_id = physical_id(bucket.type, bucket.name, bucket.inputs)
        block = public[bucket_id]
        assert all(
            block[k]
            for k in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        assert versioning[bucket_id]["versioningConfiguration"]["status"] == "Enabled"
        rule = encryption[bucket_id]["rules"][0]["applyServerSideEncryptionByDefault"]
        assert rule["sseAlgorithm"] in ("AES256", "aws:kms")
        statements = json.loads(policies[bucket_id]["policy"])["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        life = lifecycles[bucket_id]["rules"][0]
        assert life["status"] == "Enabled" and life["expiration"]["days"] > 0
        assert life["noncurrentVersionExpiration"]["noncurrentDays"] > 0
        assert ownership[bucket_id]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        assert len(bucket.inputs["bucket"]) <= 63


def test_force_destroy_only_outside_prod(stack_plan: PlanResult) -> None:
    expected = stack_plan.stack != "prod"
    assert {b.inputs["forceDestroy"] for b in stack_plan.of_type(BUCKET)} == {expected}


def test_bucket_names_are_unique_and_carry_account_and_region(stack_plan: PlanResult) -> None:
    names = [b.inputs["bucket"] for b in stack_plan.of_type(BUCKET)]
    assert len(names) == len(set(names))
    for bucket in stack_plan.of_type(BUCKET):
        assert bucket.region in bucket.inputs["bucket"]
        assert bucket.inputs["bucket"].endswith("-123456789012")


def test_bucket_policy_waits_for_the_public_access_block(stack_plan: PlanResult) -> None:
    blocks = {
        r.urn for r in stack_plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    }
    for policy in stack_plan.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        assert blocks & set(policy.depends_on)


def test_every_bucket_is_made_by_the_secure_bucket_component(stack_plan: PlanResult) -> None:
    """One place builds every bucket, so none can be made without the defaults."""
    by_urn = stack_plan.by_urn()
    for bucket in stack_plan.of_type(BUCKET):
        assert by_urn[bucket.parent_urn].type == "tap:bucket:SecureBucket", bucket.name
