"""The network: Network built on its own from a NetworkConfig (tiers x AZs, NAT per strategy,
routes, endpoints, flow logs, the choice of AZs), then what only the whole program shows
(each region's network on that region's key and CIDR, the outputs, every key of the stack)."""

from __future__ import annotations

import ipaddress
import json
import re
import typing
from collections.abc import Callable
from typing import Any

import pytest

from components.network import EXCLUDED_ZONE_IDS, Network, NetworkArgs, pick_zone_ids
from tap.config import NetworkConfig
from tap_tooling import offline
from tap_tooling.offline import PlanResult, Recorded, physical_id
from tests.conftest import STACKS, inputs_of
from tests.harness import ACCOUNT, Built, build, in_region, shipped_stack

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
IGW = "aws:ec2/internetGateway:InternetGateway"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
TIERS = ("public", "private", "database")
KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/0f0e0d0c-0b0a-0908-0706-050403020100"
CIDR = "10.20.0.0/16"
TAGS = {"Environment": "qa", "Project": "tap"}
INTERFACE_SERVICES = ["ec2messages", "logs", "monitoring", "secretsmanager", "ssm", "ssmmessages"]


# --- the component alone ----------------------------------------------------------------------


def build_network(
    shape: NetworkConfig, region: str = "us-west-2", cidr: str = CIDR, environment: str = "qa"
) -> Built:
    def program() -> dict[str, Any]:
        network = Network(
            f"{region}-network",
            NetworkArgs(
                environment=environment,
                region=region,
                vpc_cidr=cidr,
                kms_key_arn=KEY_ARN,
                shape=shape,
                tags=TAGS,
            ),
            opts=in_region(region),
        )
        return {
            "vpc_id": network.vpc_id,
            "vpc_cidr": network.vpc_cidr,
            "public_subnet_ids": network.public_subnet_ids,
            "private_subnet_ids": network.private_subnet_ids,
            "database_subnet_ids": network.database_subnet_ids,
            "public_route_table_id": network.public_route_table_id,
            "private_route_table_ids": network.private_route_table_ids,
            "database_route_table_id": network.database_route_table_id,
            "kms_key_arn": network.kms_key_arn,
            "nat_gateway_count": network.nat_gateway_count,
        }

    return build(program)


def shape(**fields: Any) -> NetworkConfig:
    """tap:network as the config model validates it."""
    return NetworkConfig.model_validate(fields)


def subnets_of(built: Built, tier: str) -> list[Recorded]:
    """The tier's subnets in AZ order (index i in AZ i)."""
    tiered = [s for s in built.of_type(SUBNET) if s.inputs["tags"]["Tier"] == tier]
    return sorted(tiered, key=lambda s: int(s.name.rsplit("-", 1)[1]))


def table_of_subnet(built: Built) -> dict[str, str]:
    """Subnet id -> route table id, through the associations."""
    return {a.inputs["subnetId"]: a.inputs["routeTableId"] for a in built.of_type(ASSOCIATION)}


def default_routes(built: Built) -> dict[str, list[dict[str, Any]]]:
    """Route table id -> its routes."""
    routes: dict[str, list[dict[str, Any]]] = {}
    for route in built.of_type(ROUTE):
        routes.setdefault(route.inputs["routeTableId"], []).append(route.inputs)
    return routes


def test_one_vpc_with_dns_on_the_given_cidr() -> None:
    built = build_network(NetworkConfig())
    (vpc,) = built.of_type(VPC)
    assert vpc.inputs["cidrBlock"] == CIDR
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["tags"] == {"Name": "qa-vpc-us-west-2"}
    assert built.outputs["vpc_id"] == built.id_of(vpc)
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", built.outputs["vpc_id"])


@pytest.mark.parametrize("stack", STACKS)
def test_three_tiers_per_az_of_each_shipped_shape(stack: str) -> None:
    shape = shipped_stack(stack).network
    built = build_network(shape)
    vpc = ipaddress.IPv4Network(CIDR)
    zones: dict[str, list[str]] = {}
    for tier in TIERS:
        subnets = subnets_of(built, tier)
        assert len(subnets) == shape.az_count
        zones[tier] = [s.inputs["availabilityZoneId"] for s in subnets]
        for index, subnet in enumerate(subnets):
            assert ipaddress.IPv4Network(subnet.inputs["cidrBlock"]).subnet_of(vpc)
            assert subnet.inputs["mapPublicIpOnLaunch"] is False
            assert subnet.inputs["tags"] == {"Name": f"qa-{tier}-{index}-us-west-2", "Tier": tier}
            # By zone ID, the same physical zone in every account; never by zone name.
            assert "availabilityZone" not in subnet.inputs
    # Index i of every tier is in AZ i (the NAT of AZ i serves private subnet i): the lowest
    # zone ids, Local Zones (usw2-lax1-az1) left out.
    expected = [f"usw2-az{n}" for n in range(1, shape.az_count + 1)]
    assert zones["public"] == zones["private"] == zones["database"] == expected
    cidrs = [s.inputs["cidrBlock"] for s in built.of_type(SUBNET)]
    networks = [ipaddress.IPv4Network(c) for c in cidrs]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_us_east_1_never_uses_its_constrained_zone() -> None:
    built = build_network(NetworkConfig(az_count=3), region="us-east-1", cidr="10.30.0.0/16")
    assert EXCLUDED_ZONE_IDS == ("use1-az3",)
    assert [s.inputs["availabilityZoneId"] for s in subnets_of(built, "private")] == [
        "use1-az1",
        "use1-az2",
        "use1-az4",
    ]


@pytest.mark.parametrize("az_count", [2, 3])
@pytest.mark.parametrize(
    ("strategy", "per_az"), [("one_per_az", True), ("single", False), ("none", False)]
)
def test_nat_gateways_follow_the_strategy(strategy: str, per_az: bool, az_count: int) -> None:
    built = build_network(shape(az_count=az_count, nat_strategy=strategy))
    count = az_count if per_az else (1 if strategy == "single" else 0)
    nats = sorted(built.of_type(NAT), key=lambda n: n.name)
    eips = built.of_type(EIP)
    assert len(nats) == len(eips) == count == built.outputs["nat_gateway_count"]
    assert all(e.inputs["domain"] == "vpc" for e in eips)
    public = subnets_of(built, "public")
    igw = built.one(IGW, "us-west-2-network-igw")
    for index, nat in enumerate(nats):
        # Each NAT in the public subnet of its own AZ, with its own address, after the IGW.
        assert nat.inputs["subnetId"] == built.id_of(public[index])
        assert nat.inputs["allocationId"] == built.id_of(
            built.one(EIP, f"us-west-2-network-nat-eip-{index}")
        )
        assert igw.urn in nat.depends_on
    private_tables = [t for t in built.of_type(ROUTE_TABLE) if "private-rt" in t.name]
    assert len(private_tables) == max(count, 1) == len(built.outputs["private_route_table_ids"])


@pytest.mark.parametrize(
    "strategy", typing.get_args(NetworkConfig.model_fields["nat_strategy"].annotation)
)
def test_every_nat_strategy_the_config_accepts_builds(strategy: str) -> None:
    """A value tap:network.nat_strategy validates must never reach the component unhandled."""
    built = build_network(shape(nat_strategy=strategy))
    assert len(subnets_of(built, "private")) == NetworkConfig().az_count


@pytest.mark.parametrize("strategy", ["one_per_az", "single", "instance", "none"])
def test_public_routes_to_the_igw_private_to_its_nat_database_nowhere(strategy: str) -> None:
    built = build_network(shape(az_count=3, nat_strategy=strategy))
    tables = table_of_subnet(built)
    routes = default_routes(built)
    igw = built.id_of(built.one(IGW, "us-west-2-network-igw"))
    nat_ids = [built.id_of(built.one(NAT, f"us-west-2-network-nat-{i}"))
               for i in range(len(built.of_type(NAT)))]  # fmt: skip
    assert set(tables) == {built.id_of(s) for s in built.of_type(SUBNET)}
    for tier in TIERS:
        for index, subnet in enumerate(subnets_of(built, tier)):
            table_routes = routes.get(tables[built.id_of(subnet)], [])
            assert all(r["destinationCidrBlock"] == "0.0.0.0/0" for r in table_routes)
            if tier == "public":
                assert [r.get("gatewayId") for r in table_routes] == [igw]
            elif tier == "private" and strategy == "one_per_az":
                # Each AZ egresses through its own NAT and survives the loss of another AZ.
                assert [r.get("natGatewayId") for r in table_routes] == [nat_ids[index]]
            elif tier == "private" and strategy == "single":
                assert [r.get("natGatewayId") for r in table_routes] == nat_ids
            elif tier == "private" and strategy == "instance":
                # The NAT instance's fixed interface, which outlives every instance.
                (interface,) = built.of_type("aws:ec2/networkInterface:NetworkInterface")
                assert [r.get("networkInterfaceId") for r in table_routes] == [
                    built.id_of(interface)
                ]
            else:
                assert table_routes == [], f"{tier} subnet {index} must have no route out"
    assert (
        tables[built.outputs["database_subnet_ids"][0]] == built.outputs["database_route_table_id"]
    )
    assert tables[built.outputs["public_subnet_ids"][0]] == built.outputs["public_route_table_id"]


def test_without_nat_the_instances_reach_aws_apis_through_endpoints() -> None:
    built = build_network(NetworkConfig(nat_strategy="none"))
    endpoints = [
        e.inputs for e in built.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"
    ]
    assert sorted(e["serviceName"] for e in endpoints) == [
        f"com.amazonaws.us-west-2.{service}" for service in INTERFACE_SERVICES
    ]
    private = built.outputs["private_subnet_ids"]
    (group,) = built.of_type("aws:ec2/securityGroup:SecurityGroup")
    for endpoint in endpoints:
        assert endpoint["privateDnsEnabled"] is True
        assert endpoint["subnetIds"] == private
        assert endpoint["securityGroupIds"] == [built.id_of(group)]
    # The endpoints admit HTTPS from inside the VPC, nothing else.
    (rule,) = built.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.inputs["securityGroupId"] == built.id_of(group)
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )
    assert rule.inputs["cidrIpv4"] == CIDR
    assert built.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") == []


def test_instance_strategy_routes_private_traffic_to_the_nat_instances_fixed_interface() -> None:
    shape = NetworkConfig(az_count=3, nat_strategy="instance", nat_instance_type="t4g.micro")
    built = build_network(shape)
    assert built.of_type(NAT) == built.of_type(EIP) == []
    assert built.outputs["nat_gateway_count"] == 0
    (nat,) = built.components("tap:nat_instance:NatInstance")
    (eni,) = built.of_type("aws:ec2/networkInterface:NetworkInterface")
    (group,) = built.of_type("aws:autoscaling/group:Group")
    (template,) = built.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    public = subnets_of(built, "public")
    # The instance and its fixed interface in the first public subnet, after the IGW.
    assert eni.inputs["subnetId"] == built.id_of(public[0])
    assert group.inputs["vpcZoneIdentifiers"] == [built.id_of(public[0])]
    assert built.one(IGW, "us-west-2-network-igw").urn in nat.depends_on
    assert template.inputs["instanceType"] == "t4g.micro"
    assert {s["tags"]["Project"] for s in template.inputs["tagSpecifications"]} == {"tap"}
    # One private table; every private subnet's only way out is the fixed interface.
    tables, routes = table_of_subnet(built), default_routes(built)
    assert len(built.outputs["private_route_table_ids"]) == 1
    for subnet in subnets_of(built, "private"):
        assert routes[tables[built.id_of(subnet)]] == [
            {
                "routeTableId": tables[built.id_of(subnet)],
                "destinationCidrBlock": "0.0.0.0/0",
                "networkInterfaceId": built.id_of(eni),
            }
        ]
    for subnet in subnets_of(built, "database"):
        assert routes.get(tables[built.id_of(subnet)], []) == []
    # Internet egress: no interface endpoints to pay for.
    assert [e.inputs["vpcEndpointType"] for e in built.of_type(ENDPOINT)] == ["Gateway"]


@pytest.mark.parametrize("strategy", ["one_per_az", "single"])
def test_with_nat_no_interface_endpoints_are_paid_for(strategy: str) -> None:
    built = build_network(shape(nat_strategy=strategy))
    assert [e.inputs["vpcEndpointType"] for e in built.of_type(ENDPOINT)] == ["Gateway"]
    assert built.of_type("aws:ec2/securityGroup:SecurityGroup") == []


@pytest.mark.parametrize("strategy", ["one_per_az", "none"])
def test_s3_gateway_endpoint_on_the_private_and_database_tables(strategy: str) -> None:
    built = build_network(shape(az_count=3, nat_strategy=strategy))
    (endpoint,) = [
        e.inputs for e in built.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"
    ]
    assert endpoint["serviceName"] == "com.amazonaws.us-west-2.s3"
    assert endpoint["vpcId"] == built.outputs["vpc_id"]
    assert endpoint["routeTableIds"] == [
        *built.outputs["private_route_table_ids"],
        built.outputs["database_route_table_id"],
    ]
    assert built.outputs["public_route_table_id"] not in endpoint["routeTableIds"]


def test_the_default_security_group_is_emptied() -> None:
    built = build_network(NetworkConfig())
    (group,) = built.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert group.inputs["ingress"] == [] and group.inputs["egress"] == []
    assert group.inputs["vpcId"] == built.outputs["vpc_id"]


@pytest.mark.parametrize("retention", [14, 365])
def test_flow_logs_encrypted_with_the_key_and_retention_and_a_narrow_role(retention: int) -> None:
    built = build_network(NetworkConfig(flow_log_retention_days=retention))
    (flow_log,) = built.of_type(FLOW_LOG)
    (group,) = built.of_type(LOG_GROUP)
    assert group.inputs["name"] == "/tap/qa/us-west-2/vpc-flow-logs"
    assert group.inputs["retentionInDays"] == retention
    assert group.inputs["kmsKeyId"] == KEY_ARN
    log_arn = f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:{group.inputs['name']}"
    assert flow_log.inputs["logDestination"] == log_arn
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["vpcId"] == built.outputs["vpc_id"]
    (role,) = built.of_type("aws:iam/role:Role")
    assert flow_log.inputs["iamRoleArn"].endswith(f":role/{role.inputs['name']}")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (policy,) = built.of_type("aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == role.inputs["name"]
    write, describe = json.loads(policy.inputs["policy"])["Statement"]
    assert write["Resource"] == [log_arn, f"{log_arn}:*"]
    assert sorted(write["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert describe == {
        "Effect": "Allow",
        "Action": "logs:DescribeLogGroups",
        "Resource": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:*",
    }


def test_outputs_name_what_was_registered() -> None:
    built = build_network(NetworkConfig(az_count=3, nat_strategy="one_per_az"))
    out = built.outputs
    for tier in TIERS:
        assert out[f"{tier}_subnet_ids"] == [built.id_of(s) for s in subnets_of(built, tier)]
    assert out["vpc_cidr"] == CIDR and out["kms_key_arn"] == KEY_ARN
    assert out["public_route_table_id"] == built.id_of(
        built.one(ROUTE_TABLE, "us-west-2-network-public-rt")
    )
    assert out["private_route_table_ids"] == [
        built.id_of(built.one(ROUTE_TABLE, f"us-west-2-network-private-rt-{i}")) for i in range(3)
    ]


def test_everything_sits_under_the_network_on_its_provider() -> None:
    built = build_network(
        NetworkConfig(nat_strategy="none"), region="eu-central-1", cidr="10.5.0.0/16"
    )
    (component,) = built.components("tap:network:Network")
    children = built.under(component)
    assert {r.type for r in children} >= {VPC, SUBNET, ROUTE_TABLE, FLOW_LOG, ENDPOINT}
    assert sorted(r.urn for r in built.aws_resources()) == sorted(
        r.urn for r in children if r.custom
    )
    assert {r.provider_urn for r in children if r.custom} == {
        built.provider_urn("aws-eu-central-1")
    }
    # Every lookup goes through the same provider.
    assert {region for _, region in built.invokes} == {"eu-central-1"}


# --- AZ choice: by zone ID, stable under impaired, reordered and Local Zone answers -------------

AZ_LOOKUP = "aws:index/getAvailabilityZones:getAvailabilityZones"


def test_az_lookup_asks_for_real_azs_of_any_state() -> None:
    """No state filter (an impaired AZ must stay in the list); Local Zones filtered out."""
    (args,) = build_network(NetworkConfig()).lookups_of(AZ_LOOKUP)
    assert "state" not in args and not args.get("allAvailabilityZones")
    filters = {f["name"]: f["values"] for f in args["filters"]}
    assert filters == {
        "zone-type": ["availability-zone"],
        "opt-in-status": ["opt-in-not-required"],
    }
    assert args["excludeZoneIds"] == list(EXCLUDED_ZONE_IDS)


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


def subnet_zones(built: Built) -> dict[str, str]:
    return {r.name: r.inputs["availabilityZoneId"] for r in built.of_type(SUBNET)}


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
    shape = NetworkConfig(az_count=3)
    monkeypatch.setitem(offline._LOOKUPS, AZ_LOOKUP, aws_like_zones(west_zones([1, 2, 3, 4])))
    before = subnet_zones(build_network(shape))
    monkeypatch.setitem(offline._LOOKUPS, AZ_LOOKUP, aws_like_zones(answer))
    after = subnet_zones(build_network(shape))
    assert after == before
    # Spread over the three lowest zone IDs, one per tier and index.
    assert sorted(set(before.values())) == ["usw2-az1", "usw2-az2", "usw2-az3"]
    assert before["us-west-2-network-private-0"] == "usw2-az1"


def test_too_few_zones_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(offline._LOOKUPS, AZ_LOOKUP, aws_like_zones(west_zones([1, 2])))
    with pytest.raises(
        Exception, match=r"us-west-2 has 2 usable AZs; tap:network\.az_count asks for 3"
    ):
        build_network(NetworkConfig(az_count=3))


def test_zone_ids_sort_numerically_and_new_zones_go_last() -> None:
    assert pick_zone_ids(["use1-az10", "use1-az2", "use1-az1"], 2) == ["use1-az1", "use1-az2"]
    assert pick_zone_ids(["use1-az1", "use1-az2"], 3) is None
    # AWS opening use1-az7 changes nothing already chosen.
    assert pick_zone_ids(["use1-az7", "use1-az1", "use1-az2"], 2) == ["use1-az1", "use1-az2"]


# --- in the whole program: what the wiring decides ------------------------------------------------


def regions_of(plan: PlanResult) -> list[str]:
    return plan.outputs["deployment_summary"]["regions"]


def test_each_regions_network_has_its_cidr_key_and_shape(stack_plan: PlanResult) -> None:
    config = shipped_stack(stack_plan.stack)
    cidrs = {r.name: r.cidr for r in config.regions}
    for region in regions_of(stack_plan):
        out = stack_plan.outputs["regions"][region]
        (vpc,) = [v for v in stack_plan.of_type(VPC) if v.region == region]
        assert vpc.inputs["cidrBlock"] == out["vpc_cidr"] == cidrs[region]
        assert out["vpc_id"] == physical_id(VPC, f"{region}-network-vpc")
        for tier in TIERS:
            assert len(out[f"{tier}_subnet_ids"]) == config.network.az_count
        # The flow logs are encrypted with this region's own key.
        (group,) = [g for g in inputs_of(stack_plan, LOG_GROUP, region)
                    if g["name"].endswith("vpc-flow-logs")]  # fmt: skip
        assert group["kmsKeyId"] == out["kms_key_arn"]
        assert out["kms_key_arn"].startswith(f"arn:aws:kms:{region}:")


def test_prod_has_a_nat_per_az_and_dev_at_most_one(
    prod_plan: PlanResult, dev_plan: PlanResult
) -> None:
    for region in regions_of(prod_plan):
        assert len(inputs_of(prod_plan, NAT, region)) == 3
    for region in regions_of(dev_plan):
        assert len(inputs_of(dev_plan, NAT, region)) <= 1


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
        if not logs:
            continue  # a key serving no log group (the trail's, the zone's signing key)
        granted = {
            a
            for s in logs
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert {"kms:DescribeKey", "kms:Encrypt", "kms:Decrypt"} <= granted, key.name
