"""CrossGuard adapters: each rule of tap_tooling/rules.py as a pulumi-policy validation policy.

Kept apart from __main__.py so tests can exercise the adapters without constructing the
PolicyPack (which starts a policy server). CrossGuard hands validators duck-typed args objects
(`resource_type`, `props`, `urn`, `name`, `provider`; `resources` for stacks), so the adapters
read only those attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from tap_tooling import graph, readiness, rules

ReportViolation = Callable[..., None]

ENFORCEMENT = {
    rules.MANDATORY: EnforcementLevel.MANDATORY,
    rules.ADVISORY: EnforcementLevel.ADVISORY,
}
SEVERITY = {rules.MANDATORY: Severity.HIGH, rules.ADVISORY: Severity.LOW}


def environment_of(provider_props: Mapping[str, Any], urn: str) -> str:
    """The stack's environment: the provider's Environment default tag, else the stack name.

    TAP's environment defaults to the stack name, which is the URN's third field
    (`urn:pulumi:<stack>::<project>::...`).
    """
    tags = rules.decode_default_tags(provider_props)
    if tags.get("Environment"):
        return tags["Environment"]
    parts = urn.split(":")
    return parts[2] if len(parts) > 2 else ""


def production_of(provider_props: Mapping[str, Any], urn: str) -> bool:
    """Whether the stack is production: the provider's `Production` default tag (what the
    stack's config decided), else the environment's name."""
    flag = rules.decode_default_tags(provider_props).get("Production")
    if flag in ("true", "false"):
        return flag == "true"
    return environment_of(provider_props, urn) == rules.PRODUCTION_ENVIRONMENT


def _provider_props(resource: Any) -> Mapping[str, Any]:
    provider = getattr(resource, "provider", None)
    return getattr(provider, "props", None) or {}


def context_of(args: Any) -> rules.Context:
    """The rule context of one CrossGuard resource (validation args or PolicyResource)."""
    provider_props = _provider_props(args)
    urn = getattr(args, "urn", "")
    return rules.Context(
        environment=environment_of(provider_props, urn),
        provider_tags=rules.decode_default_tags(provider_props),
        production_flag=production_of(provider_props, urn),
    )


def resource_validator(rule: rules.ResourceRule) -> Callable[[Any, ReportViolation], None]:
    """A ResourceValidationPolicy `validate` function applying `rule` to one resource."""

    def validate(args: Any, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props, context_of(args)):
            report_violation(f"{rule.id}: {message}", getattr(args, "urn", None))

    return validate


def resource_view(resource: Any) -> graph.Resource:
    """A CrossGuard PolicyResource as the stack rules see it.

    Ids are unknown for resources not created yet, so references are followed through the
    engine's property dependencies (URNs) as well as through known ids and ARNs.
    """
    props = resource.props or {}
    known = (props.get(key) for key in ("id", "arn", "name", "bucket", "identifier", "dnsName"))
    dependencies = {
        key: frozenset(d.urn for d in deps)
        for key, deps in (getattr(resource, "property_dependencies", None) or {}).items()
    }
    provider_props = _provider_props(resource)
    return graph.Resource(
        type=resource.resource_type,
        name=resource.name,
        props=props,
        urn=resource.urn,
        region=props.get("region") or provider_props.get("region"),
        handles=frozenset({resource.urn, *(v for v in known if isinstance(v, str))}),
        dependencies=dependencies,
        provider_tags=rules.decode_default_tags(provider_props),
    )


def stack_validator(rule: rules.StackRule) -> Callable[[Any, ReportViolation], None]:
    """A StackValidationPolicy `validate` function applying `rule` to the whole stack."""

    def validate(args: Any, report_violation: ReportViolation) -> None:
        views = [resource_view(r) for r in args.resources if r.resource_type.startswith("aws:")]
        first = next(iter(args.resources), None)
        props = _provider_props(first) if first is not None else {}
        urn = first.urn if first is not None else ""
        context = rules.Context(
            environment=environment_of(props, urn), production_flag=production_of(props, urn)
        )
        for resource, message in rule.check(views, context):
            report_violation(f"{rule.id}: {message}", resource.urn if resource else None)

    return validate


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """One CrossGuard policy per TAP rule (policy and deploy readiness), enforced as the rule's
    severity says."""
    built: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in readiness.CATALOGUE:
        common: dict[str, Any] = {
            "name": rule.id.lower(),
            "description": rule.description
            + (f" (AWS FSBP {rule.fsbp})" if rule.fsbp else "")
            + (f" Source: {rule.source}" if rule.source else ""),
            "enforcement_level": ENFORCEMENT[rule.severity],
            "severity": SEVERITY[rule.severity],
        }
        if isinstance(rule, rules.ResourceRule):
            built.append(ResourceValidationPolicy(validate=resource_validator(rule), **common))
        else:
            built.append(StackValidationPolicy(validate=stack_validator(rule), **common))
    return built
