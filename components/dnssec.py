"""DNSSEC signing of a hosted zone the stack creates: its KMS signing key, key-signing key (KSK)
and the zone's signing switch.

Route 53 signs the zone's records with a zone-signing key it manages itself; the KSK that signs
that key is backed by a customer managed KMS key this component creates. Signing alone protects
nobody: validating resolvers trust the zone only once its parent holds a DS record for the KSK.
That is an operator step outside the stack (the registrar, or the parent zone): read the DS
record from the stack (Zone.ds_record) or from `aws route53 get-dnssec --hosted-zone-id <id>`,
and add it at the registrar after signing is on. Before signing is ever turned off or the zone
destroyed, the DS record must go first, and the DS TTL must pass: a parent that still vouches
for a zone that no longer signs makes the whole domain fail (SERVFAIL) for validating
resolvers (Route 53 Developer Guide, "Disabling DNSSEC signing").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.policy_doc import document
from tap.tags import name_tag

DNSSEC_PRINCIPAL = "dnssec-route53.amazonaws.com"
# Route 53 Developer Guide, "Working with customer managed keys for DNSSEC": "The customer
# managed key must be an asymmetric customer managed key with an ECC_NIST_P256 key spec. These
# customer managed keys are used only for signing and verification", and "must be in the US
# East (N. Virginia) Region" (the component sits on the aws-global provider).
SIGNING_KEY_SPEC = "ECC_NIST_P256"
SIGNING_KEY_USAGE = "SIGN_VERIFY"
# Route 53 API Reference, CreateKeySigningKey: "The key policy must give permission for the
# following actions: DescribeKey, GetPublicKey, Sign".
SIGNING_ACTIONS = ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign")
# CreateKeySigningKey Name: "can include numbers, letters, and underscores (_)"; 3 to 128
# characters (SigningKeyName in the API model).
KSK_NAME_LENGTH = (3, 128)
_KSK_NAME_INVALID = re.compile(r"[^A-Za-z0-9_]+")


def ksk_name(environment: str) -> str:
    """The KSK's name: `<environment>_ksk` in the characters Route 53 accepts.

    Fixed for the life of the zone: a new name replaces the KSK, and a new KSK has a new DS
    record, which the one at the registrar no longer matches.
    """
    low, high = KSK_NAME_LENGTH
    name = _KSK_NAME_INVALID.sub("_", f"{environment}_ksk").strip("_")
    if len(name) > high:
        name = f"{name[: high - 7]}_{naming.short_hash(name)}"
    return name if len(name) >= low else f"{name}_ksk"


def hosted_zone_arn(zone_id: str) -> str:
    """Route 53 ARNs carry neither region nor account."""
    return f"arn:aws:route53:::hostedzone/{zone_id}"


def signing_key_policy(account_id: str, zone_arn: str) -> str:
    """The signing key's policy: the account administers it; Route 53's DNSSEC service may use
    it for this zone of this account only, and grant itself that use.

    The two service statements are those of the Route 53 Developer Guide ("Route 53 customer
    managed key permissions required for DNSSEC signing"), with its confused-deputy conditions
    narrowed from `hostedzone/*` to the one zone, as aws-cdk's KeySigningKey does.
    """
    return document(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Route53DnssecSigns",
            "Effect": "Allow",
            "Principal": {"Service": DNSSEC_PRINCIPAL},
            "Action": list(SIGNING_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnEquals": {"aws:SourceArn": zone_arn},
            },
        },
        {
            # Route 53 keeps its use of the key through a grant to itself; the condition admits
            # only grants for an AWS service's resource, never one to an arbitrary principal.
            "Sid": "Route53DnssecGrants",
            "Effect": "Allow",
            "Principal": {"Service": DNSSEC_PRINCIPAL},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    )


@dataclass(frozen=True)
class ZoneSigningArgs:
    """Inputs of ZoneSigning."""

    environment: str
    """Environment name, for names and tags."""
    domain: str
    """The zone's apex domain (descriptions)."""
    zone_id: pulumi.Input[str]
    """The hosted zone to sign: one the stack creates (a public zone)."""
    account_id: pulumi.Input[str]
    """Account id (key policy)."""
    key_deletion_window_days: int
    """Protection.key_deletion_window_days: waiting period of the signing key once deleted
    (7 to 30, checked by Protection)."""


class ZoneSigning(pulumi.ComponentResource):
    """DNSSEC for one hosted zone. Build it on the us-east-1 provider (aws-global): Route 53
    takes KSK keys from us-east-1 only.

    The operator publishes the DS record (`ds_record`) at the registrar or parent zone once
    signing is on, and removes it (then waits out its TTL) before signing is turned off or the
    zone destroyed: see the module docstring.
    """

    def __init__(
        self, name: str, args: ZoneSigningArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:dnssec:ZoneSigning", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label = naming.global_name(args.environment, "dnssec")
        zone_arn = pulumi.Output.from_input(args.zone_id).apply(hosted_zone_arn)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"TAP {args.environment} DNSSEC key-signing key for {args.domain}",
            customer_master_key_spec=SIGNING_KEY_SPEC,
            key_usage=SIGNING_KEY_USAGE,
            # KMS rotates only symmetric encryption keys: an asymmetric key cannot rotate (and
            # KMS refuses the setting). Rotating a KSK is a Route 53 procedure instead: a second
            # KSK on a new key, a new DS record at the parent, then the old KSK retired.
            enable_key_rotation=False,
            deletion_window_in_days=args.key_deletion_window_days,
            policy=pulumi.Output.all(args.account_id, zone_arn).apply(
                lambda values: signing_key_policy(values[0], values[1])
            ),
            tags=name_tag(label),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{label}",
            target_key_id=key.key_id,
            opts=child,
        )
        ksk = aws.route53.KeySigningKey(
            f"{name}-ksk",
            hosted_zone_id=args.zone_id,
            key_management_service_arn=key.arn,
            name=ksk_name(args.environment),
            status="ACTIVE",
            opts=child,
        )
        # EnableHostedZoneDNSSEC fails (KeySigningKeyWithActiveStatusNotFound) until the zone
        # has an ACTIVE KSK; and on destroy, signing is turned off before the KSK goes.
        aws.route53.HostedZoneDnsSec(
            f"{name}-signing",
            hosted_zone_id=ksk.hosted_zone_id,
            signing_status="SIGNING",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ksk]),
        )

        self.key_arn: pulumi.Output[str] = key.arn
        self.ds_record: pulumi.Output[str] = ksk.ds_record
        self.register_outputs({"key_arn": self.key_arn, "ds_record": self.ds_record})
