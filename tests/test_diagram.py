"""tap_tooling/diagram.py: the Mermaid picture follows the recorded resources."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tap_tooling import diagram
from tap_tooling.graph import Resource
from tap_tooling.offline import PlanResult
from tap_tooling.plan import judge
from tests.conftest import planned

NODE_LINE = re.compile(r'^    ([A-Za-z][A-Za-z0-9_]*)\["([^"]+)"\]$')
EDGE_LINE = re.compile(r"^  ([A-Za-z][A-Za-z0-9_]*) -->\|([^|]+)\| ([A-Za-z][A-Za-z0-9_]*)$")


def res(type_: str, logical: str, region: str, tier: str, **props: Any) -> Resource:
    return Resource(
        type_,
        logical,
        props,
        urn=f"urn:{logical}",
        region=region,
        component=f"{tier.title()} {region}-{tier}",
        tier=tier,
        handles=frozenset({f"{logical}-id", f"arn:{logical}"}),
    )


def two_region_stack() -> list[Resource]:
    stack = []
    for region in ("us-east-1", "us-west-2"):
        stack += [
            res("aws:ec2/vpc:Vpc", f"{region}-vpc", region, "network"),
            res("aws:lb/loadBalancer:LoadBalancer", f"{region}-alb", region, "compute"),
        ]
    stack += [
        res("aws:rds/instance:Instance", "db", "us-east-1", "database"),
        res(
            "aws:rds/instance:Instance",
            "replica",
            "us-west-2",
            "database",
            replicateSourceDb="arn:db",
        ),
        res(
            "aws:cloudfront/distribution:Distribution",
            "cdn",
            "us-east-1",
            "edge",
            origins=[{"domainName": "app.example.com"}],
        ),
        # The edge's certificate lives in us-east-1 but belongs with CloudFront.
        res("aws:acm/certificate:Certificate", "edge-cert", "us-east-1", "edge"),
    ]
    # Failover records are created with the primary's provider; the set identifier names the
    # region each one sends traffic to.
    for role, region in (("PRIMARY", "us-east-1"), ("SECONDARY", "us-west-2")):
        stack.append(
            res(
                "aws:route53/record:Record",
                role.lower(),
                "us-east-1",
                "failover",
                name="app.example.com",
                setIdentifier=region,
                failoverRoutingPolicies=[{"type": role}],
            )
        )
    return stack


def parse(chart: str) -> tuple[dict[str, list[str]], set[tuple[str, str, str]]]:
    """{subgraph id: [node ids]} and {(source, label, target)} of a chart; fails on bad lines."""
    lines = chart.splitlines()
    assert lines[0] == "flowchart LR"
    groups: dict[str, list[str]] = {}
    edges = set()
    current = None
    for line in lines[1:]:
        if match := re.fullmatch(r'  subgraph ([A-Za-z][A-Za-z0-9_]*)\["[^"]+"\]', line):
            current = match.group(1)
            groups[current] = []
        elif line == "  end":
            current = None
        elif match := NODE_LINE.fullmatch(line):
            assert current is not None, line
            groups[current].append(match.group(1))
        elif match := EDGE_LINE.fullmatch(line):
            edges.add((match.group(1), match.group(2), match.group(3)))
        else:
            raise AssertionError(f"not a Mermaid line this module writes: {line!r}")
    return groups, edges


def test_regions_are_groups_with_their_tiers_and_global_services_apart() -> None:
    chart = diagram.mermaid(two_region_stack(), "us-east-1", ["us-east-1", "us-west-2"])
    groups, _ = parse(chart)
    assert groups == {
        "us_east_1": ["us_east_1_compute", "us_east_1_database", "us_east_1_network"],
        "us_west_2": ["us_west_2_compute", "us_west_2_database", "us_west_2_network"],
        "global": ["global_edge", "global_failover"],
    }
    assert 'subgraph us_east_1["us-east-1 (primary)"]' in chart
    assert "edge<br/>1 CloudFront distribution, 1 certificate<br/><i>2 resources</i>" in chart


def test_edges_come_from_references_between_resources() -> None:
    _, edges = parse(diagram.mermaid(two_region_stack(), "us-east-1", ["us-east-1", "us-west-2"]))
    assert edges == {
        ("us_east_1_database", "replication", "us_west_2_database"),
        ("global_failover", "failover primary", "us_east_1_compute"),
        ("global_failover", "failover secondary", "us_west_2_compute"),
        ("global_edge", "CDN origin", "global_failover"),
    }


def test_an_unresolved_cdn_origin_is_drawn_to_every_load_balancer_and_says_so() -> None:
    stack = [r for r in two_region_stack() if r.type != "aws:route53/record:Record"]
    _, edges = parse(diagram.mermaid(stack, "us-east-1"))
    assert {e for e in edges if e[0] == "global_edge"} == {
        ("global_edge", "CDN origin (resolved at deploy)", "us_east_1_compute"),
        ("global_edge", "CDN origin (resolved at deploy)", "us_west_2_compute"),
    }


def test_output_is_deterministic() -> None:
    stack = two_region_stack()
    # Two fixed reorderings: reversed, and odd positions before even ones.
    for reordered in (stack[::-1], stack[1::2] + stack[::2]):
        assert diagram.mermaid(reordered, "us-east-1") == diagram.mermaid(stack, "us-east-1")


def test_mermaid_ids_are_valid() -> None:
    assert diagram.mermaid_id("us-east-1_network") == "us_east_1_network"
    assert diagram.mermaid_id("1st tier") == "n_1st_tier"


def _prod_chart(plan: PlanResult) -> str:
    return judge(plan).diagram()


def test_prod_diagram_is_drawn_from_the_plan(prod_plan: PlanResult) -> None:
    groups, _ = parse(_prod_chart(prod_plan))
    assert {"us_east_1", "us_west_2"} <= set(groups)
    assert "us_east_1_network" in groups["us_east_1"]
    assert "network<br/>1 VPC, 9 subnets, 3 NAT gateways" in _prod_chart(prod_plan)


def test_diagram_changes_when_the_config_changes(run_config: Callable[..., PlanResult]) -> None:
    single = run_config("prod", network={"nat_strategy": "single"})
    assert "network<br/>1 VPC, 9 subnets, 1 NAT gateway<br/>" in _prod_chart(single)


def test_markdown_wraps_the_chart_in_a_mermaid_block() -> None:
    text = diagram.markdown("prod", "flowchart LR\n")
    assert text.startswith("# TAP stack `prod` as planned")
    assert "```mermaid\nflowchart LR\n```\n" in text


def test_readme_and_docs_embed_the_current_prod_diagram() -> None:
    """The README's picture is the plan's, not a drawing: regenerate it when the code changes
    (`make diagram`)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "update_diagram.py"
    spec = importlib.util.spec_from_file_location("update_diagram", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document, readme = module.expected(planned("prod"))
    assert module.DOC.read_text() == document, "docs/prod-diagram.md is stale: make diagram"
    assert module.README.read_text() == readme, "README.md's diagram is stale: make diagram"
