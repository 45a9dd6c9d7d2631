"""boto3 clients for bootstrap and verify, made injectable so tests can point them at moto."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tap.config import AwsConfig
from tap_tooling.ops.errors import ExitCode, OpsError

ClientFactory = Callable[[str, str], Any]
"""(service, region) -> a boto3 client. The only way bootstrap and verify reach AWS."""

# Standard retry mode backs off on throttling; verify makes many read calls in a burst.
_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})


def client_factory(
    profile: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
) -> ClientFactory:
    """Clients from one session (the default credential chain unless `profile` is given).

    `endpoint_url` sends every call to one endpoint (moto server, LocalStack); boto3 also
    honours AWS_ENDPOINT_URL on its own when this is left unset.
    """
    chosen = session or shared_session(profile)
    cache: dict[tuple[str, str], Any] = {}

    def make(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = chosen.client(
                service, region_name=region, endpoint_url=endpoint_url, config=_RETRIES
            )
        return cache[(service, region)]

    return make


def stack_client_factory(
    aws: AwsConfig,
    profile: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
    sts_region: str = "us-east-1",
) -> ClientFactory:
    """Clients in the stack's account: the caller's session, or the role `tap:aws` names
    assumed from it (with its external id), exactly as the program's providers assume it.

    The role is assumed once, through STS in `sts_region` (every region's STS endpoint issues
    the same credentials; `dr promote` passes the surviving region so a us-east-1 outage does
    not stop it), and its credentials feed one session for every service and region.
    """
    base = session or shared_session(profile)
    if not aws.assume_role_arn:
        return client_factory(endpoint_url=endpoint_url, session=base)
    sts = base.client("sts", region_name=sts_region, endpoint_url=endpoint_url, config=_RETRIES)
    request: dict[str, Any] = {"RoleArn": aws.assume_role_arn, "RoleSessionName": aws.session_name}
    if aws.external_id:
        request["ExternalId"] = aws.external_id
    try:
        credentials = sts.assume_role(**request)["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(
            f"cannot assume tap:aws.assume_role_arn {aws.assume_role_arn}: {describe_error(exc)}",
            ExitCode.FAILED,
        ) from None
    assumed = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return client_factory(endpoint_url=endpoint_url, session=assumed)


def require_account(
    clients: ClientFactory, aws: AwsConfig, stack: str, sts_region: str = "us-east-1"
) -> str:
    """The account the clients act in; an OpsError (one line) when it is not the stack's."""
    try:
        account = str(clients("sts", sts_region).get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"cannot tell which AWS account this is: {describe_error(exc)}") from None
    expected = aws.expected_account
    if expected and account != expected:
        raise OpsError(
            f"stack {stack} deploys into account {expected} (tap:aws), but the credentials "
            f"resolve to account {account}",
            ExitCode.USAGE,
        )
    return account


@cache
def shared_session(profile: str | None = None) -> boto3.Session:
    """One session per profile for the process: sessions cache botocore's service models,
    which take a noticeable time to parse (EC2's is megabytes of JSON)."""
    return boto3.Session(profile_name=profile)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError ('NoSuchBucket', '404', 'AccessDenied', ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe_error(exc: ClientError | BotoCoreError) -> str:
    """A short one-line description of an AWS call failure, for tables and error lines."""
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        code = error_code(exc)
        return f"{code}: {message}" if message else code
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
