"""An encrypted SNS topic that pages the configured addresses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.policy_doc import document
from tap.tags import name_tag


@dataclass(frozen=True)
class AlertTopicArgs:
    """Inputs of AlertTopic."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider (alarms can only notify topics of their region)."""
    kms_key_arn: pulumi.Input[str]
    """The region's key; its policy lets CloudWatch publish (tap keys component)."""
    account_id: pulumi.Input[str]
    """Account id: only this account's alarms may publish."""
    emails: Sequence[str] = ()
    """Addresses to subscribe (each confirms by email once)."""
    service: str = "alerts"
    """Service label of the topic name (`<environment>-<service>-<region>`)."""


class AlertTopic(pulumi.ComponentResource):
    """SNS topic encrypted with the region's key, publishable by this account's alarms only."""

    def __init__(
        self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:alerts:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label = naming.physical_name(args.environment, args.service, args.region, naming.SNS_TOPIC)
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=label,
            display_name=f"TAP {args.environment} alerts ({args.region})",
            kms_master_key_id=args.kms_key_arn,
            tags=name_tag(label),
            opts=child,
        )

        def policy(values: list[str]) -> str:
            arn, account = values
            return document(
                {
                    "Sid": "CloudWatchAlarmsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": arn,
                    # Only alarms of this account and this region (confused-deputy guard).
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:aws:cloudwatch:{args.region}:{account}:alarm:*"
                        },
                    },
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            )

        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, args.account_id).apply(policy),
            opts=child,
        )
        for email in args.emails:
            aws.sns.TopicSubscription(
                # Named by the address, not its position: adding an address that sorts first
                # must not rename (replace) the others, which would each have to confirm again.
                f"{name}-email-{naming.short_hash(email)}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.topic_arn: pulumi.Output[str] = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})
