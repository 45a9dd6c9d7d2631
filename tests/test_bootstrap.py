"""`deploy.py bootstrap` against moto: the state bucket and secrets key, created and adopted."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tap.cli import main
from tap.ops.aws import ClientFactory, client_factory
from tap.ops.bootstrap import (
    LIFECYCLE_RULE_ID,
    SECRETS_ALIAS,
    TLS_STATEMENT_SID,
    BootstrapResult,
    bootstrap,
    is_public_allow,
    render,
)
from tap.ops.errors import ExitCode, OpsError

ACCOUNT = "123456789012"  # moto's account id
BUCKET = f"tap-pulumi-state-{ACCOUNT}-us-east-1"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """Fake credentials and an empty moto account: nothing here may reach a real one."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield client_factory(session=boto3.Session())


def bucket_state(clients: ClientFactory, bucket: str, region: str = "us-east-1") -> dict[str, Any]:
    """Every setting bootstrap is responsible for, as S3 reports it now."""
    s3 = clients("s3", region)
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ],
        "public_access": s3.get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
    }


def assert_baseline(state: dict[str, Any], key_arn: str, bucket: str) -> None:
    assert state["versioning"] == "Enabled"
    assert state["encryption"] == [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": key_arn,
            },
            "BucketKeyEnabled": True,
        }
    ]
    assert state["public_access"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert state["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    tls = [s for s in state["policy"]["Statement"] if s.get("Sid") == TLS_STATEMENT_SID]
    assert tls == [
        {
            "Sid": TLS_STATEMENT_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    ours = [rule for rule in state["lifecycle"] if rule["ID"] == LIFECYCLE_RULE_ID]
    assert len(ours) == 1
    assert ours[0]["Status"] == "Enabled"
    assert ours[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}


def test_empty_account_gets_bucket_and_rotating_key(clients: ClientFactory) -> None:
    result = bootstrap(clients)
    assert (result.account, result.region, result.bucket) == (ACCOUNT, "us-east-1", BUCKET)
    kms = clients("kms", "us-east-1")
    key = kms.describe_key(KeyId=SECRETS_ALIAS)["KeyMetadata"]
    assert key["Arn"] == result.key_arn
    assert key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    assert_baseline(bucket_state(clients, BUCKET), result.key_arn, BUCKET)
    assert [action.split(" ")[0:2] for action in result.actions] == [
        ["created", "KMS"],
        ["enabled", "automatic"],
        ["created", "S3"],
        ["blocked", "all"],
        ["disabled", "ACLs"],
        ["enabled", "versioning"],
        ["set", "default"],
        ["set", "TLS-only"],
        ["set", "lifecycle"],
    ]


def test_second_run_changes_nothing(clients: ClientFactory) -> None:
    first = bootstrap(clients)
    before = bucket_state(clients, BUCKET)
    second = bootstrap(clients)
    assert second.actions == ()
    assert second.key_arn == first.key_arn
    assert bucket_state(clients, BUCKET) == before
    assert len(clients("kms", "us-east-1").list_keys()["Keys"]) == 1
    assert "  no changes: bucket and key already had every setting" in render(second)


def test_weaker_existing_bucket_and_key_are_adopted_and_raised(clients: ClientFactory) -> None:
    s3, kms = clients("s3", "us-east-1"), clients("kms", "us-east-1")
    key = kms.create_key(Description="made by hand")["KeyMetadata"]
    kms.create_alias(AliasName=SECRETS_ALIAS, TargetKeyId=key["KeyId"])  # rotation off
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    audit_read = {
        "Sid": "AuditRead",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(
        Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [audit_read]})
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": LIFECYCLE_RULE_ID,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 365},
                },
                {
                    "ID": "expire-scratch",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "scratch/"},
                    "Expiration": {"Days": 1},
                },
            ]
        },
    )

    result = bootstrap(clients)

    assert result.key_arn == key["Arn"]  # adopted, not replaced
    assert not any(action.startswith("created") for action in result.actions)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    state = bucket_state(clients, BUCKET)
    assert_baseline(state, key["Arn"], BUCKET)
    # What the bucket's owner added for their own reasons is kept alongside.
    assert audit_read in state["policy"]["Statement"]
    assert "expire-scratch" in [rule["ID"] for rule in state["lifecycle"]]
    assert bootstrap(clients).actions == ()


def test_other_regions_get_a_located_bucket_and_matching_urls(clients: ClientFactory) -> None:
    result = bootstrap(clients, region="eu-west-2", bucket="acme-pulumi-state")
    s3 = clients("s3", "eu-west-2")
    assert s3.get_bucket_location(Bucket="acme-pulumi-state")["LocationConstraint"] == "eu-west-2"
    assert result.key_arn.startswith("arn:aws:kms:eu-west-2:")
    assert result.backend_url == "s3://acme-pulumi-state?region=eu-west-2&awssdk=v2"
    assert result.secrets_provider == "awskms://alias/tap-pulumi-secrets?region=eu-west-2"


def test_an_adopted_bucket_must_be_in_the_requested_region(clients: ClientFactory) -> None:
    clients("s3", "us-west-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    with pytest.raises(OpsError, match="is in us-west-2, not us-east-1; rerun with --region"):
        bootstrap(clients)


class _StubbedS3:
    """Real moto STS and KMS, but an S3 client whose answers the test scripts.

    Moto ignores ExpectedBucketOwner and has one account per process, so it cannot show a
    bucket that belongs to someone else; S3's real answers for that case are stubbed instead.
    """

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.stubber = Stubber(self.s3)

    def __call__(self, service: str, region: str) -> Any:
        return self.s3 if service == "s3" else self.clients(service, region)


def test_a_bucket_owned_by_another_account_is_a_clear_error(clients: ClientFactory) -> None:
    stubbed = _StubbedS3(clients)
    # S3 answers 403 to HeadBucket with an ExpectedBucketOwner that is not the owner.
    stubbed.stubber.add_client_error(
        "head_bucket",
        service_error_code="403",
        http_status_code=403,
        expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT},
    )
    with stubbed.stubber, pytest.raises(OpsError) as error:
        bootstrap(stubbed)
    assert str(error.value) == (
        f"bucket {BUCKET} already exists and is not owned by account {ACCOUNT} (or is not "
        "readable by these credentials); choose another name with --bucket"
    )
    stubbed.stubber.assert_no_pending_responses()


def test_a_name_taken_between_check_and_create_is_a_clear_error(clients: ClientFactory) -> None:
    stubbed = _StubbedS3(clients)
    stubbed.stubber.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubbed.stubber.add_client_error(
        "create_bucket", service_error_code="BucketAlreadyExists", http_status_code=409
    )
    with stubbed.stubber, pytest.raises(OpsError, match="already exists and is not owned"):
        bootstrap(stubbed)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["bootstrap", *argv], out=out, err=err, ask=lambda _: None)
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_the_login_url_and_secrets_provider(clients: ClientFactory) -> None:
    code, out, err = _cli()
    assert (code, err) == (ExitCode.OK, "")
    backend = f"s3://{BUCKET}?region=us-east-1&awssdk=v2"
    assert f"  pulumi login '{backend}'" in out.splitlines()
    assert (
        "  pulumi stack init <stack> --secrets-provider "
        "'awskms://alias/tap-pulumi-secrets?region=us-east-1'"
    ) in out.splitlines()
    assert f"  export PULUMI_BACKEND_URL='{backend}'" in out.splitlines()
    code, out, _ = _cli()
    assert code == ExitCode.OK
    assert "no changes" in out
    assert "changed:" not in out


def test_cli_rejects_an_alias_without_prefix(clients: ClientFactory) -> None:
    code, _, err = _cli("--alias", "tap-secrets")
    assert code == ExitCode.USAGE
    assert err == "error: --alias 'tap-secrets' must start with 'alias/'\n"
    assert clients("s3", "us-east-1").list_buckets()["Buckets"] == []


def test_render_lists_each_change() -> None:
    result = BootstrapResult(
        ACCOUNT, "us-east-1", BUCKET, "arn:aws:kms:us-east-1:1:key/k", SECRETS_ALIAS, ("did x",)
    )
    assert render(result).splitlines()[:2] == [
        f"state backend in account {ACCOUNT}, region us-east-1:",
        "  changed: did x",
    ]


def test_a_bucket_open_to_the_public_is_refused_not_adopted(clients: ClientFactory) -> None:
    s3 = clients("s3", "us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    public_read = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(
        Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [public_read]})
    )
    with pytest.raises(OpsError, match="statement PublicRead"):
        bootstrap(clients, "us-east-1", BUCKET, SECRETS_ALIAS)
    # Nothing of the public statement was written back.
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"] == [public_read]


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        ({"Effect": "Allow", "Principal": "*"}, True),
        ({"Effect": "Allow", "Principal": {"AWS": "*"}}, True),
        ({"Effect": "Allow", "Principal": {"AWS": ["*"]}}, True),
        ({"Effect": "Deny", "Principal": "*"}, False),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": "1"}},
            },
            False,
        ),
        ({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}}, False),
    ],
)
def test_public_statements_are_recognised(statement: dict, public: bool) -> None:
    assert is_public_allow(statement) is public
