"""A zone the stack creates, signed (DNSSEC) and query-logged; built on its own with its Args.

The Zone sits on the aws-global provider as __main__.py puts it. What is checked is what AWS
holds the stack to: a signing key of the one kind Route 53 takes (ECC_NIST_P256, SIGN_VERIFY,
us-east-1) with the key policy it needs, the KSK on that key and the zone, signing switched on
after the KSK; a query log group in us-east-1 under /aws/route53/, encrypted by a key that
admits CloudWatch Logs for that group only, a resource policy admitting Route 53 for this zone,
and the query logging configuration created after it. A looked-up zone gets none of it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.dnssec import (
    KSK_NAME_LENGTH,
    SIGNING_KEY_SPEC,
    SIGNING_KEY_USAGE,
    hosted_zone_arn,
    ksk_name,
)
from components.zone import Zone, ZoneArgs, query_log_group_name
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tap_tooling import plan, readiness
from tests.harness import ACCOUNT, Built, build, in_region

ZONE = "aws:route53/zone:Zone"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
KSK = "aws:route53/keySigningKey:KeySigningKey"
SIGNING = "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOG_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
CALLER = "aws:index/getCallerIdentity:getCallerIdentity"
GET_ZONE = "aws:route53/getZone:getZone"
DNSSEC_TYPES = {KSK, SIGNING}
QUERY_LOG_TYPES = {LOG_GROUP, LOG_POLICY, QUERY_LOG}
DOMAIN = "acme.io"
ENVIRONMENT = "qa"
GROUP_NAME = f"/aws/route53/{DOMAIN}"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP_NAME}"


def build_zone(
    *,
    create: bool = True,
    zone_id: str | None = None,
    dnssec: bool = True,
    query_log_retention_days: int | None = 365,
    key_deletion_window_days: int = 30,
) -> Built:
    def program() -> dict[str, Any]:
        zone = Zone(
            "zone",
            ZoneArgs(
                domain=DOMAIN,
                environment=ENVIRONMENT,
                zone_id=zone_id,
                create=create,
                retain_on_delete=True,
                dnssec=dnssec,
                query_log_retention_days=query_log_retention_days,
                key_deletion_window_days=key_deletion_window_days,
            ),
            opts=in_region(GLOBAL_REGION, GLOBAL_PROVIDER_NAME),
        )
        return {"zone_id": zone.zone_id, "ds_record_set": zone.ds_record is not None}

    return build(program)


@pytest.fixture(scope="module")
def signed() -> Built:
    """A created zone with DNSSEC and a year of query logs, as production gets it."""
    return build_zone()


def statements(policy: str) -> dict[str, dict[str, Any]]:
    """A policy document's statements by Sid (each test names the one it reads)."""
    document = json.loads(policy)
    assert document["Version"] == "2012-10-17"
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert len(by_sid) == len(document["Statement"]), "every statement has its own Sid"
    return by_sid


def zone_arn(built: Built) -> str:
    (zone,) = built.of_type(ZONE)
    return f"arn:aws:route53:::hostedzone/{built.id_of(zone)}"


def key_arn(built: Built, name: str) -> str:
    return f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{built.id_of(built.one(KEY, name))}"


# --- DNSSEC ----------------------------------------------------------------------------------


def test_the_signing_key_is_the_kind_route53_takes_and_does_not_rotate(signed: Built) -> None:
    key = signed.one(KEY, "zone-dnssec-key")
    assert key.inputs["customerMasterKeySpec"] == SIGNING_KEY_SPEC == "ECC_NIST_P256"
    assert key.inputs["keyUsage"] == SIGNING_KEY_USAGE == "SIGN_VERIFY"
    # Asymmetric keys cannot rotate: KMS refuses the setting.
    assert key.inputs["enableKeyRotation"] is False
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.region == GLOBAL_REGION
    assert key.provider_urn == signed.provider_urn(GLOBAL_PROVIDER_NAME)
    assert key.inputs["tags"] == {"Name": "qa-dnssec"}
    alias = signed.one(ALIAS, "zone-dnssec-key-alias")
    assert alias.inputs["name"] == "alias/qa-dnssec"
    assert alias.inputs["targetKeyId"] == signed.id_of(key)


def test_the_signing_key_policy_admits_route53_dnssec_for_this_zone_only(signed: Built) -> None:
    policy = statements(signed.one(KEY, "zone-dnssec-key").inputs["policy"])
    assert set(policy) == {"AccountAdministers", "Route53DnssecSigns", "Route53DnssecGrants"}
    assert policy["AccountAdministers"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert policy["AccountAdministers"]["Action"] == "kms:*"

    signs = policy["Route53DnssecSigns"]
    assert signs["Effect"] == "Allow"
    assert signs["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    # What CreateKeySigningKey requires, and nothing more (no kms:Verify, no kms:*).
    assert sorted(signs["Action"]) == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
    # Confused deputy: this account, this zone (not the guide's hostedzone/*).
    assert signs["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": zone_arn(signed)},
    }

    grants = policy["Route53DnssecGrants"]
    assert grants["Principal"] == {"Service": "dnssec-route53.amazonaws.com"}
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_the_ksk_signs_the_created_zone_with_the_signing_key(signed: Built) -> None:
    (zone,) = signed.of_type(ZONE)
    (ksk,) = signed.of_type(KSK)
    assert ksk.inputs["hostedZoneId"] == signed.id_of(zone)
    assert ksk.inputs["keyManagementServiceArn"] == key_arn(signed, "zone-dnssec-key")
    assert ksk.inputs["name"] == "qa_ksk"
    assert ksk.inputs["status"] == "ACTIVE"
    assert ksk.region == GLOBAL_REGION


def test_signing_is_switched_on_after_the_ksk(signed: Built) -> None:
    (zone,) = signed.of_type(ZONE)
    (ksk,) = signed.of_type(KSK)
    (signing,) = signed.of_type(SIGNING)
    assert signing.inputs["hostedZoneId"] == signed.id_of(zone)
    assert signing.inputs["signingStatus"] == "SIGNING"
    # EnableHostedZoneDNSSEC needs an ACTIVE KSK; on destroy, signing goes off first.
    assert ksk.urn in signing.depends_on
    assert signing.region == GLOBAL_REGION


def test_the_signing_pieces_form_one_component_inside_the_zone(signed: Built) -> None:
    (zone_component,) = signed.components("tap:zone:Zone")
    (signing,) = signed.components("tap:dnssec:ZoneSigning")
    assert signing.parent_urn == zone_component.urn
    assert sorted(r.type for r in signed.under(signing)) == sorted([KEY, ALIAS, KSK, SIGNING])
    assert signed.outputs["ds_record_set"] is True
    # One caller-identity lookup serves both key policies, through the zone's provider.
    assert signed.invokes.count((CALLER, GLOBAL_REGION)) == 1


# --- query logging ---------------------------------------------------------------------------


def test_the_query_log_group_is_in_us_east_1_under_aws_route53_encrypted(signed: Built) -> None:
    (group,) = signed.of_type(LOG_GROUP)
    assert group.inputs["name"] == GROUP_NAME == query_log_group_name(DOMAIN)
    assert group.region == GLOBAL_REGION
    assert group.provider_urn == signed.provider_urn(GLOBAL_PROVIDER_NAME)
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == key_arn(signed, "zone-query-log-key")


def test_the_query_log_key_rotates_and_admits_cloudwatch_logs_for_that_group(
    signed: Built,
) -> None:
    key = signed.one(KEY, "zone-query-log-key")
    # Symmetric (the default spec), so it rotates yearly.
    assert "customerMasterKeySpec" not in key.inputs and "keyUsage" not in key.inputs
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.region == GLOBAL_REGION
    assert signed.one(ALIAS, "zone-query-log-key-alias").inputs["name"] == "alias/qa-dns-query-logs"

    policy = statements(key.inputs["policy"])
    assert set(policy) == {
        "AccountAdministers",
        "CloudWatchLogsEncryptsQueryLogs",
        "CloudWatchLogsDescribesKey",
    }
    encrypts = policy["CloudWatchLogsEncryptsQueryLogs"]
    # The group's region's CloudWatch Logs, for that group only.
    assert encrypts["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert encrypts["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": GROUP_ARN}}
    assert "kms:Decrypt" in encrypts["Action"] and "kms:GenerateDataKey*" in encrypts["Action"]
    # DescribeKey has no encryption context: granted on its own, unconditioned.
    describes = policy["CloudWatchLogsDescribesKey"]
    assert describes["Action"] == "kms:DescribeKey" and "Condition" not in describes


def test_the_resource_policy_admits_route53_for_this_zone_and_group(signed: Built) -> None:
    (policy,) = signed.of_type(LOG_POLICY)
    # Account-scoped, in us-east-1 (one of at most 10 per account and Region).
    assert policy.inputs["policyName"] == "qa-route53-query-logs"
    assert "resourceArn" not in policy.inputs
    assert policy.region == GLOBAL_REGION
    (statement,) = statements(policy.inputs["policyDocument"]).values()
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "route53.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # This group's streams, not every /aws/route53/* group of the account.
    assert statement["Resource"] == f"{GROUP_ARN}:*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": zone_arn(signed)},
    }


def test_query_logging_starts_after_the_resource_policy(signed: Built) -> None:
    (zone,) = signed.of_type(ZONE)
    (group,) = signed.of_type(LOG_GROUP)
    (policy,) = signed.of_type(LOG_POLICY)
    (query_log,) = signed.of_type(QUERY_LOG)
    assert query_log.inputs["zoneId"] == signed.id_of(zone)
    assert query_log.inputs["cloudwatchLogGroupArn"] == GROUP_ARN
    assert query_log.region == GLOBAL_REGION
    # Route 53 checks the policy when the configuration is created: an explicit dependency,
    # since nothing of the policy is an input of the configuration.
    assert policy.urn in query_log.depends_on
    assert group.urn in query_log.depends_on


def test_the_key_deletion_window_is_the_protections() -> None:
    built = build_zone(key_deletion_window_days=7)
    assert {k.inputs["deletionWindowInDays"] for k in built.of_type(KEY)} == {7}


# --- what does not get it --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dnssec", "retention", "present"),
    [
        (True, None, DNSSEC_TYPES),
        (False, 90, QUERY_LOG_TYPES),
        (False, None, set()),
    ],
)
def test_signing_and_query_logging_are_independent(
    dnssec: bool, retention: int | None, present: set[str]
) -> None:
    built = build_zone(dnssec=dnssec, query_log_retention_days=retention)
    types = {r.type for r in built.aws_resources()}
    assert types & (DNSSEC_TYPES | QUERY_LOG_TYPES) == present
    assert len(built.of_type(KEY)) == (1 if present else 0)
    assert built.outputs["ds_record_set"] is dnssec
    if retention is not None:
        assert built.one(LOG_GROUP, "zone-query-logs").inputs["retentionInDays"] == retention


def test_a_created_zone_without_either_looks_nothing_up_and_has_only_the_zone() -> None:
    built = build_zone(dnssec=False, query_log_retention_days=None)
    assert [r.type for r in built.aws_resources()] == [ZONE]
    assert built.lookups_of(CALLER) == []


@pytest.mark.parametrize("zone_id", ["Z0123456789ABCDEFGHIJ", None])
def test_a_looked_up_zone_gets_neither(zone_id: str | None) -> None:
    built = build_zone(create=False, zone_id=zone_id, dnssec=False, query_log_retention_days=None)
    assert built.aws_resources() == []
    assert len(built.lookups_of(GET_ZONE)) == 1
    assert built.outputs["ds_record_set"] is False


@pytest.mark.parametrize(("dnssec", "retention"), [(True, None), (False, 365), (True, 365)])
def test_asking_to_sign_or_log_a_looked_up_zone_is_refused(
    dnssec: bool, retention: int | None
) -> None:
    with pytest.raises(ValueError, match="for a zone the stack creates"):
        ZoneArgs(
            domain=DOMAIN,
            environment=ENVIRONMENT,
            zone_id=None,
            create=False,
            retain_on_delete=True,
            dnssec=dnssec,
            query_log_retention_days=retention,
        )


def test_args_defaults_are_the_safe_ones() -> None:
    args = ZoneArgs(
        domain=DOMAIN, environment=ENVIRONMENT, zone_id=None, create=True, retain_on_delete=True
    )
    # Off unless asked for (a signed zone with no DS at the parent gains nothing; signing
    # turned off under a DS record breaks the domain), and the longest key deletion window.
    assert (args.dnssec, args.query_log_retention_days, args.key_deletion_window_days) == (
        False,
        None,
        30,
    )


# --- the plan's own rules over what the component creates ------------------------------------


def test_the_plan_rules_accept_the_signed_and_logged_zone(signed: Built) -> None:
    """The policy and deploy-readiness rules that judge these types find nothing: the
    asymmetric key is exempt from rotation (TAP-KMS-1), the group is encrypted and retained
    (TAP-LOG-1/2), names and retention fit CloudWatch Logs and KMS, no context-only grant
    (TAP-AWS-KMS-2), every ARN is us-east-1's (TAP-AWS-REGION-1). Left out: tags, which come
    from the provider's default tags (this build's provider has none), and findings about the
    stack as a whole (no trail, no VPC here)."""
    views = plan.resource_views(signed)
    found = [
        (v.rule_id, v.resource_name, v.message)
        for v in readiness.evaluate(views, ENVIRONMENT, production=True)
        if v.rule_id != "TAP-TAG-1" and v.resource_name
    ]
    assert found == []


# --- pure helpers ----------------------------------------------------------------------------


def test_hosted_zone_arns_carry_no_region_or_account() -> None:
    assert hosted_zone_arn("Z0123") == "arn:aws:route53:::hostedzone/Z0123"


KSK_NAME = re.compile(r"[A-Za-z0-9_]+")


@given(st.text(min_size=0, max_size=300))
def test_ksk_names_fit_route53_whatever_the_environment(environment: str) -> None:
    name = ksk_name(environment)
    low, high = KSK_NAME_LENGTH
    assert KSK_NAME.fullmatch(name) and low <= len(name) <= high
    assert ksk_name(environment) == name  # deterministic: a new name replaces the KSK


@given(st.from_regex(r"[a-z][a-z0-9-]{1,15}", fullmatch=True))
def test_a_valid_environment_keeps_its_name_in_the_ksk(environment: str) -> None:
    assert ksk_name(environment) == re.sub(r"-+", "_", environment) + "_ksk"
