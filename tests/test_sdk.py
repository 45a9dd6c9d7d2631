"""The one adapter over private Pulumi SDK internals works with the installed SDK."""

from __future__ import annotations

import linecache
import logging
from typing import Any

import pulumi
import pulumi_aws as aws

from tap_tooling import sdk
from tap_tooling.offline import RecordingMocks, RecordingMonitor


def test_a_program_runs_under_mocks_and_exports() -> None:
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    sdk.install_mocks(mocks, monitor, "tap", "sdk", logging.getLogger("tap.sdk"), {"tap:x": "1"})
    exported: dict[str, Any] = {}

    async def body() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        topic = aws.sns.Topic(
            "t",
            name="t",
            kms_master_key_id=pulumi.Output.secret("k"),
            opts=pulumi.ResourceOptions(provider=provider),
        )
        pulumi.export("arn", topic.arn)
        assert pulumi.Config("tap").get("x") == "1"
        exported.update(await pulumi.Output.from_input(sdk.root_outputs()).future() or {})

    try:
        sdk.run(body)
    finally:
        sdk.clear_config()
    assert exported["arn"].startswith("arn:aws:sns:eu-west-1:")
    (topic,) = [r for r in monitor.recorded if r.type == "aws:sns/topic:Topic"]
    assert topic.inputs["kmsMasterKeyId"] == "k"  # secrets unwrapped by the harness
    assert topic.region == "eu-west-1"


def test_secret_marking_and_names() -> None:
    marked = {sdk.SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "v"}
    assert sdk.is_secret(marked) and not sdk.is_secret({"value": "v"})
    assert sdk.EngineCommandResult(stdout="", stderr="", code=0).code == 0


class _PositionMonitor(RecordingMonitor):
    """Keeps the source line each registration points at ("" when it carries none)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.positions: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:
        where = request.sourcePosition
        path = where.uri.removeprefix("file://")
        self.positions[request.name] = linecache.getline(path, where.line).strip() if path else ""
        return super().RegisterResource(request)


def _register_a_topic(skip_positions: bool) -> _PositionMonitor:
    mocks = RecordingMocks()
    monitor = _PositionMonitor(mocks)
    sdk.install_mocks(mocks, monitor, "tap", "sdk", logging.getLogger("tap.sdk"), {})

    async def body() -> None:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        aws.sns.Topic("t", opts=pulumi.ResourceOptions(provider=provider))

    try:
        if skip_positions:
            with sdk.without_source_positions():
                sdk.run(body)
        else:
            sdk.run(body)
    finally:
        sdk.clear_config()
    return monitor


def test_registrations_can_skip_their_source_positions() -> None:
    # The SDK's own behaviour: the line of the program that created the resource.
    created_at = 'aws.sns.Topic("t", opts=pulumi.ResourceOptions(provider=provider))'
    assert _register_a_topic(skip_positions=False).positions["t"] == created_at
    skipped = _register_a_topic(skip_positions=True)
    assert skipped.positions["aws-eu-west-1"] == skipped.positions["t"] == ""
    (topic,) = [r for r in skipped.recorded if r.type == "aws:sns/topic:Topic"]
    assert topic.urn == "urn:pulumi:sdk::tap::pulumi:pulumi:Stack$aws:sns/topic:Topic::t"
    assert topic.region == "eu-west-1"
    # Restored afterwards: the next run has them again.
    assert _register_a_topic(skip_positions=False).positions["t"] == created_at
