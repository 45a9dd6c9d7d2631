"""Optional SSH bastion: one hardened instance in a public subnet, SSH from one range only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.compute import AL2023_PARAMETER, architecture_of
from components.security_rules import tcp_rule
from tap import naming
from tap.tags import name_tag


@dataclass(frozen=True)
class BastionArgs:
    """Inputs of Bastion."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider."""
    vpc_id: pulumi.Input[str]
    """VPC of the region."""
    subnet_id: pulumi.Input[str]
    """A public subnet."""
    ssh_cidr: str
    """The only source admitted on port 22; never the whole internet."""
    vpc_cidr: str
    """The VPC's range: where the bastion may connect onward."""
    key_name: str
    """Existing EC2 key pair."""
    kms_key_arn: pulumi.Input[str]
    """Region key for the root volume."""
    tags: Mapping[str, str]
    """Stack tags for the instance and its volume."""
    instance_type: str
    """Instance type (tap:compute.bastion.instance_type)."""


class Bastion(pulumi.ComponentResource):
    """IMDSv2-only, encrypted-volume bastion host admitting SSH from `ssh_cidr`."""

    def __init__(
        self, name: str, args: BastionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:bastion:Bastion", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        label = naming.physical_name(args.environment, "bastion", args.region)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=label,
            # Static: a description change replaces the group, which fails while in use.
            description="Bastion: SSH from the configured operator range only",
            vpc_id=args.vpc_id,
            tags=name_tag(label),
            opts=child,
        )
        tcp_rule(
            f"{name}-ssh-in",
            "ingress",
            group_id=group.id,
            port=22,
            cidr=args.ssh_cidr,
            description="SSH from the operator range",
            tag=f"{label}-ssh-in",
            parent=self,
        )
        # Out: SSH and PostgreSQL into the VPC (the hops a bastion exists for), HTTPS for updates.
        for rule, (port, cidr) in {
            "ssh-vpc": (22, args.vpc_cidr),
            "postgres-vpc": (5432, args.vpc_cidr),
            "https-out": (443, "0.0.0.0/0"),
        }.items():
            tcp_rule(
                f"{name}-{rule}",
                "egress",
                group_id=group.id,
                port=port,
                cidr=cidr,
                description=f"tcp/{port} to {cidr}",
                tag=f"{label}-{rule}",
                parent=self,
            )
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name=label,
            # Resolved by EC2 at launch; the instance reads the AMI from the template, so the
            # program never holds a changing AMI id (no replacement on every run).
            image_id=f"resolve:ssm:{AL2023_PARAMETER[architecture_of(args.instance_type)]}",
            instance_type=args.instance_type,
            key_name=args.key_name,
            # All network settings live in the template's interface. RunInstances refuses a
            # template's security groups next to the instance's own subnet or public-IP
            # setting (InvalidParameterCombination; pulumi-aws #2506), so the instance below
            # sets nothing but the template.
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    subnet_id=args.subnet_id,
                    associate_public_ip_address="true",
                    security_groups=[group.id],
                    delete_on_termination="true",
                )
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=10,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.kms_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind, tags={**args.tags, **name_tag(label)}
                )
                for kind in ("instance", "volume")
            ],
            tags=name_tag(label),
            opts=child,
        )
        instance = aws.ec2.Instance(
            f"{name}-instance",
            launch_template=aws.ec2.InstanceLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            tags=name_tag(label),
            opts=child,
        )
        self.public_ip: pulumi.Output[str] = instance.public_ip
        self.security_group_id: pulumi.Output[str] = group.id
        self.register_outputs({"public_ip": self.public_ip})
