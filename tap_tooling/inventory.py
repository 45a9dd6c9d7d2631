"""The committed resource inventory of a stack, and the guard that compares the program with it.

`inventory/<stack>.json` lists every resource the program registers for the stack: its engine
URN, type, physical name (what AWS knows it by, or null when the provider generates it) and
explicit provider. On a real `pulumi up`, a resource whose URN is no longer produced is deleted
(and whatever now has the new URN is created), and a resource whose physical name or provider
changed is replaced. For most resources that is a short blip; for a stateful one it loses data
or breaks something outside the stack, so `replacements` reports it, naming the resource.

Pulumi `aliases` are honoured the way the engine resolves them (collapseAliasToUrn and
inheritedChildAlias, pkg/resource/deploy/step_generator.go): a resource registered with an
alias that matches an inventory URN is the same resource, and so are the children of an
aliased component.

The inventory is regenerated only by a deliberate command, `make inventory`
(scripts/update_inventory.py); a test fails when the committed file differs from the program.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tap_tooling.offline import (
    BUCKET_COMPANIONS,
    PROJECT_DIR,
    PROJECT_NAME,
    PROVIDER_TYPE,
    Recorded,
    computed_state,
    physical_id,
    random_state,
)
from tap_tooling.ops.dr import engine_urns

INVENTORY_DIR = PROJECT_DIR / "inventory"
UPDATE_COMMAND = "make inventory"
UPDATE_SCRIPT = "scripts/update_inventory.py"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

STATEFUL_TYPES: Mapping[str, str] = {
    "aws:rds/instance:Instance": "the database and its automated backups",
    "aws:s3/bucket:Bucket": "its objects (logs, audit trail)",
    "aws:kms/key:Key": "the only key that decrypts what it encrypted",
    "aws:route53/zone:Zone": "a new zone gets new name servers; the delegation breaks",
    "aws:cloudwatch/logGroup:LogGroup": "its log events",
    "aws:acm/certificate:Certificate": "a new certificate must be validated again",
    "aws:cloudfront/distribution:Distribution": "a new domain name; takes long to deploy",
    "aws:secretsmanager/secret:Secret": "the stored credentials and their versions",
    # Beyond the list:
    "random:index/randomPassword:RandomPassword": (
        "the master password lives only in state: a new one no longer matches the database"
    ),
    "random:index/randomId:RandomId": (
        "the suffix in secret and snapshot names: a new one renames (replaces) them"
    ),
    "aws:sns/topic:Topic": "alarms and email subscriptions point at it",
    "aws:route53/keySigningKey:KeySigningKey": (
        "a new KSK has a new DS record: the registrar's no longer matches and validating "
        "resolvers fail the domain (SERVFAIL)"
    ),
    "aws:sns/topicSubscription:TopicSubscription": (
        "an email subscription must be confirmed again by its recipient; until then alerts "
        "are silently dropped"
    ),
}
"""Types whose replacement or deletion loses data or breaks something outside the stack, and
what is lost."""

PHYSICAL_NAME_INPUTS: Mapping[str, str] = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:rds/instance:Instance": "identifier",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:acm/certificate:Certificate": "domainName",
    **dict.fromkeys(BUCKET_COMPANIONS, "bucket"),
}
"""The input that holds a resource's physical name where it is not `name`."""


def is_stateful(type_: str) -> bool:
    return type_ in STATEFUL_TYPES


@dataclass(frozen=True)
class Entry:
    """One resource of the inventory."""

    urn: str
    """The engine's URN (the whole ancestor type chain, tap_tooling.ops.dr.engine_urns)."""
    type: str
    name: str | None
    """The physical name AWS knows it by; None when the provider generates it."""
    provider: str | None
    """Engine URN of its explicit provider (a new provider replaces the resource)."""
    stateful: bool


def physical_name(resource: Recorded) -> str | None:
    """The resource's name as AWS sees it, from its inputs; None when the provider makes it."""
    if not resource.custom or resource.type == PROVIDER_TYPE:
        return None
    value = resource.inputs.get(PHYSICAL_NAME_INPUTS.get(resource.type, "name"))
    return value if isinstance(value, str) and value else None


def snapshot(stack: str, resources: Sequence[Recorded]) -> list[Entry]:
    """The inventory of what the program registered, sorted by URN."""
    engine = engine_urns(stack, resources, PROJECT_NAME)
    entries = [
        Entry(
            urn=engine[r.urn],
            type=r.type,
            name=physical_name(r),
            provider=engine.get(r.provider_urn) if r.provider_urn else None,
            stateful=is_stateful(r.type),
        )
        for r in resources
    ]
    return sorted(entries, key=lambda e: e.urn)


def render(stack: str, entries: Iterable[Entry]) -> str:
    """The file's text: deterministic JSON (sorted keys and resources), newline-terminated."""
    document = {
        "stack": stack,
        "generated_by": f"{UPDATE_COMMAND} ({UPDATE_SCRIPT}); do not edit",
        "resources": [asdict(e) for e in sorted(entries, key=lambda e: e.urn)],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def path_of(stack: str, directory: Path = INVENTORY_DIR) -> Path:
    return directory / f"{stack}.json"


def load(stack: str, directory: Path = INVENTORY_DIR) -> list[Entry]:
    """The committed inventory of `stack` (FileNotFoundError when there is none)."""
    document = json.loads(path_of(stack, directory).read_text())
    return [Entry(**item) for item in document["resources"]]


# ------------------------------------------------------------------------------------ aliases


def _urn_parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of a URN (the name may itself contain `::`)."""
    head, project, qualified_type, name = urn.split("::", 3)
    return head.removeprefix("urn:pulumi:"), project, qualified_type, name


def _make_urn(stack: str, project: str, parent: str | None, type_: str, name: str) -> str:
    """resource.CreateURN: the parent's qualified type (never the root stack's) `$` the type."""
    qualified = type_
    if parent:
        parent_type = _urn_parts(parent)[2]
        if parent_type != ROOT_STACK_TYPE:
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def recorded_aliases(resource: Any) -> tuple[Mapping[str, Any], ...]:
    """The aliases a recorded resource registered with, as the request carries them
    (`{"urn": ...}` or `{"spec": {...}}`, pulumi/alias.proto in JSON form)."""
    return tuple(getattr(resource, "aliases", ()) or ())


def alias_urns(
    stack: str,
    resources: Sequence[Recorded],
    aliases: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    project: str = PROJECT_NAME,
) -> dict[str, set[str]]:
    """Every engine URN each resource also answers to, by its mock URN.

    `aliases` maps a mock URN to that resource's registered aliases; by default they are read
    from the recorded resources. Spec fields left empty mean "as now" (the current name, type,
    parent), as in the engine; a child of an aliased parent inherits the parent's aliases, with
    the parent's old name in place of its current one where the child's name starts with it.
    """
    engine = engine_urns(stack, resources, project)
    index = {r.urn: r for r in resources}
    result: dict[str, set[str]] = {}

    def own(resource: Recorded, alias: Mapping[str, Any]) -> str:
        if alias.get("urn"):
            return str(alias["urn"])
        spec = alias.get("spec") or {}
        if spec.get("noParent"):
            parent: str | None = None
        elif spec.get("parentUrn"):
            parent = engine.get(spec["parentUrn"], spec["parentUrn"])
        else:
            parent = engine.get(resource.parent_urn)
        return _make_urn(
            spec.get("stack") or stack,
            spec.get("project") or project,
            parent,
            spec.get("type") or resource.type,
            spec.get("name") or resource.name,
        )

    def inherited(type_: str, name: str, parent_name: str, parent_alias: str) -> str:
        alias_stack, alias_project, qualified, alias_name = _urn_parts(parent_alias)
        if name.startswith(parent_name):
            name = alias_name + name[len(parent_name) :]
        return f"urn:pulumi:{alias_stack}::{alias_project}::{qualified}${type_}::{name}"

    def of(resource: Recorded) -> set[str]:
        if resource.urn in result:
            return result[resource.urn]
        registered = (
            aliases.get(resource.urn, ()) if aliases is not None else recorded_aliases(resource)
        )
        explicit = [own(resource, alias) for alias in registered]
        found = set(explicit)
        parent = index.get(resource.parent_urn)
        if parent is not None:
            for parent_alias in of(parent):
                found.add(inherited(resource.type, resource.name, parent.name, parent_alias))
                for urn in explicit:
                    _, _, qualified, name = _urn_parts(urn)
                    type_ = qualified.rsplit("$", 1)[-1]
                    found.add(inherited(type_, name, parent.name, parent_alias))
        found.discard(engine[resource.urn])
        result[resource.urn] = found
        return found

    for resource in resources:
        of(resource)
    return result


# -------------------------------------------------------------------------------------- guard


@dataclass(frozen=True)
class Replacement:
    """A stateful resource of the inventory that the program would replace or delete."""

    entry: Entry
    reason: str

    def describe(self) -> str:
        name = f" {self.entry.name!r}" if self.entry.name else ""
        lost = STATEFUL_TYPES.get(self.entry.type, "")
        return f"{self.entry.type}{name} ({self.entry.urn}): {self.reason} [loses: {lost}]"


def replacements(
    stack: str,
    committed: Sequence[Entry],
    resources: Sequence[Recorded],
    aliases: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[Replacement]:
    """The stateful resources of `committed` that running `resources` would replace or delete.

    A committed URN is kept when a resource still has it or answers to it through an alias;
    a kept resource is replaced when its physical name or its provider changed (an aliased
    provider is the same provider). New resources, and changes to stateless ones, are not
    reported here.

    The mocks derive a resource's outputs (ids, ARNs, random values) from its logical name;
    the engine keeps a moved resource's outputs in state. So what a resource kept through an
    alias under a new name outputs now reads as what it output under its old name (a database
    secret's name ends with a RandomId's hex, which a renamed but aliased RandomId keeps).
    """
    current = {e.urn: e for e in snapshot(stack, resources)}
    engine = engine_urns(stack, resources, PROJECT_NAME)
    also = alias_urns(stack, resources, aliases)
    moved: dict[str, Entry] = {}
    kept_outputs: dict[str, str] = {}
    for resource in resources:
        for old in also[resource.urn]:
            moved.setdefault(old, current[engine[resource.urn]])
            old_name = _urn_parts(old)[3]
            if resource.custom and old_name != resource.name:
                kept_outputs.update(_renamed_outputs(resource, old_name))
    if kept_outputs:
        current = {urn: _restore(e, kept_outputs) for urn, e in current.items()}
        moved = {urn: _restore(e, kept_outputs) for urn, e in moved.items()}
    provider_aliases = {engine[urn]: olds for urn, olds in also.items()}
    found: list[Replacement] = []
    for entry in sorted(committed, key=lambda e: e.urn):
        if not is_stateful(entry.type):
            continue
        now = current.get(entry.urn) or moved.get(entry.urn)
        if now is None:
            found.append(Replacement(entry, _gone(entry, current.values())))
        elif entry.name is not None and now.name != entry.name:
            found.append(Replacement(entry, f"physical name {entry.name!r} becomes {now.name!r}"))
        elif (
            entry.provider
            and now.provider != entry.provider
            and entry.provider not in provider_aliases.get(now.provider or "", set())
        ):
            found.append(Replacement(entry, f"provider {entry.provider} becomes {now.provider}"))
    return found


def _mock_outputs(resource: Recorded, name: str) -> dict[str, Any]:
    if resource.type.startswith("random:"):
        return random_state(resource.type, name, resource.inputs)
    inputs = dict(resource.inputs)
    return {
        **computed_state(resource.type, name, resource.region, inputs),
        "id": physical_id(resource.type, name, inputs, resource.region),
    }


def _renamed_outputs(resource: Recorded, old_name: str) -> dict[str, str]:
    """{what the mocks output for `resource` now: what they output under `old_name`}."""
    now, before = _mock_outputs(resource, resource.name), _mock_outputs(resource, old_name)
    return {
        value: before[key]
        for key, value in now.items()
        # Short values (a port, "true") could match by chance inside an unrelated name.
        if isinstance(value, str) and len(value) >= 8 and isinstance(before.get(key), str)
        and before[key] != value
    }  # fmt: skip


def _restore(entry: Entry, kept_outputs: Mapping[str, str]) -> Entry:
    name = entry.name
    if name is None:
        return entry
    for now, before in kept_outputs.items():
        name = name.replace(now, before)
    return replace(entry, name=name)


def _gone(entry: Entry, current: Iterable[Entry]) -> str:
    reason = (
        "its URN is no longer produced (renamed component or resource, changed type token, "
        "moved parent): `pulumi up` deletes it"
    )
    suspects = sorted(
        e.urn
        for e in current
        if e.type == entry.type
        and e.urn != entry.urn
        and (
            (entry.name is not None and e.name == entry.name)
            or _urn_parts(e.urn)[3] == _urn_parts(entry.urn)[3]
        )
    )
    if suspects:
        reason += f" and creates {suspects[0]} (add `aliases` to keep it)"
    return reason


def failure_message(stack: str, found: Sequence[Replacement]) -> str:
    """What the guard test says: which resources, and the deliberate way to accept it."""
    lines = [
        f"stack {stack}: `pulumi up` would replace or delete {len(found)} stateful "
        f"resource(s) listed in inventory/{stack}.json:",
        *(f"  - {r.describe()}" for r in found),
        "If the move is intended, register the resource with `aliases` (its old URN) so the "
        "engine keeps it.",
        f"If losing it is intended, run `{UPDATE_COMMAND}` ({UPDATE_SCRIPT}) and commit the "
        "inventory with the change.",
    ]
    return "\n".join(lines)
