"""The network component of each stack: tiers x AZs, NAT per strategy, routes, flow logs."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable

import pytest

from components.network import pick_zone_ids
from tap_tooling import offline
from tap_tooling.offline import PlanResult, physical_id
from tests.conftest import inputs_of, planned

SUBNET = "aws:ec2/subnet:Subnet"
IGW = "aws:ec2/internetGateway:InternetGateway"
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
        zones_of_tier = {}
        for tier in ("public", "private", "database"):
            tiered = sorted(
                (s for s in subnets if s["tags"]["Tier"] == tier), key=lambda s: s["tags"]["Name"]
            )
            zones = [s["availabilityZoneId"] for s in tiered]
            # Distinct zones, by zone ID (use1-az1), never by the per-account zone name.
            assert len(set(zones)) == az_count
            assert all(re.fullmatch(r"[a-z]{2,5}\d-az\d+", z) for z in zones), zones
            zones_of_tier[tier] = zones
            assert all(ipaddress.IPv4Network(s["cidrBlock"]).subnet_of(vpc) for s in tiered)
        # Index i of every tier is in the same AZ (the NAT of AZ i serves private subnet i).
        assert zones_of_tier["public"] == zones_of_tier["private"] == zones_of_tier["database"]
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
        tables = {stack_plan.id_of(r): r for r in stack_plan.of_type(SUBNET) if r.region == region}
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
                igw = stack_plan.one(IGW, f"{region}-network-igw")
                assert [r.get("gatewayId") for r in table_routes] == [stack_plan.id_of(igw)]
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
        table = associations[physical_id(SUBNET, f"{region}-network-private-{index}")]
        assert nat_route[table] == physical_id(NAT, f"{region}-network-nat-{index}")
        nat = prod_plan.one(NAT, f"{region}-network-nat-{index}")
        assert nat.inputs["subnetId"] == physical_id(SUBNET, f"{region}-network-public-{index}")


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
            # A role's id is its name, as IAM reports it.
            if "flowlogs" in p["role"]
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
            k.inputs
            for k in stack_plan.of_type("aws:kms/key:Key")
            if k.region == region and k.name == f"{region}-key-cmk"
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
        assert out["vpc_id"] == physical_id("aws:ec2/vpc:Vpc", f"{region}-network-vpc")
        assert out["vpc_id"].startswith("vpc-") and len(out["vpc_id"]) == 21
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


# --- AZ choice: by zone ID, stable under impaired, reordered and Local Zone answers -------------

AZ_LOOKUP = "aws:index/getAvailabilityZones:getAvailabilityZones"


def aws_like_zones(zones: list[tuple[str, str, str, str]]) -> Callable[[str, dict], dict]:
    """A getAvailabilityZones answer that applies the request's filters the way EC2 does.

    `zones` are (name, zone id, zone type, state) in the order the API returns them.
    """

    def answer(region: str, args: dict) -> dict:
        kept = []
        for name, zone_id, zone_type, state in zones:
            facts = {
                "zone-type": zone_type,
                "opt-in-status": "opt-in-not-required"
                if zone_type == "availability-zone"
                else "opted-in",
                "state": state,
            }
            if args.get("state") and state != args["state"]:
                continue
            if zone_id in (args.get("excludeZoneIds") or []):
                continue
            if all(facts.get(f["name"]) in f["values"] for f in args.get("filters") or []):
                kept.append((name, zone_id))
        return {
            "names": [n for n, _ in kept],
            "zoneIds": [z for _, z in kept],
            "id": region,
            "region": region,
        }

    return answer


def west_zones(order: list[int], impaired: int | None = None, local: bool = False) -> list:
    # Names are mapped to zone IDs per account: here usw2-az1 is "us-west-2c" and so on.
    letters = {1: "c", 2: "a", 3: "d", 4: "b"}
    zones = [
        (
            f"us-west-2{letters[n]}",
            f"usw2-az{n}",
            "availability-zone",
            "impaired" if n == impaired else "available",
        )
        for n in order
    ]
    if local:
        # Sorts first by name and, without the zone-type filter, by number too.
        zones.insert(0, ("us-west-2-lax-1a", "usw2-lax1-az1", "local-zone", "available"))
    return zones


def subnet_zones(plan: PlanResult, region: str) -> dict[str, str]:
    return {
        r.name: r.inputs["availabilityZoneId"] for r in plan.of_type(SUBNET) if r.region == region
    }


@pytest.mark.parametrize(
    "answer",
    [
        west_zones([4, 3, 2, 1]),
        west_zones([1, 2, 3, 4], impaired=1),
        west_zones([1, 2, 3, 4], local=True),
        west_zones([2, 1, 4, 3], impaired=2, local=True),
    ],
    ids=["reordered", "impaired", "local-zone", "all-at-once"],
)
def test_subnets_keep_their_zone_whatever_ec2_answers(
    monkeypatch: pytest.MonkeyPatch, answer: list
) -> None:
    monkeypatch.setitem(offline._LOOKUPS, AZ_LOOKUP, aws_like_zones(west_zones([1, 2, 3, 4])))
    before = subnet_zones(planned_fresh("staging"), "us-west-2")
    monkeypatch.setitem(offline._LOOKUPS, AZ_LOOKUP, aws_like_zones(answer))
    after = subnet_zones(planned_fresh("staging"), "us-west-2")
    assert after == before
    # Spread over the three lowest zone IDs, one per tier and index.
    assert sorted(set(before.values())) == ["usw2-az1", "usw2-az2", "usw2-az3"]
    assert before["us-west-2-network-private-0"] == "usw2-az1"


def test_az_lookup_asks_for_real_azs_of_any_state(dev_plan: PlanResult) -> None:
    """No state filter (an impaired AZ must stay in the list); Local Zones filtered out."""
    assert not any(r.inputs.get("availabilityZone") for r in dev_plan.of_type(SUBNET))
    calls = [c for c in dev_plan.invokes if c[0] == AZ_LOOKUP]
    assert calls


def test_zone_ids_sort_numerically_and_new_zones_go_last() -> None:
    assert pick_zone_ids(["use1-az10", "use1-az2", "use1-az1"], 2) == ["use1-az1", "use1-az2"]
    assert pick_zone_ids(["use1-az1", "use1-az2"], 3) is None
    # AWS opening use1-az7 changes nothing already chosen.
    assert pick_zone_ids(["use1-az7", "use1-az1", "use1-az2"], 2) == ["use1-az1", "use1-az2"]


def test_too_few_zones_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(offline._LOOKUPS, AZ_LOOKUP, aws_like_zones(west_zones([1, 2])))
    with pytest.raises(
        Exception, match=r"us-west-2 has 2 usable AZs; tap:network\.az_count asks for 3"
    ):
        planned_fresh("staging")


def planned_fresh(stack: str) -> PlanResult:
    return offline.run_program(stack)


def test_no_key_grant_hangs_on_a_context_its_actions_never_carry(stack_plan: PlanResult) -> None:
    """kms:DescribeKey (like CreateGrant, ListGrants) carries no encryption context, so a
    statement conditioned on kms:EncryptionContext:* never allows it."""
    keys = stack_plan.of_type("aws:kms/key:Key")
    assert keys
    for key in keys:
        statements = json.loads(key.inputs["policy"])["Statement"]
        for statement in statements:
            condition = json.dumps(statement.get("Condition", {}))
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            if "kms:EncryptionContext:" in condition:
                assert "kms:DescribeKey" not in actions, (key.name, statement.get("Sid"))
        logs = [s for s in statements if "logs." in json.dumps(s.get("Principal", {}))]
        if key.name.startswith("audit"):
            continue  # the trail's own key serves no log group
        granted = {
            a
            for s in logs
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert {"kms:DescribeKey", "kms:Encrypt", "kms:Decrypt"} <= granted, key.name
