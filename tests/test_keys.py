"""RegionKey on its own: the policy of a region's data key, rotation, deletion window, alias."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.keys import RegionKey, RegionKeyArgs
from tap.protection import NON_PRODUCTION, PRODUCTION, Protection
from tests.harness import ACCOUNT, Built, build, in_region

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
AUTOSCALING_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)


def build_key(
    region: str = "eu-west-1",
    protection: Protection = NON_PRODUCTION,
    environment: str = "qa",
    **changes: Any,
) -> Built:
    def program() -> dict[str, Any]:
        key = RegionKey(
            f"{region}-key",
            RegionKeyArgs(environment=environment, region=region, protection=protection, **changes),
            opts=in_region(region),
        )
        return {"key_arn": key.key_arn, "key_id": key.key_id, "account_id": key.account_id}

    return build(program)


def statements(built: Built) -> dict[str, dict[str, Any]]:
    (key,) = built.of_type(KEY)
    return {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}


def test_the_account_administers_and_logs_of_this_region_only_use_the_key() -> None:
    policy = statements(build_key("eu-west-1"))
    assert set(policy) == {
        "AccountAdministers",
        "CloudWatchLogsOfThisRegion",
        "CloudWatchLogsDescribesKey",
        "CloudWatchAlarmsPublish",
        "AutoScalingUsesKeyForVolumes",
        "AutoScalingGrantsForVolumes",
    }
    admin = policy["AccountAdministers"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert admin["Action"] == "kms:*" and "Condition" not in admin
    logs = policy["CloudWatchLogsOfThisRegion"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert sorted(logs["Action"]) == [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"
        }
    }
    # DescribeKey carries no encryption context: granted on its own, without that condition.
    describe = policy["CloudWatchLogsDescribesKey"]
    assert describe["Principal"] == logs["Principal"]
    assert describe["Action"] == "kms:DescribeKey" and "Condition" not in describe


def test_only_this_accounts_alarms_of_this_region_publish_through_the_key() -> None:
    alarms = statements(build_key("ap-southeast-2"))["CloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert alarms["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:ap-southeast-2:{ACCOUNT}:alarm:*"},
    }


def test_auto_scaling_is_matched_by_condition_never_named_as_principal() -> None:
    """KMS refuses a policy naming a role that does not exist yet (the Auto Scaling
    service-linked role appears with the account's first group)."""
    policy = statements(build_key())
    for sid in ("AutoScalingUsesKeyForVolumes", "AutoScalingGrantsForVolumes"):
        statement = policy[sid]
        assert statement["Principal"] == {"AWS": "*"}
        assert statement["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT}
        assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": AUTOSCALING_ROLE}
    grants = policy["AutoScalingGrantsForVolumes"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert "kms:CreateGrant" not in policy["AutoScalingUsesKeyForVolumes"]["Action"]


@pytest.mark.parametrize(("protection", "days"), [(PRODUCTION, 30), (NON_PRODUCTION, 7)])
def test_rotation_and_the_deletion_window_of_the_protection(
    protection: Protection, days: int
) -> None:
    built = build_key(protection=protection)
    (key,) = built.of_type(KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == days
    # The window is the only thing protection changes.
    other = build_key(protection=NON_PRODUCTION if protection is PRODUCTION else PRODUCTION)
    (other_key,) = other.of_type(KEY)
    assert {k: v for k, v in key.inputs.items() if k != "deletionWindowInDays"} == {
        k: v for k, v in other_key.inputs.items() if k != "deletionWindowInDays"
    }


def test_alias_names_the_environment_service_and_region_and_targets_the_key() -> None:
    built = build_key("us-west-2", environment="staging")
    (key,) = built.of_type(KEY)
    (alias,) = built.of_type(ALIAS)
    assert alias.inputs["name"] == "alias/staging-key-us-west-2"
    assert alias.inputs["targetKeyId"] == built.id_of(key)
    assert key.inputs["tags"] == {"Name": "staging-key-us-west-2"}
    assert key.inputs["description"] == "TAP staging data key for us-west-2"


def test_a_service_label_keeps_a_second_key_of_the_region_apart() -> None:
    """The global pieces' key in us-east-1 sits next to that region's own key."""
    built = build_key("us-east-1", environment="prod", service="global-key")
    (alias,) = built.of_type(ALIAS)
    (key,) = built.of_type(KEY)
    assert alias.inputs["name"] == "alias/prod-global-key-us-east-1"
    assert key.inputs["tags"] == {"Name": "prod-global-key-us-east-1"}


def test_key_and_alias_sit_on_the_components_provider_and_under_it() -> None:
    built = build_key("eu-central-1")
    (component,) = built.components("tap:keys:RegionKey")
    children = built.under(component)
    assert sorted(r.type for r in children) == [ALIAS, KEY]
    assert {r.region for r in children} == {"eu-central-1"}
    assert {r.provider_urn for r in children if r.custom} == {
        built.provider_urn("aws-eu-central-1")
    }
    # The account id comes from the caller identity, asked through the same provider.
    assert ("aws:index/getCallerIdentity:getCallerIdentity", "eu-central-1") in built.invokes


def test_outputs_are_the_keys_arn_id_and_account() -> None:
    built = build_key("eu-west-1")
    (key,) = built.of_type(KEY)
    key_id = built.id_of(key)
    assert built.outputs == {
        "key_arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}",
        "key_id": key_id,
        "account_id": ACCOUNT,
    }
