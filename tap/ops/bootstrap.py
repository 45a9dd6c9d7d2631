"""`deploy.py bootstrap`: the S3 state bucket and KMS secrets key that Pulumi itself needs.

The chicken-and-egg of remote state: the Pulumi program cannot create the bucket that holds its
own state, so this module creates it with boto3 before the first `pulumi login`. Every step reads
the current setting first and only writes when it differs, so a second run changes nothing and
an existing bucket with weaker settings is brought up to these ones.

No DynamoDB lock table: Pulumi's S3 backend writes its own lock object under `.pulumi/locks/`
in the same bucket (see docs/operations.md for how that differs from Terraform).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tap.ops.aws import ClientFactory, error_code
from tap.ops.errors import ExitCode, OpsError

DEFAULT_REGION = "us-east-1"
"""Where the state bucket and key live unless --region says otherwise (every stack's primary)."""
SECRETS_ALIAS = "alias/tap-pulumi-secrets"
"""KMS alias of the key that encrypts the state bucket and the stacks' secrets."""
NONCURRENT_VERSION_DAYS = 90
"""Old state versions are kept this long: enough to roll back a bad update, not forever."""
ABORT_MULTIPART_DAYS = 7
LIFECYCLE_RULE_ID = "tap-expire-noncurrent-state"
TLS_STATEMENT_SID = "DenyInsecureTransport"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_MISSING_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
_FORBIDDEN_CODES = frozenset({"403", "AccessDenied", "Forbidden"})


@dataclass(frozen=True)
class BootstrapResult:
    """What bootstrap ensured, and every change it had to make (empty on a re-run)."""

    account: str
    region: str
    bucket: str
    key_arn: str
    alias: str
    actions: tuple[str, ...]

    @property
    def backend_url(self) -> str:
        return backend_url(self.bucket, self.region)

    @property
    def secrets_provider(self) -> str:
        return secrets_provider_url(self.alias, self.region)


def default_bucket_name(account: str, region: str) -> str:
    """Deterministic and globally unique enough: bucket names are global, accounts are not."""
    return f"tap-pulumi-state-{account}-{region}"


def backend_url(bucket: str, region: str) -> str:
    """The `pulumi login` URL of the state bucket (region pinned so the shell's region is moot)."""
    return f"s3://{bucket}?region={region}&awssdk=v2"


def secrets_provider_url(alias: str, region: str) -> str:
    """The `--secrets-provider` value for stacks whose secrets the bootstrap key encrypts."""
    return f"awskms://{alias}?region={region}"


def bootstrap(
    clients: ClientFactory,
    region: str = DEFAULT_REGION,
    bucket: str | None = None,
    alias: str = SECRETS_ALIAS,
) -> BootstrapResult:
    """Create or adopt the state bucket and the secrets key; idempotent.

    Raises OpsError when the bucket belongs to another account or lives in another region.
    """
    if not alias.startswith("alias/"):
        raise OpsError(f"--alias {alias!r} must start with 'alias/'", ExitCode.USAGE)
    account = str(clients("sts", region).get_caller_identity()["Account"])
    actions: list[str] = []
    key_arn = ensure_secrets_key(clients("kms", region), alias, actions)
    name = bucket or default_bucket_name(account, region)
    ensure_state_bucket(clients("s3", region), name, region, account, key_arn, actions)
    return BootstrapResult(account, region, name, key_arn, alias, tuple(actions))


def ensure_secrets_key(kms: Any, alias: str, actions: list[str]) -> str:
    """The ARN of the enabled, rotating customer-managed key behind `alias` (created if absent).

    One key serves both the bucket's SSE-KMS and the stacks' secrets: whoever may read the
    state needs both anyway, so two keys would only double the grants to manage.
    """
    try:
        metadata = kms.describe_key(KeyId=alias)["KeyMetadata"]
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
        metadata = kms.create_key(
            Description="TAP: Pulumi state bucket encryption and stack secrets",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "ManagedBy", "TagValue": "tap-bootstrap"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
        actions.append(f"created KMS key {metadata['Arn']} with alias {alias}")
    if metadata.get("KeyManager") == "AWS":
        raise OpsError(f"{alias} is an AWS-managed key; pass an alias of your own with --alias")
    if metadata.get("KeyState", "Enabled") != "Enabled":
        raise OpsError(f"KMS key behind {alias} is {metadata['KeyState']}; enable it first")
    if not kms.get_key_rotation_status(KeyId=metadata["KeyId"])["KeyRotationEnabled"]:
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
        actions.append(f"enabled automatic rotation of KMS key {metadata['KeyId']}")
    return str(metadata["Arn"])


def ensure_state_bucket(
    s3: Any, bucket: str, region: str, account: str, key_arn: str, actions: list[str]
) -> None:
    """Create or adopt `bucket` and bring each of its settings up to the baseline."""
    if not bucket_is_ours(s3, bucket, account):
        create_bucket(s3, bucket, region, actions)
    check_bucket_region(s3, bucket, region)
    # Public access is blocked first so that no later step can leave a window open.
    ensure_public_access_block(s3, bucket, actions)
    ensure_owner_enforced(s3, bucket, actions)
    ensure_versioning(s3, bucket, actions)
    ensure_kms_encryption(s3, bucket, key_arn, actions)
    ensure_tls_only_policy(s3, bucket, _partition(key_arn), actions)
    ensure_lifecycle(s3, bucket, actions)


def bucket_is_ours(s3: Any, bucket: str, account: str) -> bool:
    """True if `bucket` exists in `account`, False if it does not exist at all.

    ExpectedBucketOwner makes S3 answer 403 for a bucket of any other account, which is also
    what S3 answers for a bucket we may not read: both are a stop, never an adoption.
    """
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except ClientError as exc:
        code = error_code(exc)
        if code in _MISSING_BUCKET_CODES:
            return False
        if code in _FORBIDDEN_CODES:
            raise _foreign_bucket(bucket, account) from None
        raise
    return True


def create_bucket(s3: Any, bucket: str, region: str, actions: list[str]) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket}
    # us-east-1 is the one region S3 rejects as an explicit LocationConstraint.
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        code = error_code(exc)
        if code == "BucketAlreadyOwnedByYou":
            return
        if code == "BucketAlreadyExists":
            # Bucket names are global: someone else created it between our check and now.
            raise _foreign_bucket(bucket, None) from None
        raise
    actions.append(f"created S3 bucket {bucket} in {region}")


def check_bucket_region(s3: Any, bucket: str, region: str) -> None:
    """An adopted bucket must be in --region: the login URL and the key are regional."""
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    # S3 reports us-east-1 as no constraint and eu-west-1 by its legacy name "EU".
    actual = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    if actual != region:
        raise OpsError(
            f"bucket {bucket} is in {actual}, not {region}; rerun with --region {actual}"
        )


def ensure_public_access_block(s3: Any, bucket: str, actions: list[str]) -> None:
    current = _read_or_default(
        lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "NoSuchPublicAccessBlockConfiguration",
        {},
    )
    if all(current.get(key) is True for key in PUBLIC_ACCESS_BLOCK):
        return
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK)
    )
    actions.append(f"blocked all public access to {bucket}")


def ensure_owner_enforced(s3: Any, bucket: str, actions: list[str]) -> None:
    """ACLs off: access to state is decided by IAM and the bucket policy only."""
    rules = _read_or_default(
        lambda: s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "OwnershipControlsNotFoundError",
        [],
    )
    if [rule.get("ObjectOwnership") for rule in rules] == ["BucketOwnerEnforced"]:
        return
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    actions.append(f"disabled ACLs on {bucket} (object ownership: bucket owner enforced)")


def ensure_versioning(s3: Any, bucket: str, actions: list[str]) -> None:
    """Every state write keeps the previous version: the undo for a corrupted checkpoint."""
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled":
        return
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    actions.append(f"enabled versioning on {bucket}")


def ensure_kms_encryption(s3: Any, bucket: str, key_arn: str, actions: list[str]) -> None:
    rules = _read_or_default(
        lambda: s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ],
        "ServerSideEncryptionConfigurationNotFoundError",
        [],
    )
    if len(rules) == 1 and _is_our_kms_rule(rules[0], key_arn):
        return
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    # Bucket keys cut KMS requests (and cost) for the many small state writes.
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    actions.append(f"set default encryption of {bucket} to SSE-KMS with {key_arn}")


def ensure_tls_only_policy(s3: Any, bucket: str, partition: str, actions: list[str]) -> None:
    """Deny every request over plain HTTP; statements others added to the policy are kept."""
    wanted = tls_only_statement(bucket, partition)
    raw = _read_or_default(
        lambda: s3.get_bucket_policy(Bucket=bucket)["Policy"], "NoSuchBucketPolicy", None
    )
    found = (json.loads(raw) if raw else {}).get("Statement", [])
    statements: list[dict[str, Any]] = [found] if isinstance(found, dict) else list(found)
    public = [s.get("Sid") or f"#{i}" for i, s in enumerate(statements) if is_public_allow(s)]
    if public:
        # A state bucket open to everyone is not a setting to keep, and S3 refuses to store
        # such a policy once BlockPublicPolicy is on: stop and name what to remove.
        raise OpsError(
            f"bucket {bucket} has a policy allowing anyone (statement {', '.join(public)}); "
            "remove it, then run bootstrap again"
        )
    ours = [s for s in statements if s.get("Sid") == TLS_STATEMENT_SID]
    if len(ours) == 1 and _normalized(ours[0]) == _normalized(wanted):
        return
    others = [s for s in statements if s.get("Sid") != TLS_STATEMENT_SID]
    policy = {"Version": "2012-10-17", "Statement": [*others, wanted]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    actions.append(f"set TLS-only bucket policy on {bucket}")


def is_public_allow(statement: Mapping[str, Any]) -> bool:
    """An Allow for any principal without a condition narrowing who may use it."""
    principal = statement.get("Principal")
    anyone = principal == "*" or (
        isinstance(principal, Mapping) and principal.get("AWS") in ("*", ["*"])
    )
    return statement.get("Effect") == "Allow" and anyone and not statement.get("Condition")


def tls_only_statement(bucket: str, partition: str = "aws") -> dict[str, Any]:
    return {
        "Sid": TLS_STATEMENT_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def ensure_lifecycle(s3: Any, bucket: str, actions: list[str]) -> None:
    """Our rule (by ID) expires old state versions; other rules on the bucket are kept."""
    rules = _read_or_default(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        "NoSuchLifecycleConfiguration",
        [],
    )
    ours = [rule for rule in rules if rule.get("ID") == LIFECYCLE_RULE_ID]
    if len(ours) == 1 and _is_current_lifecycle_rule(ours[0]):
        return
    others = [rule for rule in rules if rule.get("ID") != LIFECYCLE_RULE_ID]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*others, lifecycle_rule()]}
    )
    actions.append(
        f"set lifecycle on {bucket}: expire noncurrent versions after "
        f"{NONCURRENT_VERSION_DAYS} days"
    )


def lifecycle_rule() -> dict[str, Any]:
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
    }


def render(result: BootstrapResult) -> str:
    """What the operator reads: the changes made, then exactly what to type next."""
    lines = [f"state backend in account {result.account}, region {result.region}:"]
    if result.actions:
        lines += [f"  changed: {action}" for action in result.actions]
    else:
        lines.append("  no changes: bucket and key already had every setting")
    lines += [
        f"  bucket:  {result.bucket}",
        f"  key:     {result.key_arn} ({result.alias})",
        "",
        "use it with the Pulumi CLI:",
        f"  pulumi login '{result.backend_url}'",
        f"  pulumi stack init <stack> --secrets-provider '{result.secrets_provider}'",
        "or with deploy.py:",
        f"  export PULUMI_BACKEND_URL='{result.backend_url}'",
        f"  python deploy.py up --stack <stack> --secrets-provider '{result.secrets_provider}'",
        "",
    ]
    return "\n".join(lines)


def _foreign_bucket(bucket: str, account: str | None) -> OpsError:
    owner = f"account {account}" if account else "this account"
    return OpsError(
        f"bucket {bucket} already exists and is not owned by {owner} (or is not readable by "
        "these credentials); choose another name with --bucket"
    )


def _read_or_default(read: Any, missing_code: str, default: Any) -> Any:
    """The current setting, or `default` when S3 answers that it was never set."""
    try:
        return read()
    except ClientError as exc:
        if error_code(exc) == missing_code:
            return default
        raise


def _is_our_kms_rule(rule: Mapping[str, Any], key_arn: str) -> bool:
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    key = str(default.get("KMSMasterKeyID", ""))
    # S3 echoes the key as it was set: a full ARN or the bare key id of the same key.
    same_key = key == key_arn or (bool(key) and key_arn.endswith(f"/{key}"))
    bucket_key = bool(rule.get("BucketKeyEnabled"))
    return default.get("SSEAlgorithm") == "aws:kms" and same_key and bucket_key


def _is_current_lifecycle_rule(rule: Mapping[str, Any]) -> bool:
    whole_bucket = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", "")) == "" and not any(
        key in rule.get("Filter", {}) for key in ("Tag", "And", "ObjectSizeGreaterThan")
    )
    return (
        rule.get("Status") == "Enabled"
        and whole_bucket
        and rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
        == NONCURRENT_VERSION_DAYS
        and rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
        == ABORT_MULTIPART_DAYS
    )


def _normalized(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A policy statement in a canonical shape: S3 may return lists reordered or '*' expanded."""

    def as_set(value: Any) -> frozenset[str]:
        return frozenset([value] if isinstance(value, str) else value or [])

    principal = statement.get("Principal")
    if principal == {"AWS": "*"}:
        principal = "*"
    return {
        "Effect": statement.get("Effect"),
        "Principal": principal,
        "Action": as_set(statement.get("Action")),
        "Resource": as_set(statement.get("Resource")),
        "Condition": statement.get("Condition"),
    }


def _partition(arn: str) -> str:
    """'aws', 'aws-cn' or 'aws-us-gov', from any ARN of the account."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"
