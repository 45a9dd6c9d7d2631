"""A Mermaid diagram of the stack as planned, drawn from the recorded resources.

Regions become subgraphs; inside each, one node per tier (the module of the component that
created the resources: network, keys, compute, ...), labelled with what it holds. Services that
serve every region (CloudFront, Route 53, a CloudFront WAF) sit in a "global" subgraph. Edges
come from references between resources: database replication (`replicateSourceDb`), DNS
failover records and CDN origins. Nothing is hand-drawn, so the picture follows the code, and
the output is sorted, so the same plan always gives the same text.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tap_tooling.graph import Resource, StackIndex, location
from tap_tooling.rules import (
    LOAD_BALANCER,
    RDS_INSTANCE,
    blocks,
    points_to,
)

RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

# Tier of a resource created outside any component, by its service.
SERVICE_TIERS = {
    "ec2": "network",
    "kms": "keys",
    "lb": "compute",
    "autoscaling": "compute",
    "rds": "database",
    "s3": "storage",
    "cloudwatch": "monitoring",
    "sns": "monitoring",
    "cloudtrail": "audit",
    "route53": "dns",
    "cloudfront": "edge",
    "wafv2": "edge",
    "acm": "certificates",
    "iam": "identity",
}

# What a node's label names, in this order (other types only count towards the total).
NOTABLE: tuple[tuple[str, str], ...] = (
    ("aws:ec2/vpc:Vpc", "VPC"),
    ("aws:ec2/subnet:Subnet", "subnet"),
    ("aws:ec2/natGateway:NatGateway", "NAT gateway"),
    ("aws:kms/key:Key", "KMS key"),
    (LOAD_BALANCER, "ALB"),
    ("aws:autoscaling/group:Group", "ASG"),
    ("aws:ec2/instance:Instance", "instance"),
    (RDS_INSTANCE, "DB instance"),
    ("aws:s3/bucket:Bucket", "bucket"),
    ("aws:sns/topic:Topic", "SNS topic"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm"),
    ("aws:cloudwatch/dashboard:Dashboard", "dashboard"),
    ("aws:cloudtrail/trail:Trail", "trail"),
    (HEALTH_CHECK, "health check"),
    (RECORD, "DNS record"),
    (DISTRIBUTION, "CloudFront distribution"),
    ("aws:wafv2/webAcl:WebAcl", "web ACL"),
    ("aws:acm/certificate:Certificate", "certificate"),
)


@dataclass(frozen=True, order=True)
class Node:
    """One tier of one group (a region, or "global")."""

    group: str
    tier: str

    @property
    def id(self) -> str:
        return mermaid_id(f"{self.group}_{self.tier}")


@dataclass(frozen=True, order=True)
class Edge:
    source: Node
    target: Node
    label: str


def mermaid_id(text: str) -> str:
    """A valid Mermaid node id: letters, digits and underscores, starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return cleaned if cleaned[:1].isalpha() else f"n_{cleaned}"


def _tier(resource: Resource) -> str:
    if resource.tier:
        return resource.tier
    service = resource.type.removeprefix("aws:").split("/", 1)[0]
    return SERVICE_TIERS.get(service, service)


DNS_RECORD = "aws:route53/record:Record"


def place(resources: Sequence[Resource]) -> dict[str, Node]:
    """The node of each resource (by URN, or name when there is none).

    A component sits in one place: the global group when it is built on the global provider
    (zone, edge, failover, their key and topic) or holds a resource that serves every region
    (a distribution, a CDN web ACL), else the one region its regional resources are in. DNS
    records follow their component: a region's certificate stays in its region with its
    validation record.
    """
    members: dict[str, list[Resource]] = {}
    for resource in resources:
        members.setdefault(resource.component or f"{resource.name} {resource.type}", []).append(
            resource
        )
    groups: dict[str, str] = {}
    for key, found in members.items():
        regions = {location(r) for r in found} - {"global"}
        on_global = any(
            r.global_piece or (location(r) == "global" and r.type != DNS_RECORD) for r in found
        )
        groups[key] = regions.pop() if len(regions) == 1 and not on_global else "global"
    return {_key(r): Node(groups[r.component or f"{r.name} {r.type}"], _tier(r)) for r in resources}


def _key(resource: Resource) -> str:
    return resource.urn or resource.name


def _label(node: Node, members: Iterable[Resource]) -> str:
    counts = Counter(r.type for r in members)
    parts = []
    for type_, noun in NOTABLE:
        if counts[type_]:
            parts.append(f"{counts[type_]} {noun}{'s' if counts[type_] > 1 else ''}")
    total = sum(counts.values())
    plural = "resource" if total == 1 else "resources"
    summary = ", ".join(parts) if parts else f"{total} {plural}"
    return f"{node.tier}<br/>{summary}<br/><i>{total} {plural}</i>"


def _holder_of(
    type_: str, region: str | None, nodes: dict[str, Node], index: StackIndex
) -> list[Node]:
    """Nodes holding a resource of `type_` in `region` (every region when None)."""
    found = {nodes[_key(r)] for r in index.of(type_) if region is None or location(r) == region}
    return sorted(found)


def _replication_edges(index: StackIndex, nodes: dict[str, Node]) -> list[Edge]:
    databases = index.of(RDS_INSTANCE)
    edges = []
    for replica in databases:
        if not replica.props.get("replicateSourceDb"):
            continue
        for source in databases:
            if source is not replica and points_to(replica, "replicateSourceDb", source):
                edges.append(Edge(nodes[_key(source)], nodes[_key(replica)], "replication"))
    return edges


def _record_region(record: Resource, index: StackIndex, regions: Sequence[str]) -> str | None:
    """The region a failover record sends traffic to.

    Its alias target or health check names the load balancer when the value is known; at plan
    time it often is not, and TAP's set identifier (the region name) decides.
    """
    for alias in blocks(record.props, "aliases"):
        for lb in index.of(LOAD_BALANCER):
            if alias.get("name") in lb.handles:
                return lb.region
    identifier = str(record.props.get("setIdentifier", ""))
    matches = [region for region in regions if region in identifier]
    return matches[0] if matches else None


def _failover_edges(
    index: StackIndex, nodes: dict[str, Node], regions: Sequence[str]
) -> list[Edge]:
    edges = []
    for record in index.of(RECORD):
        policies = blocks(record.props, "failoverRoutingPolicies")
        if not policies:
            continue
        region = _record_region(record, index, regions)
        if region is None:
            continue
        role = str(policies[0].get("type", "")).lower()
        for target in _holder_of(LOAD_BALANCER, region, nodes, index):
            edges.append(Edge(nodes[_key(record)], target, f"failover {role}"))
    return edges


def _cdn_edges(index: StackIndex, nodes: dict[str, Node]) -> list[Edge]:
    """CloudFront to the origins it names: a load balancer, or a DNS (failover) record.

    An origin whose domain is unknown at plan time (an ALB's DNS name) is drawn to every
    region's load balancers and labelled so.
    """
    edges = []
    records = index.of(RECORD)
    balancers = index.of(LOAD_BALANCER)
    for distribution in index.of(DISTRIBUTION):
        source = nodes[_key(distribution)]
        for origin in blocks(distribution.props, "origins"):
            domain = origin.get("domainName")
            targets = [nodes[_key(b)] for b in balancers if domain in b.handles]
            targets += [nodes[_key(r)] for r in records if domain and _record_named(r, domain)]
            label = "CDN origin"
            if not targets:
                targets = _holder_of(LOAD_BALANCER, None, nodes, index)
                label = "CDN origin (resolved at deploy)"
            edges += [Edge(source, target, label) for target in targets if target != source]
    return edges


def _record_named(record: Resource, domain: str) -> bool:
    name = str(record.props.get("name", "")).rstrip(".")
    return bool(name) and (domain.rstrip(".") == name or domain.startswith(f"{name}."))


def mermaid(
    resources: Iterable[Resource] | StackIndex,
    primary_region: str | None = None,
    regions: Sequence[str] = (),
) -> str:
    """The Mermaid flowchart of `resources` (providers and components already left out)."""
    index = resources if isinstance(resources, StackIndex) else StackIndex(resources)
    nodes = place(index.resources)
    members: dict[Node, list[Resource]] = defaultdict(list)
    for resource in index.resources:
        members[nodes[_key(resource)]].append(resource)
    known_regions = list(regions) or sorted({r.region for r in index.resources if r.region})
    lines = ["flowchart LR"]
    by_group: dict[str, list[Node]] = defaultdict(list)
    for node in sorted(members):
        by_group[node.group].append(node)
    for group in sorted(by_group, key=lambda g: (g != primary_region, g == "global", g)):
        title = f"{group} (primary)" if group == primary_region else group
        lines.append(f'  subgraph {mermaid_id(group)}["{title}"]')
        lines += [f'    {n.id}["{_label(n, members[n])}"]' for n in by_group[group]]
        lines.append("  end")
    edges = (
        _replication_edges(index, nodes)
        + _failover_edges(index, nodes, known_regions)
        + _cdn_edges(index, nodes)
    )
    for edge in sorted(set(edges)):
        lines.append(f"  {edge.source.id} -->|{edge.label}| {edge.target.id}")
    return "\n".join(lines) + "\n"


def markdown(stack: str, chart: str) -> str:
    """The diagram as a Markdown document (GitHub renders ```mermaid blocks)."""
    return (
        f"# TAP stack `{stack}` as planned\n\n"
        "Generated by `python deploy.py plan --stack "
        f"{stack} --diagram FILE.md` from the resources the program registers under mocks; "
        "regenerate it instead of editing it.\n\n"
        f"```mermaid\n{chart}```\n"
    )
