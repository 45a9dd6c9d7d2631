"""The committed resource inventory (inventory/<stack>.json) and its replacement guard."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format

from components.database import Database
from tap_tooling import inventory
from tap_tooling.inventory import Entry
from tap_tooling.offline import PlanResult, Recorded, RecordingMonitor, run_program, stack_names
from tests.conftest import STACKS, planned

DATABASE_TYPE = "tap:database:Database"
DB_INSTANCE = "aws:rds/instance:Instance"
AliasMap = dict[str, list[dict[str, Any]]]


def _guard(
    stack: str, plan: PlanResult, aliases: Mapping[str, Sequence[Any]] | None = None
) -> list[inventory.Replacement]:
    return inventory.replacements(stack, inventory.load(stack), plan.resources, aliases)


@pytest.mark.parametrize("stack", STACKS)
def test_program_replaces_no_stateful_resource_of_the_inventory(stack: str) -> None:
    found = _guard(stack, planned(stack))
    assert not found, inventory.failure_message(stack, found)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_inventory_matches_the_program(stack: str) -> None:
    path = inventory.path_of(stack)
    expected = inventory.render(stack, inventory.snapshot(stack, planned(stack).resources))
    assert path.exists() and path.read_text() == expected, (
        f"inventory/{stack}.json is stale: run `{inventory.UPDATE_COMMAND}` "
        f"({inventory.UPDATE_SCRIPT}) and commit it"
    )


def test_every_shipped_stack_has_an_inventory_and_nothing_else_does() -> None:
    assert set(STACKS) == set(stack_names())
    files = {p.stem for p in inventory.INVENTORY_DIR.glob("*.json")}
    assert files == set(stack_names())


def test_inventory_holds_engine_urns_and_physical_names() -> None:
    entries = {e.urn: e for e in inventory.load("prod")}
    # The engine's whole ancestor chain, not the mocks' last parent type: a component's
    # bucket sits under SecureBucket under at least one more component.
    buckets = [e for e in entries.values() if e.type == "aws:s3/bucket:Bucket"]
    assert buckets and all(e.stateful and e.name for e in buckets)
    nested = [e for e in buckets if "$tap:bucket:SecureBucket$aws:s3/bucket:Bucket::" in e.urn]
    assert nested and all(e.urn.split("::")[2].count("$") >= 2 for e in nested)
    assert all(
        e.provider and e.provider.startswith("urn:pulumi:prod::tap::pulumi:providers:aws::")
        for e in buckets
    )
    by_type: dict[str, list[Entry]] = {}
    for entry in entries.values():
        by_type.setdefault(entry.type, []).append(entry)
    assert {e.name for e in by_type[DB_INSTANCE]} == {
        "prod-db-us-east-1",
        "prod-db-replica-us-west-2",
    }
    assert all(e.name is None for e in by_type["aws:kms/key:Key"])  # AWS generates key ids
    assert all(e.name for e in by_type["aws:acm/certificate:Certificate"])
    assert [e.name for e in by_type["aws:route53/zone:Zone"]] == ["tap-offline-plan.net"]
    assert not any("pulumi:pulumi:Stack" in urn for urn in entries)


def test_inventory_holds_no_secret_values() -> None:
    plan = planned("prod")
    # The master password, as the program writes it (write-only) to RDS and each secret.
    secrets = {
        str(value)
        for r in plan.resources
        for key, value in r.inputs.items()
        if key in ("passwordWo", "secretStringWo", "secretString") and value
    }
    assert secrets
    text = inventory.path_of("prod").read_text()
    assert not [s for s in secrets if s in text]
    document = json.loads(text)
    assert {tuple(sorted(item)) for item in document["resources"]} == {
        ("name", "provider", "stateful", "type", "urn")
    }


# ------------------------------------------------------------------------- synthetic guard


def _recorded(type_: str, name: str, parent: Recorded | None = None, /, **inputs: Any) -> Recorded:
    """A resource as the mocks record it (URN after the parent's last type only)."""
    parent_type = parent.urn.split("::")[2].rsplit("$", 1)[-1] if parent else "pulumi:pulumi:Stack"
    return Recorded(
        type=type_, name=name, urn=f"urn:pulumi:qa::tap::{parent_type}${type_}::{name}",
        inputs=inputs, custom=not type_.startswith("tap:"),
        parent_urn=parent.urn if parent else "urn:pulumi:qa::tap::pulumi:pulumi:Stack::tap-qa",
        provider_urn="", region=None, protect=False, delete_before_replace=False,
    )  # fmt: skip


def _program(component_type: str = "tap:store:Store", bucket: str = "qa-data") -> list[Recorded]:
    store = _recorded(component_type, "store")
    return [
        store,
        _recorded("aws:s3/bucket:Bucket", "store-bucket", store, bucket=bucket),
        _recorded("aws:iam/role:Role", "store-role", store, name="qa-role"),
    ]


BASE = inventory.snapshot("qa", _program())


def test_synthetic_inventory_uses_the_engine_chain() -> None:
    assert [e.urn for e in BASE] == [
        "urn:pulumi:qa::tap::tap:store:Store$aws:iam/role:Role::store-role",
        "urn:pulumi:qa::tap::tap:store:Store$aws:s3/bucket:Bucket::store-bucket",
        "urn:pulumi:qa::tap::tap:store:Store::store",
    ]
    assert [e.name for e in BASE] == ["qa-role", "qa-data", None]


def test_guard_accepts_an_unchanged_program_and_new_resources() -> None:
    program = _program()
    extra = _recorded("aws:kms/key:Key", "store-key", program[0])
    assert inventory.replacements("qa", BASE, [*program, extra], {}) == []


def test_guard_ignores_stateless_changes() -> None:
    program = _program()
    renamed_role = replace(program[2], inputs={"name": "qa-other-role"})
    assert inventory.replacements("qa", BASE, [program[0], program[1], renamed_role], {}) == []


def test_guard_names_a_bucket_whose_component_type_changed() -> None:
    (found,) = inventory.replacements("qa", BASE, _program("tap:store:Storage"), {})
    assert found.entry.type == "aws:s3/bucket:Bucket"
    assert "'qa-data'" in found.describe()
    assert "no longer produced" in found.reason
    assert "tap:store:Storage$aws:s3/bucket:Bucket::store-bucket" in found.reason  # the suspect
    message = inventory.failure_message("qa", [found])
    assert "make inventory" in message and "aliases" in message


def test_guard_names_a_bucket_whose_physical_name_changed() -> None:
    (found,) = inventory.replacements("qa", BASE, _program(bucket="qa-data-2"), {})
    assert found.reason == "physical name 'qa-data' becomes 'qa-data-2'"


def test_guard_names_a_deleted_bucket() -> None:
    program = _program()
    (found,) = inventory.replacements("qa", BASE, [program[0], program[2]], {})
    assert found.entry.name == "qa-data"
    assert "creates" not in found.reason  # nothing took its place


def test_guard_names_a_stateful_resource_on_a_new_provider() -> None:
    provider = _recorded("pulumi:providers:aws", "aws-old")
    program = _program()
    on_old = [provider, program[0], replace(program[1], provider_urn=provider.urn), program[2]]
    committed = inventory.snapshot("qa", on_old)
    renamed = replace(provider, name="aws-new", urn=provider.urn.replace("aws-old", "aws-new"))
    on_new = [renamed, program[0], replace(program[1], provider_urn=renamed.urn), program[2]]
    (found,) = inventory.replacements("qa", committed, on_new, {})
    assert "provider" in found.reason and "aws-new" in found.reason
    aliased = {renamed.urn: [{"spec": {"name": "aws-old"}}]}
    assert inventory.replacements("qa", committed, on_new, aliased) == []


@pytest.mark.parametrize(
    "alias",
    [
        {"spec": {"type": "tap:store:Store"}},
        {"urn": "urn:pulumi:qa::tap::tap:store:Store::store"},
    ],
    ids=["spec", "urn"],
)
def test_an_alias_on_the_component_carries_its_children(alias: dict[str, Any]) -> None:
    program = _program("tap:store:Storage")
    assert inventory.replacements("qa", BASE, program, {program[0].urn: [alias]}) == []


def test_an_alias_of_a_renamed_component_renames_its_children() -> None:
    """inheritedChildAlias: `store-bucket` under `vault` answers to `store-bucket` under the
    old `store` (the child's name carries the parent's)."""
    vault = _recorded("tap:store:Store", "vault")
    program = [
        vault,
        _recorded("aws:s3/bucket:Bucket", "vault-bucket", vault, bucket="qa-data"),
    ]
    assert len(inventory.replacements("qa", BASE, program, {})) == 1
    aliases = {vault.urn: [{"spec": {"name": "store"}}]}
    assert inventory.replacements("qa", BASE, program, aliases) == []


def test_an_alias_moving_a_resource_out_of_its_parent() -> None:
    program = _program()
    top = _recorded("aws:s3/bucket:Bucket", "store-bucket", bucket="qa-data")
    moved = [program[0], top, program[2]]
    assert len(inventory.replacements("qa", BASE, moved, {})) == 1
    aliases = {top.urn: [{"spec": {"parentUrn": program[0].urn}}]}
    assert inventory.replacements("qa", BASE, moved, aliases) == []


def test_an_alias_does_not_excuse_a_new_physical_name() -> None:
    program = _program("tap:store:Storage", bucket="qa-data-2")
    aliases = {program[0].urn: [{"spec": {"type": "tap:store:Store"}}]}
    (found,) = inventory.replacements("qa", BASE, program, aliases)
    assert "becomes 'qa-data-2'" in found.reason


def test_aliases_are_read_from_the_recorded_resources_by_default() -> None:
    """Once tap_tooling.offline.Recorded carries `aliases`, no map is passed."""
    program = _program("tap:store:Storage")
    store = dataclasses.replace(program[0], aliases=({"spec": {"type": "tap:store:Store"}},))
    assert inventory.replacements("qa", BASE, [store, *program[1:]]) == []
    assert len(inventory.replacements("qa", BASE, program)) == 1


# ---------------------------------------------------------- the real program, mutated


@pytest.fixture
def captured_aliases(monkeypatch: pytest.MonkeyPatch) -> Iterator[AliasMap]:
    """Each registration's aliases, by mock URN, in the JSON form of pulumi/alias.proto."""
    captured: AliasMap = {}
    original = RecordingMonitor.RegisterResource

    def register(self: RecordingMonitor, request: Any) -> Any:
        response = original(self, request)
        captured[response.urn] = [json_format.MessageToDict(a) for a in request.aliases]
        return response

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", register)
    yield captured


def _mutate_database(monkeypatch: pytest.MonkeyPatch, mutation: str, with_alias: bool) -> str:
    """Every Database component registers under a new type token (`type`) or logical name
    (`name`), with an alias to what it was when `with_alias`; returns the new type token."""
    new_type = "tap:database:PostgresDatabase" if mutation == "type" else DATABASE_TYPE
    original_component = pulumi.ComponentResource.__init__
    original_database = Database.__init__

    def component(self: Any, t: str, name: str, props: Any = None, *rest: Any) -> None:
        original_component(self, new_type if t == DATABASE_TYPE else t, name, props, *rest)

    def database(self: Any, name: str, args: Any, opts: Any = None) -> None:
        if with_alias:
            old = (
                pulumi.Alias(type_=DATABASE_TYPE) if mutation == "type" else pulumi.Alias(name=name)
            )
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[old]))
        original_database(self, f"{name}-pg" if mutation == "name" else name, args, opts)

    monkeypatch.setattr(pulumi.ComponentResource, "__init__", component)
    monkeypatch.setattr(Database, "__init__", database)
    return new_type


@pytest.mark.parametrize("mutation", ["type", "name"])
def test_guard_fails_on_a_renamed_database_component(
    monkeypatch: pytest.MonkeyPatch, captured_aliases: AliasMap, mutation: str
) -> None:
    new_type = _mutate_database(monkeypatch, mutation, with_alias=False)
    plan = run_program("dev")
    (database,) = [r for r in plan.resources if r.type == new_type]
    assert database.name.endswith("-pg") == (mutation == "name")
    found = _guard("dev", plan, captured_aliases)
    message = inventory.failure_message("dev", found)
    assert DB_INSTANCE in {r.entry.type for r in found}, message
    assert "'dev-db-us-east-1'" in message
    assert f"{new_type}$aws:rds/instance:Instance" in message  # where it went
    assert "make inventory" in message
    # Only what the database component holds (its secret, log groups, password suffix).
    assert all("tap:database:Database$" in r.entry.urn for r in found), message


@pytest.mark.parametrize("mutation", ["type", "name"])
def test_guard_passes_a_renamed_database_component_with_an_alias(
    monkeypatch: pytest.MonkeyPatch, captured_aliases: AliasMap, mutation: str
) -> None:
    new_type = _mutate_database(monkeypatch, mutation, with_alias=True)
    plan = run_program("dev")
    (database,) = [r for r in plan.resources if r.type == new_type]
    assert captured_aliases[database.urn]  # the alias reached the engine's request
    found = _guard("dev", plan, captured_aliases)
    assert not found, inventory.failure_message("dev", found)
