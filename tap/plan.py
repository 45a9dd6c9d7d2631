"""`deploy.py plan`: the offline plan. Runs the real program under mocks and reports it."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any, TextIO

import pulumi

from tap.offline import OfflineError, PlanResult, run_program

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
STACKS = ("dev", "staging", "prod")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, choices=STACKS, help="stack to plan")


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        result = run_program(args.stack)
    except (pulumi.RunError, OfflineError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT
    out.write(render(result))
    return EXIT_OK


def group_by_region(result: PlanResult) -> dict[str, dict[str, Counter[str]]]:
    """{region or 'global': {component label: Counter(resource type)}} for custom resources."""
    groups: dict[str, dict[str, Counter[str]]] = {}
    for resource in result.resources:
        if not resource.custom:
            continue
        component = result.component_of(resource)
        label = f"{component.type.split(':')[-1]} {component.name}" if component else "(top level)"
        region = resource.region or "global"
        groups.setdefault(region, {}).setdefault(label, Counter())[resource.type] += 1
    return groups


def render(result: PlanResult) -> str:
    summary = result.outputs.get("deployment_summary", {})
    lines = [
        f"TAP offline plan - stack {result.stack} (environment {summary.get('environment', '?')})",
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
        primary = " (primary)" if region == summary.get("primary_region") else ""
        lines.append(f"region {region}{primary}: {count} resources")
        for label in sorted(components):
            counter = components[label]
            lines.append(f"  {label}: {sum(counter.values())}")
            for type_, n in sorted(counter.items()):
                lines.append(f"    {n:4d}  {type_}")
    lines.append(f"total: {total} resources to create")
    lines += ["", "outputs:", json.dumps(_jsonable(result.outputs), indent=2, sort_keys=True), ""]
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
