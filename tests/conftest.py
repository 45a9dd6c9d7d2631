"""Shared fixtures: the recording-mock harness of tap_tooling.offline, run once per stack and
config."""

from __future__ import annotations

import copy
import gc
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tap_tooling import offline
from tap_tooling.offline import OFFLINE_DOMAIN, PlanResult, read_stack_file, run_program

STACKS = ("dev", "staging", "prod")
ALL_FEATURES = "all-features"
"""Not a stack file: dev with every optional feature on (see `all_features_config`)."""
_CACHE: dict[str, PlanResult] = {}
_STACK_FILES: dict[str, dict[str, Any]] = {}
_LOOKUPS = dict(offline._LOOKUPS)
"""The harness's own lookup answers: a run with a test's answers patched in is never cached."""


def pytest_configure(config: pytest.Config) -> None:
    """Full garbage collections ten times rarer than Python's default.

    A full collection walks every object in the process: with pulumi_aws's classes, moto's and
    botocore's service models and the runs the suite shares, over a million, about half a
    second each. At the default rate (one per ten middle-generation collections) they were a
    quarter of the suite's CPU; the young generations are still collected as often as before,
    so short-lived garbage goes as quickly as ever.
    """
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def planned(stack: str, config: Mapping[str, Any] | None = None) -> PlanResult:
    """The program run under mocks for `stack` with its shipped stack file, or with `config`
    instead (ALL_FEATURES: see `all_features_config`).

    Cached per test process by stack and config: the program is pure, so every test asking for
    the same run shares one. The result is shared: read it, never modify it. A run that raises
    is not cached (each test sees the error).
    """
    if stack == ALL_FEATURES and config is None:
        stack, config = "dev", all_features_config()
    key = json.dumps([str(offline.PROJECT_DIR), stack, config], sort_keys=True, default=str)
    if offline._LOOKUPS != _LOOKUPS:
        return run_program(stack, config)
    if key not in _CACHE:
        _CACHE[key] = run_program(stack, config)
    return _CACHE[key]


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
    config["dns"] = {**config.get("dns", {}), "domain": OFFLINE_DOMAIN, "create_zone": True}
    config["edge"] = {**config.get("edge", {}), "cloudfront_enabled": True, "waf_enabled": True}
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
    key = f"{offline.PROJECT_DIR}|{stack}"
    if key not in _STACK_FILES:
        _STACK_FILES[key] = read_stack_file(stack)  # parsing YAML costs more than copying it
    return copy.deepcopy(_STACK_FILES[key])


@pytest.fixture
def run_config() -> Callable[..., PlanResult]:
    """Run the program for `stack` with its config changed by `changes` (merged per key); the
    run is shared with every test asking for the same config (see `planned`)."""

    def run(stack: str = "dev", **changes: Any) -> PlanResult:
        config = stack_config(stack)
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            elif value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return planned(stack, config)

    return run


def inputs_of(plan: PlanResult, type_: str, region: str | None = None) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.of_type(type_) if region is None or r.region == region]
