"""`deploy.py bootstrap`: the S3 state bucket and KMS secrets key that Pulumi itself needs.

The chicken-and-egg of remote state: the Pulumi program cannot create the bucket that holds its
own state, so this module creates it with boto3 before the first `pulumi login`. Every step reads
the current setting first and only writes when it differs, so a second run changes nothing and
an existing bucket with weaker settings is brought up to these ones.

No DynamoDB lock table: Pulumi's S3 backend writes its own lock object under `.pulumi/locks/`
in the same bucket (see docs/operations.md for how that differs from Terraform).

Everything that can refuse the run is read before anything is written: a bucket of another
account, in another region or with a public policy, and an unusable key behind the alias, stop
bootstrap before the (billable) KMS key or the bucket is created.

Bootstrap works in whatever account the credentials resolve to: the tooling account that holds
the state, which need not be any stack's account (a stack's `tap:aws` is the deploy's concern).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.exceptions import ClientError

from tap.config import KNOWN_REGIONS
from tap_tooling.ops.aws import ClientFactory, error_code
from tap_tooling.ops.errors import ExitCode, OpsError

DEFAULT_REGION = "us-east-1"
"""Where the state bucket and key live unless --region says otherwise (every stack's primary)."""
SECRETS_ALIAS = "alias/tap-pulumi-secrets"
"""KMS alias of the key that encrypts the state bucket and the stacks' secrets."""
NONCURRENT_VERSION_DAYS = 90
"""Old state versions are kept this long: enough to roll back a bad update, not forever."""
ABORT_MULTIPART_DAYS = 7
LIFECYCLE_RULE_ID = "tap-expire-noncurrent-state"
LOCK_PREFIX = ".pulumi/locks/"
"""Where Pulumi's S3 backend writes (and, at the end of each update, deletes) its lock objects."""
LOCK_RULE_ID = "tap-expire-lock-versions"
LOCK_NONCURRENT_DAYS = 1
"""A deleted lock is worth nothing: its old version goes after a day, then its delete marker."""
TLS_STATEMENT_SID = "DenyInsecureTransport"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_MISSING_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
_FORBIDDEN_CODES = frozenset({"403", "AccessDenied", "Forbidden"})
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
# Partitions bootstrap can address (ARNs carry the partition; see _partition). The isolated
# ones (aws-iso*) need their own endpoints and credentials and are left out.
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {
    # "No permissions are required to perform this operation" (STS API reference).
    "sts:GetCallerIdentity": (),
    # "To add tags when creating a KMS key, the caller must have kms:TagResource permission in
    # an IAM policy" (KMS developer guide, "Managing KMS key tags with API operations").
    "kms:CreateKey": ("kms:CreateKey", "kms:TagResource"),
    "kms:CreateAlias": ("kms:CreateAlias",),
    "kms:DescribeKey": ("kms:DescribeKey",),
    "kms:GetKeyRotationStatus": ("kms:GetKeyRotationStatus",),
    "kms:EnableKeyRotation": ("kms:EnableKeyRotation",),
    # S3 authorises several bucket calls under another action name (S3 API reference, each
    # operation's "Permissions" section).
    "s3:HeadBucket": ("s3:ListBucket",),
    "s3:CreateBucket": ("s3:CreateBucket",),
    "s3:GetBucketLocation": ("s3:GetBucketLocation",),
    "s3:GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock",),
    "s3:PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "s3:GetBucketOwnershipControls": ("s3:GetBucketOwnershipControls",),
    "s3:PutBucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "s3:GetBucketVersioning": ("s3:GetBucketVersioning",),
    "s3:PutBucketVersioning": ("s3:PutBucketVersioning",),
    "s3:GetBucketEncryption": ("s3:GetEncryptionConfiguration",),
    "s3:PutBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "s3:GetBucketPolicy": ("s3:GetBucketPolicy",),
    "s3:PutBucketPolicy": ("s3:PutBucketPolicy",),
    "s3:GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration",),
    "s3:PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
}
"""Every AWS API call bootstrap makes (`<service>:<Operation>`) and the IAM actions it needs."""

REQUIRED_PERMISSIONS: tuple[str, ...] = tuple(
    sorted({action for actions in IAM_ACTIONS.values() for action in actions})
)
"""The IAM actions the identity running bootstrap needs (docs/operations.md lists them)."""


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

    Raises OpsError (one line) for an unknown region, a bucket of another account, in another
    region or with a public policy, or an unusable key behind `alias`; each of these is found
    by read-only calls before anything is created.
    """
    check_region(region)
    if not alias.startswith("alias/"):
        raise OpsError(f"--alias {alias!r} must start with 'alias/'", ExitCode.USAGE)
    try:
        return _bootstrap(clients, region, bucket, alias)
    except ClientError as exc:
        denied = denied_call(exc)
        if denied is None:
            raise
        raise denied from None


def _bootstrap(
    clients: ClientFactory, region: str, bucket: str | None, alias: str
) -> BootstrapResult:
    account = str(clients("sts", region).get_caller_identity()["Account"])
    name = bucket or default_bucket_name(account, region)
    s3, kms = clients("s3", region), clients("kms", region)
    bucket_exists = check_existing_bucket(s3, name, region, account)
    key = existing_key(kms, alias)
    actions: list[str] = []
    if not bucket_exists:
        # The bucket before the key: a name taken by someone else since the check above is
        # refused here, still before the key (which costs money every month) exists. An empty
        # bucket left by a later failure costs nothing and is adopted by the next run.
        create_bucket(s3, name, region, actions)
    key_arn = ensure_secrets_key(kms, alias, actions, key)
    ensure_state_bucket(s3, name, key_arn, actions)
    return BootstrapResult(account, region, name, key_arn, alias, tuple(actions))


def check_region(region: str) -> None:
    """Refuse a region no partition knows, as one line naming the flag: otherwise a typo like
    `us-east1` surfaces as an endpoint connection error that reads like a network problem."""
    if region in known_regions():
        return
    close = difflib.get_close_matches(region, sorted(known_regions()), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise OpsError(f"--region {region!r} is not a known AWS region{hint}", ExitCode.USAGE)


@functools.cache  # depends only on the installed botocore; reading it costs about 0.1 s
def known_regions() -> frozenset[str]:
    """TAP's list of commercial regions, plus every S3 region botocore's partition data knows
    (China and GovCloud included, and regions newer than TAP's list once botocore has them)."""
    session = botocore.session.get_session()
    regions = set(KNOWN_REGIONS)
    for partition in _PARTITIONS:
        regions.update(session.get_available_regions("s3", partition_name=partition))
    return frozenset(regions)


def check_existing_bucket(s3: Any, bucket: str, region: str, account: str) -> bool:
    """Whether `bucket` exists and may be adopted; OpsError when it exists but must not be.

    Read-only: run before anything is created, so a refusal leaves the account untouched.
    """
    if not bucket_is_ours(s3, bucket, account):
        return False
    check_bucket_region(s3, bucket, region)
    refuse_public_policy(s3, bucket)
    return True


def existing_key(kms: Any, alias: str) -> dict[str, Any] | None:
    """The metadata of the key behind `alias`, None when there is none; OpsError when that key
    cannot serve (AWS-managed, disabled, pending deletion). Read-only."""
    try:
        metadata = dict(kms.describe_key(KeyId=alias)["KeyMetadata"])
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise
    if metadata.get("KeyManager") == "AWS":
        raise OpsError(f"{alias} is an AWS-managed key; pass an alias of your own with --alias")
    if metadata.get("KeyState", "Enabled") != "Enabled":
        raise OpsError(f"KMS key behind {alias} is {metadata['KeyState']}; enable it first")
    return metadata


def ensure_secrets_key(
    kms: Any, alias: str, actions: list[str], metadata: Mapping[str, Any] | None = None
) -> str:
    """The ARN of the enabled, rotating customer-managed key behind `alias` (created if absent).

    `metadata`: the key as `existing_key` read it (None: there is none, create it).
    One key serves both the bucket's SSE-KMS and the stacks' secrets: whoever may read the
    state needs both anyway, so two keys would only double the grants to manage.
    """
    if metadata is None:
        metadata = kms.create_key(
            Description="TAP: Pulumi state bucket encryption and stack secrets",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "ManagedBy", "TagValue": "tap-bootstrap"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
        actions.append(f"created KMS key {metadata['Arn']} with alias {alias}")
    if not kms.get_key_rotation_status(KeyId=metadata["KeyId"])["KeyRotationEnabled"]:
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
        actions.append(f"enabled automatic rotation of KMS key {metadata['KeyId']}")
    return str(metadata["Arn"])


def ensure_state_bucket(s3: Any, bucket: str, key_arn: str, actions: list[str]) -> None:
    """Bring each setting of the (created or adopted, already checked) `bucket` up to the
    baseline."""
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


def refuse_public_policy(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket policy's statements; OpsError if one of them allows anyone."""
    statements = _policy_statements(s3, bucket)
    public = [s.get("Sid") or f"#{i}" for i, s in enumerate(statements) if is_public_allow(s)]
    if public:
        # A state bucket open to everyone is not a setting to keep, and S3 refuses to store
        # such a policy once BlockPublicPolicy is on: stop and name what to remove.
        raise OpsError(
            f"bucket {bucket} has a policy allowing anyone (statement {', '.join(public)}); "
            "remove it, then run bootstrap again"
        )
    return statements


def ensure_tls_only_policy(s3: Any, bucket: str, partition: str, actions: list[str]) -> None:
    """Deny every request over plain HTTP; statements others added to the policy are kept."""
    wanted = tls_only_statement(bucket, partition)
    statements = refuse_public_policy(s3, bucket)
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
    """Our rules (by ID) expire old versions and leftover delete markers; other rules on the
    bucket are kept."""
    rules = _read_or_default(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        "NoSuchLifecycleConfiguration",
        [],
    )
    wanted = lifecycle_rules()
    ids = {rule["ID"] for rule in wanted}
    ours = {rule.get("ID"): rule for rule in rules if rule.get("ID") in ids}
    current = [rule for rule in rules if rule.get("ID") in ids]
    if len(current) == len(wanted) and all(
        _lifecycle_shape(ours[rule["ID"]]) == _lifecycle_shape(rule) for rule in wanted
    ):
        return
    others = [rule for rule in rules if rule.get("ID") not in ids]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*others, *wanted]}
    )
    actions.append(
        f"set lifecycle on {bucket}: expire noncurrent versions after "
        f"{NONCURRENT_VERSION_DAYS} days ({LOCK_NONCURRENT_DAYS} under {LOCK_PREFIX}) "
        "and the delete markers left behind"
    )


def lifecycle_rules() -> list[dict[str, Any]]:
    """The bucket's lifecycle rules of our own.

    Pulumi deletes its lock object at the end of every update; in a versioned bucket that
    leaves a delete marker over a noncurrent version. Noncurrent expiry removes the version,
    but the marker then stays forever unless a rule sets ExpiredObjectDeleteMarker. S3's
    constraints (S3 API reference, LifecycleExpiration and LifecycleRuleFilter):
    ExpiredObjectDeleteMarker "cannot be specified with Days or Date" in the same Expiration,
    and a rule filters on one thing (here a prefix). Overlapping rules are allowed; where two
    expirations overlap "the shorter expiration policy is honored" (S3 user guide, "How S3 handles
    conflicts in lifecycle configurations"): the lock rule's one day wins under its prefix.
    """
    return [
        {
            "ID": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            # No Days here: current state files never expire; only orphaned markers do.
            "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
        },
        {
            "ID": LOCK_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": LOCK_PREFIX},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionExpiration": {"NoncurrentDays": LOCK_NONCURRENT_DAYS},
        },
    ]


def iam_policy() -> dict[str, Any]:
    """An identity policy granting exactly what bootstrap calls (REQUIRED_PERMISSIONS).

    Resource "*": the key's id is not known before the run that creates it, and KMS requires
    kms:CreateKey, and kms:TagResource for tags given at creation, in a policy "that isn't
    restricted to particular KMS keys" (KMS developer guide, "Controlling access to tags").
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TapBootstrap",
                "Effect": "Allow",
                "Action": list(REQUIRED_PERMISSIONS),
                "Resource": "*",
            }
        ],
    }


def denied_call(exc: ClientError) -> OpsError | None:
    """An access-denied answer as one line naming the IAM actions the failed call needs."""
    if error_code(exc) not in _DENIED_CODES:
        return None
    operation = getattr(exc, "operation_name", "")
    calls = [call for call in IAM_ACTIONS if call.split(":", 1)[1] == operation]
    needed = sorted({action for call in calls for action in IAM_ACTIONS[call]})
    what = calls[0] if calls else operation or "an AWS call"
    return OpsError(
        f"{what} was denied: bootstrap needs {', '.join(needed) or 'more permissions'} "
        f"(all {len(REQUIRED_PERMISSIONS)} actions: docs/operations.md)"
    )


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


def _lifecycle_shape(rule: Mapping[str, Any]) -> dict[str, Any]:
    """What a lifecycle rule does, in one canonical shape: S3 echoes a rule with the legacy
    top-level Prefix or an empty Filter, and leaves out what was never set."""
    raw_filter = rule.get("Filter")
    filter_: Mapping[str, Any] = raw_filter if isinstance(raw_filter, Mapping) else {}
    extra_filter = sorted(key for key in filter_ if key != "Prefix")
    return {
        "Status": rule.get("Status"),
        "Prefix": filter_.get("Prefix", rule.get("Prefix", "")),
        "OtherFilter": extra_filter,
        "Expiration": dict(rule.get("Expiration") or {}),
        "NoncurrentDays": (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
        "NewerNoncurrent": (rule.get("NoncurrentVersionExpiration") or {}).get(
            "NewerNoncurrentVersions"
        ),
        "AbortDays": (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
        "Transitions": bool(rule.get("Transitions") or rule.get("NoncurrentVersionTransitions")),
    }


def _policy_statements(s3: Any, bucket: str) -> list[dict[str, Any]]:
    raw = _read_or_default(
        lambda: s3.get_bucket_policy(Bucket=bucket)["Policy"], "NoSuchBucketPolicy", None
    )
    found = (json.loads(raw) if raw else {}).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


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
