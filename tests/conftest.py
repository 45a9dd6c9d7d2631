"""Shared fixtures: the recording-mock harness of tap_tooling.offline, run once per stack and
config."""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
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
    """Full garbage collections ten times rarer than Python's default, and (in the process
    that starts the run) the directory the test processes share program runs through.

    A full collection walks every object in the process: with pulumi_aws's classes, moto's and
    botocore's service models and the runs the suite shares, over a million, about half a
    second each. At the default rate (one per ten middle-generation collections) they were a
    quarter of the suite's CPU; the young generations are still collected as often as before,
    so short-lived garbage goes as quickly as ever.
    """
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)
    if SHARED_RUNS_ENV not in os.environ and not hasattr(config, "workerinput"):
        # Set before pytest-xdist starts its workers (at session start), so they inherit it.
        shared = tempfile.mkdtemp(prefix="tap-test-runs-")
        os.environ[SHARED_RUNS_ENV] = shared
        config.stash[_SHARED_RUNS_OWNED] = Path(shared)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported so far (the test modules, moto's and botocore's code) and the
    pulumi_aws modules every run imports lazily live until the process ends: moved out of the
    collector's generations once, no full collection walks them again. From here on, each
    program run's leftovers are frozen as it ends (offline.FREEZE_AFTER_RUN)."""
    offline._import_quietly()
    gc.collect()
    gc.freeze()
    offline.FREEZE_AFTER_RUN = True


def pytest_unconfigure(config: pytest.Config) -> None:
    owned = config.stash.get(_SHARED_RUNS_OWNED, None)
    if owned is not None:
        shutil.rmtree(owned, ignore_errors=True)
        os.environ.pop(SHARED_RUNS_ENV, None)


SHARED_RUNS_ENV = "TAP_TEST_SHARED_RUNS"
"""A directory where the test processes of one pytest run (pytest-xdist's workers) leave the
program runs they made, so another process asking for the same run loads it instead of
running the program again."""
_SHARED_RUNS_OWNED = pytest.StashKey[Path]()
SHARED_RUN_WAIT_SECONDS = 120.0
"""How long a process waits for a run another process has started (a prod run takes about a
second); after that it runs the program itself."""


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _shared_run(key: str, run: Callable[[], PlanResult]) -> PlanResult:
    """`run()`, made once per pytest run across its processes: the first process to claim
    `key` runs it and leaves the result (pickled) in the shared directory; the others wait for
    it and load it (a twentieth of a run's time). A run that raises leaves a marker instead,
    and each process then runs it itself, so every test sees the error as its own."""
    shared = os.environ.get(SHARED_RUNS_ENV)
    if not shared or not Path(shared).is_dir():
        return run()
    base = Path(shared) / _key_digest(key)
    result, failed = base.with_suffix(".pickle"), base.with_suffix(".failed")
    try:
        os.close(os.open(base.with_suffix(".claim"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        deadline = time.monotonic() + SHARED_RUN_WAIT_SECONDS
        while not result.exists() and not failed.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        if result.exists():
            loaded: PlanResult = pickle.loads(result.read_bytes())
            return loaded
        return run()
    try:
        plan = run()
    except BaseException:
        failed.touch()
        raise
    partial = base.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(result)  # atomic: a reader never sees half a file
    return plan


def planned(stack: str, config: Mapping[str, Any] | None = None) -> PlanResult:
    """The program run under mocks for `stack` with its shipped stack file, or with `config`
    instead (ALL_FEATURES: see `all_features_config`).

    Cached by stack and config, in this process and across the run's processes
    (`_shared_run`): the program is pure, so every test asking for the same run shares one.
    The result is shared: read it, never modify it. A run that raises is not cached (each test
    sees the error).
    """
    if stack == ALL_FEATURES and config is None:
        stack, config = "dev", all_features_config()
    key = json.dumps([str(offline.PROJECT_DIR), stack, config], sort_keys=True, default=str)
    if offline._LOOKUPS != _LOOKUPS:
        return run_program(stack, config)
    if key not in _CACHE:
        _CACHE[key] = _shared_run(key, lambda: run_program(stack, config))
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


def changed_config(stack: str, **changes: Any) -> dict[str, Any]:
    """A shipped stack's `tap:` config with `changes` merged per key: a dict into the section
    it names, None removes the key, anything else replaces it."""
    config = stack_config(stack)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        elif value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


@pytest.fixture
def run_config() -> Callable[..., PlanResult]:
    """Run the program for `stack` with its config changed by `changes` (`changed_config`); the
    run is shared with every test asking for the same config (see `planned`)."""

    def run(stack: str = "dev", **changes: Any) -> PlanResult:
        return planned(stack, changed_config(stack, **changes))

    return run


def inputs_of(plan: PlanResult, type_: str, region: str | None = None) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.of_type(type_) if region is None or r.region == region]
