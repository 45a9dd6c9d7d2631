"""The deploy script's boto3 sessions land in the stack's account, or refuse in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from tap.config import AwsConfig
from tap_tooling.ops.aws import require_account, stack_client_factory
from tap_tooling.ops.errors import ExitCode, OpsError
from tests.moto_fast import fresh_account, new_session

MOTO_ACCOUNT = "123456789012"  # moto's default account for the caller's own credentials
TARGET = "210987654321"
ROLE = f"arn:aws:iam::{TARGET}:role/tap-deploy"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with fresh_account():
        yield new_session()


def test_without_a_role_the_callers_account_is_used(aws: boto3.Session) -> None:
    clients = stack_client_factory(AwsConfig(), session=aws)
    assert require_account(clients, AwsConfig(), "dev") == MOTO_ACCOUNT


def test_the_role_is_assumed_into_the_stacks_account(aws: boto3.Session) -> None:
    config = AwsConfig(assume_role_arn=ROLE, external_id="tap-prod", session_name="tap-prod")
    clients = stack_client_factory(config, session=aws)
    identity = clients("sts", "us-east-1").get_caller_identity()
    assert identity["Account"] == TARGET
    assert identity["Arn"].endswith(":assumed-role/tap-deploy/tap-prod")
    assert require_account(clients, config, "prod") == TARGET


def test_credentials_of_another_account_are_refused_in_one_line(aws: boto3.Session) -> None:
    config = AwsConfig(account_id=TARGET)
    clients = stack_client_factory(config, session=aws)
    with pytest.raises(OpsError) as caught:
        require_account(clients, config, "prod")
    assert str(caught.value) == (
        f"stack prod deploys into account {TARGET} (tap:aws), but the credentials resolve to "
        f"account {MOTO_ACCOUNT}"
    )
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_role_that_cannot_be_assumed_is_one_line(aws: boto3.Session) -> None:
    def refusing(*_a: object, **_k: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform"}},
            "AssumeRole",
        )

    class Session:
        def client(self, *_a: object, **_k: object) -> object:
            return type("Sts", (), {"assume_role": staticmethod(refusing)})()

    config = AwsConfig(assume_role_arn=ROLE)
    with pytest.raises(OpsError) as caught:
        stack_client_factory(config, session=Session())  # type: ignore[arg-type]
    message = str(caught.value)
    assert message == (
        f"cannot assume tap:aws.assume_role_arn {ROLE}: AccessDenied: not authorized to perform"
    )
    assert "\n" not in message and json.dumps(message)


def test_the_role_is_assumed_through_the_region_asked_for(aws: boto3.Session) -> None:
    """`dr promote` must not depend on us-east-1's STS while us-east-1 is down."""
    asked: list[str] = []
    real_client = aws.client

    def client(service: str, region_name: str | None = None, **kwargs: object) -> object:
        if service == "sts":
            asked.append(str(region_name))
        return real_client(service, region_name=region_name, **kwargs)  # type: ignore[call-overload]

    aws.client = client  # type: ignore[method-assign]
    config = AwsConfig(assume_role_arn=ROLE)
    clients = stack_client_factory(config, session=aws, sts_region="us-west-2")
    assert asked == ["us-west-2"]
    assert require_account(clients, config, "prod", sts_region="us-west-2") == TARGET
