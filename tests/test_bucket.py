"""SecureBucket on its own (names, protections, encryption, lifecycle, policy, errors), then
the whole program: every bucket of the stack goes through it and carries all its protections."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.bucket import SecureBucket, SecureBucketArgs, Transition, tls_only_statement
from tap_tooling.offline import PlanResult, physical_id
from tests.harness import ACCOUNT, Built, build, in_region

BUCKET = "aws:s3/bucket:Bucket"


PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f0e0d0c-0b0a-0908-0706-050403020100"


# --- the component alone ----------------------------------------------------------------------


def build_bucket(region: str = "eu-west-1", **changes: Any) -> Built:
    fields: dict[str, Any] = dict(
        environment="qa",
        region=region,
        service="data",
        account_id=ACCOUNT,
        expiration_days=90,
        retain_on_delete=True,
    )

    def program() -> dict[str, Any]:
        bucket = SecureBucket(
            f"{region}-data", SecureBucketArgs(**{**fields, **changes}), opts=in_region(region)
        )
        return {"bucket_name": bucket.bucket_name, "bucket_arn": bucket.bucket_arn}

    return build(program)


def only(built: Built, type_: str) -> dict[str, Any]:
    (resource,) = built.of_type(type_)
    return resource.inputs


@pytest.mark.parametrize(("retain_on_delete", "force_destroy"), [(True, False), (False, True)])
def test_retain_on_delete_keeps_the_objects_else_destroy_empties_the_bucket(
    retain_on_delete: bool, force_destroy: bool
) -> None:
    built = build_bucket(retain_on_delete=retain_on_delete)
    assert only(built, BUCKET)["forceDestroy"] is force_destroy


def test_name_carries_environment_service_region_and_account() -> None:
    built = build_bucket()
    bucket = only(built, BUCKET)
    assert bucket["bucket"] == f"qa-data-eu-west-1-{ACCOUNT}"
    assert bucket["tags"] == {"Name": "qa-data-eu-west-1"}
    assert built.outputs == {
        "bucket_name": f"qa-data-eu-west-1-{ACCOUNT}",
        "bucket_arn": f"arn:aws:s3:::qa-data-eu-west-1-{ACCOUNT}",
    }


def test_a_long_name_is_cut_to_s3s_limit_and_stays_distinct() -> None:
    names = [
        only(build_bucket(service=f"{'x' * 50}-{suffix}"), BUCKET)["bucket"]
        for suffix in ("a", "b")
    ]
    assert all(len(name) <= 63 and re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name)
               for name in names)  # fmt: skip
    assert names[0] != names[1]


def test_private_owner_enforced_and_versioned_whatever_the_args() -> None:
    built = build_bucket(retain_on_delete=False)
    assert {k: v for k, v in only(built, PUBLIC_ACCESS).items() if k != "bucket"} == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert only(built, OWNERSHIP)["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert only(built, VERSIONING)["versioningConfiguration"] == {"status": "Enabled"}
    bucket_id = built.outputs["bucket_name"]
    for type_ in (PUBLIC_ACCESS, OWNERSHIP, VERSIONING, ENCRYPTION, LIFECYCLE, POLICY):
        assert only(built, type_)["bucket"] == bucket_id, type_


def test_sse_kms_with_the_given_key_and_a_bucket_key() -> None:
    (rule,) = only(build_bucket(kms_key_arn=KEY_ARN), ENCRYPTION)["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KEY_ARN,
    }
    assert rule["bucketKeyEnabled"] is True


def test_sse_s3_without_a_key() -> None:
    """ALB access logs accept nothing but SSE-S3."""
    (rule,) = only(build_bucket(kms_key_arn=None), ENCRYPTION)["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert rule["bucketKeyEnabled"] is False


def test_lifecycle_ages_out_current_and_old_versions_and_uploads() -> None:
    built = build_bucket(
        expiration_days=365,
        noncurrent_days=14,
        transitions=(Transition(30, "STANDARD_IA"), Transition(90, "GLACIER")),
    )
    (rule,) = only(built, LIFECYCLE)["rules"]
    assert rule["id"] == "age-out" and rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}
    assert rule["transitions"] == [
        {"days": 30, "storageClass": "STANDARD_IA"},
        {"days": 90, "storageClass": "GLACIER"},
    ]
    assert rule["expiration"] == {"days": 365}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 14}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_policy_denies_plain_http_then_admits_the_one_writer() -> None:
    calls: list[tuple[str, str]] = []

    def writer(bucket_arn: str, account: str) -> list[dict[str, Any]]:
        calls.append((bucket_arn, account))
        return [
            {
                "Sid": "Writer",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
            }
        ]

    built = build_bucket(policy_statements=writer)
    arn = built.outputs["bucket_arn"]
    assert calls == [(arn, ACCOUNT)]
    deny, allow = json.loads(only(built, POLICY)["policy"])["Statement"]
    assert deny == tls_only_statement(arn)
    assert deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Resource"] == f"{arn}/AWSLogs/{ACCOUNT}/*"


def test_without_writers_the_policy_is_tls_only() -> None:
    built = build_bucket()
    statements = json.loads(only(built, POLICY)["policy"])["Statement"]
    assert statements == [tls_only_statement(built.outputs["bucket_arn"])]


def test_the_policy_waits_for_the_public_access_block() -> None:
    built = build_bucket()
    (block,) = built.of_type(PUBLIC_ACCESS)
    (policy,) = built.of_type(POLICY)
    assert block.urn in policy.depends_on


def test_everything_sits_under_the_bucket_on_its_provider() -> None:
    built = build_bucket(region="sa-east-1")
    (component,) = built.components("tap:bucket:SecureBucket")
    children = built.under(component)
    assert len(children) == 7
    assert {r.provider_urn for r in children if r.custom} == {built.provider_urn("aws-sa-east-1")}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expiration_days": 0}, "SecureBucketArgs.expiration_days 0"),
        ({"transitions": (Transition(90, "GLACIER"),)}, "SecureBucketArgs.transitions"),
        ({"transitions": (Transition(0, "STANDARD_IA"),)}, "SecureBucketArgs.transitions"),
    ],
)
def test_a_lifecycle_that_cannot_work_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_bucket(**changes)


# --- every bucket of the whole program --------------------------------------------------------


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
