"""Shared fixtures: the recording-mock harness of tap_tooling.offline, run once per stack and
config."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tap_tooling.offline import OFFLINE_DOMAIN, PlanResult, read_stack_file, run_program

STACKS = ("dev", "staging", "prod")
ALL_FEATURES = "all-features"
"""Not a stack file: dev with every optional feature on (see `all_features_config`)."""
_CACHE: dict[str, PlanResult] = {}


def planned(stack: str) -> PlanResult:
    """The shipped stack file of `stack` (or ALL_FEATURES) run under mocks (cached: the
    program is pure)."""
    if stack not in _CACHE:
        if stack == ALL_FEATURES:
            _CACHE[stack] = run_program("dev", all_features_config())
        else:
            _CACHE[stack] = run_program(stack)
    return _CACHE[stack]


def all_features_config(base: str = "dev") -> dict[str, Any]:
    """A shipped stack (dev by default) with every optional feature on: three regions none of
    which is us-east-1 (so the global pieces need their own provider), no NAT (interface
    endpoints instead), a bastion, DR replicas, a created zone, CloudFront and WAF."""
    config = stack_config(base)
    config["regions"] = [
        {"name": "eu-west-1", "cidr": "10.50.0.0/16"},
        {"name": "eu-central-1", "cidr": "10.51.0.0/16"},
        {"name": "us-west-2", "cidr": "10.52.0.0/16"},
    ]
    config["primary_region"] = "eu-west-1"
    config["network"] = {**config["network"], "nat_strategy": "none"}
    config["compute"] = {
        **config["compute"],
        "bastion": {"enabled": True, "ssh_cidr": "198.51.100.0/24", "key_name": "ops"},
    }
    config["database"] = {**config["database"], "replicas_enabled": True}
    config["dns"] = {"domain": OFFLINE_DOMAIN, "create_zone": True}
    config["edge"] = {"cloudfront_enabled": True, "waf_enabled": True}
    return config


@pytest.fixture(params=[*STACKS, ALL_FEATURES])
def any_plan(request: pytest.FixtureRequest) -> PlanResult:
    """Each shipped stack, then the all-features config."""
    return planned(request.param)


@pytest.fixture(params=STACKS)
def stack_plan(request: pytest.FixtureRequest) -> PlanResult:
    """Each shipped stack in turn."""
    return planned(request.param)


@pytest.fixture
def dev_plan() -> PlanResult:
    return planned("dev")


@pytest.fixture
def staging_plan() -> PlanResult:
    return planned("staging")


@pytest.fixture
def prod_plan() -> PlanResult:
    return planned("prod")


def stack_config(stack: str) -> dict[str, Any]:
    """A deep copy of a shipped stack's `tap:` config, for tests to modify."""
    return copy.deepcopy(read_stack_file(stack))


@pytest.fixture
def run_config() -> Callable[..., PlanResult]:
    """Run the program for `stack` with its config changed by `changes` (merged per key)."""

    def run(stack: str = "dev", **changes: Any) -> PlanResult:
        config = stack_config(stack)
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            elif value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return run_program(stack, config)

    return run


def inputs_of(plan: PlanResult, type_: str, region: str | None = None) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.of_type(type_) if region is None or r.region == region]
