"""`deploy.py plan`: the offline plan a reviewer runs on every change.

Runs the real program under mocks, then judges what it would create: the policy rules of
`tap_tooling.rules` (the same ones the CrossGuard pack in policy/ applies), an estimated
monthly cost (`tap_tooling.cost`), and optionally a Mermaid diagram (`tap_tooling.diagram`).
Human output is a table;
`--json` gives the same facts to CI. Exit 0 when compliant, 1 on any mandatory violation (or
outputs that break their contract, tap/outputs.py), 2 on a bad config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pulumi

from tap.global_provider import GLOBAL_PROVIDER_NAME
from tap.outputs import OutputsError, ParsedSummary, parse
from tap_tooling import cost, diagram, graph, readiness, rules
from tap_tooling.offline import (
    PROVIDER_TYPE,
    OfflineError,
    PlanResult,
    Recorded,
    computed_state,
    physical_id,
    run_program,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
TOP_LEVEL = "(top level)"
# Input properties other resources use to point at a resource by name rather than by id.
NAME_HANDLES = ("name", "bucket", "identifier")
PREFIX_LIST_LOOKUP = "aws:ec2/getManagedPrefixList:getManagedPrefixList"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack", required=True, help="stack to plan (any name with a Pulumi.<name>.yaml)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print resources, outputs, violations and cost as JSON (for CI) instead of a table",
    )
    parser.add_argument(
        "--diagram",
        metavar="FILE.md",
        type=Path,
        help="also write a Mermaid diagram of the planned stack to FILE.md",
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        result = run_program(args.stack)
    except (pulumi.RunError, OfflineError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT
    try:
        report = judge(result)
    except OutputsError as exc:
        print(f"error: the program's {exc} (tap/outputs.py defines them)", file=err)
        return EXIT_FAILED
    diagram_file: Path | None = getattr(args, "diagram", None)
    if diagram_file is not None:
        diagram_file.write_text(diagram.markdown(result.stack, report.diagram()))
    if getattr(args, "json", False):
        out.write(json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n")
    else:
        out.write(render(result, report))
        if diagram_file is not None:
            out.write(f"diagram written to {diagram_file}\n")
    return EXIT_FAILED if rules.mandatory(report.violations) else EXIT_OK


# ---------------------------------------------------------------------------------------------
# From recorded resources to what the rules, cost and diagram see


def outermost_components(result: PlanResult) -> dict[str, Recorded | None]:
    """{urn: the tier component it sits in (the outermost one below the composites, Region and
    Front; None at top level)}, in one pass over the plan.

    Same answer as PlanResult.component_of (tests/test_plan.py checks it), which rebuilds the
    URN index on every call (and so is quadratic over a whole plan).
    """
    by_urn = result.by_urn()
    outer: dict[str, Recorded | None] = {}

    def outermost_from(urn: str) -> Recorded | None:
        """The outermost component among `urn` and its ancestors."""
        if urn in outer:
            return outer[urn]
        resource = by_urn.get(urn)
        if resource is None:
            return None
        tier = not resource.custom and resource.type not in graph.COMPOSITE_TYPES
        found = outermost_from(resource.parent_urn) or (resource if tier else None)
        outer[urn] = found
        return found

    return {r.urn: outermost_from(r.parent_urn) for r in result.resources}


def component_label(component: Recorded | None) -> str:
    return f"{component.type.split(':')[-1]} {component.name}" if component else TOP_LEVEL


def handles(resource: Recorded) -> frozenset[str]:
    """What another resource's input holds when it refers to `resource` in the mocked run.

    The mocks answer ids in AWS's shapes (tap_tooling.offline.physical_id) and compute ARNs
    (tap_tooling.offline.computed_state); names count too, for inputs that take a bucket or DB
    identifier.
    """
    state = computed_state(resource.type, resource.name, resource.region, resource.inputs)
    found = {
        physical_id(resource.type, resource.name, resource.inputs, resource.region),
        resource.urn,
    }
    found.update(v for v in state.values() if isinstance(v, str))
    found.update(v for k in NAME_HANDLES if isinstance(v := resource.inputs.get(k), str))
    return frozenset(found)


def resource_views(result: PlanResult) -> list[graph.Resource]:
    """The plan's AWS resources (providers and components left out) as rule views."""
    components = outermost_components(result)
    provider_tags = {
        p.urn: rules.decode_default_tags(p.inputs) for p in result.of_type(PROVIDER_TYPE)
    }
    views = []
    for recorded in result.resources:
        # AWS resources only: random values (passwords, suffixes) live in state, not in AWS.
        if not recorded.custom or not recorded.type.startswith("aws:"):
            continue
        component = components.get(recorded.urn)
        views.append(
            graph.Resource(
                type=recorded.type,
                name=recorded.name,
                props=recorded.inputs,
                urn=recorded.urn,
                # pulumi-aws v7 resources may override their provider's region.
                region=recorded.inputs.get("region") or recorded.region,
                component=component_label(component) if component else "",
                tier=component.type.split(":")[1] if component else "",
                handles=handles(recorded),
                provider_tags=provider_tags.get(recorded.provider_urn, {}),
                global_piece=recorded.provider_urn.endswith(f"::{GLOBAL_PROVIDER_NAME}"),
            )
        )
    return views


def prefix_lists(result: PlanResult) -> dict[str, rules.PrefixList]:
    """The managed prefix lists the program looked up, by id, with their quota weight."""
    found = {}
    for lookup in result.lookups:
        if lookup.token != PREFIX_LIST_LOOKUP or not isinstance(lookup.result.get("id"), str):
            continue
        weight = int(lookup.result.get("maxEntries") or 1)
        family = str(lookup.result.get("addressFamily") or "IPv4")
        found[lookup.result["id"]] = rules.PrefixList(weight=weight, family=family)
    return found


@dataclass
class Report:
    """What the plan judged: the resources as rules see them, violations and cost."""

    stack: str
    summary: ParsedSummary
    """The `deployment_summary` output."""
    index: graph.StackIndex
    violations: list[rules.Violation]
    estimate: cost.CostEstimate
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """What the harness stood in for (a placeholder domain), then what the program reports."""

    def diagram(self) -> str:
        return diagram.mermaid(
            self.index, self.summary.primary_region.get(), self.summary.regions.get()
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "environment": self.summary.environment.get(),
            "resources": [
                {
                    "type": r.type,
                    "name": r.name,
                    "region": r.region,
                    "component": r.component or TOP_LEVEL,
                }
                for r in self.index.resources
            ],
            "outputs": _jsonable(self.outputs),
            "violations": [v.as_dict() for v in self.violations],
            "mandatory_violations": len(rules.mandatory(self.violations)),
            "cost": self.estimate.as_dict(),
            "warnings": list(self.warnings),
            "notices": list(self.notices),
        }


def judge(result: PlanResult) -> Report:
    """Apply the rules and the cost model to a mocked run (linear in its size). Raises
    OutputsError when the program's outputs break their contract (tap/outputs.py)."""
    outputs = parse(result.outputs)
    summary = outputs.deployment_summary
    index = graph.StackIndex(resource_views(result))
    return Report(
        stack=result.stack,
        summary=summary,
        index=index,
        violations=readiness.evaluate(
            index.resources,
            summary.environment.get(),
            prefix_lists=prefix_lists(result),
            production=summary.production.get(),
        ),
        estimate=cost.estimate(
            index,
            cost.NetworkShape(
                summary.regions.get(), summary.az_count.get(), summary.nat_strategy.get()
            ),
        ),
        outputs=result.outputs,
        warnings=list(result.warnings),
        notices=[*result.notices, *outputs.notices.get()],
    )


# ---------------------------------------------------------------------------------------------
# Human output


def group_by_region(result: PlanResult) -> dict[str, dict[str, Counter[str]]]:
    """{region or 'global': {component label: Counter(resource type)}} for custom resources."""
    components = outermost_components(result)
    groups: dict[str, dict[str, Counter[str]]] = {}
    for resource in result.resources:
        if not resource.custom:
            continue
        label = component_label(components.get(resource.urn))
        region = resource.region or "global"
        groups.setdefault(region, {}).setdefault(label, Counter())[resource.type] += 1
    return groups


def render(result: PlanResult, report: Report | None = None) -> str:
    """The plan as text: resources per region and component, outputs, policy and cost."""
    report = report or judge(result)
    summary = report.summary
    lines = [
        f"TAP offline plan - stack {result.stack} (environment {summary.environment.get()})",
        "Ran the real program under Pulumi mocks: no cloud account was used; ids and ARNs are "
        "placeholders.",
        "",
    ]
    groups = group_by_region(result)
    total = 0
    for region in sorted(groups, key=lambda r: (r == "global", r)):
        components = groups[region]
        count = sum(sum(c.values()) for c in components.values())
        total += count
        primary = " (primary)" if region == summary.primary_region.get() else ""
        lines.append(f"region {region}{primary}: {count} resources")
        for label in sorted(components):
            counter = components[label]
            lines.append(f"  {label}: {sum(counter.values())}")
            for type_, n in sorted(counter.items()):
                lines.append(f"    {n:4d}  {type_}")
    lines.append(f"total: {total} resources to create")
    notices = report.notices
    if notices:
        lines += ["", "notices:", *(f"  - {notice}" for notice in notices)]
    lines += ["", "outputs:", json.dumps(_jsonable(result.outputs), indent=2, sort_keys=True), ""]
    lines += [*render_policy(report.violations), ""]
    lines += [*cost.render(report.estimate), ""]
    return "\n".join(lines)


def render_policy(violations: list[rules.Violation]) -> list[str]:
    """Violations grouped by severity, mandatory first; deploy-readiness ones with their source."""
    header = (
        f"policy ({len(rules.ALL_RULES)} rules of tap_tooling/rules.py; [FSBP control]) and "
        f"deploy readiness ({len(readiness.READINESS_RULES)} rules of tap_tooling/readiness.py; "
        "AWS source):"
    )
    if not violations:
        return [header, "  no violations"]
    lines = [header]
    for severity in (rules.MANDATORY, rules.ADVISORY):
        found = [v for v in violations if v.severity == severity]
        if not found:
            continue
        lines.append(f"  {severity}: {len(found)} violation{'s' if len(found) > 1 else ''}")
        for v in found:
            control = f" [{v.fsbp}]" if v.fsbp else ""
            where = f" ({v.region})" if v.region else ""
            target = f"{v.resource_type} {v.resource_name}".strip()
            lines.append(f"    {v.rule_id}{control} {target}{where}: {v.message}")
            if v.source:
                lines.append(f"      source: {v.source}")
    if rules.mandatory(violations):
        lines.append("  mandatory violations fail the plan (exit 1) and `pulumi up`")
    return lines


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
