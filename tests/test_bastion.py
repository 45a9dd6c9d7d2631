"""The optional bastion: deployable as AWS checks it (descriptions, RunInstances parameters)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tap_tooling.offline import PlanResult

BASTION = {"bastion": {"enabled": True, "ssh_cidr": "198.51.100.0/24", "key_name": "ops"}}
LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
# EC2 CreateSecurityGroup / rule descriptions: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
# (EC2 API Reference, CreateSecurityGroup GroupDescription and IpRange Description).
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
SG_TYPES = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)


@pytest.fixture(scope="module")
def bastion_plan() -> PlanResult:
    from tap_tooling.offline import run_program
    from tests.conftest import stack_config

    config = stack_config("dev")
    config["compute"] = {**config["compute"], **BASTION}
    return run_program("dev", config)


def test_every_security_group_description_is_one_ec2_accepts(bastion_plan: PlanResult) -> None:
    described = [r for t in SG_TYPES for r in bastion_plan.of_type(t) if "description" in r.inputs]
    assert any("bastion" in r.name for r in described)
    for resource in described:
        assert EC2_DESCRIPTION.match(resource.inputs["description"]), (
            resource.name,
            resource.inputs["description"],
        )


def test_bastion_instance_takes_every_network_setting_from_its_template(
    bastion_plan: PlanResult,
) -> None:
    instances = [r for r in bastion_plan.of_type(INSTANCE) if "bastion" in r.name]
    assert sorted(str(r.region) for r in instances) == ["us-east-1", "us-west-2"]
    for instance in instances:
        # RunInstances: InvalidParameterCombination when a template's security groups meet
        # the instance's own subnet or public-IP setting (pulumi-aws #2506).
        for key in (
            "subnetId",
            "associatePublicIpAddress",
            "vpcSecurityGroupIds",
            "securityGroups",
            "networkInterfaces",
        ):
            assert key not in instance.inputs, (instance.name, key)
        assert set(instance.inputs["launchTemplate"]) == {"id", "version"}
    for template in [t for t in bastion_plan.of_type(LT) if "bastion" in t.name]:
        assert "vpcSecurityGroupIds" not in template.inputs
        assert "securityGroupIds" not in template.inputs
        (interface,) = template.inputs["networkInterfaces"]
        assert interface["deviceIndex"] == 0
        assert interface["associatePublicIpAddress"] == "true"
        assert interface["subnetId"].startswith(f"{template.region}-network-public-0") or (
            interface["subnetId"].startswith("subnet-")
        )
        assert len(interface["securityGroups"]) == 1


def test_bastion_is_off_by_default(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev")
    assert not [r for r in plan.resources if "bastion" in r.name]
