"""The stack config model: every validation rule, good and bad, and its one-line errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tap.config import (
    PLACEHOLDER_DOMAIN,
    RESERVED_DOMAINS,
    ConfigError,
    DatabasePlan,
    StackConfig,
    parse_stack_config,
    reserved_suffix,
)
from tap.protection import NON_PRODUCTION, PRODUCTION, Protection
from tap_tooling.offline import OFFLINE_DOMAIN, with_offline_domain
from tests.conftest import STACKS, stack_config

BASE = stack_config("dev")


def parse(**changes: Any) -> StackConfig:
    raw = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return parse_stack_config(raw, "dev")


def error_of(**changes: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(**changes)
    message = str(caught.value)
    assert "\n" not in message
    return message


def regions(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "cidr": cidr} for name, cidr in pairs]


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_are_valid_and_multi_region(stack: str) -> None:
    raw, _ = with_offline_domain(stack_config(stack))
    config = parse_stack_config(raw, stack)
    assert config.environment == stack
    assert len(config.regions) >= 2
    assert {"us-east-1", "us-west-2"} <= set(config.region_names)
    assert config.primary_region in config.region_names


def test_stack_sizes_follow_the_environment() -> None:
    dev, staging, prod = (
        parse_stack_config(with_offline_domain(stack_config(s))[0], s) for s in STACKS
    )
    assert prod.network.az_count == 3 and prod.network.nat_strategy == "one_per_az"
    assert staging.network.az_count == 3 and staging.network.nat_strategy == "one_per_az"
    assert dev.network.az_count == 2 and dev.network.nat_strategy == "instance"
    assert dev.network.flow_log_retention_days < prod.network.flow_log_retention_days


def test_environment_defaults_to_stack_and_can_be_overridden() -> None:
    assert parse().environment == "dev"
    assert parse(environment="sandbox").environment == "sandbox"


def test_primary_defaults_to_first_region() -> None:
    assert parse(primary_region=None).primary_region == "us-east-1"


def test_model_is_frozen() -> None:
    config = parse()
    with pytest.raises(ValidationError):
        config.environment = "prod"  # type: ignore[misc]


def test_extra_tags_are_kept_sorted() -> None:
    tags = {"project": "p", "owner": "o", "cost_center": "c", "extra": {"b": "2", "a": "1"}}
    assert list(parse(tags=tags).tags.extra) == ["a", "b"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"regions": regions(("us-east1", "10.0.0.0/16"), ("us-west-2", "10.1.0.0/16"))},
            'tap:regions[0].name = "us-east1": is not an AWS region code',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.0/16"), ("eu-north-9", "10.1.0.0/16"))},
            'tap:regions[1].name = "eu-north-9": is not a known commercial AWS region',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.0/16"), ("us-east-1", "10.1.0.0/16"))},
            'tap:regions[1].name = "us-east-1": duplicates regions[0].name',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.0/16"))},
            "tap:regions = ",
        ),
        (
            {"primary_region": "eu-west-1"},
            'tap:primary_region = "eu-west-1": must be one of the configured regions',
        ),
        (
            {"regions": regions(("us-east-1", "8.8.0.0/16"), ("us-west-2", "10.1.0.0/16"))},
            'tap:regions[0].cidr = "8.8.0.0/16": must be inside 10.0.0.0/8',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.0/12"), ("us-west-2", "10.16.0.0/16"))},
            'tap:regions[0].cidr = "10.0.0.0/12": must be a /16 to /20 block',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.0/24"), ("us-west-2", "10.16.0.0/16"))},
            'tap:regions[0].cidr = "10.0.0.0/24": must be a /16 to /20 block',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.1/16"), ("us-west-2", "10.16.0.0/16"))},
            'tap:regions[0].cidr = "10.0.0.1/16": is not a valid IPv4 network',
        ),
        (
            {"regions": regions(("us-east-1", "10.0.0.0/16"), ("us-west-2", "10.0.16.0/20"))},
            'tap:regions[1].cidr = "10.0.16.0/20": overlaps regions[0].cidr 10.0.0.0/16',
        ),
        ({"network": {"az_count": 1}}, "tap:network.az_count = 1:"),
        ({"network": {"az_count": 7}}, "tap:network.az_count = 7:"),
        ({"network": {"az_count": "three"}}, 'tap:network.az_count = "three": Input should be'),
        ({"network": {"nat_strategy": "many"}}, 'tap:network.nat_strategy = "many":'),
        ({"network": {"flow_log_retention_days": 10}}, "tap:network.flow_log_retention_days = 10:"),
        ({"network": {"az_cont": 3}}, "tap:network.az_cont = 3: unknown key"),
        ({"netwrok": {"az_count": 3}}, "tap:netwrok = "),
        ({"tags": None}, "tap:tags: is required"),
        (
            {"tags": {"project": "p", "owner": "o", "cost_center": "c", "extra": {"Name": "x"}}},
            "tap:tags.extra.Name = \"x\": 'Name' is set by TAP itself",
        ),
        ({"environment": "Prod!"}, 'tap:environment = "Prod!":'),
        ({"regions": "us-east-1"}, 'tap:regions = "us-east-1":'),
    ],
)
def test_bad_config_names_key_and_value(changes: dict[str, Any], expected: str) -> None:
    message = error_of(**changes)
    assert message.startswith("invalid config tap:")
    assert expected in message


def test_json_strings_are_decoded_like_the_engine_passes_them() -> None:
    import json

    raw = {key: json.dumps(value) for key, value in BASE.items()}
    assert parse_stack_config(raw, "dev").network.az_count == 2


CERT = "arn:aws:acm:{region}:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"


@pytest.mark.parametrize(
    ("compute", "expected"),
    [
        ({"min_size": 3, "desired_capacity": 2, "max_size": 4}, "tap:compute.desired_capacity = 2"),
        ({"instance_type": "large"}, 'tap:compute.instance_type = "large"'),
        ({"app_port": 80}, "tap:compute.app_port = 80"),
        ({"ami_id": "ami-xyz"}, 'tap:compute.ami_id = "ami-xyz"'),
        ({"allowed_cidrs": ["10.0.0.0/33"]}, 'tap:compute.allowed_cidrs[0] = "10.0.0.0/33"'),
        (
            {"certificate_arns": {"us-east-1": "arn:aws:iam::1:server-certificate/x"}},
            "tap:compute.certificate_arns.us-east-1 = ",
        ),
        (
            {"certificate_arns": {"us-east-1": CERT.format(region="us-west-2")}},
            "is a certificate of us-west-2",
        ),
        (
            {"certificate_arns": {"eu-west-1": CERT.format(region="eu-west-1")}},
            "tap:compute.certificate_arns.eu-west-1 = ",
        ),
        ({"cpu_target_percent": 95}, "tap:compute.cpu_target_percent = 95"),
    ],
)
def test_compute_config_errors(compute: dict[str, Any], expected: str) -> None:
    message = error_of(compute={**BASE["compute"], **compute})
    assert expected in message


def test_prod_needs_two_instances_per_region() -> None:
    raw, _ = with_offline_domain(stack_config("prod"))
    raw["compute"] = {**raw["compute"], "min_size": 1, "desired_capacity": 1}
    with pytest.raises(ConfigError, match=r"tap:compute\.min_size = 1: prod needs at least 2"):
        parse_stack_config(raw, "prod")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"dns": {"domain": "not a domain"}}, 'tap:dns.domain = "not a domain"'),
        ({"dns": {"domain": "acme-platform.io", "zone_id": "z1"}}, 'tap:dns.zone_id = "z1"'),
        (
            {"dns": {"domain": "acme-platform.io", "zone_id": "Z123456789", "create_zone": True}},
            "tap:dns.create_zone = true: conflicts with zone_id",
        ),
        (
            {"dns": {"domain": "acme-platform.io", "record_name": "a.b"}},
            'tap:dns.record_name = "a.b"',
        ),
        (
            {"dns": {"domain": "acme-platform.io", "health_check": {"request_interval": 20}}},
            "tap:dns.health_check.request_interval = 20",
        ),
        (
            {"dns": {"domain": "acme-platform.io", "health_check": {"failure_threshold": 11}}},
            "tap:dns.health_check.failure_threshold = 11",
        ),
        (
            {"edge": {"cloudfront_enabled": True}},
            "tap:edge.cloudfront_enabled = true: needs tap:dns",
        ),
        ({"edge": {"waf_enabled": True}}, "tap:edge.waf_enabled = true: needs cloudfront_enabled"),
    ],
)
def test_dns_and_edge_config_errors(changes: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**changes)


def test_domain_is_normalised() -> None:
    config = parse(dns={"domain": "Acme-Platform.IO.", "create_zone": True})
    assert config.dns is not None and config.dns.app_fqdn == "app.acme-platform.io"


# --- Domains AWS refuses (RFC 2606 / RFC 6761) and the shipped placeholder --------------------


@pytest.mark.parametrize(
    "domain",
    [
        "example.com",
        "EXAMPLE.org.",
        "example.net",
        "app.example.com",
        "shop.test",
        "foo.invalid",
        "my.localhost",
        "printer.local",
        "docs.example",
    ],
)
def test_reserved_domains_are_refused_with_one_line(domain: str) -> None:
    message = error_of(dns={"domain": domain, "create_zone": True})
    # The value as the user wrote it, so it can be found in the stack file.
    assert message.startswith(f'invalid config tap:dns.domain = "{domain}": is reserved (')
    assert "RFC 2606/6761" in message and "set a domain you own" in message


@pytest.mark.parametrize(
    "domain", ["acme.io", "example-corp.com", "myexample.com", "test.acme.io", "local.acme.io"]
)
def test_names_that_merely_look_reserved_are_accepted(domain: str) -> None:
    config = parse(dns={"domain": domain, "create_zone": True})
    assert config.dns is not None and config.dns.domain == domain
    assert reserved_suffix(domain) is None


def test_every_reserved_name_is_refused() -> None:
    for reserved in RESERVED_DOMAINS:
        assert reserved_suffix(f"www.{reserved}") == reserved
        assert reserved_suffix(reserved) == reserved


def test_placeholder_domain_says_what_to_set() -> None:
    message = error_of(dns={"domain": PLACEHOLDER_DOMAIN, "create_zone": True})
    assert message == (
        f'invalid config tap:dns.domain = "{PLACEHOLDER_DOMAIN}": is the shipped placeholder: '
        "set a domain you own (pulumi config set --path tap:dns.domain <your-domain>)"
    )


def test_prod_ships_the_placeholder_and_the_offline_plan_stands_in_for_it() -> None:
    raw = stack_config("prod")
    assert raw["dns"]["domain"] == PLACEHOLDER_DOMAIN
    with pytest.raises(ConfigError, match=r"tap:dns\.domain .*shipped placeholder"):
        parse_stack_config(raw, "prod")
    substituted, notice = with_offline_domain(raw)
    assert substituted["dns"]["domain"] == OFFLINE_DOMAIN
    assert notice is not None and PLACEHOLDER_DOMAIN in notice
    assert raw["dns"]["domain"] == PLACEHOLDER_DOMAIN  # the caller's config is left alone
    config = parse_stack_config(substituted, "prod")
    assert config.dns is not None and config.edge.cloudfront_enabled


def test_a_real_domain_is_never_substituted() -> None:
    raw = stack_config("prod")
    raw["dns"] = {**raw["dns"], "domain": "acme.io"}
    assert with_offline_domain(raw) == (raw, None)


# --- Audit lifecycle: no early-deletion charges ------------------------------------------------


def test_audit_expiration_inside_glacier_minimum_is_refused() -> None:
    message = error_of(
        audit={"transition_ia_days": 30, "transition_glacier_days": 60, "expiration_days": 90}
    )
    assert message == (
        "invalid config tap:audit.expiration_days = 90: must be at least "
        "transition_glacier_days + 90 (150): GLACIER bills 90 days per object"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_audit_lifecycles_pay_no_early_deletion(stack: str) -> None:
    audit = stack_config(stack)["audit"]
    assert audit["expiration_days"] >= audit["transition_glacier_days"] + 90


# --- Rotation versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"database": {"master_password_version": 0}}, "tap:database.master_password_version = 0"),
        ({"edge": {"origin_secret_version": 0}}, "tap:edge.origin_secret_version = 0"),
    ],
)
def test_rotation_versions_start_at_one(changes: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**changes)


def test_rotation_versions_default_to_one() -> None:
    config = parse()
    assert config.database.master_password_version == 1
    assert config.edge.origin_secret_version == 1


# --- Production is the config's decision, whatever the stack is called -------------------------


def test_production_defaults_to_the_prod_environment() -> None:
    assert parse().is_production is False
    raw, _ = with_offline_domain(stack_config("prod"))
    assert parse_stack_config(raw, "prod").is_production is True


def test_any_stack_name_can_be_production_and_gets_prod_rules() -> None:
    raw, _ = with_offline_domain(stack_config("prod"))
    config = parse_stack_config({**raw, "environment": "prod-eu"}, "prod-eu")
    assert config.environment == "prod-eu" and config.is_production is False
    config = parse_stack_config({**raw, "environment": "prod-eu", "production": True}, "prod-eu")
    assert config.is_production is True
    # The production guard rails follow the flag, not the name.
    weak = {**BASE, "environment": "qa", "production": True}
    with pytest.raises(ConfigError, match=r"tap:database\.multi_az = false: must be true in prod"):
        parse_stack_config(weak, "qa")


def test_production_can_be_switched_off_explicitly() -> None:
    config = parse(environment="prod", production=False)
    assert config.is_production is False


def test_production_tag_cannot_be_overridden_by_extra_tags() -> None:
    tags = {**BASE["tags"], "extra": {"Production": "false"}}
    assert "tap:tags.extra.Production" in error_of(tags=tags)


# --- The stack's AWS account -------------------------------------------------------------------

ROLE = "arn:aws:iam::210987654321:role/tap-deploy"


def test_account_settings_default_to_the_callers_credentials() -> None:
    aws = parse().aws
    assert (aws.account_id, aws.assume_role_arn, aws.expected_account) == (None, None, None)


def test_role_names_the_expected_account() -> None:
    aws = parse(aws={"assume_role_arn": ROLE, "external_id": "tap-prod"}).aws
    assert aws.expected_account == "210987654321"
    assert aws.session_name == "tap-deploy"
    assert parse(aws={"account_id": "210987654321"}).aws.expected_account == "210987654321"


@pytest.mark.parametrize(
    ("aws", "expected"),
    [
        ({"account_id": "12345"}, 'tap:aws.account_id = "12345": is not a 12-digit AWS account id'),
        ({"assume_role_arn": "arn:aws:iam::1:role/x"}, "tap:aws.assume_role_arn = "),
        ({"external_id": "abc"}, 'tap:aws.external_id = "abc": needs assume_role_arn'),
        (
            {"assume_role_arn": ROLE, "account_id": "123456789012"},
            f'tap:aws.assume_role_arn = "{ROLE}": is a role of account 210987654321, '
            "not of account_id 123456789012",
        ),
        (
            {"assume_role_arn": ROLE, "external_id": "x"},
            'tap:aws.external_id = "x": must be 2-1224',
        ),
        ({"assume_role_arn": ROLE, "session_name": "a b"}, 'tap:aws.session_name = "a b"'),
        ({"role": ROLE}, "tap:aws.role = "),
    ],
)
def test_account_settings_errors(aws: dict[str, Any], expected: str) -> None:
    assert expected in error_of(aws=aws)


# --- decisions derived from the config (no mocks) ----------------------------------------


def three_regions(**database: Any) -> StackConfig:
    return parse(
        regions=regions(
            ("eu-west-1", "10.50.0.0/16"),
            ("us-east-1", "10.51.0.0/16"),
            ("us-west-2", "10.52.0.0/16"),
        ),
        primary_region="us-east-1",
        database={**BASE["database"], **database},
    )


def test_region_plans_put_the_primary_first_and_keep_the_order_of_the_others() -> None:
    plans = three_regions(replicas_enabled=True).region_plans
    assert [p.name for p in plans] == ["us-east-1", "eu-west-1", "us-west-2"]
    assert [p.is_primary for p in plans] == [True, False, False]
    assert [p.cidr for p in plans] == ["10.51.0.0/16", "10.50.0.0/16", "10.52.0.0/16"]


def test_replicas_take_the_replica_class_and_never_multi_az() -> None:
    config = three_regions(
        replicas_enabled=True, multi_az=True, replica_instance_class="db.t4g.small"
    )
    databases = {p.name: p.database for p in config.region_plans}
    assert databases["us-east-1"] == DatabasePlan("primary", "db.t4g.micro", multi_az=True)
    assert databases["eu-west-1"] == DatabasePlan("replica", "db.t4g.small", multi_az=False)
    assert not databases["eu-west-1"].writable and databases["us-east-1"].writable


def test_a_promoted_replica_is_writable_with_the_primarys_multi_az() -> None:
    config = three_regions(replicas_enabled=True, multi_az=True, promoted_regions=["us-west-2"])
    databases = {p.name: p.database for p in config.region_plans}
    assert databases["us-west-2"] == DatabasePlan("promoted", "db.t4g.micro", multi_az=True)
    assert databases["us-west-2"].writable and config.active_region == "us-west-2"
    assert databases["eu-west-1"] == DatabasePlan("replica", "db.t4g.micro", multi_az=False)


def test_without_replicas_only_the_primary_region_has_a_database() -> None:
    plans = three_regions(replicas_enabled=False).region_plans
    assert [p.name for p in plans if p.database] == ["us-east-1"]


def test_a_configured_certificate_belongs_to_its_region_plan() -> None:
    arn = (
        "arn:aws:acm:us-west-2:123456789012:certificate/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
    )
    config = parse(compute={**BASE["compute"], "certificate_arns": {"us-west-2": arn}})
    assert {p.name: p.certificate_arn for p in config.region_plans} == {
        "us-east-1": None,
        "us-west-2": arn,
    }


@pytest.mark.parametrize(
    ("dns", "edge", "expected"),
    [
        (None, None, None),
        ({"domain": "acme-platform.io"}, None, "app.acme-platform.io"),
        (
            {"domain": "acme-platform.io", "record_name": "www"},
            {"cloudfront_enabled": True},
            "origin.www.acme-platform.io",
        ),
    ],
)
def test_the_failover_name_is_the_app_name_or_behind_the_edge_its_origin_name(
    dns: dict[str, Any] | None, edge: dict[str, Any] | None, expected: str | None
) -> None:
    raw = copy.deepcopy(BASE)
    raw.update({"dns": dns} if dns else {})
    raw.update({"edge": edge} if edge else {})
    assert parse_stack_config(raw, "dev").failover_fqdn == expected


@pytest.mark.parametrize(
    ("environment", "production", "expected"),
    [("prod", None, PRODUCTION), ("dev", None, NON_PRODUCTION), ("qa", True, PRODUCTION)],
)
def test_protection_is_decided_by_production(
    environment: str, production: bool | None, expected: Protection
) -> None:
    raw, _ = with_offline_domain(stack_config("prod"))
    raw["environment"] = environment
    if production is not None:
        raw["production"] = production
    assert parse_stack_config(raw, environment).protection == expected
