"""`deploy.py bootstrap` against moto: the state bucket and secrets key, created and adopted."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tap_tooling.cli import main
from tap_tooling.ops.aws import ClientFactory, client_factory
from tap_tooling.ops.bootstrap import (
    IAM_ACTIONS,
    LIFECYCLE_RULE_ID,
    LOCK_RULE_ID,
    REQUIRED_PERMISSIONS,
    SECRETS_ALIAS,
    TLS_STATEMENT_SID,
    BootstrapResult,
    bootstrap,
    check_region,
    iam_policy,
    is_public_allow,
    render,
)
from tap_tooling.ops.errors import ExitCode, OpsError
from tests.moto_fast import fresh_account, new_session, one_key_per_spec, shared_models

ACCOUNT = "123456789012"  # moto's account id
BUCKET = f"tap-pulumi-state-{ACCOUNT}-us-east-1"


@pytest.fixture(scope="module", autouse=True)
def _one_kms_key_per_spec() -> Iterator[None]:
    with one_key_per_spec():
        yield


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """Fake credentials and an empty moto account: nothing here may reach a real one."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with fresh_account():
        yield client_factory(session=new_session())


def assert_nothing_billable(clients: ClientFactory, region: str = "us-east-1") -> None:
    """A refused bootstrap created no KMS key (a key is billed monthly from its creation)."""
    assert clients("kms", region).list_keys()["Keys"] == []
    assert clients("kms", region).list_aliases()["Aliases"] == [
        alias
        for alias in clients("kms", region).list_aliases()["Aliases"]
        if alias["AliasName"].startswith("alias/aws/")
    ]


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
    ours = {
        rule["ID"]: rule
        for rule in state["lifecycle"]
        if rule["ID"] in (LIFECYCLE_RULE_ID, LOCK_RULE_ID)
    }
    assert ours == {
        LIFECYCLE_RULE_ID: {
            "ID": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
        LOCK_RULE_ID: {
            "ID": LOCK_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ".pulumi/locks/"},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        },
    }


def test_empty_account_gets_bucket_and_rotating_key(clients: ClientFactory) -> None:
    result = bootstrap(clients)
    assert (result.account, result.region, result.bucket) == (ACCOUNT, "us-east-1", BUCKET)
    kms = clients("kms", "us-east-1")
    key = kms.describe_key(KeyId=SECRETS_ALIAS)["KeyMetadata"]
    assert key["Arn"] == result.key_arn
    assert key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    assert_baseline(bucket_state(clients, BUCKET), result.key_arn, BUCKET)
    # The bucket comes first: a name someone else takes meanwhile is refused before the key,
    # which costs money every month, exists.
    assert [action.split(" ")[0:2] for action in result.actions] == [
        ["created", "S3"],
        ["created", "KMS"],
        ["enabled", "automatic"],
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
    assert_nothing_billable(clients)


class _StubbedS3:
    """Real moto STS and KMS, but an S3 client whose answers the test scripts.

    Moto ignores ExpectedBucketOwner and has one account per process, so it cannot show a
    bucket that belongs to someone else; S3's real answers for that case are stubbed instead.
    """

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients
        self.s3 = new_session().client("s3", region_name="us-east-1")
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
    assert_nothing_billable(clients)


def test_a_name_taken_between_check_and_create_is_a_clear_error(clients: ClientFactory) -> None:
    stubbed = _StubbedS3(clients)
    stubbed.stubber.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubbed.stubber.add_client_error(
        "create_bucket", service_error_code="BucketAlreadyExists", http_status_code=409
    )
    with stubbed.stubber, pytest.raises(OpsError, match="already exists and is not owned"):
        bootstrap(stubbed)
    assert_nothing_billable(clients)


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
    # Nothing of the public statement was written back, and nothing else was touched.
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"] == [public_read]
    assert_nothing_billable(clients)
    assert s3.get_bucket_versioning(Bucket=BUCKET).get("Status") is None


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


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("us-east1", "--region 'us-east1' is not a known AWS region; did you mean us-east-1?"),
        ("eu-west-9", "--region 'eu-west-9' is not a known AWS region; did you mean eu-west-3?"),
        ("nowhere", "--region 'nowhere' is not a known AWS region"),
    ],
)
def test_a_region_typo_is_one_line_naming_the_flag(
    clients: ClientFactory, region: str, message: str
) -> None:
    with pytest.raises(OpsError) as error:
        bootstrap(clients, region=region)
    assert (str(error.value), error.value.exit_code) == (message, ExitCode.USAGE)
    assert clients("s3", "us-east-1").list_buckets()["Buckets"] == []
    assert_nothing_billable(clients)


def test_cli_prints_a_region_typo_as_one_line(clients: ClientFactory) -> None:
    code, out, err = _cli("--region", "us-east1")
    assert (code, out) == (ExitCode.USAGE, "")
    assert err == "error: --region 'us-east1' is not a known AWS region; did you mean us-east-1?\n"


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-7", "cn-north-1", "us-gov-west-1"])
def test_regions_of_every_partition_are_accepted(region: str) -> None:
    check_region(region)


def test_a_name_taken_after_the_check_leaves_no_key_behind(clients: ClientFactory) -> None:
    """The race: the name was free at HeadBucket, someone else's by CreateBucket."""
    stubbed = _StubbedS3(clients)
    stubbed.stubber.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubbed.stubber.add_client_error(
        "create_bucket", service_error_code="BucketAlreadyExists", http_status_code=409
    )
    with stubbed.stubber, pytest.raises(OpsError):
        bootstrap(stubbed)
    assert_nothing_billable(clients)


def test_a_bucket_of_the_previous_baseline_gets_the_delete_marker_rules(
    clients: ClientFactory,
) -> None:
    """A bucket bootstrapped before the lock rule existed: lock delete markers piled up."""
    s3 = clients("s3", "us-east-1")
    bootstrap(clients)
    previous = {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [previous]}
    )
    result = bootstrap(clients)
    assert [a for a in result.actions if "lifecycle" in a] == [
        f"set lifecycle on {BUCKET}: expire noncurrent versions after 90 days (1 under "
        ".pulumi/locks/) and the delete markers left behind"
    ]
    assert_baseline(bucket_state(clients, BUCKET), result.key_arn, BUCKET)
    assert bootstrap(clients).actions == ()


def test_the_lifecycle_rules_respect_s3s_constraints(clients: ClientFactory) -> None:
    """S3 (LifecycleExpiration): ExpiredObjectDeleteMarker "cannot be specified with Days or
    Date"; a rule has one filter. Moto enforces the first (MalformedXML), not all of them."""
    bootstrap(clients)
    rules = clients("s3", "us-east-1").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    markers = [
        rule for rule in rules if rule.get("Expiration", {}).get("ExpiredObjectDeleteMarker")
    ]
    assert {rule["ID"] for rule in markers} == {LIFECYCLE_RULE_ID, LOCK_RULE_ID}
    for rule in rules:
        assert not ({"Days", "Date"} & set(rule.get("Expiration", {}))), rule
        assert set(rule["Filter"]) == {"Prefix"}, rule  # one filter, by prefix, never by tag
    # The lock objects' prefix is covered by a rule that removes their markers within days.
    lock = next(rule for rule in rules if rule["ID"] == LOCK_RULE_ID)
    assert ".pulumi/locks/default/tap/prod/1a2b.json".startswith(lock["Filter"]["Prefix"])
    # And S3 (moto) refuses the combination the rules avoid.
    bad = {**lock, "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}}
    with pytest.raises(ClientError, match="MalformedXML"):
        clients("s3", "us-east-1").put_bucket_lifecycle_configuration(
            Bucket=BUCKET, LifecycleConfiguration={"Rules": [bad]}
        )


class _Recorder:
    """A ClientFactory that records every API call made through its clients."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients
        self.calls: set[str] = set()
        self.params: dict[str, list[dict[str, Any]]] = {}
        self._hooked: set[int] = set()

    def __call__(self, service: str, region: str) -> Any:
        client = self.clients(service, region)
        if id(client) not in self._hooked:
            client.meta.events.register("before-parameter-build", self._record)
            self._hooked.add(id(client))
        return client

    def _record(self, event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        _, service, operation = event_name.split(".")
        self.calls.add(f"{service}:{operation}")
        self.params.setdefault(f"{service}:{operation}", []).append(dict(params))


def _weaker_bucket(clients: ClientFactory) -> None:
    """An existing bucket and key with every setting below the baseline: every write path."""
    s3, kms = clients("s3", "eu-west-2"), clients("kms", "eu-west-2")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/other", TargetKeyId=key["KeyId"])
    s3.create_bucket(
        Bucket="weak-state", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )


def test_the_permission_list_covers_every_call_bootstrap_makes(clients: ClientFactory) -> None:
    """Calls recorded from real runs (fresh account; adoption of an existing bucket and key),
    compared with the documented list in both directions."""
    recorder = _Recorder(clients)
    bootstrap(recorder)  # fresh: creates the bucket and the key
    bootstrap(recorder)  # re-run: reads only
    _weaker_bucket(clients)
    bootstrap(recorder, region="eu-west-2", bucket="weak-state", alias="alias/other")
    assert recorder.calls == set(IAM_ACTIONS)
    needed = {action for call in recorder.calls for action in IAM_ACTIONS[call]}
    assert needed == set(REQUIRED_PERMISSIONS)
    # Tags passed to CreateKey need kms:TagResource as well (KMS developer guide).
    assert all("Tags" in params for params in recorder.params["kms:CreateKey"])
    assert "kms:TagResource" in REQUIRED_PERMISSIONS
    assert iam_policy()["Statement"][0]["Action"] == list(REQUIRED_PERMISSIONS)


_MODELS = shared_models(botocore.session.get_session())
"""botocore's service models, parsed once for every parameter of the test below."""


def _documented_actions(call: str) -> set[str]:
    """The IAM actions AWS's API reference (as shipped in botocore's models) names for a call."""
    service, operation = call.split(":")
    model = _MODELS.get_service_model(service)
    text = model.operation_model(operation).documentation
    return set(re.findall(rf"\b{service}:[A-Za-z]+", text))


@pytest.mark.parametrize("call", sorted(IAM_ACTIONS))
def test_each_permission_is_the_one_aws_documents_for_the_call(call: str) -> None:
    documented = _documented_actions(call)
    for action in IAM_ACTIONS[call]:
        # Where the reference names actions, ours are among them (s3:HeadBucket is authorised
        # as s3:ListBucket); where it names none, the action is the operation's own name.
        assert action in documented or (not documented and action == call), (call, action)


def _denying_kms(clients: ClientFactory) -> Callable[[str, str], Any]:
    kms = new_session().client("kms", region_name="us-east-1")
    stubber = Stubber(kms)
    stubber.add_client_error(
        "describe_key", service_error_code="NotFoundException", http_status_code=400
    )
    stubber.add_client_error(
        "create_key", service_error_code="AccessDeniedException", http_status_code=400
    )
    stubber.activate()
    return lambda service, region: kms if service == "kms" else clients(service, region)


def test_a_denied_call_names_the_permissions_it_needs(clients: ClientFactory) -> None:
    with pytest.raises(OpsError) as error:
        bootstrap(_denying_kms(clients))
    assert str(error.value) == (
        "kms:CreateKey was denied: bootstrap needs kms:CreateKey, kms:TagResource "
        f"(all {len(REQUIRED_PERMISSIONS)} actions: docs/operations.md)"
    )
