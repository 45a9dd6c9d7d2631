"""Subnet allocation: a pure, deterministic carve-up of a region's VPC CIDR.

Layout for a VPC of prefix /p (a /16 in the examples):
- private subnets: /(p+4) blocks (/20, 4,096 addresses) from the first half: 8 slots;
- public subnets: /(p+6) blocks (/22) from the third quarter: 16 slots;
- database subnets: /(p+6) blocks (/22) from the last quarter: 16 slots.
At most six AZs are used, so every tier keeps free slots for growth (new AZs, new tiers)
without renumbering existing subnets: AZ i always gets slot i of its tier.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

TIERS = ("public", "private", "database")
MAX_AZS = 6


@dataclass(frozen=True)
class SubnetPlan:
    """Subnet CIDRs per tier, index i belonging to AZ i."""

    vpc_cidr: str
    public: tuple[str, ...]
    private: tuple[str, ...]
    database: tuple[str, ...]

    def tier(self, name: str) -> tuple[str, ...]:
        return {"public": self.public, "private": self.private, "database": self.database}[name]


def allocate_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Carve `az_count` subnets per tier out of `vpc_cidr` (see module docstring)."""
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count {az_count} is outside 1..{MAX_AZS}")
    if vpc.prefixlen > 22:
        raise ValueError(f"vpc_cidr {vpc_cidr} is too small to hold three tiers")
    first_half, second_half = vpc.subnets(prefixlen_diff=1)
    third_quarter, last_quarter = second_half.subnets(prefixlen_diff=1)

    def take(block: ipaddress.IPv4Network, new_prefix: int) -> tuple[str, ...]:
        slots = block.subnets(new_prefix=new_prefix)
        return tuple(str(next(slots)) for _ in range(az_count))

    return SubnetPlan(
        vpc_cidr=str(vpc),
        private=take(first_half, vpc.prefixlen + 4),
        public=take(third_quarter, vpc.prefixlen + 6),
        database=take(last_quarter, vpc.prefixlen + 6),
    )
