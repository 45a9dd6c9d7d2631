"""Estimated monthly cost of a planned stack, from its configuration and `tap_tooling.prices`.

Only what the configuration fixes is priced: resource-hours (NAT gateways, load balancers,
instances at the ASG's desired capacity, databases), provisioned storage and monthly fees.
Usage (traffic, requests, log volume) is listed in `prices.EXCLUDED`, never guessed. A
resource whose size has no price in the table (an instance type not listed) shows up as
"unpriced" instead of stopping the plan.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tap_tooling import prices
from tap_tooling.graph import Resource, StackIndex, location
from tap_tooling.rules import (
    as_number,
    blocks,
    get_path,
    is_true,
    points_to,
)

LAUNCH_TEMPLATE_PATHS = (
    "launchTemplate.id",
    "launchTemplate.name",
    "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.launchTemplateId",
    "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.launchTemplateName",
)


@dataclass(frozen=True)
class CostLine:
    """One priced item: `quantity` `unit`s at `unit_price` (None: no price in the table)."""

    region: str
    component: str
    resource: str
    item: str
    quantity: float
    unit: str
    unit_price: float | None

    @property
    def monthly(self) -> float:
        return 0.0 if self.unit_price is None else self.quantity * self.unit_price

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "component": self.component,
            "resource": self.resource,
            "item": self.item,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price": self.unit_price,
            "monthly": round(self.monthly, 2),
        }


@dataclass(frozen=True)
class CostEstimate:
    """The priced lines of a stack, with totals per region and per component."""

    lines: tuple[CostLine, ...]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def by_region(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for line in self.lines:
            totals[line.region] += line.monthly
        return dict(sorted(totals.items(), key=lambda item: _region_order(item[0])))

    def by_component(self) -> dict[tuple[str, str], float]:
        totals: dict[tuple[str, str], float] = defaultdict(float)
        for line in self.lines:
            totals[(line.region, line.component)] += line.monthly
        return dict(
            sorted(totals.items(), key=lambda item: (_region_order(item[0][0]), item[0][1]))
        )

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.unit_price is None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "prices_as_of": prices.PRICES_AS_OF.isoformat(),
            "price_region": prices.PRICE_REGION,
            "assumptions": ASSUMPTIONS,
            "hours_per_month": prices.HOURS_PER_MONTH,
            "total_monthly": round(self.total, 2),
            "by_region": {region: round(v, 2) for region, v in self.by_region().items()},
            "by_component": [
                {"region": region, "component": component, "monthly": round(v, 2)}
                for (region, component), v in self.by_component().items()
            ],
            "lines": [line.as_dict() for line in self.lines],
            "unpriced": [f"{line.resource}: {line.item}" for line in self.unpriced],
            "excluded": list(prices.EXCLUDED),
        }


ASSUMPTIONS = (
    f"on-demand list prices of {prices.PRICE_REGION} as of {prices.PRICES_AS_OF.isoformat()}, "
    f"applied to every region; {prices.HOURS_PER_MONTH} hours a month; Linux; no discounts"
)


def _region_order(region: str) -> tuple[bool, str]:
    return (region == "global", region)


Pricer = Callable[[Resource, StackIndex], list[CostLine]]


def _line(
    resource: Resource, item: str, quantity: float, unit: str, price: float | None
) -> CostLine:
    return CostLine(
        region=location(resource),
        component=resource.component or "(top level)",
        resource=resource.name,
        item=item,
        quantity=quantity,
        unit=unit,
        unit_price=price,
    )


def _hourly(item: str, price: float) -> Pricer:
    """A resource billed by the hour while it exists."""
    return lambda r, _i: [_line(r, item, prices.HOURS_PER_MONTH, "hour", price)]


def _monthly(item: str, price: float) -> Pricer:
    """A resource with a flat monthly fee."""
    return lambda r, _i: [_line(r, item, 1, "month", price)]


def _load_balancer(resource: Resource, _i: StackIndex) -> list[CostLine]:
    kind = str(resource.props.get("loadBalancerType") or "application")
    price = {"application": prices.ALB_HOUR, "network": prices.NLB_HOUR}.get(kind, prices.GWLB_HOUR)
    return [_line(resource, f"{kind} load balancer hours", prices.HOURS_PER_MONTH, "hour", price)]


def _launch_template_of(group: Resource, index: StackIndex) -> Resource | None:
    templates = index.of("aws:ec2/launchTemplate:LaunchTemplate")
    for path in LAUNCH_TEMPLATE_PATHS:
        if get_path(group.props, path) is None:
            continue
        for template in templates:
            if points_to(group, path, template):
                return template
    return None


def _volumes(template: Resource, count: float, owner: Resource) -> list[CostLine]:
    lines = []
    for mapping in blocks(template.props, "blockDeviceMappings"):
        size = as_number(get_path(mapping, "ebs.volumeSize"))
        if size <= 0:
            continue  # size comes from the AMI: not known from the configuration
        kind = str(get_path(mapping, "ebs.volumeType") or "gp3")
        lines.append(
            _line(
                owner,
                f"EBS {kind} {size:g} GB on each of {count:g} instances",
                size * count,
                "GB-month",
                prices.EBS_GB_MONTH.get(kind),
            )
        )
    return lines


def _autoscaling_group(group: Resource, index: StackIndex) -> list[CostLine]:
    props = group.props
    count = as_number(props.get("desiredCapacity"), as_number(props.get("minSize")))
    template = _launch_template_of(group, index)
    instance_type = str(template.props.get("instanceType")) if template else "unknown type"
    lines = [
        _line(
            group,
            f"EC2 {instance_type} at desired capacity {count:g}",
            count * prices.HOURS_PER_MONTH,
            "instance-hour",
            prices.EC2_HOUR.get(instance_type),
        )
    ]
    return lines + (_volumes(template, count, group) if template else [])


def _instance(resource: Resource, _i: StackIndex) -> list[CostLine]:
    instance_type = str(resource.props.get("instanceType"))
    price = prices.EC2_HOUR.get(instance_type)
    return [_line(resource, f"EC2 {instance_type}", prices.HOURS_PER_MONTH, "hour", price)]


def _database(db: Resource, index: StackIndex) -> list[CostLine]:
    source = None
    if db.props.get("replicateSourceDb"):
        candidates = index.of("aws:rds/instance:Instance")
        source = next((s for s in candidates if points_to(db, "replicateSourceDb", s)), None)

    def inherited(key: str) -> Any:
        """A replica takes engine and storage from its source unless it sets its own."""
        value = db.props.get(key)
        return value if value is not None or source is None else source.props.get(key)

    family = prices.RDS_ENGINE_FAMILY.get(str(inherited("engine")))
    instance_class = str(db.props.get("instanceClass"))
    copies = 2 if is_true(db.props.get("multiAz")) else 1
    role = "replica" if db.props.get("replicateSourceDb") else "primary"
    layout = "Multi-AZ" if copies == 2 else "Single-AZ"
    storage = as_number(inherited("allocatedStorage"))
    storage_type = str(inherited("storageType") or prices.RDS_DEFAULT_STORAGE_TYPE)
    lines = [
        _line(
            db,
            f"RDS {role} {instance_class} {inherited('engine')} {layout}",
            copies * prices.HOURS_PER_MONTH,
            "instance-hour",
            prices.RDS_HOUR.get(family or "", {}).get(instance_class),
        ),
        _line(
            db,
            f"RDS {storage_type} storage {storage:g} GB {layout}",
            copies * storage,
            "GB-month",
            prices.RDS_STORAGE_GB_MONTH.get(storage_type),
        ),
    ]
    if is_true(db.props.get("manageMasterUserPassword")):
        lines.append(_line(db, "master password secret", 1, "month", prices.SECRET_MONTH))
    return lines


def _alarm(alarm: Resource, _i: StackIndex) -> list[CostLine]:
    queries = [q for q in blocks(alarm.props, "metricQueries") if q.get("metric")]
    metrics = max(len(queries), 1)
    high_resolution = 0 < as_number(alarm.props.get("period"), 60) < 60
    price = (
        prices.ALARM_HIGH_RESOLUTION_METRIC_MONTH if high_resolution else prices.ALARM_METRIC_MONTH
    )
    return [_line(alarm, "alarm metrics", metrics, "metric-month", price)]


def _health_check(check: Resource, _i: StackIndex) -> list[CostLine]:
    kind = str(check.props.get("type", ""))
    features = sum(
        (
            kind.startswith("HTTPS"),
            kind.endswith("_STR_MATCH"),
            as_number(check.props.get("requestInterval"), 30) == 10,
            is_true(check.props.get("measureLatency")),
        )
    )
    lines = [
        _line(check, f"health check ({kind or 'basic'})", 1, "month", prices.HEALTH_CHECK_MONTH)
    ]
    if features:
        lines.append(
            _line(
                check,
                "health check optional features",
                features,
                "feature-month",
                prices.HEALTH_CHECK_FEATURE_MONTH,
            )
        )
    return lines


def _web_acl(acl: Resource, _i: StackIndex) -> list[CostLine]:
    rules = len(blocks(acl.props, "rules"))
    if not rules and isinstance(acl.props.get("ruleJson"), str):
        try:
            rules = len(json.loads(acl.props["ruleJson"]))
        except ValueError:
            rules = 0
    return [
        _line(acl, "web ACL", 1, "month", prices.WEB_ACL_MONTH),
        _line(acl, "web ACL rules", rules, "rule-month", prices.WEB_ACL_RULE_MONTH),
    ]


def _vpc_endpoint(endpoint: Resource, _i: StackIndex) -> list[CostLine]:
    if endpoint.props.get("vpcEndpointType", "Gateway") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    azs = max(len(endpoint.props.get("subnetIds") or []), 1)
    hours = azs * prices.HOURS_PER_MONTH
    return [
        _line(
            endpoint,
            "interface endpoint AZ-hours",
            hours,
            "hour",
            prices.INTERFACE_ENDPOINT_AZ_HOUR,
        )
    ]


PRICERS: Mapping[str, Pricer] = {
    "aws:ec2/natGateway:NatGateway": _hourly("NAT gateway hours", prices.NAT_GATEWAY_HOUR),
    "aws:ec2/eip:Eip": _hourly("public IPv4 address hours", prices.PUBLIC_IPV4_HOUR),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:autoscaling/group:Group": _autoscaling_group,
    "aws:ec2/instance:Instance": _instance,
    "aws:rds/instance:Instance": _database,
    "aws:kms/key:Key": _monthly("KMS key", prices.KMS_KEY_MONTH),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _monthly(
        "composite alarm", prices.COMPOSITE_ALARM_MONTH
    ),
    "aws:cloudwatch/dashboard:Dashboard": _monthly("dashboard", prices.DASHBOARD_MONTH),
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:route53/zone:Zone": _monthly("hosted zone", prices.HOSTED_ZONE_MONTH),
    "aws:cloudtrail/trail:Trail": _monthly(
        "trail (the account's first copy of management events is free; a second stack's "
        "trail in the same account is billed per event)",
        prices.TRAIL_MONTH,
    ),
    "aws:cloudfront/distribution:Distribution": _monthly(
        "distribution (no base fee; usage excluded)", prices.CLOUDFRONT_MONTH
    ),
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:secretsmanager/secret:Secret": _monthly("secret", prices.SECRET_MONTH),
}


def estimate(resources: Iterable[Resource] | StackIndex) -> CostEstimate:
    """Price every resource the table knows; other types cost nothing by configuration."""
    index = resources if isinstance(resources, StackIndex) else StackIndex(resources)
    lines: list[CostLine] = []
    for resource in index.resources:
        pricer = PRICERS.get(resource.type)
        if pricer:
            lines += pricer(resource, index)
    return CostEstimate(tuple(lines))


def render(estimate_: CostEstimate) -> list[str]:
    """The human-readable cost section: per region, per component, then the total."""
    lines = [
        f"estimated monthly cost (USD; {ASSUMPTIONS}):",
    ]
    components = estimate_.by_component()
    items: dict[tuple[str, str], list[CostLine]] = defaultdict(list)
    for line in estimate_.lines:
        items[(line.region, line.component)].append(line)
    for region, region_total in estimate_.by_region().items():
        lines.append(f"  {region}: ${region_total:,.2f}")
        for (line_region, component), total in components.items():
            if line_region != region:
                continue
            lines.append(f"    {component}: ${total:,.2f}")
            lines += [_render_line(line) for line in _merged(items[(region, component)])]
    lines.append(f"  total: ${estimate_.total:,.2f} per month")
    if estimate_.unpriced:
        shown = ", ".join(sorted({f"{line.resource} ({line.item})" for line in estimate_.unpriced}))
        lines.append(f"  unpriced (no price in tap_tooling/prices.py): {shown}")
    lines.append("  excluded (usage-based): " + "; ".join(prices.EXCLUDED))
    return lines


def _merged(lines: list[CostLine]) -> list[tuple[str, int, float | None, float]]:
    """Identical items of one component as one row: (item, count, unit price, monthly)."""
    rows: dict[tuple[str, float | None], list[CostLine]] = defaultdict(list)
    for line in lines:
        rows[(line.item, line.unit_price)].append(line)
    return [
        (item, len(group), price, sum(g.monthly for g in group))
        for (item, price), group in sorted(rows.items(), key=lambda kv: kv[0][0])
    ]


def _render_line(row: tuple[str, int, float | None, float]) -> str:
    item, count, price, monthly = row
    cost = "unpriced" if price is None else f"${monthly:,.2f}"
    return f"      {count:3d} x {item}: {cost}"
