"""Estimated monthly cost of a planned stack, from its configuration and `tap_tooling.prices`.

Every charge the configuration fixes is priced: resource-hours (NAT gateways and instances,
load balancers, instances at the ASG's desired capacity, databases), public IPv4 addresses
(Elastic IPs, those of internet-facing load balancers, one per AZ, and of instances that get
one), provisioned storage and monthly fees (keys, secrets, alarms, dashboards, metrics with
a fixed number of series, zones, health checks, web ACLs and their rules). Usage (traffic,
requests, log volume) is listed in `prices.EXCLUDED`, never guessed. A resource whose size has
no price in the table (an instance type not listed) shows up as "unpriced" instead of stopping
the plan.

CloudWatch's always-free allowances (10 alarm metrics, 3 dashboards, 10 metrics per account)
are attributed to the stack: the first lines that draw on one, in region order, are free. That
assumes one stack per account (FREE_TIER_ATTRIBUTION says so with every estimate).

With the plan's network shape (regions, AZs, NAT strategy), the estimate also compares the
monthly NAT cost of every strategy for this stack (`nat_strategy_costs`), from the price table
alone: nothing is re-run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tap.config import NetworkConfig
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
    allowance: str = ""
    """The account-wide free allowance (a key of prices.FREE_TIER) the quantity draws on."""

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
            "free_tier_allowance": self.allowance or None,
        }


@dataclass(frozen=True)
class CostEstimate:
    """The priced lines of a stack, with totals per region and per component, and the NAT
    strategies compared when the plan's network shape was given."""

    lines: tuple[CostLine, ...]
    nat: NatComparison | None = None

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

    @property
    def regions_at_price_region_prices(self) -> list[str]:
        """The stack's regions other than prices.PRICE_REGION: priced at its prices."""
        return sorted(
            {line.region for line in self.lines} - {prices.PRICE_REGION, GLOBAL},
            key=_region_order,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "prices_as_of": prices.PRICES_AS_OF.isoformat(),
            "price_region": prices.PRICE_REGION,
            "other_regions": prices.OTHER_REGIONS,
            "regions_at_price_region_prices": self.regions_at_price_region_prices,
            "price_sources": dict(prices.PRICE_SOURCES),
            "assumptions": ASSUMPTIONS,
            "free_tier": {
                "allowances": dict(prices.FREE_TIER),
                "attribution": FREE_TIER_ATTRIBUTION,
            },
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
            "nat_strategies": self.nat.as_dict() if self.nat else None,
        }


GLOBAL = "global"
ASSUMPTIONS = (
    f"on-demand list prices of {prices.PRICE_REGION} as of {prices.PRICES_AS_OF.isoformat()}; "
    f"{prices.OTHER_REGIONS}; {prices.HOURS_PER_MONTH} hours a month; Linux; no discounts; "
    "first-year KMS key prices"
)
_FREE_TIER_WORTH = (
    prices.FREE_TIER["alarm metric"] * prices.ALARM_METRIC_MONTH
    + prices.FREE_TIER["dashboard"] * prices.DASHBOARD_MONTH
    + prices.FREE_TIER["metric"] * prices.METRIC_MONTH
)
FREE_TIER_ATTRIBUTION = (
    f"CloudWatch's free {prices.FREE_TIER['alarm metric']:g} alarm metrics, "
    f"{prices.FREE_TIER['dashboard']:g} dashboards and {prices.FREE_TIER['metric']:g} metrics "
    "of the account are "
    "counted as this stack's own (one stack per account), on its first alarms, dashboards and "
    "metrics in region order; stacks sharing an account share them, each further stack paying "
    f"up to ${_FREE_TIER_WORTH:,.2f} a month more"
)


def _region_order(region: str) -> tuple[bool, str]:
    return (region == GLOBAL, region)


Pricer = Callable[[Resource, StackIndex], list[CostLine]]


def _line(
    resource: Resource,
    item: str,
    quantity: float,
    unit: str,
    price: float | None,
    allowance: str = "",
) -> CostLine:
    return CostLine(
        region=location(resource),
        component=resource.component or "(top level)",
        resource=resource.name,
        item=item,
        quantity=quantity,
        unit=unit,
        unit_price=price,
        allowance=allowance,
    )


def _hourly(item: str, price: float) -> Pricer:
    """A resource billed by the hour while it exists."""
    return lambda r, _i: [_line(r, item, prices.HOURS_PER_MONTH, "hour", price)]


def _monthly(item: str, price: float, allowance: str = "") -> Pricer:
    """A resource with a flat monthly fee."""
    return lambda r, _i: [_line(r, item, 1, "month", price, allowance)]


def _public_ipv4(owner: Resource, item: str, addresses: float, known: bool = True) -> CostLine:
    """`addresses` public IPv4 addresses held all month (unpriced when not `known`)."""
    price = prices.PUBLIC_IPV4_HOUR if known else None
    return _line(owner, item, addresses * prices.HOURS_PER_MONTH, "address-hour", price)


def _load_balancer(resource: Resource, _i: StackIndex) -> list[CostLine]:
    props = resource.props
    kind = str(props.get("loadBalancerType") or "application")
    price = {"application": prices.ALB_HOUR, "network": prices.NLB_HOUR}.get(kind, prices.GWLB_HOUR)
    lines = [_line(resource, f"{kind} load balancer hours", prices.HOURS_PER_MONTH, "hour", price)]
    if kind in ("application", "network") and not is_true(props.get("internal")):
        # An internet-facing load balancer holds a public IPv4 address in each of its AZs
        # (more while it scales out: usage). Mappings to an Elastic IP are priced as the Eip.
        subnets = props.get("subnets")
        azs = len(subnets) if isinstance(subnets, list) else 0
        azs += sum(1 for m in blocks(props, "subnetMappings") if not m.get("allocationId"))
        item = f"public IPv4 addresses of the internet-facing {kind} LB, one per AZ"
        lines.append(_public_ipv4(resource, item, azs, known=azs > 0))
    return lines


def _launch_template_of(owner: Resource, index: StackIndex) -> Resource | None:
    templates = index.of("aws:ec2/launchTemplate:LaunchTemplate")
    for path in LAUNCH_TEMPLATE_PATHS:
        if get_path(owner.props, path) is None:
            continue
        for template in templates:
            if points_to(owner, path, template):
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


def _public_address(template: Resource) -> bool:
    """The template gives its primary interface a public IPv4 address."""
    return any(
        is_true(interface.get("associatePublicIpAddress"))
        for interface in blocks(template.props, "networkInterfaces")
        if as_number(interface.get("deviceIndex"), 0) == 0
    )


def _instance_extras(
    owner: Resource, count: float, public_address: bool, detailed_monitoring: bool
) -> list[CostLine]:
    """What `count` instances bill besides their hours and volumes."""
    lines = []
    if public_address:
        lines.append(
            _public_ipv4(owner, f"public IPv4 address of each of {count:g} instances", count)
        )
    if detailed_monitoring:
        lines.append(
            _line(
                owner,
                f"detailed monitoring metrics of {count:g} instances",
                count * prices.DETAILED_MONITORING_METRICS,
                "metric-month",
                prices.METRIC_MONTH,
                "metric",
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
    if template is None:
        return lines
    return [
        *lines,
        *_volumes(template, count, group),
        *_instance_extras(
            group,
            count,
            _public_address(template),
            is_true(get_path(template.props, "monitoring.enabled")),
        ),
    ]


def _instance(resource: Resource, index: StackIndex) -> list[CostLine]:
    """A lone instance: its own settings, else those of its launch template."""
    props = resource.props
    template = _launch_template_of(resource, index)
    own = template.props if template else {}
    instance_type = str(props.get("instanceType") or own.get("instanceType"))
    price = prices.EC2_HOUR.get(instance_type)
    lines = [_line(resource, f"EC2 {instance_type}", prices.HOURS_PER_MONTH, "hour", price)]
    root_size = as_number(get_path(props, "rootBlockDevice.volumeSize"))
    if root_size > 0:
        kind = str(get_path(props, "rootBlockDevice.volumeType") or "gp3")
        lines.append(
            _line(
                resource,
                f"EBS {kind} {root_size:g} GB root volume",
                root_size,
                "GB-month",
                prices.EBS_GB_MONTH.get(kind),
            )
        )
    elif template:
        lines += _volumes(template, 1, resource)
    public = is_true(props.get("associatePublicIpAddress")) or bool(
        template and _public_address(template)
    )
    monitored = is_true(props.get("monitoring")) or is_true(get_path(own, "monitoring.enabled"))
    return lines + _instance_extras(resource, 1, public, monitored)


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
    queries = blocks(alarm.props, "metricQueries")
    metrics = max(len([q for q in queries if q.get("metric")]), 1)
    high_resolution = 0 < as_number(alarm.props.get("period"), 60) < 60
    # The free alarm metrics are for standard-resolution alarms that list their metrics, not
    # those of a Metrics Insights query (CloudWatch pricing, free tier).
    insights = any("SELECT" in str(q.get("expression") or "").upper() for q in queries)
    price = (
        prices.ALARM_HIGH_RESOLUTION_METRIC_MONTH if high_resolution else prices.ALARM_METRIC_MONTH
    )
    allowance = "" if high_resolution or insights else "alarm metric"
    return [_line(alarm, "alarm metrics", metrics, "metric-month", price, allowance)]


def _metric_filter(metric_filter: Resource, _i: StackIndex) -> list[CostLine]:
    """A metric filter with a default value publishes its metric with every batch of log
    events (a match or not): a custom metric billed every month. Without one, the metric is
    published on a match only (usage)."""
    default = get_path(metric_filter.props, "metricTransformation.defaultValue")
    if default in (None, ""):
        return []
    return [
        _line(
            metric_filter,
            "custom metric of a metric filter with a default value",
            1,
            "metric-month",
            prices.METRIC_MONTH,
            "metric",
        )
    ]


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


def _acl_rules(acl: Resource) -> list[Mapping[str, Any]]:
    """The web ACL's rules, from `rules` blocks or the `ruleJson` document (WAF's own
    PascalCase keys)."""
    rules = list(blocks(acl.props, "rules"))
    if not rules and isinstance(acl.props.get("ruleJson"), str):
        try:
            parsed = json.loads(acl.props["ruleJson"])
        except ValueError:
            parsed = []
        rules = [r for r in parsed if isinstance(r, Mapping)] if isinstance(parsed, list) else []
    return rules


def _managed_group_name(rule: Mapping[str, Any]) -> str:
    for path in (
        "statement.managedRuleGroupStatement.name",
        "Statement.ManagedRuleGroupStatement.Name",
    ):
        name = get_path(rule, path)
        if name:
            return str(name)
    return ""


def _web_acl(acl: Resource, _i: StackIndex) -> list[CostLine]:
    rules = _acl_rules(acl)
    lines = [
        _line(acl, "web ACL", 1, "month", prices.WEB_ACL_MONTH),
        # Each rule, a managed rule group counting as one (WAF pricing).
        _line(acl, "web ACL rules", len(rules), "rule-month", prices.WEB_ACL_RULE_MONTH),
    ]
    for rule in rules:
        group = _managed_group_name(rule)
        if group in prices.MANAGED_RULE_GROUP_MONTH:
            lines.append(
                _line(
                    acl,
                    f"{group} subscription",
                    1,
                    "month",
                    prices.MANAGED_RULE_GROUP_MONTH[group],
                )
            )
    return lines


def _secret(secret: Resource, _i: StackIndex) -> list[CostLine]:
    """A secret, and each replica of it in another region (billed as a secret of its own)."""
    lines = [_line(secret, "secret", 1, "month", prices.SECRET_MONTH)]
    replicas = blocks(secret.props, "replicas")
    if replicas:
        lines.append(
            _line(secret, "secret replicas", len(replicas), "secret-month", prices.SECRET_MONTH)
        )
    return lines


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


_KMS_KEY = _monthly("KMS key", prices.KMS_KEY_MONTH)

PRICERS: Mapping[str, Pricer] = {
    "aws:ec2/natGateway:NatGateway": _hourly("NAT gateway hours", prices.NAT_GATEWAY_HOUR),
    "aws:ec2/eip:Eip": _hourly("public IPv4 address hours", prices.PUBLIC_IPV4_HOUR),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:autoscaling/group:Group": _autoscaling_group,
    "aws:ec2/instance:Instance": _instance,
    "aws:rds/instance:Instance": _database,
    # Every key, whatever its spec: the DNSSEC signing key (asymmetric) costs as much.
    "aws:kms/key:Key": _KMS_KEY,
    "aws:kms/replicaKey:ReplicaKey": _KMS_KEY,
    "aws:kms/externalKey:ExternalKey": _KMS_KEY,
    "aws:kms/replicaExternalKey:ReplicaExternalKey": _KMS_KEY,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _monthly(
        "composite alarm", prices.COMPOSITE_ALARM_MONTH
    ),
    "aws:cloudwatch/dashboard:Dashboard": _monthly(
        "dashboard", prices.DASHBOARD_MONTH, "dashboard"
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": _metric_filter,
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
    "aws:secretsmanager/secret:Secret": _secret,
}


def _with_free_tier(lines: Sequence[CostLine]) -> list[CostLine]:
    """The first units that draw on each CloudWatch free allowance cost nothing, taken in
    region, component and resource order (stable whatever order the engine registered them
    in); a line straddling the end of an allowance is split."""
    left = dict(prices.FREE_TIER)
    free: dict[int, float] = {}
    order = sorted(
        range(len(lines)),
        key=lambda i: (_region_order(lines[i].region), lines[i].component, lines[i].resource),
    )
    for i in order:
        line = lines[i]
        room = left.get(line.allowance, 0)
        if room > 0 and line.unit_price and line.quantity > 0:
            free[i] = min(room, line.quantity)
            left[line.allowance] = room - free[i]
    result: list[CostLine] = []
    for i, line in enumerate(lines):
        if i not in free:
            result.append(line)
            continue
        item = f"{line.item} (account free tier)"
        result.append(replace(line, item=item, quantity=free[i], unit_price=0.0))
        if line.quantity > free[i]:
            result.append(replace(line, quantity=line.quantity - free[i]))
    return result


def estimate(
    resources: Iterable[Resource] | StackIndex, network: NetworkShape | None = None
) -> CostEstimate:
    """Price every resource the table knows; other types cost nothing by configuration.
    With the plan's `network` shape, compare the NAT strategies for it too."""
    index = resources if isinstance(resources, StackIndex) else StackIndex(resources)
    lines: list[CostLine] = []
    for resource in index.resources:
        pricer = PRICERS.get(resource.type)
        if pricer:
            lines += pricer(resource, index)
    nat = None
    if network is not None:
        nat = nat_strategy_costs(
            network.regions, network.az_count, network.nat_strategy, nat_instance_type(index)
        )
    return CostEstimate(tuple(_with_free_tier(lines)), nat)


# ---------------------------------------------------------------------------------------------
# What each NAT strategy would cost this stack

NAT_STRATEGIES = ("one_per_az", "single", "instance", "none")
"""tap:network.nat_strategy values, in the order the comparison lists them."""
NAT_INSTANCE_TYPE_TOKEN = "tap:nat_instance:NatInstance"
DEFAULT_NAT_INSTANCE_TYPE: str = NetworkConfig.model_fields["nat_instance_type"].default
NAT_INSTANCE_ROOT_GB = 8
"""components.nat_instance.ROOT_VOLUME_GB (a test keeps them equal)."""
NO_NAT_ENDPOINT_SERVICES = 6
"""len(components.network.NO_NAT_INTERFACE_ENDPOINTS): the interface endpoints a region
without NAT gets in each AZ instead (a test keeps them equal)."""


@dataclass(frozen=True)
class NetworkShape:
    """What the NAT comparison takes from the plan (its deployment summary)."""

    regions: Sequence[str]
    az_count: int
    nat_strategy: str


@dataclass(frozen=True)
class NatOption:
    """One strategy's fixed monthly cost in each region (None: its instance type is not in
    the price table), and what that buys."""

    strategy: str
    per_region: float | None
    regions: int
    what: str

    @property
    def monthly(self) -> float | None:
        return None if self.per_region is None else self.per_region * self.regions


@dataclass(frozen=True)
class NatComparison:
    """The monthly NAT cost of every strategy for one stack's regions and AZs."""

    shape: NetworkShape
    instance_type: str
    options: tuple[NatOption, ...]

    def option(self, strategy: str) -> NatOption:
        return next(o for o in self.options if o.strategy == strategy)

    @property
    def configured(self) -> NatOption:
        return self.option(self.shape.nat_strategy)

    def saving(self, strategy: str) -> float | None:
        """What `strategy` saves a month against the configured one (negative: costs more)."""
        mine, configured = self.option(strategy).monthly, self.configured.monthly
        return None if mine is None or configured is None else configured - mine

    def as_dict(self) -> dict[str, Any]:
        def money(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {
            "configured": self.shape.nat_strategy,
            "regions": list(self.shape.regions),
            "az_count": self.shape.az_count,
            "nat_instance_type": self.instance_type,
            "strategies": [
                {
                    "strategy": o.strategy,
                    "per_region": money(o.per_region),
                    "monthly": money(o.monthly),
                    "saving_vs_configured": money(self.saving(o.strategy)),
                    "what": o.what,
                }
                for o in self.options
            ],
            "excluded": NAT_EXCLUDED,
        }


NAT_EXCLUDED = (
    "data processing ($0.045/GB through a NAT gateway, none through an instance) and "
    "cross-AZ transfer to a single NAT"
)


def _nat_per_region(strategy: str, az_count: int, instance_type: str) -> tuple[float | None, str]:
    hours = prices.HOURS_PER_MONTH
    gateway = (prices.NAT_GATEWAY_HOUR + prices.PUBLIC_IPV4_HOUR) * hours
    if strategy == "one_per_az":
        return az_count * gateway, f"{az_count} NAT gateways, each with an Elastic IP"
    if strategy == "single":
        return gateway, "1 NAT gateway with an Elastic IP, in one AZ"
    if strategy == "instance":
        what = (
            f"1 {instance_type} NAT instance with a public IPv4 address and "
            f"{NAT_INSTANCE_ROOT_GB} GB gp3, in one AZ"
        )
        hourly = prices.EC2_HOUR.get(instance_type)
        if hourly is None:
            return None, what
        storage = NAT_INSTANCE_ROOT_GB * prices.EBS_GB_MONTH["gp3"]
        return (hourly + prices.PUBLIC_IPV4_HOUR) * hours + storage, what
    if strategy == "none":
        endpoints = NO_NAT_ENDPOINT_SERVICES * az_count
        return (
            endpoints * prices.INTERFACE_ENDPOINT_AZ_HOUR * hours,
            f"{NO_NAT_ENDPOINT_SERVICES} interface endpoints in each of {az_count} AZs; "
            "no internet egress",
        )
    raise ValueError(f"unknown NAT strategy {strategy!r}; one of {', '.join(NAT_STRATEGIES)}")


def nat_strategy_costs(
    regions: Sequence[str],
    az_count: int,
    configured: str,
    instance_type: str | None = None,
) -> NatComparison:
    """The fixed monthly NAT cost of each strategy for `regions` with `az_count` AZs each, and
    what each saves against the `configured` one. `instance_type`: the NAT instance's (the
    config default when None)."""
    if configured not in NAT_STRATEGIES:
        raise ValueError(f"unknown NAT strategy {configured!r}; one of {', '.join(NAT_STRATEGIES)}")
    chosen = instance_type or DEFAULT_NAT_INSTANCE_TYPE
    shape = NetworkShape(regions, az_count, configured)
    options = []
    for strategy in NAT_STRATEGIES:
        per_region, what = _nat_per_region(strategy, shape.az_count, chosen)
        options.append(NatOption(strategy, per_region, len(shape.regions), what))
    return NatComparison(shape, chosen, tuple(options))


def nat_instance_type(index: StackIndex) -> str | None:
    """The instance type of the plan's NAT instances (their launch template), or None."""
    for template in index.of("aws:ec2/launchTemplate:LaunchTemplate"):
        if f"{NAT_INSTANCE_TYPE_TOKEN}$" in template.urn and template.props.get("instanceType"):
            return str(template.props["instanceType"])
    return None


# ---------------------------------------------------------------------------------------------
# Human output


def render(estimate_: CostEstimate) -> list[str]:
    """The human-readable cost section: per region, per component, then the total."""
    elsewhere = estimate_.regions_at_price_region_prices
    lines = [
        f"estimated monthly cost (USD; {ASSUMPTIONS}):",
    ]
    if elsewhere:
        lines.append(
            f"  priced at {prices.PRICE_REGION} list prices although elsewhere: "
            f"{', '.join(elsewhere)} (actual prices differ by region)"
        )
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
    lines.append(f"  free tier: {FREE_TIER_ATTRIBUTION}")
    lines.append("  excluded (usage-based): " + "; ".join(prices.EXCLUDED))
    if estimate_.nat is not None:
        lines += render_nat_strategies(estimate_.nat)
    return lines


def render_nat_strategies(comparison: NatComparison) -> list[str]:
    """One line per NAT strategy: its monthly cost for the stack, and the saving against the
    configured one."""
    shape = comparison.shape
    lines = [
        f"  NAT strategies for this stack ({len(shape.regions)} regions x {shape.az_count} AZs; "
        f"configured: {shape.nat_strategy}; excluding {NAT_EXCLUDED}):"
    ]
    width = max(len(s) for s in NAT_STRATEGIES)
    for option in comparison.options:
        monthly, saving = option.monthly, comparison.saving(option.strategy)
        if option.strategy == shape.nat_strategy:
            verdict = "configured"
        elif saving is None:
            verdict = "unpriced"
        elif saving >= 0:
            verdict = f"saves ${saving:,.2f}"
        else:
            verdict = f"costs ${-saving:,.2f} more"
        cost = "unpriced" if monthly is None else f"${monthly:,.2f}"
        per_region = "unpriced" if option.per_region is None else f"${option.per_region:,.2f}"
        lines.append(
            f"    {option.strategy:<{width}}  {cost:>10}  {verdict:<24}"
            f"{per_region} a region: {option.what}"
        )
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
