"""Subnet allocation: disjoint, inside the VPC, deterministic, growth room kept."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap.cidr import MAX_AZS, TIERS, allocate_subnets


@st.composite
def vpcs(draw: st.DrawFn) -> str:
    prefix = draw(st.integers(min_value=16, max_value=20))
    base = draw(st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]))
    parent = ipaddress.IPv4Network(base)
    if prefix < parent.prefixlen:
        prefix = parent.prefixlen
    count = 2 ** (prefix - parent.prefixlen)
    index = draw(st.integers(min_value=0, max_value=count - 1))
    network = ipaddress.IPv4Network(
        (int(parent.network_address) + index * 2 ** (32 - prefix), prefix)
    )
    return str(network)


@given(vpc=vpcs(), az_count=st.integers(min_value=1, max_value=MAX_AZS))
def test_subnets_are_disjoint_and_inside_the_vpc(vpc: str, az_count: int) -> None:
    plan = allocate_subnets(vpc, az_count)
    network = ipaddress.IPv4Network(vpc)
    subnets = [ipaddress.IPv4Network(c) for tier in TIERS for c in plan.tier(tier)]
    assert len(subnets) == 3 * az_count
    for subnet in subnets:
        assert subnet.subnet_of(network)
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b)


@given(vpc=vpcs(), az_count=st.integers(min_value=1, max_value=MAX_AZS))
def test_allocation_is_deterministic_and_stable_when_azs_grow(vpc: str, az_count: int) -> None:
    plan = allocate_subnets(vpc, az_count)
    assert plan == allocate_subnets(vpc, az_count)
    if az_count < MAX_AZS:
        grown = allocate_subnets(vpc, az_count + 1)
        for tier in TIERS:
            # Adding an AZ never renumbers the subnets that exist (no replacement).
            assert grown.tier(tier)[:az_count] == plan.tier(tier)


@given(vpc=vpcs())
def test_room_is_left_for_growth(vpc: str) -> None:
    plan = allocate_subnets(vpc, MAX_AZS)
    used = sum(ipaddress.IPv4Network(c).num_addresses for t in TIERS for c in plan.tier(t))
    assert used < ipaddress.IPv4Network(vpc).num_addresses * 0.75


def test_slash16_layout() -> None:
    plan = allocate_subnets("10.30.0.0/16", 3)
    assert plan.private == ("10.30.0.0/20", "10.30.16.0/20", "10.30.32.0/20")
    assert plan.public == ("10.30.128.0/22", "10.30.132.0/22", "10.30.136.0/22")
    assert plan.database == ("10.30.192.0/22", "10.30.196.0/22", "10.30.200.0/22")


@pytest.mark.parametrize(
    ("vpc", "azs"), [("10.0.0.0/16", 0), ("10.0.0.0/16", 7), ("10.0.0.0/24", 2)]
)
def test_rejects_impossible_requests(vpc: str, azs: int) -> None:
    with pytest.raises(ValueError, match=r"az_count|too small"):
        allocate_subnets(vpc, azs)
