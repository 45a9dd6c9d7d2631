"""The resource-graph model the rules, the cost estimate and the diagram share: one view of
each AWS resource (type, inputs, region, component, handles others refer to it by) and an index
of the stack by type. Built by the offline plan from recorded registrations, and by the
CrossGuard pack from the engine's resources; nothing here imports Pulumi."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Resource:
    """One resource as the stack rules, the cost model and the diagram see it."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    region: str | None = None
    component: str = ""
    """The outermost component it sits in (`Network us-east-1-network`), or ''."""
    tier: str = ""
    """That component's module (`network` for `tap:network:Network`), or ''."""
    handles: frozenset[str] = frozenset()
    """Values another resource's property holds when it points at this one (id, ARN, name)."""
    dependencies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """URNs each property depends on (CrossGuard knows them even when values are unknown)."""
    provider_tags: Mapping[str, str] = field(default_factory=dict)
    global_piece: bool = False
    """Created through the stack's global provider (zone, edge, failover and their key and
    topic): it belongs with the global pieces even where it is a regional resource."""


COMPOSITE_TYPES = frozenset({"tap:region:Region", "tap:front:Front"})
"""Components made of components: a resource's component is the outermost one below them (the
tier it belongs to: `Network us-east-1-network`, not `Region us-east-1`)."""

# Services whose resources serve every region; their provider's region is only an API endpoint.
GLOBAL_SERVICES = ("aws:cloudfront/", "aws:route53/")


def location(resource: Resource) -> str:
    """Where a resource serves: its region, or "global" (CloudFront, Route 53, CDN WAF)."""
    if resource.type.startswith(GLOBAL_SERVICES) or resource.props.get("scope") == "CLOUDFRONT":
        return "global"
    return resource.region or "global"


class StackIndex:
    """The stack's resources, indexed by type once (rules then stay linear in the stack size)."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = list(resources)
        self._by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            self._by_type[resource.type].append(resource)

    def of(self, *types: str) -> list[Resource]:
        return [r for type_ in types for r in self._by_type.get(type_, ())]
