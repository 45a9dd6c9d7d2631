"""The whole program: providers per region, tags, determinism, independence, errors."""

from __future__ import annotations

import inspect
import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from tap.global_provider import GLOBAL_PROVIDER_NAME
from tap_tooling.offline import OfflineError, PlanResult, Recorded, run_program
from tests.conftest import STACKS, planned

PROVIDER = "pulumi:providers:aws"


def taggable(type_: str) -> bool:
    """Whether the pulumi-aws resource class of a type token takes `tags`."""
    module, class_name = type_.split(":")[1].split("/")[0], type_.split(":")[2]
    cls = getattr(getattr(aws, module), class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_one_provider_per_region_with_default_tags(stack_plan: PlanResult) -> None:
    providers = stack_plan.of_type(PROVIDER)
    regions = stack_plan.outputs["deployment_summary"]["regions"]
    regional = [p for p in providers if p.name != GLOBAL_PROVIDER_NAME]
    assert sorted(p.inputs["region"] for p in regional) == sorted(regions)
    assert sorted(p.name for p in regional) == sorted(f"aws-{r}" for r in regions)
    # The global pieces' own provider exists exactly when the stack has a domain.
    (glob,) = [p for p in providers if p.name == GLOBAL_PROVIDER_NAME] or [None]
    assert (glob is not None) == ("dns" in stack_plan.outputs)
    for provider in providers:
        # Provider inputs reach the engine as JSON strings.
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags["Environment"] == stack_plan.stack
        assert {"Project", "Owner", "CostCenter"} <= set(tags)


def test_every_aws_resource_sits_on_a_regional_provider(stack_plan: PlanResult) -> None:
    for resource in stack_plan.resources:
        if resource.custom and resource.type.startswith("aws:"):
            assert resource.region in stack_plan.outputs["deployment_summary"]["regions"], (
                resource.name
            )


def test_every_taggable_resource_has_a_name_tag(stack_plan: PlanResult) -> None:
    for resource in stack_plan.resources:
        if resource.custom and resource.type.startswith("aws:") and taggable(resource.type):
            tags = resource.inputs.get("tags", {})
            if isinstance(tags, list):  # Auto Scaling groups take [{key, value, ...}]
                tags = {t["key"]: t["value"] for t in tags}
            assert tags.get("Name"), f"{resource.type} {resource.name}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# The designed cross-region edges: a secondary region's database replicates the primary (its
# credentials are its own region's), and each region's certificate is validated in the
# stack's one hosted zone. Global components (zone, failover, edge, audit) span regions by
# nature; everything else stays inside its region.
CROSS_REGION_COMPONENT = "tap:database:Database"


def _component(plan: PlanResult, resource: Recorded) -> Recorded | None:
    return plan.component_of(resource)


def _is_regional(plan: PlanResult, resource: Recorded) -> bool:
    component = _component(plan, resource)
    return component is not None and component.name.startswith(f"{resource.region}-")


def _may_cross(plan: PlanResult, resource: Recorded) -> bool:
    component = _component(plan, resource)
    return component is not None and component.type == CROSS_REGION_COMPONENT


def test_no_resource_depends_on_another_regions_resource(stack_plan: PlanResult) -> None:
    by_urn = stack_plan.by_urn()
    for resource in stack_plan.resources:
        if not resource.region or not _is_regional(stack_plan, resource):
            continue
        if _may_cross(stack_plan, resource):
            continue
        for dependency in resource.depends_on:
            other = by_urn.get(dependency)
            if other is None or not other.region or not _is_regional(stack_plan, other):
                continue  # providers and global pieces (the zone) may feed every region
            assert other.region == resource.region, (resource.name, dependency)


def test_regions_do_not_reference_each_other(stack_plan: PlanResult) -> None:
    regions = stack_plan.outputs["deployment_summary"]["regions"]
    for resource in stack_plan.resources:
        if not resource.region or not _is_regional(stack_plan, resource):
            continue
        if _may_cross(stack_plan, resource):
            continue
        others = [r for r in regions if r != resource.region]
        for text in _strings(resource.inputs):
            assert not any(other in text for other in others), (resource.name, text)


def test_global_pieces_sit_in_us_east_1(prod_plan: PlanResult) -> None:
    global_resources = [
        r for r in prod_plan.resources if r.custom and r.region and not _is_regional(prod_plan, r)
    ]
    assert global_resources
    assert {r.region for r in global_resources} == {"us-east-1"}


def test_only_replicas_cross_regions(prod_plan: PlanResult) -> None:
    crossing = {
        r.name
        for r in prod_plan.resources
        if r.region == "us-west-2" and any("us-east-1" in text for text in _strings(r.inputs))
    }
    # The replica's source, and nothing else: credentials, parameters and access policies of
    # the DR region name only the DR region, so it keeps working while us-east-1 is down.
    assert crossing == {"us-west-2-database-replica"}


def snapshot(plan: PlanResult) -> list[tuple[str, str, str]]:
    # Registration order is up to the engine's scheduling; the inputs are what must match.
    return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in plan.resources)


@pytest.mark.parametrize("stack", STACKS)
def test_two_runs_register_identical_inputs(stack: str) -> None:
    # The process's first run of the stack (shared with the other tests) and a new one: nothing
    # a run leaves behind in the process (module state, caches) may change the next.
    first, second = planned(stack), run_program(stack)
    assert snapshot(first) == snapshot(second)
    assert first.outputs == second.outputs


def test_program_emits_no_warnings(stack_plan: PlanResult) -> None:
    assert stack_plan.warnings == []


def test_invalid_config_stops_before_any_resource(run_config: Callable[..., PlanResult]) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_config("dev", network={"az_count": 9})
    assert str(caught.value).startswith("invalid config tap:network.az_count = 9")


def test_harness_rejects_a_resource_without_provider(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(
        textwrap.dedent(
            """
            import pulumi_aws as aws
            aws.ec2.Vpc("stray", cidr_block="10.0.0.0/16")
            """
        )
    )
    with pytest.raises(OfflineError, match="'stray' has no explicit provider"):
        run_program("dev", program=program)


def test_harness_rejects_an_unknown_lookup(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(
        textwrap.dedent(
            """
            import pulumi, pulumi_aws as aws
            p = aws.Provider("p", region="us-east-1")
            aws.ec2.get_vpc_output(default=True, opts=pulumi.InvokeOutputOptions(provider=p))
            """
        )
    )
    with pytest.raises(Exception, match="no offline answer"):
        run_program("dev", program=program)


_SNAPSHOT = """
import gc, json, sys
gc.disable()  # a process that runs once and exits: collecting cycles would only cost time
from tap_tooling.offline import run_program
plan = run_program(sys.argv[1])
rows = sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in plan.resources)
print(json.dumps([rows, plan.outputs], sort_keys=True, default=str))
"""


def test_inputs_do_not_depend_on_the_interpreters_hash_seed() -> None:
    """Each `pulumi up` is a new process with a new hash seed: set or dict-order accidents would
    show up as diffs there, though never within one process. The run in this process is
    compared with one in a process with another seed."""
    import os
    import subprocess
    import sys

    from tap_tooling.offline import PROJECT_DIR

    # Unset means a random seed here: any fixed one differs (but for a 1 in 2**32 draw).
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    done = subprocess.run(
        [sys.executable, "-c", _SNAPSHOT, "prod"],
        cwd=PROJECT_DIR, env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True,
        text=True, check=True, timeout=120,
    )  # fmt: skip
    other_process = json.loads(done.stdout)
    plan = planned("prod")
    here = json.loads(json.dumps([snapshot(plan), plan.outputs], sort_keys=True, default=str))
    assert other_process == here
    assert len(other_process[0]) > 200


# --- Accounts and production, from config -------------------------------------------------------


def test_without_account_settings_providers_use_the_callers_credentials(
    stack_plan: PlanResult,
) -> None:
    for provider in stack_plan.of_type(PROVIDER):
        assert "assumeRoles" not in provider.inputs
        assert "allowedAccountIds" not in provider.inputs


ROLE = "arn:aws:iam::210987654321:role/tap-deploy"


def prod_elsewhere(run_config: Callable[..., PlanResult]) -> PlanResult:
    """Prod's config as a production stack whose name says nothing (`prod-eu`), deployed into
    its own account through a role (one run, shared by the tests below)."""
    return run_config(
        "prod",
        environment="prod-eu",
        production=True,
        aws={"assume_role_arn": ROLE, "external_id": "tap-prod", "session_name": "tap-prod"},
    )


def test_every_provider_assumes_the_stacks_role_and_refuses_other_accounts(
    run_config: Callable[..., PlanResult],
) -> None:
    providers = prod_elsewhere(run_config).of_type(PROVIDER)
    assert {p.name for p in providers} == {"aws-us-east-1", "aws-us-west-2", "aws-global"}
    for provider in providers:
        # Provider inputs reach the engine as JSON strings.
        assert json.loads(provider.inputs["assumeRoles"]) == [
            {"roleArn": ROLE, "externalId": "tap-prod", "sessionName": "tap-prod"}
        ]
        assert json.loads(provider.inputs["allowedAccountIds"]) == ["210987654321"]


def test_production_is_a_default_tag_of_every_provider(
    run_config: Callable[..., PlanResult],
) -> None:
    # The shipped stacks (cached) and one whose name says nothing: the config decides.
    for plan, expected in (
        (planned("prod"), "true"),
        (planned("dev"), "false"),
        (prod_elsewhere(run_config), "true"),
    ):
        for provider in plan.of_type(PROVIDER):
            assert json.loads(provider.inputs["defaultTags"])["tags"]["Production"] == expected
        assert plan.outputs["deployment_summary"]["production"] is (expected == "true")


def test_a_fourth_stack_file_is_a_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any name with a Pulumi.<name>.yaml is a stack: no code keyed on dev/staging/prod."""
    from tap_tooling import offline

    for source in offline.PROJECT_DIR.glob("Pulumi.*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    qa = (offline.PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.qa.yaml").write_text(qa)
    monkeypatch.setattr(offline, "PROJECT_DIR", tmp_path)
    assert offline.stack_names() == ["dev", "prod", "qa", "staging"]
    plan = run_program("qa")
    assert plan.outputs["deployment_summary"]["environment"] == "qa"
    assert plan.outputs["deployment_summary"]["production"] is False
    with pytest.raises(
        OfflineError, match=r"no stack file Pulumi\.uat\.yaml \(stacks: dev, prod, qa, staging\)"
    ):
        run_program("uat")


def test_a_malformed_stack_file_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tap_tooling import offline

    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  tap:regions: [unclosed\n")
    monkeypatch.setattr(offline, "PROJECT_DIR", tmp_path)
    with pytest.raises(OfflineError) as caught:
        run_program("bad")
    assert str(caught.value).startswith("Pulumi.bad.yaml line ")
    assert "\n" not in str(caught.value)
