"""The application's public hosted zone: created by the stack, or an existing one looked up.

A zone the stack creates can also be signed (DNSSEC, components/dnssec.py) and have its public
DNS queries logged to an encrypted log group; a looked-up zone is someone else's to sign and log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.dnssec import ZoneSigning, ZoneSigningArgs, hosted_zone_arn
from tap import naming
from tap.global_provider import GLOBAL_REGION
from tap.policy_doc import document
from tap.tags import name_tag

# Route 53 API Reference, CreateQueryLoggingConfig: "You must create the log group in the
# us-east-1 region" (so must its key be: a log group takes a key of its own region), and "we
# recommend that you use a consistent prefix, for example: /aws/route53/hosted zone name".
QUERY_LOG_PREFIX = "/aws/route53/"
ROUTE53_PRINCIPAL = "route53.amazonaws.com"


def query_log_group_name(domain: str) -> str:
    """`/aws/route53/<domain>`: the prefix the Route 53 console and its documentation use."""
    return f"{QUERY_LOG_PREFIX}{domain}"


def log_group_arn(account_id: str, name: str) -> str:
    """A us-east-1 log group's ARN as CloudWatch Logs writes it in the encryption context."""
    return f"arn:aws:logs:{GLOBAL_REGION}:{account_id}:log-group:{name}"


def query_log_key_policy(account_id: str, group_arn: str) -> str:
    """The query log group's key: the account administers it; CloudWatch Logs of us-east-1 may
    use it for this one log group (its encryption context names the group)."""
    logs = f"logs.{GLOBAL_REGION}.amazonaws.com"
    return document(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsQueryLogs",
            "Effect": "Allow",
            "Principal": {"Service": logs},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
        },
        {
            # DescribeKey carries no encryption context: under the condition above it would
            # never be allowed (see components/keys.py).
            "Sid": "CloudWatchLogsDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": logs},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
    )


def query_log_resource_policy(account_id: str, group_arn: str, zone_arn: str) -> str:
    """CloudWatch Logs resource policy: Route 53, logging this zone of this account, may write
    streams of this log group only.

    CreateQueryLoggingConfig: "For the value of Resource, specify the ARN for the log group",
    with the confused-deputy conditions it documents (aws:SourceArn the hosted zone's ARN,
    aws:SourceAccount the account). One group, not the `/aws/route53/*` the console writes.
    """
    return document(
        {
            "Sid": "Route53WritesQueryLogs",
            "Effect": "Allow",
            "Principal": {"Service": ROUTE53_PRINCIPAL},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group_arn}:*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": zone_arn},
            },
        }
    )


@dataclass(frozen=True)
class ZoneArgs:
    """Inputs of Zone."""

    domain: str
    """Apex domain of the zone, e.g. example.com (already validated and lowercased)."""
    environment: str
    """Environment name, for names and tags."""
    zone_id: str | None
    """Use this existing public zone (looked up, so a wrong id fails the plan)."""
    create: bool
    """Create the zone (tap:dns validates that it and zone_id exclude each other); with
    neither, the public zone named `domain` is used."""
    retain_on_delete: bool
    """Protection.retain_on_delete: keep records other tools added to a created zone on
    destroy (else the destroy deletes them rather than stall)."""
    dnssec: bool = False
    """Sign the created zone with DNSSEC (a KSK on an ECC_NIST_P256 KMS key in us-east-1). The
    operator then adds the DS record (`ds_record`) at the registrar. Only with `create`."""
    query_log_retention_days: int | None = None
    """Log the created zone's public DNS queries to `/aws/route53/<domain>` in us-east-1,
    KMS-encrypted, kept this many days (a value tap:dns checked); None: no query logging.
    Only with `create`."""
    key_deletion_window_days: int = 30
    """Protection.key_deletion_window_days: waiting period of the signing and query-log keys
    once deleted (checked by Protection)."""

    def __post_init__(self) -> None:
        if not self.create and (self.dnssec or self.query_log_retention_days is not None):
            raise ValueError(
                f"zone {self.domain}: DNSSEC and query logging are for a zone the stack "
                "creates; a looked-up zone is signed and logged by its owner"
            )


class Zone(pulumi.ComponentResource):
    """A public Route53 hosted zone: created, found by id, or found by name.

    Build it on the us-east-1 provider (aws-global, see tap.global_provider): the signing key
    and the query log group of a created zone must be in us-east-1.
    """

    def __init__(
        self, name: str, args: ZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:zone:Zone", name, None, opts)

        self.name_servers: pulumi.Output[Sequence[str]] | None = None
        self.ds_record: pulumi.Output[str] | None = None
        if args.create:
            label = naming.global_name(args.environment, "zone")
            zone = aws.route53.Zone(
                f"{name}-zone",
                name=args.domain,
                comment=f"TAP {args.environment}: {args.domain}",
                force_destroy=not args.retain_on_delete,
                tags=name_tag(label),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.zone_id: pulumi.Output[str] = zone.zone_id
            self.name_servers = zone.name_servers
            if args.dnssec or args.query_log_retention_days is not None:
                account_id = aws.get_caller_identity_output(
                    opts=pulumi.InvokeOutputOptions(parent=self)
                ).account_id
                if args.dnssec:
                    signing = ZoneSigning(
                        f"{name}-dnssec",
                        ZoneSigningArgs(
                            environment=args.environment,
                            domain=args.domain,
                            zone_id=zone.zone_id,
                            account_id=account_id,
                            key_deletion_window_days=args.key_deletion_window_days,
                        ),
                        opts=pulumi.ResourceOptions(parent=self),
                    )
                    self.ds_record = signing.ds_record
                if args.query_log_retention_days is not None:
                    self._query_logging(
                        name, args, zone.zone_id, account_id, args.query_log_retention_days
                    )
        else:
            lookup = pulumi.InvokeOutputOptions(parent=self)
            if args.zone_id:
                found = aws.route53.get_zone_output(zone_id=args.zone_id, opts=lookup)
            else:
                # private_zone=False: a split-horizon private zone of the same name must never
                # receive the public failover and validation records.
                found = aws.route53.get_zone_output(
                    name=args.domain, private_zone=False, opts=lookup
                )
            self.zone_id = found.zone_id
        self.register_outputs(
            {
                "zone_id": self.zone_id,
                "name_servers": self.name_servers,
                "ds_record": self.ds_record,
            }
        )

    def _query_logging(
        self,
        name: str,
        args: ZoneArgs,
        zone_id: pulumi.Output[str],
        account_id: pulumi.Output[str],
        retention_days: int,
    ) -> None:
        """The zone's public DNS queries, to an encrypted log group in us-east-1."""
        child = pulumi.ResourceOptions(parent=self)
        group_name = query_log_group_name(args.domain)
        group_arn = account_id.apply(lambda account: log_group_arn(account, group_name))
        zone_arn = zone_id.apply(hosted_zone_arn)
        # A key of its own: the Zone is built before the Front's us-east-1 key exists, and this
        # one admits CloudWatch Logs for this log group only. Symmetric, so it rotates.
        key_label = naming.global_name(args.environment, "dns-query-logs")
        key = aws.kms.Key(
            f"{name}-query-log-key",
            description=f"TAP {args.environment} Route 53 query logs of {args.domain}",
            enable_key_rotation=True,
            deletion_window_in_days=args.key_deletion_window_days,
            policy=pulumi.Output.all(account_id, group_arn).apply(
                lambda values: query_log_key_policy(values[0], values[1])
            ),
            tags=name_tag(key_label),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-query-log-key-alias",
            name=f"alias/{key_label}",
            target_key_id=key.key_id,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-query-logs",
            name=group_name,
            retention_in_days=retention_days,
            kms_key_id=key.arn,
            tags=name_tag(key_label),
            opts=child,
        )
        # Account-wide (policy_name, no resource_arn): the form CreateQueryLoggingConfig
        # documents and checks for. CloudWatch Logs allows at most 10 such resource policies per
        # account and Region (PutResourcePolicy), and this one sits in us-east-1 beside
        # whatever else the account keeps there: its Resource names this one group, so one
        # policy per zone, never one per deploy.
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-query-logs-policy",
            policy_name=naming.global_name(args.environment, "route53-query-logs"),
            policy_document=pulumi.Output.all(account_id, group_arn, zone_arn).apply(
                lambda values: query_log_resource_policy(values[0], values[1], values[2])
            ),
            opts=child,
        )
        # Route 53 checks the resource policy when the configuration is created
        # (InsufficientCloudWatchLogsResourcePolicy otherwise).
        aws.route53.QueryLog(
            f"{name}-query-log",
            zone_id=zone_id,
            cloudwatch_log_group_arn=log_group.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
