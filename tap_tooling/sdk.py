"""Every use of a private Pulumi SDK internal, in one place.

The offline harness runs the real program under mocks without the engine, which the SDK only
half supports publicly; the deploy script plugs its own CLI runner into the Automation API.
Both need SDK internals (underscore names, the mock monitor's gRPC handler, the runtime's
settings). They are imported nowhere else: after an SDK upgrade, this module and
tests/test_sdk.py are the one place that breaks and is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pulumi
from pulumi.automation._cmd import CommandResult
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import resource as _resource
from pulumi.runtime import settings as _settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

Mocks = _mocks.Mocks
MockMonitor = _mocks.MockMonitor
"""Its `RegisterResource(request)` is the gRPC handler the harness extends to record options."""
MockResourceArgs = _mocks.MockResourceArgs
MockCallArgs = _mocks.MockCallArgs
EngineCommandResult = CommandResult
"""What a custom Automation API CLI runner returns (pulumi.automation._cmd.CommandResult)."""

SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The key that marks a secret value in deserialized properties (pulumi.runtime.rpc)."""


def install_mocks(
    mocks: _mocks.Mocks,
    monitor: _mocks.MockMonitor,
    project: str,
    stack: str,
    logger: logging.Logger,
    config: Mapping[str, str],
) -> None:
    """A clean runtime for one program run: no root resource or pending RPCs of a previous
    run, these mocks and monitor, and exactly this config."""
    _settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
    )
    pulumi.runtime.set_all_config(dict(config), [])
    _settings.SETTINGS.rpc_manager.clear()
    _settings.SETTINGS.outputs.clear()


def clear_config() -> None:
    pulumi.runtime.set_all_config({}, [])


def run(body: Callable[[], Awaitable[None]]) -> None:
    """Run `body` as the engine runs a program: inside the SDK's stack function, to completion
    of every registration and output it started."""
    _sync_await(run_pulumi_func(body))


@contextmanager
def without_source_positions() -> Iterator[None]:
    """Registrations carry no source position (the file and line that created the resource).

    The engine uses them only to point its diagnostics at the program's code; the mock monitor
    ignores them. The SDK computes them for every registration by walking and formatting the
    whole Python stack (pulumi.runtime.resource._get_stack_trace), about a sixth of a mocked
    run. Registrations are otherwise unchanged: same inputs, options, URNs and outputs.
    """
    real = _resource._get_stack_trace
    _resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        _resource._get_stack_trace = real


def root_outputs() -> Mapping[str, Any]:
    """The outputs the program exported on its root stack resource (pulumi.export)."""
    return getattr(_settings.get_root_resource(), "outputs", {}) or {}


def deserialize(struct: Any) -> dict[str, Any]:
    """A registration's properties (a protobuf Struct) as Python values (secrets still marked)."""
    return dict(pulumi.runtime.rpc.deserialize_properties(struct))


def is_secret(value: Any) -> bool:
    """Whether a deserialized property value is marked secret."""
    return bool(pulumi.runtime.rpc.is_rpc_secret(value))


def resource_name(resource: pulumi.Resource) -> str:
    """The logical name of a resource object (the SDK keeps it private)."""
    return str(resource._name)
