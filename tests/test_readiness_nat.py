"""Deploy-readiness rules of NAT instances and instance refresh (TAP-AWS-EC2-7, TAP-AWS-EC2-8,
TAP-AWS-ASG-1)."""

from __future__ import annotations

import base64
from typing import Any

from tap_tooling import readiness, rules
from tap_tooling.rules import Context, Resource

CTX = Context(environment="dev")
BY_ID = readiness.CATALOGUE_BY_ID
AUTOSCALING_GROUP, NETWORK_INTERFACE = readiness.AUTOSCALING_GROUP, readiness.NETWORK_INTERFACE
ROUTE, ROUTE_TABLE = readiness.ROUTE, readiness.ROUTE_TABLE


def view(type_: str, name: str, props: dict[str, Any], handles: tuple[str, ...] = ()) -> Resource:
    return Resource(
        type=type_,
        name=name,
        props=props,
        urn=f"urn:pulumi:dev::tap::{type_}::{name}",
        region="us-east-1",
        handles=frozenset({f"{name}-id", f"arn:{name}", *handles}),
    )


def findings(rule_id: str, resources: list[Resource]) -> list[str]:
    return [message for _r, message in BY_ID[rule_id].check(resources, CTX)]


def test_a_routed_interface_must_forward() -> None:
    eni = {"subnetId": "subnet-1"}
    route = view(ROUTE, "private-default", {"networkInterfaceId": "eni-0abc"})
    bad = findings("TAP-AWS-EC2-7", [view(NETWORK_INTERFACE, "nat", eni, ("eni-0abc",)), route])
    assert bad and "sourceDestCheck is not false" in bad[0]
    on = {**eni, "sourceDestCheck": True}
    assert findings("TAP-AWS-EC2-7", [view(NETWORK_INTERFACE, "nat", on, ("eni-0abc",)), route])
    inline = view(ROUTE_TABLE, "rt", {"routes": [{"networkInterfaceId": "eni-0abc"}]})
    assert findings("TAP-AWS-EC2-7", [view(NETWORK_INTERFACE, "nat", eni, ("eni-0abc",)), inline])
    off = {**eni, "sourceDestCheck": False}
    good = view(NETWORK_INTERFACE, "nat", off, ("eni-0abc",))
    assert findings("TAP-AWS-EC2-7", [good, route, inline]) == []
    # An interface no route targets is none of this rule's business.
    assert (
        findings("TAP-AWS-EC2-7", [view(NETWORK_INTERFACE, "other", eni, ("eni-9",)), route]) == []
    )


def nat_group(
    subnets: list[str],
    script: str = "aws ec2 attach-network-interface --network-interface-id eni-0abc",
) -> list[Resource]:
    user_data = base64.b64encode(script.encode()).decode()
    return [
        view(
            NETWORK_INTERFACE,
            "nat-eni",
            {"subnetId": "subnet-a", "sourceDestCheck": False},
            ("eni-0abc",),
        ),
        view(rules.LAUNCH_TEMPLATE, "nat-lt", {"userData": user_data}),
        view(
            AUTOSCALING_GROUP,
            "nat-asg",
            {"vpcZoneIdentifiers": subnets, "launchTemplate": {"id": "nat-lt-id"}},
        ),
    ]


def test_a_group_attaching_a_fixed_interface_stays_in_its_subnet() -> None:
    bad = findings("TAP-AWS-EC2-8", nat_group(["subnet-a", "subnet-b"]))
    assert bad and "cannot attach the interface" in bad[0]
    assert findings("TAP-AWS-EC2-8", nat_group(["subnet-b"]))
    assert findings("TAP-AWS-EC2-8", nat_group(["subnet-a"])) == []
    # Instances that attach nothing may spread.
    assert findings("TAP-AWS-EC2-8", nat_group(["subnet-a", "subnet-b"], "echo eni-0abc")) == []


def refresh(**preferences: Any) -> list[Resource]:
    return [view(AUTOSCALING_GROUP, "asg", {"instanceRefresh": {"preferences": preferences}})]


def test_instance_refresh_percentages_within_what_auto_scaling_takes() -> None:
    assert (
        findings("TAP-AWS-ASG-1", refresh(minHealthyPercentage=0, maxHealthyPercentage=100)) == []
    )
    assert findings("TAP-AWS-ASG-1", refresh(minHealthyPercentage=90)) == []
    assert findings("TAP-AWS-ASG-1", refresh(minHealthyPercentage=110))
    assert findings("TAP-AWS-ASG-1", refresh(maxHealthyPercentage=90))
    apart = findings("TAP-AWS-ASG-1", refresh(minHealthyPercentage=50, maxHealthyPercentage=200))
    assert apart == ["maxHealthyPercentage 200 is more than 100 above 50"]
