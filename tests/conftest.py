"""Shared fixtures: the recording-mock harness of tap.offline, run once per stack and config."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tap.offline import PlanResult, read_stack_file, run_program

STACKS = ("dev", "staging", "prod")
_CACHE: dict[str, PlanResult] = {}


def planned(stack: str) -> PlanResult:
    """The shipped stack file of `stack` run under mocks (cached: the program is pure)."""
    if stack not in _CACHE:
        _CACHE[stack] = run_program(stack)
    return _CACHE[stack]


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
