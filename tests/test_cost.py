"""tap_tooling/cost.py: monthly estimates against totals computed by hand from the price table."""

from __future__ import annotations

from typing import Any

import pytest

from tap_tooling import cost, prices
from tap_tooling.graph import Resource
from tap_tooling.plan import judge
from tests.conftest import planned

H = 730  # hours in a month, as AWS's calculator counts


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
        res("aws:lb/loadBalancer:LoadBalancer", "alb", loadBalancerType="application"),
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
        + 3 * H * 0.0208  # 3 x t3.small at desired capacity
        + 3 * 20 * 0.08  # their 20 GB gp3 root volumes
        + 2 * H * 0.072  # db.t3.medium postgres, Multi-AZ: two instances
        + 2 * 100 * 0.115  # 100 GB gp3, Multi-AZ: two copies
        + 2 * 0.10  # two alarms
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


def test_dev_stack_network_and_keys_cost_as_computed_by_hand() -> None:
    estimate = judge(planned("dev")).estimate
    components = estimate.by_component()
    for region in ("us-east-1", "us-west-2"):
        # dev: nat_strategy single, so one NAT gateway and one Elastic IP per region.
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
