"""tap_tooling/cost.py: monthly estimates against totals computed by hand from the price table."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tap_tooling import cost, prices
from tap_tooling.graph import Resource, StackIndex
from tap_tooling.plan import judge
from tests.conftest import planned, stack_config

H = 730  # hours in a month, as AWS's calculator counts
PRICING_PAGE = r"https://aws\.amazon\.com/[a-z0-9-]+(/[a-z0-9-]+)?/pricing/(on-demand/)?"


def res(
    type_: str, name: str, region: str = "us-east-1", component: str = "App a", **props: Any
) -> Resource:
    return Resource(
        type_,
        name,
        props,
        urn=f"urn:{name}",
        region=region,
        component=component,
        handles=frozenset({f"{name}-id", f"arn:{name}"}),
    )


def synthetic_stack() -> list[Resource]:
    template = res(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "lt",
        instanceType="t3.small",
        blockDeviceMappings=[{"ebs": {"volumeSize": 20.0, "volumeType": "gp3"}}],
    )
    return [
        res("aws:ec2/natGateway:NatGateway", "nat"),
        res("aws:ec2/eip:Eip", "eip"),
        res("aws:kms/key:Key", "key", component="RegionKey k"),
        res(
            "aws:lb/loadBalancer:LoadBalancer",
            "alb",
            loadBalancerType="application",
            subnets=["subnet-a", "subnet-b"],
        ),
        template,
        res(
            "aws:autoscaling/group:Group",
            "asg",
            desiredCapacity=3.0,
            minSize=2.0,
            launchTemplate={"id": "lt-id"},
        ),
        res(
            "aws:rds/instance:Instance",
            "db",
            component="Database d",
            engine="postgres",
            instanceClass="db.t3.medium",
            multiAz=True,
            allocatedStorage=100.0,
            storageType="gp3",
        ),
        res(
            "aws:rds/instance:Instance",
            "replica",
            region="us-west-2",
            component="Database r",
            instanceClass="db.t3.medium",
            replicateSourceDb="arn:db",
        ),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "cpu", component="Monitoring m"),
        res("aws:cloudwatch/metricAlarm:MetricAlarm", "db-cpu", component="Monitoring m"),
        res(
            "aws:route53/healthCheck:HealthCheck",
            "hc",
            component="Failover f",
            type="HTTPS",
            requestInterval=10.0,
        ),
        res("aws:route53/zone:Zone", "zone", component="Dns z"),
        res(
            "aws:wafv2/webAcl:WebAcl",
            "waf",
            component="Edge e",
            scope="CLOUDFRONT",
            rules=[{"name": "a"}, {"name": "b"}, {"name": "c"}],
        ),
        res("aws:cloudtrail/trail:Trail", "trail", component="Audit t"),
        res("aws:cloudfront/distribution:Distribution", "cdn", component="Edge e"),
        res("aws:ec2/vpc:Vpc", "vpc"),  # free: no line at all
    ]


def test_synthetic_stack_matches_hand_computed_total() -> None:
    estimate = cost.estimate(synthetic_stack())
    us_east_1 = (
        H * 0.045  # NAT gateway
        + H * 0.005  # its public IPv4 address
        + 1.00  # KMS key
        + H * 0.0225  # ALB hours
        + 2 * H * 0.005  # the internet-facing ALB's public IPv4 address in each of its 2 AZs
        + 3 * H * 0.0208  # 3 x t3.small at desired capacity
        + 3 * 20 * 0.08  # their 20 GB gp3 root volumes
        + 2 * H * 0.072  # db.t3.medium postgres, Multi-AZ: two instances
        + 2 * 100 * 0.115  # 100 GB gp3, Multi-AZ: two copies
        + 2 * 0.00  # two alarms, within the account's free 10
        + 0.00  # trail: first copy of management events is free
    )
    us_west_2 = H * 0.072 + 100 * 0.115  # replica: same class, storage inherited, Single-AZ
    global_ = (
        0.50 + 2 * 1.00  # HTTPS health check with fast interval: two optional features
        + 0.50  # hosted zone
        + 5.00 + 3 * 1.00  # web ACL and its three rules
        + 0.00  # CloudFront: no base fee
    )  # fmt: skip
    assert estimate.by_region() == pytest.approx(
        {"us-east-1": us_east_1, "us-west-2": us_west_2, "global": global_}
    )
    assert list(estimate.by_region()) == ["us-east-1", "us-west-2", "global"]
    assert estimate.total == pytest.approx(us_east_1 + us_west_2 + global_)
    assert estimate.unpriced == []


def test_per_component_totals() -> None:
    components = cost.estimate(synthetic_stack()).by_component()
    assert components[("us-east-1", "Database d")] == pytest.approx(2 * H * 0.072 + 2 * 100 * 0.115)
    assert components[("us-east-1", "RegionKey k")] == pytest.approx(1.00)
    assert components[("global", "Edge e")] == pytest.approx(5.00 + 3 * 1.00)
    assert components[("us-east-1", "App a")] == pytest.approx(
        H * 0.045 + H * 0.005 + H * 0.0225 + 2 * H * 0.005 + 3 * H * 0.0208 + 3 * 20 * 0.08
    )
    assert sum(components.values()) == pytest.approx(cost.estimate(synthetic_stack()).total)


def test_unknown_instance_type_is_unpriced_not_a_crash() -> None:
    stack = [
        res("aws:ec2/launchTemplate:LaunchTemplate", "lt", instanceType="x9.enormous"),
        res(
            "aws:autoscaling/group:Group",
            "asg",
            desiredCapacity=2.0,
            launchTemplate={"id": "lt-id"},
        ),
        res("aws:rds/instance:Instance", "db", engine="oracle-ee", instanceClass="db.x2.huge"),
    ]
    estimate = cost.estimate(stack)
    assert [line.resource for line in estimate.unpriced] == [
        "asg",
        "db",
    ]  # the DB's storage has a price
    assert estimate.total == 0
    rendered = "\n".join(cost.render(estimate))
    assert (
        "unpriced (no price in tap_tooling/prices.py): asg (EC2 x9.enormous at desired capacity 2"
        in rendered
    )


def test_managed_master_password_and_interface_endpoints_are_priced() -> None:
    stack = [
        res(
            "aws:rds/instance:Instance",
            "db",
            engine="mysql",
            instanceClass="db.t3.micro",
            allocatedStorage=20.0,
            manageMasterUserPassword=True,
        ),
        res(
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "ssm",
            vpcEndpointType="Interface",
            subnetIds=["a", "b"],
        ),
        res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", vpcEndpointType="Gateway"),
    ]
    expected = H * 0.017 + 20 * 0.115 + 0.40 + 2 * H * 0.01  # gp2 is RDS's default storage
    assert cost.estimate(stack).total == pytest.approx(expected)


def with_nat(stack: str, strategy: str) -> dict[str, Any]:
    """A shipped stack's config with another NAT strategy."""
    config = stack_config(stack)
    config["network"] = {**config["network"], "nat_strategy": strategy}
    return config


def test_dev_stack_network_and_keys_cost_as_computed_by_hand() -> None:
    estimate = judge(planned("dev", with_nat("dev", "single"))).estimate
    components = estimate.by_component()
    for region in ("us-east-1", "us-west-2"):
        # nat_strategy single: one NAT gateway and one Elastic IP per region.
        network = components[(region, f"Network {region}-network")]
        assert network == pytest.approx(1 * H * 0.045 + 1 * H * 0.005)
        assert components[(region, f"RegionKey {region}-key")] == pytest.approx(1 * 1.00)
    network_and_keys = sum(
        v
        for (_, component), v in components.items()
        if component.startswith(("Network", "RegionKey"))
    )
    assert network_and_keys == pytest.approx(2 * (H * 0.045 + H * 0.005 + 1.00))  # $75.00


def test_prod_pays_for_a_nat_gateway_per_az() -> None:
    components = judge(planned("prod")).estimate.by_component()
    network = components[("us-east-1", "Network us-east-1-network")]
    assert network == pytest.approx(3 * H * 0.045 + 3 * H * 0.005)


def test_estimate_states_its_date_region_and_exclusions() -> None:
    as_dict = cost.estimate(synthetic_stack()).as_dict()
    assert as_dict["prices_as_of"] == prices.PRICES_AS_OF.isoformat()
    assert as_dict["price_region"] == "us-east-1"
    assert any("NAT gateway data processing" in e for e in as_dict["excluded"])
    assert as_dict["total_monthly"] == round(cost.estimate(synthetic_stack()).total, 2)
    rendered = "\n".join(cost.render(cost.estimate(synthetic_stack())))
    assert "as of 2025-06-01" in rendered and "excluded (usage-based)" in rendered


# ---------------------------------------------------------------------------------------------
# What prices it assumes, and where they come from


def test_the_price_assumed_for_other_regions_is_stated_in_text_and_json() -> None:
    estimate = cost.estimate(synthetic_stack())  # us-east-1, us-west-2 and global lines
    as_dict = estimate.as_dict()
    assert as_dict["other_regions"] == "us-east-1 prices applied to every other region"
    assert as_dict["regions_at_price_region_prices"] == ["us-west-2"]
    assert "us-east-1 prices applied to every other region" in as_dict["assumptions"]
    rendered = cost.render(estimate)
    assert "us-east-1 prices applied to every other region" in rendered[0]
    assert rendered[1] == (
        "  priced at us-east-1 list prices although elsewhere: us-west-2 "
        "(actual prices differ by region)"
    )
    # A stack of us-east-1 alone has nothing priced elsewhere, and says nothing more.
    alone = cost.estimate([res("aws:kms/key:Key", "k")])
    assert alone.regions_at_price_region_prices == []
    assert "although elsewhere" not in "\n".join(cost.render(alone))


def test_every_price_names_the_aws_page_it_comes_from() -> None:
    assert prices.PRICE_SOURCES
    for page in prices.PRICE_SOURCES.values():
        assert re.fullmatch(PRICING_PAGE, page), page
    assert cost.estimate([]).as_dict()["price_sources"] == prices.PRICE_SOURCES


def test_the_albs_public_addresses_are_no_longer_excluded() -> None:
    assert not any("ALB's own public IPv4" in e for e in prices.EXCLUDED)
    assert any("beyond one per AZ" in e for e in prices.EXCLUDED)


# ---------------------------------------------------------------------------------------------
# Each fixed charge, with the right quantity


def lines_of(estimate: cost.CostEstimate, resource: str) -> dict[str, cost.CostLine]:
    return {line.item: line for line in estimate.lines if line.resource == resource}


def test_an_internet_facing_load_balancer_pays_a_public_address_per_az() -> None:
    stack = [
        res("aws:lb/loadBalancer:LoadBalancer", "alb", subnets=["a", "b", "c"], internal=False),
        res("aws:lb/loadBalancer:LoadBalancer", "inner", subnets=["a", "b"], internal=True),
        res(
            "aws:lb/loadBalancer:LoadBalancer",
            "nlb",
            loadBalancerType="network",
            # One mapping brings its own Elastic IP: priced as that Eip resource.
            subnetMappings=[{"subnetId": "a"}, {"subnetId": "b", "allocationId": "eipalloc-1"}],
        ),
        res("aws:lb/loadBalancer:LoadBalancer", "unknown", subnets=None),
    ]
    estimate = cost.estimate(stack)
    addresses = "public IPv4 addresses of the internet-facing {} LB, one per AZ"
    alb = lines_of(estimate, "alb")[addresses.format("application")]
    assert (alb.quantity, alb.unit_price, alb.monthly) == (3 * H, 0.005, pytest.approx(10.95))
    assert not any("IPv4" in item for item in lines_of(estimate, "inner"))
    assert lines_of(estimate, "nlb")[addresses.format("network")].quantity == 1 * H
    # Subnets not known: the addresses are unpriced, not guessed.
    assert lines_of(estimate, "unknown")[addresses.format("application")].unit_price is None


@pytest.mark.parametrize(("stack", "azs"), [("dev", 2), ("staging", 3), ("prod", 3)])
def test_each_stacks_albs_pay_one_public_address_per_az(stack: str, azs: int) -> None:
    report = judge(planned(stack))
    albs = report.index.of("aws:lb/loadBalancer:LoadBalancer")
    assert len(albs) == 2
    for alb in albs:
        (line,) = [
            line
            for line in report.estimate.lines
            if line.resource == alb.name and line.item.startswith("public IPv4 addresses")
        ]
        assert line.quantity == azs * H and line.monthly == pytest.approx(azs * 3.65)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_key_secret_and_elastic_ip_of_a_stack_is_counted(stack: str) -> None:
    report = judge(planned(stack))
    fees = {"aws:kms/key:Key": 1.00, "aws:secretsmanager/secret:Secret": 0.40}
    fees["aws:ec2/eip:Eip"] = H * 0.005
    for type_, fee in fees.items():
        found = {r.name for r in report.index.of(type_)}
        lines = [line for line in report.estimate.lines if line.resource in found]
        assert len(lines) == len(found), type_  # one line each, none forgotten
        assert sum(line.monthly for line in lines) == pytest.approx(fee * len(found)), type_
    assert len(report.index.of("aws:kms/key:Key")) >= 2


def test_every_kind_of_kms_key_costs_a_dollar_a_month() -> None:
    stack = [
        res("aws:kms/key:Key", "data"),
        # Route53 DNSSEC signing: an asymmetric ECC_NIST_P256 key in us-east-1.
        res(
            "aws:kms/key:Key",
            "dnssec",
            customerMasterKeySpec="ECC_NIST_P256",
            keyUsage="SIGN_VERIFY",
        ),
        res("aws:kms/replicaKey:ReplicaKey", "replica", region="us-west-2"),
        res("aws:kms/externalKey:ExternalKey", "byok"),
    ]
    estimate = cost.estimate(stack)
    assert [line.item for line in estimate.lines] == ["KMS key"] * 4
    assert estimate.total == pytest.approx(4 * 1.00)


def test_secrets_and_their_replicas_are_counted() -> None:
    stack = [
        res("aws:secretsmanager/secret:Secret", "plain"),
        res(
            "aws:secretsmanager/secret:Secret",
            "replicated",
            replicas=[{"region": "us-west-2"}, {"region": "eu-west-1"}],
        ),
    ]
    estimate = cost.estimate(stack)
    assert estimate.total == pytest.approx(0.40 + 0.40 + 2 * 0.40)
    assert lines_of(estimate, "replicated")["secret replicas"].quantity == 2


def nat_instance_group(**template_props: Any) -> list[Resource]:
    return [
        res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            "nat-lt",
            component="Network n",
            instanceType="t4g.nano",
            networkInterfaces=[{"deviceIndex": 0, "associatePublicIpAddress": "true"}],
            blockDeviceMappings=[{"ebs": {"volumeSize": 8.0, "volumeType": "gp3"}}],
            **template_props,
        ),
        res(
            "aws:autoscaling/group:Group",
            "nat-asg",
            component="Network n",
            minSize=1.0,
            maxSize=1.0,
            desiredCapacity=1.0,
            launchTemplate={"id": "nat-lt-id"},
        ),
    ]


def test_a_nat_instance_pays_its_hours_volume_and_public_address() -> None:
    estimate = cost.estimate(nat_instance_group())
    lines = lines_of(estimate, "nat-asg")
    assert lines["EC2 t4g.nano at desired capacity 1"].monthly == pytest.approx(H * 0.0042)
    assert lines["EBS gp3 8 GB on each of 1 instances"].monthly == pytest.approx(8 * 0.08)
    address = lines["public IPv4 address of each of 1 instances"]
    assert (address.quantity, address.unit_price) == (H, 0.005)
    assert estimate.total == pytest.approx(H * (0.0042 + 0.005) + 8 * 0.08)  # $7.36


def test_detailed_monitoring_bills_seven_metrics_an_instance_beyond_the_free_ten() -> None:
    stack = [
        res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            "lt",
            instanceType="t3.micro",
            monitoring={"enabled": True},
        ),
        res(
            "aws:autoscaling/group:Group",
            "asg",
            desiredCapacity=3.0,
            launchTemplate={"id": "lt-id"},
        ),
    ]
    estimate = cost.estimate(stack)
    metrics = [line for line in estimate.lines if line.item.startswith("detailed monitoring")]
    assert sum(line.quantity for line in metrics) == 3 * 7
    # 21 metrics: the account's free 10, then 11 at $0.30.
    assert sum(line.monthly for line in metrics) == pytest.approx(11 * 0.30)


def test_a_lone_instance_takes_type_volume_and_address_from_its_template() -> None:
    stack = [
        res(
            "aws:ec2/launchTemplate:LaunchTemplate",
            "bastion-lt",
            instanceType="t4g.micro",
            networkInterfaces=[{"deviceIndex": 0, "associatePublicIpAddress": "true"}],
            blockDeviceMappings=[{"ebs": {"volumeSize": 10.0, "volumeType": "gp3"}}],
        ),
        res("aws:ec2/instance:Instance", "bastion", launchTemplate={"id": "bastion-lt-id"}),
    ]
    estimate = cost.estimate(stack)
    assert estimate.unpriced == []
    assert estimate.total == pytest.approx(H * 0.0084 + 10 * 0.08 + H * 0.005)


def test_metric_filters_with_a_default_value_are_a_custom_metric_each() -> None:
    def metric_filter(name: str, **transformation: Any) -> Resource:
        return res(
            "aws:cloudwatch/logMetricFilter:LogMetricFilter",
            name,
            metricTransformation={"name": name, "namespace": "CIS", "value": "1", **transformation},
        )

    published = [metric_filter(f"cis-{i}", defaultValue="0") for i in range(12)]
    on_match_only = metric_filter("rare")
    estimate = cost.estimate([*published, on_match_only])
    assert not lines_of(estimate, "rare")
    assert sum(line.quantity for line in estimate.lines) == 12
    assert estimate.total == pytest.approx(2 * 0.30)  # 10 free, 2 at $0.30


def test_web_acl_rules_count_managed_groups_and_their_subscriptions() -> None:
    def managed(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "statement": {"managedRuleGroupStatement": {"name": name, "vendorName": "AWS"}},
        }

    acl = res(
        "aws:wafv2/webAcl:WebAcl",
        "waf",
        scope="CLOUDFRONT",
        rules=[
            managed("AWSManagedRulesCommonRuleSet"),
            managed("AWSManagedRulesKnownBadInputsRuleSet"),
            {"name": "rate", "statement": {"rateBasedStatement": {"limit": 2000}}},
            managed("AWSManagedRulesBotControlRuleSet"),
        ],
    )
    lines = lines_of(cost.estimate([acl]), "waf")
    assert lines["web ACL"].monthly == 5.00
    assert lines["web ACL rules"].quantity == 4 and lines["web ACL rules"].monthly == 4.00
    assert lines["AWSManagedRulesBotControlRuleSet subscription"].monthly == 10.00
    assert len(lines) == 3  # the baseline groups carry no subscription


def test_web_acl_rules_in_rule_json_are_counted_too() -> None:
    rule_json = json.dumps(
        [
            {
                "Name": "common",
                "Statement": {"ManagedRuleGroupStatement": {"Name": "AWSManagedRulesATPRuleSet"}},
            },
            {"Name": "rate", "Statement": {"RateBasedStatement": {"Limit": 2000}}},
        ]
    )
    acl = res("aws:wafv2/webAcl:WebAcl", "waf", scope="REGIONAL", ruleJson=rule_json)
    estimate = cost.estimate([acl])
    assert estimate.total == pytest.approx(5.00 + 2 * 1.00 + 10.00)


# ---------------------------------------------------------------------------------------------
# The account's CloudWatch free tier, attributed to the stack


def alarm(name: str, region: str = "us-east-1", **props: Any) -> Resource:
    return res("aws:cloudwatch/metricAlarm:MetricAlarm", name, region=region, **props)


def test_alarms_beyond_the_free_ten_are_paid_and_high_resolution_never_free() -> None:
    stack = [alarm(f"a{i:02d}") for i in range(12)]
    stack.append(alarm("fast", period=10.0))
    estimate = cost.estimate(stack)
    assert estimate.total == pytest.approx(2 * 0.10 + 0.30)
    free = [line for line in estimate.lines if line.item.endswith("(account free tier)")]
    assert sum(line.quantity for line in free) == 10 and all(line.monthly == 0 for line in free)
    assert lines_of(estimate, "fast")["alarm metrics"].unit_price == 0.30


def test_the_free_tier_goes_to_the_first_region_whatever_the_plan_order() -> None:
    west = [alarm(f"w{i}", "us-west-2") for i in range(6)]
    east = [alarm(f"e{i}", "us-east-1") for i in range(6)]
    for stack in (west + east, east + west):
        by_region = cost.estimate(stack).by_region()
        assert by_region == pytest.approx({"us-east-1": 0.0, "us-west-2": 2 * 0.10})


def test_a_line_straddling_the_end_of_an_allowance_is_split() -> None:
    nine = [alarm(f"a{i}") for i in range(9)]
    three_metrics = alarm(
        "math", metricQueries=[{"id": f"m{i}", "metric": {"metricName": "x"}} for i in range(3)]
    )
    estimate = cost.estimate([*nine, three_metrics])
    split = [line for line in estimate.lines if line.resource == "math"]
    assert [(line.quantity, line.unit_price) for line in split] == [(1, 0.0), (2, 0.10)]
    assert estimate.total == pytest.approx(2 * 0.10)


def test_three_dashboards_are_free_the_fourth_is_not() -> None:
    stack = [res("aws:cloudwatch/dashboard:Dashboard", f"d{i}") for i in range(4)]
    assert cost.estimate(stack).total == pytest.approx(3.00)


def test_the_free_tier_attribution_is_stated() -> None:
    as_dict = cost.estimate([]).as_dict()
    assert as_dict["free_tier"]["allowances"] == {"alarm metric": 10, "dashboard": 3, "metric": 10}
    assert "one stack per account" in as_dict["free_tier"]["attribution"]
    assert "up to $13.00 a month more" in as_dict["free_tier"]["attribution"]  # 1 + 9 + 3
    assert any(
        line.startswith("  free tier: CloudWatch") for line in cost.render(cost.estimate([]))
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_stacks_alarms_pay_for_all_but_ten_metrics(stack: str) -> None:
    estimate = judge(planned(stack)).estimate
    alarms = [line for line in estimate.lines if line.item.startswith("alarm metrics")]
    metrics = sum(line.quantity for line in alarms)
    assert metrics > 10
    assert sum(line.monthly for line in alarms) == pytest.approx((metrics - 10) * 0.10)


# ---------------------------------------------------------------------------------------------
# The NAT strategies compared


def test_nat_strategy_table_for_two_regions_of_two_azs() -> None:
    comparison = cost.nat_strategy_costs(["us-east-1", "us-west-2"], 2, "single")
    gateway = H * (0.045 + 0.005)  # $36.50: the gateway and its Elastic IP
    instance = H * (0.0042 + 0.005) + 8 * 0.08  # t4g.nano, its public address, 8 GB gp3
    endpoints = 6 * 2 * H * 0.01  # six interface endpoints in each AZ
    expected = {
        "one_per_az": 2 * 2 * gateway,
        "single": 2 * gateway,
        "instance": 2 * instance,
        "none": 2 * endpoints,
    }
    assert {o.strategy: o.monthly for o in comparison.options} == pytest.approx(expected)
    assert comparison.option("instance").monthly == pytest.approx(14.71, abs=0.01)
    assert comparison.saving("instance") == pytest.approx(2 * gateway - 2 * instance)  # $58.29
    assert comparison.saving("single") == 0
    assert comparison.saving("one_per_az") == pytest.approx(-2 * gateway)
    assert comparison.instance_type == "t4g.nano"


def test_nat_strategy_table_follows_az_count_and_the_configured_strategy() -> None:
    comparison = cost.nat_strategy_costs(["us-east-1", "us-west-2"], 3, "one_per_az", "t4g.micro")
    assert comparison.option("one_per_az").per_region == pytest.approx(3 * H * 0.05)
    assert comparison.option("none").per_region == pytest.approx(6 * 3 * H * 0.01)
    instance = H * (0.0084 + 0.005) + 8 * 0.08
    assert comparison.saving("instance") == pytest.approx(2 * (3 * H * 0.05 - instance))
    as_dict = comparison.as_dict()
    assert as_dict["configured"] == "one_per_az" and as_dict["az_count"] == 3
    (row,) = [r for r in as_dict["strategies"] if r["strategy"] == "single"]
    assert row == {
        "strategy": "single",
        "per_region": 36.5,
        "monthly": 73.0,
        "saving_vs_configured": 146.0,
        "what": "1 NAT gateway with an Elastic IP, in one AZ",
    }


def test_an_unpriced_nat_instance_type_says_so_and_a_bad_strategy_is_refused() -> None:
    comparison = cost.nat_strategy_costs(["eu-west-1"], 2, "instance", "x9g.enormous")
    assert comparison.option("instance").monthly is None
    assert comparison.saving("single") is None
    rendered = "\n".join(cost.render_nat_strategies(comparison))
    assert "unpriced" in rendered
    with pytest.raises(ValueError, match="unknown NAT strategy 'cheap'"):
        cost.nat_strategy_costs(["eu-west-1"], 2, "cheap")


def test_the_nat_table_is_rendered_and_in_the_json() -> None:
    shape = cost.NetworkShape(("us-east-1", "us-west-2"), 2, "single")
    estimate = cost.estimate(synthetic_stack(), shape)
    assert estimate.nat is not None
    table = estimate.as_dict()["nat_strategies"]
    assert [r["strategy"] for r in table["strategies"]] == list(cost.NAT_STRATEGIES)
    rendered = cost.render(estimate)
    start = rendered.index(next(line for line in rendered if "NAT strategies" in line))
    assert rendered[start] == (
        "  NAT strategies for this stack (2 regions x 2 AZs; configured: single; excluding "
        f"{cost.NAT_EXCLUDED}):"
    )
    assert rendered[start + 2].split()[:4] == ["single", "$73.00", "configured", "$36.50"]
    assert rendered[start + 3].split()[:4] == ["instance", "$14.71", "saves", "$58.29"]
    assert rendered[start + 1].split()[:5] == ["one_per_az", "$146.00", "costs", "$73.00", "more"]
    # Without the plan's network shape there is no table.
    assert cost.estimate(synthetic_stack()).as_dict()["nat_strategies"] is None


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_configured_strategy_costs_what_the_estimate_charges_the_network(stack: str) -> None:
    """The table's figure for the stack's own strategy is what its networks are charged."""
    report = judge(planned(stack))
    summary = report.summary
    comparison = cost.nat_strategy_costs(
        summary.regions.get(), summary.az_count.get(), summary.nat_strategy.get()
    )
    network = sum(
        total
        for (_, component), total in report.estimate.by_component().items()
        if component.startswith("Network")
    )
    assert comparison.configured.monthly == pytest.approx(network)


def test_the_nat_instance_type_is_read_from_the_plan() -> None:
    template = Resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "nat-lt",
        {"instanceType": "t4g.micro"},
        urn=(
            "urn:pulumi:dev::tap::tap:network:Network$tap:nat_instance:NatInstance$"
            "aws:ec2/launchTemplate:LaunchTemplate::us-east-1-network-nat-instance-lt"
        ),
    )
    app = Resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "app-lt",
        {"instanceType": "m7g.large"},
        urn="urn:pulumi:dev::tap::tap:compute:Compute$aws:ec2/launchTemplate:LaunchTemplate::lt",
    )
    assert cost.nat_instance_type(StackIndex([app, template])) == "t4g.micro"
    assert cost.nat_instance_type(StackIndex([app])) is None
    shape = cost.NetworkShape(["us-east-1"], 2, "instance")
    nat = cost.estimate([app, template], shape).nat
    assert nat is not None and nat.instance_type == "t4g.micro"


def test_the_nat_assumptions_match_the_program() -> None:
    from components import nat_instance, network

    assert cost.NAT_INSTANCE_ROOT_GB == nat_instance.ROOT_VOLUME_GB
    assert len(network.NO_NAT_INTERFACE_ENDPOINTS) == cost.NO_NAT_ENDPOINT_SERVICES
    assert cost.DEFAULT_NAT_INSTANCE_TYPE == "t4g.nano" in prices.EC2_HOUR


def test_dev_costs_at_most_150_a_month_at_list_price() -> None:
    report = judge(planned("dev"))
    assert report.summary.nat_strategy.get() == "instance"
    assert len(report.summary.regions.get()) == 2
    assert report.estimate.total <= 150.00
