"""The network component of each stack: tiers x AZs, NAT per strategy, routes, flow logs."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

import pytest

from tap.offline import PlanResult
from tests.conftest import inputs_of, planned

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"


def regions_of(plan: PlanResult) -> list[str]:
    return plan.outputs["deployment_summary"]["regions"]


def test_every_region_has_one_vpc_with_dns(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (vpc,) = inputs_of(stack_plan, "aws:ec2/vpc:Vpc", region)
        assert vpc["enableDnsSupport"] is True and vpc["enableDnsHostnames"] is True
        assert vpc["cidrBlock"] == stack_plan.outputs["regions"][region]["vpc_cidr"]


def test_three_tiers_per_az_inside_the_vpc(stack_plan: PlanResult) -> None:
    az_count = stack_plan.outputs["deployment_summary"]["az_count"]
    for region in regions_of(stack_plan):
        vpc = ipaddress.IPv4Network(stack_plan.outputs["regions"][region]["vpc_cidr"])
        subnets = inputs_of(stack_plan, SUBNET, region)
        assert len(subnets) == 3 * az_count
        for tier in ("public", "private", "database"):
            tiered = [s for s in subnets if s["tags"]["Tier"] == tier]
            assert sorted(s["availabilityZone"] for s in tiered) == [
                f"{region}{letter}" for letter in "abcdef"[:az_count]
            ]
            assert all(ipaddress.IPv4Network(s["cidrBlock"]).subnet_of(vpc) for s in tiered)
        assert not any(s["mapPublicIpOnLaunch"] for s in subnets)


@pytest.mark.parametrize(
    ("strategy", "per_region"), [("one_per_az", 3), ("single", 1), ("none", 0)]
)
def test_nat_count_follows_strategy(
    run_config: Callable[..., PlanResult], strategy: str, per_region: int
) -> None:
    plan = run_config("staging", network={"nat_strategy": strategy})
    for region in ("us-east-1", "us-west-2"):
        assert len(inputs_of(plan, NAT, region)) == per_region
        assert len(inputs_of(plan, "aws:ec2/eip:Eip", region)) == per_region
        assert all(e["domain"] == "vpc" for e in inputs_of(plan, "aws:ec2/eip:Eip", region))
        private_tables = [
            t for t in inputs_of(plan, ROUTE_TABLE, region) if "private-rt" in t["tags"]["Name"]
        ]
        assert len(private_tables) == max(per_region, 1)
        nat_routes = [r for r in inputs_of(plan, ROUTE, region) if r.get("natGatewayId")]
        assert len(nat_routes) == per_region


def test_prod_has_a_nat_per_az_and_dev_at_most_one(
    prod_plan: PlanResult, dev_plan: PlanResult
) -> None:
    for region in regions_of(prod_plan):
        assert len(inputs_of(prod_plan, NAT, region)) == 3
    for region in regions_of(dev_plan):
        assert len(inputs_of(dev_plan, NAT, region)) <= 1


def _table_of_subnets(plan: PlanResult, region: str) -> dict[str, str]:
    """subnet logical id -> route table logical id (via associations)."""
    return {a["subnetId"]: a["routeTableId"] for a in inputs_of(plan, ASSOCIATION, region)}


def test_routes_per_tier(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        tables = {r.name + "-id": r for r in stack_plan.of_type(SUBNET) if r.region == region}
        routes = inputs_of(stack_plan, ROUTE, region)
        routes_by_table: dict[str, list[dict]] = {}
        for route in routes:
            routes_by_table.setdefault(route["routeTableId"], []).append(route)
        associations = _table_of_subnets(stack_plan, region)
        assert set(associations) == set(tables)
        for subnet_id, subnet in tables.items():
            tier = subnet.inputs["tags"]["Tier"]
            table_routes = routes_by_table.get(associations[subnet_id], [])
            if tier == "public":
                assert [r.get("gatewayId", "").endswith("-igw-id") for r in table_routes] == [True]
            elif tier == "private":
                assert all("natGatewayId" in r for r in table_routes)
            else:
                assert table_routes == [], "database subnets must have no route out"
            assert all(r["destinationCidrBlock"] == "0.0.0.0/0" for r in table_routes)


def test_one_per_az_private_subnets_use_their_own_az_nat(prod_plan: PlanResult) -> None:
    region = "us-east-1"
    associations = _table_of_subnets(prod_plan, region)
    nat_route = {
        r["routeTableId"]: r["natGatewayId"]
        for r in inputs_of(prod_plan, ROUTE, region)
        if "natGatewayId" in r
    }
    for index in range(3):
        table = associations[f"{region}-network-private-{index}-id"]
        assert nat_route[table] == f"{region}-network-nat-{index}-id"
        nat = prod_plan.one(NAT, f"{region}-network-nat-{index}")
        assert nat.inputs["subnetId"] == f"{region}-network-public-{index}-id"


def test_flow_logs_encrypted_with_retention_and_narrow_role(stack_plan: PlanResult) -> None:
    retention = {"dev": 14, "staging": 30, "prod": 365}[stack_plan.stack]
    for region in regions_of(stack_plan):
        (flow_log,) = inputs_of(stack_plan, "aws:ec2/flowLog:FlowLog", region)
        assert flow_log["trafficType"] == "ALL"
        assert flow_log["logDestinationType"] == "cloud-watch-logs"
        (group,) = [
            g
            for g in inputs_of(stack_plan, "aws:cloudwatch/logGroup:LogGroup", region)
            if g["name"].endswith("vpc-flow-logs")
        ]
        assert group["retentionInDays"] == retention
        assert group["kmsKeyId"] == stack_plan.outputs["regions"][region]["kms_key_arn"]
        assert flow_log["logDestination"].endswith(f":log-group:{group['name']}")
        (policy,) = [
            json.loads(p["policy"])
            for p in inputs_of(stack_plan, "aws:iam/rolePolicy:RolePolicy", region)
            if "flow-logs" in p["role"]
        ]
        write, describe = policy["Statement"]
        assert write["Resource"] == [flow_log["logDestination"], flow_log["logDestination"] + ":*"]
        assert sorted(write["Action"]) == [
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
        ]
        assert describe == {
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": f"arn:aws:logs:{region}:123456789012:log-group:*",
        }
        (role,) = [
            r for r in inputs_of(stack_plan, "aws:iam/role:Role", region) if "flowlogs" in r["name"]
        ]
        trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


def test_kms_key_rotates_and_admits_logs_of_its_region_only(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (key,) = [
            k
            for k in inputs_of(stack_plan, "aws:kms/key:Key", region)
            if "data key" in k["description"]
        ]
        assert key["enableKeyRotation"] is True
        statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
        logs = statements["CloudWatchLogsOfThisRegion"]
        assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
        condition = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        assert condition.startswith(f"arn:aws:logs:{region}:")


def test_default_security_group_has_no_rules(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (group,) = inputs_of(
            stack_plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", region
        )
        assert group.get("ingress", []) == [] and group.get("egress", []) == []


def test_s3_gateway_endpoint_on_private_and_database_tables(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (endpoint,) = [
            e
            for e in inputs_of(stack_plan, "aws:ec2/vpcEndpoint:VpcEndpoint", region)
            if e["vpcEndpointType"] == "Gateway"
        ]
        assert endpoint["serviceName"] == f"com.amazonaws.{region}.s3"
        out = stack_plan.outputs["regions"][region]
        assert sorted(endpoint["routeTableIds"]) == sorted(
            [out["database_route_table_id"], *out["private_route_table_ids"]]
        )


def test_network_outputs_per_region(stack_plan: PlanResult) -> None:
    az_count = stack_plan.outputs["deployment_summary"]["az_count"]
    for region in regions_of(stack_plan):
        out = stack_plan.outputs["regions"][region]
        assert out["vpc_id"] == f"{region}-network-vpc-id"
        for tier in ("public", "private", "database"):
            assert len(out[f"{tier}_subnet_ids"]) == az_count
        assert out["kms_key_arn"].startswith(f"arn:aws:kms:{region}:")
        assert out["database_route_table_id"] and out["public_route_table_id"]


def test_key_policy_names_no_principal_that_may_not_exist_yet(stack_plan: PlanResult) -> None:
    """KMS rejects a policy naming a missing role: the Auto Scaling service-linked role is
    only matched by condition (it exists only after the account's first Auto Scaling group)."""
    for key in inputs_of(stack_plan, "aws:kms/key:Key"):
        for statement in json.loads(key["policy"])["Statement"]:
            principal = statement["Principal"]
            if isinstance(principal, dict) and "AWS" in principal:
                assert principal["AWS"] == "*" or principal["AWS"].endswith(":root")
            if principal == {"AWS": "*"}:
                # A wildcard principal always comes with account and principal conditions.
                condition = statement["Condition"]
                assert condition["StringEquals"]["kms:CallerAccount"] == "123456789012"
                assert "aws:PrincipalArn" in condition.get("ArnEquals", {}) or (
                    "kms:EncryptionContext:aws:cloudtrail:arn" in condition.get("StringLike", {})
                )


def test_without_nat_the_instances_reach_aws_apis_through_endpoints(
    run_config: Callable[..., PlanResult],
) -> None:
    plan = run_config("dev", network={"nat_strategy": "none"})
    for region in ("us-east-1", "us-west-2"):
        endpoints = [
            e
            for e in inputs_of(plan, "aws:ec2/vpcEndpoint:VpcEndpoint", region)
            if e["vpcEndpointType"] == "Interface"
        ]
        services = sorted(e["serviceName"].rsplit(".", 1)[-1] for e in endpoints)
        assert services == [
            "ec2messages",
            "logs",
            "monitoring",
            "secretsmanager",
            "ssm",
            "ssmmessages",
        ]
        private = plan.outputs["regions"][region]["private_subnet_ids"]
        assert all(
            e["privateDnsEnabled"] and sorted(e["subnetIds"]) == sorted(private) for e in endpoints
        )
    # With a NAT gateway they are not needed (and not paid for).
    assert not [
        e
        for e in inputs_of(planned("dev"), "aws:ec2/vpcEndpoint:VpcEndpoint")
        if e["vpcEndpointType"] == "Interface"
    ]
