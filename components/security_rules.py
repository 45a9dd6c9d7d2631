"""One TCP port of a security group, as a rule resource of its own.

Rules are separate resources rather than inline lists so that one component (the database)
can add a rule to another's group (the app's) without the two overwriting each other.
"""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_aws as aws

from tap.tags import name_tag


def tcp_rule(
    name: str,
    direction: Literal["ingress", "egress"],
    *,
    group_id: pulumi.Input[str],
    port: int,
    description: str,
    tag: str,
    parent: pulumi.Resource,
    cidr: str | None = None,
    peer_group_id: pulumi.Input[str] | None = None,
    prefix_list_id: pulumi.Input[str] | None = None,
) -> pulumi.CustomResource:
    """A rule admitting (ingress) or allowing out (egress) tcp/`port` for exactly one peer:
    a CIDR, another security group, or an AWS-managed prefix list."""
    if sum(p is not None for p in (cidr, peer_group_id, prefix_list_id)) != 1:
        raise ValueError(f"rule {name}: give exactly one of cidr, peer_group_id, prefix_list_id")
    rule = (
        aws.vpc.SecurityGroupIngressRule
        if direction == "ingress"
        else aws.vpc.SecurityGroupEgressRule
    )
    return rule(
        name,
        security_group_id=group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        cidr_ipv4=cidr,
        referenced_security_group_id=peer_group_id,
        prefix_list_id=prefix_list_id,
        description=description,
        tags=name_tag(tag),
        opts=pulumi.ResourceOptions(parent=parent),
    )
