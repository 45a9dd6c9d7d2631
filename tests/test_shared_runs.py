"""The suite's processes share program runs (tests/conftest.py `_shared_run`): a run made by one
is loaded by the others, never made twice, and an error is never shared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tap_tooling.offline import PlanResult
from tests import conftest
from tests.conftest import SHARED_RUNS_ENV, _shared_run


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(SHARED_RUNS_ENV, str(tmp_path))
    return tmp_path


def counting(plan: PlanResult) -> tuple[list[str], Callable[[], PlanResult]]:
    """A run that returns `plan`, and the list each of its calls appends to."""
    calls: list[str] = []

    def run() -> PlanResult:
        calls.append(plan.stack)
        return plan

    return calls, run


def test_a_run_made_once_is_loaded_by_the_next_caller(shared: Path) -> None:
    first_calls, first = counting(PlanResult(stack="dev", outputs={"vpc": "vpc-1"}))
    second_calls, second = counting(PlanResult(stack="dev", outputs={"vpc": "other"}))
    made = _shared_run("key", first)
    loaded = _shared_run("key", second)
    assert first_calls == ["dev"] and second_calls == []
    assert loaded.outputs == made.outputs == {"vpc": "vpc-1"} and loaded is not made
    assert sorted(p.suffix for p in shared.iterdir()) == [".claim", ".pickle"]


def test_different_keys_are_different_runs(shared: Path) -> None:
    calls, run = counting(PlanResult(stack="dev"))
    _shared_run("one", run)
    _shared_run("two", run)
    assert calls == ["dev", "dev"]


def test_an_error_is_not_shared_each_caller_runs_and_sees_its_own(shared: Path) -> None:
    def fails() -> PlanResult:
        raise ValueError("invalid config tap:network.az_count = 9")

    with pytest.raises(ValueError, match="az_count"):
        _shared_run("bad", fails)
    assert sorted(p.suffix for p in shared.iterdir()) == [".claim", ".failed"]
    calls, run = counting(PlanResult(stack="dev"))
    _shared_run("bad", run)
    assert calls == ["dev"]  # the marker sends the next caller to run it itself


def test_a_claim_never_fulfilled_is_run_after_the_wait(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that died holding a claim does not hang the others."""
    monkeypatch.setattr(conftest, "SHARED_RUN_WAIT_SECONDS", 0.05)
    (shared / f"{conftest._key_digest('orphan')}.claim").touch()  # all a crash leaves behind
    calls, run = counting(PlanResult(stack="prod"))
    assert _shared_run("orphan", run).stack == "prod"
    assert calls == ["prod"]


def test_without_the_shared_directory_each_process_runs_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SHARED_RUNS_ENV, raising=False)
    calls, run = counting(PlanResult(stack="dev"))
    _shared_run("key", run)
    _shared_run("key", run)
    assert calls == ["dev", "dev"]
