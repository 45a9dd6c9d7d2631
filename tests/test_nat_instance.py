"""NatInstance on its own: the Auto Scaling group of one, the hardened launch template, the
fixed interface the private routes target, its security rules, user data and permissions."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest

from components.nat_instance import (
    NatInstance,
    NatInstanceArgs,
    nat_role_policy,
    render_nat_user_data,
)
from tests.harness import ACCOUNT, Built, build, in_region

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ENI = "aws:ec2/networkInterface:NetworkInterface"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
PROFILE = "aws:iam/instanceProfile:InstanceProfile"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC_CIDR = "10.40.0.0/16"
SUBNET = "subnet-0a1b2c3d4e5f60718"
TAGS = {"Environment": "qa", "Project": "tap"}
# EC2 security group and rule descriptions: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
# (EC2 API Reference, CreateSecurityGroup GroupDescription and IpRange Description).
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")


@cache
def build_nat(region: str = "eu-west-1", instance_type: str = "t4g.nano") -> Built:
    def program() -> dict[str, Any]:
        nat = NatInstance(
            f"{region}-nat",
            NatInstanceArgs(
                environment="qa",
                region=region,
                vpc_id="vpc-0a1b2c3d4e5f60718",
                vpc_cidr=VPC_CIDR,
                subnet_id=SUBNET,
                kms_key_arn=KEY_ARN,
                tags=TAGS,
                instance_type=instance_type,
            ),
            opts=in_region(region),
        )
        return {
            "network_interface_id": nat.network_interface_id,
            "security_group_id": nat.security_group_id,
            "asg_name": nat.asg_name,
        }

    return build(program)


def user_data(built: Built) -> str:
    (template,) = built.of_type(LT)
    return base64.b64decode(template.inputs["userData"]).decode()


def test_one_instance_always_in_the_subnet_of_the_fixed_interface() -> None:
    built = build_nat()
    (group,) = built.of_type(ASG)
    (template,) = built.of_type(LT)
    (eni,) = built.of_type(ENI)
    inputs = group.inputs
    assert (inputs["minSize"], inputs["maxSize"], inputs["desiredCapacity"]) == (1, 1, 1)
    # An interface attaches only within its AZ: the group launches where the interface is.
    assert inputs["vpcZoneIdentifiers"] == [SUBNET] == [eni.inputs["subnetId"]]
    assert inputs["healthCheckType"] == "EC2"
    assert inputs["launchTemplate"]["id"] == built.id_of(template)
    assert inputs["launchTemplate"]["version"] != "$Latest"
    # The old instance has to release the interface before the new one can attach it.
    assert inputs["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 0
    tags = {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in inputs["tags"]}
    assert tags == {
        "Environment": ("qa", False),
        "Name": ("qa-nat-asg-eu-west-1", False),
        "Project": ("tap", False),
    }


def test_launch_template_is_hardened_like_the_app_instances() -> None:
    template = build_nat().of_type(LT)[0].inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    (root,) = template["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {
        "volumeSize": 8,
        "volumeType": "gp3",
        "encrypted": "true",
        "kmsKeyId": KEY_ARN,
        "deleteOnTermination": "true",
    }
    assert "keyName" not in template  # Session Manager only
    assert template["instanceType"] == "t4g.nano"
    assert template["imageId"] == (
        "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )
    assert template["monitoring"] == {"enabled": False}
    for kind in ("instance", "volume", "network-interface"):
        (spec,) = [s for s in template["tagSpecifications"] if s["resourceType"] == kind]
        assert spec["tags"] == {**TAGS, "Name": "qa-nat-eu-west-1"}


def test_an_x86_type_gets_the_x86_image() -> None:
    template = build_nat(instance_type="t3.nano").of_type(LT)[0].inputs
    assert template["imageId"].endswith("al2023-ami-kernel-default-x86_64")


def test_primary_interface_has_a_public_address_and_the_groups_inside_it() -> None:
    built = build_nat()
    template = built.of_type(LT)[0].inputs
    (group,) = built.of_type(SG)
    (interface,) = template["networkInterfaces"]
    assert interface == {
        "deviceIndex": 0,
        "associatePublicIpAddress": "true",
        "securityGroups": [built.id_of(group)],
        "deleteOnTermination": "true",
    }
    # RunInstances: InvalidParameterCombination with groups next to a network interface.
    assert "vpcSecurityGroupIds" not in template and "securityGroupNames" not in template


def test_the_fixed_interface_forwards_and_is_what_routes_target() -> None:
    built = build_nat()
    (eni,) = built.of_type(ENI)
    (group,) = built.of_type(SG)
    assert eni.inputs["sourceDestCheck"] is False
    assert eni.inputs["securityGroups"] == [built.id_of(group)]
    assert eni.region == "eu-west-1"
    assert built.outputs["network_interface_id"] == built.id_of(eni)
    assert built.outputs["network_interface_id"].startswith("eni-")
    assert built.outputs["security_group_id"] == built.id_of(group)
    assert built.outputs["asg_name"] == "qa-nat-asg-eu-west-1"


def test_security_rules_admit_the_vpc_and_let_out_https_and_replies_only() -> None:
    built = build_nat()
    (group,) = built.of_type(SG)
    group_id = built.id_of(group)
    ingress = [r.inputs for r in built.of_type(INGRESS)]
    egress = [r.inputs for r in built.of_type(EGRESS)]
    assert [(r["ipProtocol"], r["cidrIpv4"]) for r in ingress] == [("-1", VPC_CIDR)]
    assert sorted((r["ipProtocol"], r["fromPort"], r["toPort"], r["cidrIpv4"]) for r in egress) == [
        ("tcp", 443, 443, "0.0.0.0/0"),
        ("tcp", 1024, 65535, VPC_CIDR),
    ]
    assert {r["securityGroupId"] for r in ingress + egress} == {group_id}
    assert "ingress" not in group.inputs and "egress" not in group.inputs
    for description in [group.inputs["description"], *(r["description"] for r in ingress + egress)]:
        assert EC2_DESCRIPTION.match(description), description


def test_user_data_attaches_the_interface_then_forwards_and_masquerades() -> None:
    built = build_nat()
    (eni,) = built.of_type(ENI)
    script = user_data(built)
    assert script.startswith("#!/bin/bash\n")
    assert f"ENI_ID={built.id_of(eni)}\n" in script
    assert f"VPC_CIDR={VPC_CIDR}\n" in script and "REGION=eu-west-1\n" in script
    # IMDSv2: a session token before any metadata read.
    assert "X-aws-ec2-metadata-token-ttl-seconds" in script
    modify = script.index("modify-instance-attribute")
    attach = script.index("attach-network-interface")
    # EC2 refuses the instance-level source/dest change once two interfaces are attached.
    assert modify < attach and "--no-source-dest-check" in script[modify:attach]
    assert "--device-index 1" in script
    assert "net.ipv4.ip_forward=1" in script
    assert 'oifname "$public_if" ip saddr $VPC_CIDR masquerade' in script
    assert "type nat hook postrouting priority srcnat" in script
    # A service that retries at every boot, started without blocking cloud-init.
    assert "Restart=on-failure" in script and "systemctl enable tap-nat.service" in script
    assert "systemctl start --no-block tap-nat.service" in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_user_data_and_the_service_script_are_valid_bash(tmp_path: Any) -> None:
    script = render_nat_user_data("qa", "eu-west-1", VPC_CIDR, "eni-0123456789abcdef0")
    inner = script.split("<<'SHEOF'\n", 1)[1].split("\nSHEOF\n", 1)[0]
    for name, text in (("bootstrap", script), ("tap-nat", inner)):
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stderr)
    assert inner.startswith("#!/bin/bash\n") and "__" not in script


def test_the_role_may_attach_only_the_fixed_interface_to_the_nat_itself() -> None:
    built = build_nat()
    (eni,) = built.of_type(ENI)
    (profile,) = built.of_type(PROFILE)
    (role,) = built.of_type(ROLE)
    (policy,) = built.of_type(ROLE_POLICY)
    eni_arn = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:network-interface/{built.id_of(eni)}"
    profile_arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/qa-nat-eu-west-1"
    statements = {s.pop("Sid"): s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements == {
        "AttachTheFixedInterface": {
            "Effect": "Allow",
            "Action": "ec2:AttachNetworkInterface",
            "Resource": eni_arn,
        },
        "OnlyToTheNatInstance": {
            "Effect": "Allow",
            "Action": ["ec2:AttachNetworkInterface", "ec2:ModifyInstanceAttribute"],
            "Resource": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/*",
            "Condition": {"ArnEquals": {"ec2:InstanceProfile": profile_arn}},
        },
    }
    assert policy.inputs["role"] == built.id_of(role)
    assert profile.inputs["role"] == role.inputs["name"] == "qa-nat-eu-west-1"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ec2.amazonaws.com"}]
    assert [a.inputs["policyArn"] for a in built.of_type(ATTACHMENT)] == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    ]


def test_no_statement_grants_a_wildcard_resource_or_action() -> None:
    policy = json.loads(nat_role_policy("arn:aws:ec2:r:1:network-interface/eni-1", "arn:p"))
    for statement in policy["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in action for action in actions)
        assert statement["Resource"] != "*"
        assert statement["Resource"].startswith("arn:aws:ec2:r:1:")


def test_everything_sits_under_the_component_on_its_regions_provider() -> None:
    built = build_nat("ap-southeast-2")
    (component,) = built.components("tap:nat_instance:NatInstance")
    children = built.under(component)
    assert {r.type for r in children} == {
        ASG, LT, ENI, SG, INGRESS, EGRESS, ROLE, ROLE_POLICY, ATTACHMENT, PROFILE
    }  # fmt: skip
    assert {r.provider_urn for r in children} == {built.provider_urn("aws-ap-southeast-2")}
    assert len(built.of_type(ROLE)[0].inputs["name"]) <= 64
