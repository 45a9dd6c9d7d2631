"""tap.protection: the one module that says what production means (no mocks)."""

from __future__ import annotations

import dataclasses

import pytest

from tap.config import ConfigError, StackConfig, parse_stack_config
from tap.protection import (
    NON_PRODUCTION,
    PRODUCTION,
    PRODUCTION_REQUIREMENTS,
    decide_production,
    protection_for,
)
from tap_tooling.offline import with_offline_domain
from tests.conftest import STACKS, stack_config


@pytest.mark.parametrize(
    ("environment", "explicit", "expected"),
    [("prod", None, True), ("prod-eu", None, False), ("qa", True, True), ("prod", False, False)],
)
def test_production_is_the_flag_else_the_prod_environment(
    environment: str, explicit: bool | None, expected: bool
) -> None:
    assert decide_production(environment, explicit) is expected


def test_production_protects_and_retains_everything_and_the_rest_tears_down() -> None:
    assert protection_for(True) is PRODUCTION and protection_for(False) is NON_PRODUCTION
    assert PRODUCTION.deletion_protection and PRODUCTION.retain_on_delete
    assert PRODUCTION.changes_wait_for_maintenance
    assert (PRODUCTION.key_deletion_window_days, PRODUCTION.secret_recovery_window_days) == (30, 30)
    assert not NON_PRODUCTION.deletion_protection and not NON_PRODUCTION.retain_on_delete
    # A destroyed dev stack frees its secret names at once and its keys after a week.
    dev = NON_PRODUCTION
    assert (dev.key_deletion_window_days, dev.secret_recovery_window_days) == (7, 0)
    assert PRODUCTION.min_healthy_percent > NON_PRODUCTION.min_healthy_percent


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key_deletion_window_days": 6}, "key_deletion_window_days 6: 7 to 30"),
        ({"key_deletion_window_days": 31}, "key_deletion_window_days 31"),
        ({"secret_recovery_window_days": 3}, "secret_recovery_window_days 3: 0 or 7 to 30"),
        ({"secret_recovery_window_days": 31}, "secret_recovery_window_days 31"),
        ({"min_healthy_percent": 101}, "min_healthy_percent 101"),
    ],
)
def test_protection_refuses_what_aws_refuses(change: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PRODUCTION, **change)


@pytest.mark.parametrize("requirement", PRODUCTION_REQUIREMENTS, ids=lambda r: r.key)
def test_every_production_requirement_names_a_config_key_prod_meets(requirement) -> None:
    raw, _ = with_offline_domain(stack_config("prod"))
    config = StackConfig.model_validate({**raw, "environment": "prod"})
    assert requirement.holds(config.value_at(requirement.key))


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_gets_the_protection_of_its_production_flag(stack: str) -> None:
    raw, _ = with_offline_domain(stack_config(stack))
    config = StackConfig.model_validate({"environment": stack, **raw})
    assert config.protection is protection_for(config.is_production)
    assert config.is_production is (stack == "prod")


@pytest.mark.parametrize(
    "key",
    [
        "network.flow_log_retention_days",
        "compute.log_retention_days",
        "database.log_retention_days",
        "audit.log_retention_days",
        "edge.waf_log_retention_days",
        "dns.query_log_retention_days",
    ],
)
def test_production_refuses_a_log_group_kept_less_than_a_year(key: str) -> None:
    raw, _ = with_offline_domain(stack_config("prod"))
    section, field = key.split(".")
    raw[section] = {**raw.get(section, {}), field: 180}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, "prod")
    assert str(caught.value) == f"invalid config tap:{key} = 180: must be at least 365 in prod"
    # The same value is fine outside production.
    assert parse_stack_config({**raw, "production": False}, "prod").value_at(key) == 180


def test_production_behind_cloudfront_needs_the_waf() -> None:
    raw, _ = with_offline_domain(stack_config("prod"))
    raw["edge"] = {**raw["edge"], "waf_enabled": False}
    with pytest.raises(ConfigError, match=r"^invalid config tap:edge.waf_enabled = false: must be"):
        parse_stack_config(raw, "prod")
    # Without CloudFront there is no web ACL to require.
    raw["edge"] = {"cloudfront_enabled": False}
    assert parse_stack_config(raw, "prod").edge.waf_enabled is False
