"""AlertTopic on its own: an SNS topic under the region's key, publishable only by this
account's alarms of its region, paging each configured address."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from components.alerts import AlertTopic, AlertTopicArgs
from components.keys import RegionKey, RegionKeyArgs
from tap.protection import NON_PRODUCTION
from tests.harness import ACCOUNT, Built, build, in_region

TOPIC = "aws:sns/topic:Topic"
POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f0e0d0c-0b0a-0908-0706-050403020100"


def build_topic(
    region: str = "eu-west-1",
    emails: Sequence[str] = ("oncall@acme.io",),
    account_id: str = ACCOUNT,
    **changes: Any,
) -> Built:
    def program() -> dict[str, Any]:
        topic = AlertTopic(
            f"{region}-alerts",
            AlertTopicArgs(
                environment="qa",
                region=region,
                kms_key_arn=KEY_ARN,
                account_id=account_id,
                emails=emails,
                **changes,
            ),
            opts=in_region(region),
        )
        return {"topic_arn": topic.topic_arn}

    return build(program)


def publish_statements(built: Built) -> dict[str, dict[str, Any]]:
    (policy,) = built.of_type(POLICY)
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_topic_is_encrypted_with_the_given_key_and_named_for_its_region() -> None:
    built = build_topic("eu-west-1")
    (topic,) = built.of_type(TOPIC)
    assert topic.region == "eu-west-1"
    assert topic.inputs["kmsMasterKeyId"] == KEY_ARN
    assert topic.inputs["name"] == "qa-alerts-eu-west-1"
    assert topic.inputs["tags"] == {"Name": "qa-alerts-eu-west-1"}
    assert topic.inputs["displayName"] == "TAP qa alerts (eu-west-1)"
    assert built.outputs == {"topic_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:qa-alerts-eu-west-1"}


def test_only_this_accounts_alarms_of_its_region_may_publish() -> None:
    built = build_topic("ap-southeast-2", account_id="210987654321")
    topic_arn = built.outputs["topic_arn"]
    (policy,) = built.of_type(POLICY)
    assert policy.inputs["arn"] == topic_arn and policy.region == "ap-southeast-2"
    statements = publish_statements(built)
    assert set(statements) == {"CloudWatchAlarmsOfThisAccount", "DenyInsecureTransport"}
    allow = statements["CloudWatchAlarmsOfThisAccount"]
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish" and allow["Resource"] == topic_arn
    # The account given in the Args, not the caller's: the confused-deputy guard names it.
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "210987654321"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:ap-southeast-2:210987654321:alarm:*"},
    }
    deny = statements["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Resource"] == topic_arn
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_one_email_subscription_per_address() -> None:
    built = build_topic(emails=("a@acme.io", "b@acme.io"))
    subscriptions = built.of_type(SUBSCRIPTION)
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "a@acme.io"),
        ("email", "b@acme.io"),
    ]
    assert len({s.name for s in subscriptions}) == 2
    assert all(s.name.startswith("eu-west-1-alerts-email-") for s in subscriptions)
    assert {s.inputs["topic"] for s in subscriptions} == {built.outputs["topic_arn"]}
    assert {s.region for s in subscriptions} == {"eu-west-1"}


def test_adding_an_address_leaves_the_other_subscriptions_alone() -> None:
    def names(emails: tuple[str, ...]) -> dict[str, str]:
        subscriptions = build_topic(emails=emails).of_type(SUBSCRIPTION)
        return {s.inputs["endpoint"]: s.name for s in subscriptions}

    before = names(("b@acme.io",))
    after = names(("a@acme.io", "b@acme.io"))  # tap:alerts.emails is kept sorted
    assert after["b@acme.io"] == before["b@acme.io"]


def test_no_addresses_means_no_subscriptions_but_still_a_topic() -> None:
    built = build_topic(emails=())
    assert built.of_type(SUBSCRIPTION) == []
    assert len(built.of_type(TOPIC)) == 1 and len(built.of_type(POLICY)) == 1


def test_a_service_label_keeps_a_second_topic_of_the_region_apart() -> None:
    built = build_topic("us-east-1", service="global-alerts")
    (topic,) = built.of_type(TOPIC)
    assert topic.inputs["name"] == "qa-global-alerts-us-east-1"


def test_wired_to_a_region_key_it_uses_that_key_and_its_account() -> None:
    """As the Region wires it: the key's ARN and the caller's account, both Outputs."""

    def program() -> dict[str, Any]:
        key = RegionKey(
            "k", RegionKeyArgs("qa", "us-west-2", NON_PRODUCTION), opts=in_region("us-west-2")
        )
        topic = AlertTopic(
            "t",
            AlertTopicArgs("qa", "us-west-2", key.key_arn, key.account_id),
            opts=in_region("us-west-2"),
        )
        return {"key_arn": key.key_arn, "topic_arn": topic.topic_arn}

    built = build(program)
    (topic,) = built.of_type(TOPIC)
    assert topic.inputs["kmsMasterKeyId"] == built.outputs["key_arn"]
    allow = publish_statements(built)["CloudWatchAlarmsOfThisAccount"]
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    # Every resource of the topic sits on the one provider it was given.
    (component,) = built.components("tap:alerts:AlertTopic")
    assert {r.provider_urn for r in built.under(component)} == {built.provider_urn("aws-us-west-2")}
