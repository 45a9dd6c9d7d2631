"""The account settings every AWS provider of the stack shares (program library: no tooling)."""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws

from tap.config import AwsConfig, StackConfig
from tap.tags import default_tags


def provider_account_args(config: AwsConfig) -> dict[str, Any]:
    """aws.Provider keyword arguments that put the provider in the stack's account.

    `assume_roles`: the provider assumes the role from whatever credentials run the engine
    (the deployer's, in a tooling account). `allowed_account_ids`: the provider itself refuses
    to plan or apply in any other account, so a shell pointed at the wrong account fails
    before a single resource is touched.
    """
    args: dict[str, Any] = {}
    if config.assume_role_arn:
        args["assume_roles"] = [
            aws.ProviderAssumeRoleArgs(
                role_arn=config.assume_role_arn,
                external_id=config.external_id,
                session_name=config.session_name,
            )
        ]
    if config.expected_account:
        args["allowed_account_ids"] = [config.expected_account]
    return args


def stack_provider(name: str, region: str, config: StackConfig) -> aws.Provider:
    """An explicit provider of the stack: its region, the stack's tags on every resource it
    creates, and the stack's account (the only account it acts in)."""
    return aws.Provider(
        name,
        region=region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(config)),
        **provider_account_args(config.aws),
    )
