"""Build components on their own, with their Args alone, under the recording mocks.

The awsx way (pulumi-awsx's `vpc.test.ts`): a test writes a small program that constructs one
component, or a few wired by hand, and asserts on what they register. The program runs under
tap_tooling.offline's RecordingMocks and RecordingMonitor (the same answers the offline plan
gets: ids and ARNs in AWS's shapes, availability zones, caller identity), through
tap_tooling.sdk, so no test here touches a private SDK internal.

    def program() -> dict[str, Any]:
        key = RegionKey("k", RegionKeyArgs(...), opts=in_region("us-west-2"))
        return {"arn": key.key_arn}

    built = build(program)
    (cmk,) = built.of_type("aws:kms/key:Key")
    assert cmk.region == "us-west-2" and built.outputs["arn"].startswith("arn:aws:kms:us-west-2")

A build fails (AssertionError) when an `aws:` resource has no provider, or when the program
raised a warning (a deprecated resource or argument): each is a defect of the components.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from tap.config import StackConfig, parse_stack_config
from tap_tooling import sdk
from tap_tooling.offline import (
    MOCK_ACCOUNT_ID,
    PROVIDER_TYPE,
    PlanResult,
    Recorded,
    RecordingMocks,
    RecordingMonitor,
    _import_quietly,
    with_offline_domain,
    without_cyclic_gc,
)
from tests.conftest import changed_config

PROJECT = "tap"
STACK = "test"
ACCOUNT = MOCK_ACCOUNT_ID
"""The account id the mocks answer getCallerIdentity with."""

Program = Callable[[], Mapping[str, Any] | None]
"""Builds components; returns the values (Outputs or plain) the test wants resolved."""


def shipped_stack(stack: str, **changes: Any) -> StackConfig:
    """The validated config of a shipped stack file with `changes` merged per key
    (tests.conftest.changed_config, as `run_config` merges them). The placeholder domain of a
    stack file is replaced as the offline plan replaces it."""
    raw = changed_config(stack, **changes)
    config, _notice = with_offline_domain(raw)
    return parse_stack_config(config, stack)


_providers: dict[str, aws.Provider] = {}
"""The providers of the build under way, by name (one registration per name and build)."""


def provider(region: str, name: str | None = None) -> aws.Provider:
    """The build's provider for `region`, named `aws-<region>` as the program names its
    regional providers (or `name`, e.g. tap.global_provider.GLOBAL_PROVIDER_NAME). Only
    inside a program run by `build`."""
    key = name or f"aws-{region}"
    if key not in _providers:
        _providers[key] = aws.Provider(key, region=region)
    return _providers[key]


def in_region(region: str, name: str | None = None, **options: Any) -> pulumi.ResourceOptions:
    """Options that put a component on the build's `region` provider, as the program does
    (`providers=[...]`, inherited by every child), plus any other resource `options`."""
    return pulumi.ResourceOptions(providers=[provider(region, name)], **options)


class _Monitor(RecordingMonitor):
    """Also keeps, per resource name, the paths of the inputs that were sent as secrets."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.secret_paths: dict[str, set[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        inputs = sdk.deserialize(request.object)
        self.secret_paths[request.name] = set(_secret_paths(inputs, ""))
        return super().RegisterResource(request)


def _secret_paths(value: Any, path: str) -> Iterator[str]:
    if sdk.is_secret(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_paths(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _secret_paths(item, f"{path}[{index}]")


class _EngineLog(logging.Handler):
    """What the program logs to the engine at WARNING and above (pulumi.log.warn)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Built(PlanResult):
    """What one build registered (PlanResult's queries: of_type, one, id_of, in_region...),
    the values the program returned, resolved, and what reached the engine as a secret."""

    secret_paths: dict[str, set[str]] = field(default_factory=dict)
    """Per resource name, the input paths sent as secrets (`.password`, `.rules[0].values[1]`)."""
    secret_outputs: set[str] = field(default_factory=set)
    """Keys of `outputs` whose value was a secret Output."""

    def sent_as_secret(self, name: str, path: str) -> bool:
        """The input of resource `name` at `path` (`.key`, `.list[0].key`), or one enclosing
        it, reached the engine as a secret (encrypted in state, masked in logs)."""
        return any(
            path == p or path.startswith((f"{p}.", f"{p}[")) for p in self.secret_paths[name]
        )

    def provider_urn(self, name: str) -> str:
        """The URN of the build's provider called `name` (`aws-us-east-1`)."""
        return self.one(PROVIDER_TYPE, name).urn

    def components(self, type_: str) -> list[Recorded]:
        """The component resources of a type token (`tap:keys:RegionKey`)."""
        return [r for r in self.resources if r.type == type_ and not r.custom]

    def under(self, component: Recorded) -> list[Recorded]:
        """Every resource below `component` (children, their children...), in order."""
        index = self.by_urn()

        def inside(resource: Recorded) -> bool:
            parent = index.get(resource.parent_urn)
            while parent is not None:
                if parent.urn == component.urn:
                    return True
                parent = index.get(parent.parent_urn)
            return False

        return [r for r in self.resources if inside(r)]

    def aws_resources(self) -> list[Recorded]:
        """Every custom `aws:` resource (providers left out)."""
        return [r for r in self.resources if r.custom and r.type.startswith("aws:")]

    def lookups_of(self, token: str) -> list[dict[str, Any]]:
        """The arguments of each lookup (invoke) of `token`, in order."""
        return [lookup.args for lookup in self.lookups if lookup.token == token]


def _retrieve_failed_registrations() -> None:
    """Mark as retrieved the exceptions of the futures a failed run leaves behind.

    Every registration waiting on the failed value holds a future with the same exception,
    which nothing retrieves and the runtime keeps until the next run resets it. Freed then,
    each would log "Future exception was never retrieved" with its whole chain of awaits, deep
    inside the next build; formatting those (CPython 3.11 parses source lines to underline
    them) can exhaust the recursion limit and leave the parser's depth counter corrupted.
    """
    # The collector is paused for the run: everything the run created is still in the
    # youngest generation, a small part of the heap.
    for candidate in gc.get_objects(generation=0):
        if isinstance(candidate, asyncio.Future) and candidate.done() and not candidate.cancelled():
            candidate.exception()


def build(program: Program) -> Built:
    """Run `program` under the recording mocks, as tap_tooling.offline.run_program runs
    __main__.py: every registration and Output it starts completes; the values it returns are
    resolved into `Built.outputs`. The program's own exceptions (ValueError from an Args check,
    pulumi.RunError from an apply) propagate."""
    _import_quietly()  # pulumi_aws's import-time notices are not the program's warnings
    mocks = RecordingMocks()
    monitor = _Monitor(mocks)
    engine_log = logging.getLogger(f"{__name__}.engine")
    engine_log.propagate = False
    engine_log.handlers = [log := _EngineLog()]
    sdk.install_mocks(mocks, monitor, PROJECT, STACK, engine_log, {})
    result = Built(stack=STACK)

    async def body() -> None:
        values = program() or {}
        for key, value in values.items():
            output = pulumi.Output.from_input(value)
            result.outputs[key] = await output.future()
            if await output.is_secret():
                result.secret_outputs.add(key)

    _providers.clear()
    try:
        # As tap_tooling.offline.run_program: no source positions, the cyclic collector paused.
        with (
            warnings.catch_warnings(record=True) as python_warnings,
            sdk.without_source_positions(),
            without_cyclic_gc(),
        ):
            warnings.simplefilter("always")
            try:
                sdk.run(body)
            except BaseException:
                _retrieve_failed_registrations()  # while the run's objects are still young
                raise
    finally:
        _providers.clear()
        sdk.clear_config()
    assert not monitor.violations, monitor.violations
    raised = [
        f"{w.category.__name__}: {w.message}"
        for w in python_warnings
        if not issubclass(w.category, ResourceWarning)
    ]
    assert not (log.messages or raised), log.messages + raised
    result.resources = monitor.recorded
    result.invokes = mocks.invokes
    result.lookups = mocks.lookups
    result.secret_paths = monitor.secret_paths
    return result
