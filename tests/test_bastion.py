"""Bastion on its own: SSH from one range only, onward only into the VPC, IMDSv2, an
encrypted volume, and an instance that RunInstances accepts (descriptions, parameters)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.bastion import Bastion, BastionArgs
from components.compute import AL2023_PARAMETER
from tests.harness import ACCOUNT, Built, build, in_region

LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
# EC2 CreateSecurityGroup / rule descriptions: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
# (EC2 API Reference, CreateSecurityGroup GroupDescription and IpRange Description).
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
SSH_CIDR = "198.51.100.0/24"
VPC_CIDR = "10.20.0.0/16"
SUBNET = "subnet-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f0e0d0c-0b0a-0908-0706-050403020100"
STACK_TAGS = {"Environment": "qa", "Project": "tap", "CostCenter": "CC-1"}


def build_bastion(instance_type: str = "t3.micro", region: str = "eu-west-1") -> Built:
    def program() -> dict[str, Any]:
        bastion = Bastion(
            f"{region}-bastion",
            BastionArgs(
                environment="qa",
                region=region,
                vpc_id=VPC,
                subnet_id=SUBNET,
                ssh_cidr=SSH_CIDR,
                vpc_cidr=VPC_CIDR,
                key_name="ops",
                kms_key_arn=KEY_ARN,
                tags=STACK_TAGS,
                instance_type=instance_type,
            ),
            opts=in_region(region),
        )
        return {"public_ip": bastion.public_ip, "security_group_id": bastion.security_group_id}

    return build(program)


def rules(built: Built, type_: str) -> list[tuple[int, str]]:
    return sorted(
        (r.inputs["fromPort"], r.inputs["cidrIpv4"])
        for r in built.of_type(type_)
        if r.inputs["fromPort"] == r.inputs["toPort"] and r.inputs["ipProtocol"] == "tcp"
    )


def test_ssh_only_from_the_operator_range_and_onward_only_into_the_vpc() -> None:
    built = build_bastion()
    (group,) = built.of_type(GROUP)
    assert group.inputs["vpcId"] == VPC and group.inputs["name"] == "qa-bastion-eu-west-1"
    group_id = built.id_of(group)
    assert built.outputs["security_group_id"] == group_id
    assert {
        r.inputs["securityGroupId"] for r in built.of_type(INGRESS) + built.of_type(EGRESS)
    } == {group_id}
    # Every rule is one TCP port (rules() keeps only those): nothing else is admitted.
    assert len(built.of_type(INGRESS)) == len(rules(built, INGRESS))
    assert len(built.of_type(EGRESS)) == len(rules(built, EGRESS))
    assert rules(built, INGRESS) == [(22, SSH_CIDR)]
    assert rules(built, EGRESS) == [(22, VPC_CIDR), (443, "0.0.0.0/0"), (5432, VPC_CIDR)]
    # The group itself carries no inline rules (they would fight the rule resources).
    assert not group.inputs.get("ingress") and not group.inputs.get("egress")


def test_every_description_is_one_ec2_accepts() -> None:
    built = build_bastion()
    described = [r for t in (GROUP, INGRESS, EGRESS) for r in built.of_type(t)]
    assert len(described) == 5
    for resource in described:
        assert EC2_DESCRIPTION.match(resource.inputs["description"]), resource.name


@pytest.mark.parametrize(
    ("instance_type", "architecture"), [("t3.micro", "x86_64"), ("t4g.small", "arm64")]
)
def test_template_launches_al2023_of_the_types_architecture_hardened(
    instance_type: str, architecture: str
) -> None:
    built = build_bastion(instance_type)
    (template,) = built.of_type(LT)
    inputs = template.inputs
    assert inputs["instanceType"] == instance_type
    assert inputs["imageId"] == f"resolve:ssm:{AL2023_PARAMETER[architecture]}"
    assert inputs["keyName"] == "ops"
    assert inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    (device,) = inputs["blockDeviceMappings"]
    assert device["ebs"]["encrypted"] == "true" and device["ebs"]["kmsKeyId"] == KEY_ARN
    assert device["ebs"]["volumeType"] == "gp3"
    # Provider default tags do not reach instances and volumes: the stack's tags are copied.
    specifications = {s["resourceType"]: s["tags"] for s in inputs["tagSpecifications"]}
    assert specifications == {
        kind: {**STACK_TAGS, "Name": "qa-bastion-eu-west-1"} for kind in ("instance", "volume")
    }


def test_the_instance_takes_every_network_setting_from_its_template() -> None:
    built = build_bastion()
    (instance,) = built.of_type(INSTANCE)
    (template,) = built.of_type(LT)
    # RunInstances: InvalidParameterCombination when a template's security groups meet the
    # instance's own subnet or public-IP setting (pulumi-aws #2506).
    for key in ("subnetId", "associatePublicIpAddress", "vpcSecurityGroupIds",
                "securityGroups", "networkInterfaces"):  # fmt: skip
        assert key not in instance.inputs, key
    launch = instance.inputs["launchTemplate"]
    assert set(launch) == {"id", "version"} and launch["id"] == built.id_of(template)
    assert "vpcSecurityGroupIds" not in template.inputs
    assert "securityGroupIds" not in template.inputs
    (interface,) = template.inputs["networkInterfaces"]
    assert interface["deviceIndex"] == 0
    assert interface["subnetId"] == SUBNET
    assert interface["associatePublicIpAddress"] == "true"
    assert interface["securityGroups"] == [built.outputs["security_group_id"]]
    assert interface["deleteOnTermination"] == "true"


def test_everything_sits_under_the_bastion_on_its_provider() -> None:
    built = build_bastion(region="ap-southeast-2")
    (component,) = built.components("tap:bastion:Bastion")
    children = built.under(component)
    assert sorted(r.urn for r in built.aws_resources()) == sorted(
        r.urn for r in children if r.custom
    )
    assert {r.provider_urn for r in children if r.custom} == {
        built.provider_urn("aws-ap-southeast-2")
    }
