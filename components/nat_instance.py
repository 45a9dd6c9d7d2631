"""One region's NAT instance (network.nat_strategy "instance"): a small Graviton instance in a
self-healing Auto Scaling group of one, forwarding the private subnets' traffic to the internet.

Why a fixed interface. An instance the group launches to replace a failed one comes with a new
primary network interface, so a route aimed at the instance (or at its primary interface)
would point at nothing after every replacement. The private route tables target a second
interface instead, created here and never replaced: each new instance attaches it at boot
(user data, with the one permission to attach that interface) and forwards what arrives on it.
The routes stay ordinary Pulumi resources: the plan shows where private traffic goes, a
refresh finds no drift, and no instance needs permission to rewrite route tables (the other
design, user data replacing the routes, has neither property).

The price of it: an interface lives in one subnet, and "you must attach a network interface to
an EC2 instance that is in the same Availability Zone" (EC2 User Guide, "Network interface
attachments for your EC2 instance"). The group therefore launches into that one public subnet:
it replaces a failed instance, not a lost zone. That is the failure domain of nat_strategy
"single" (a NAT gateway is zonal too); one_per_az is the highly available choice.

Traffic path (as fck-nat, the reference NAT instance, does it): packets from the private
subnets arrive on the fixed interface, leave masqueraded through the primary interface and its
public IPv4 address, and the replies go back to the private subnets through the primary
interface. Both interfaces carry packets that are neither from nor to themselves, so both have
their source/destination check off: the fixed one by Pulumi, the primary one by the instance
at boot (AWS has no launch-template setting for it). Both interfaces sit in the same subnet,
where the same guide warns of asymmetric routing: here it is the design (in on one, out on the
other), so reverse-path filtering is loose, and Amazon Linux's ec2-net-utils keeps the
primary interface's default route first for the instance's own traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.compute import AL2023_PARAMETER, architecture_of
from components.security_rules import tcp_rule
from tap import naming
from tap.policy_doc import assume_role, document
from tap.tags import name_tag
from tap.user_data import encode

ROOT_VOLUME_GB = 8
"""The size of the Amazon Linux 2023 image's root snapshot: the smallest volume it boots from.
A NAT keeps no data; tap_tooling.cost prices this size for the strategy comparison."""
MANAGED_POLICIES = ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",)
FIXED_DEVICE_INDEX = 1
"""Where the fixed interface is attached: the primary interface is device 0."""
EPHEMERAL_PORTS = (1024, 65535)
"""Ports the replies of forwarded connections go back to, on the private instances."""

_NAT_SCRIPT = r"""#!/bin/bash
# TAP NAT (__ENVIRONMENT__, __REGION__): attach the fixed interface, forward, masquerade.
# Run by tap-nat.service at every boot, until it succeeds; every step can run again.
set -euo pipefail
ENI_ID=__ENI_ID__
REGION=__REGION__
VPC_CIDR=__VPC_CIDR__
command -v nft >/dev/null || dnf install -y nftables
imds=http://169.254.169.254/latest
token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/api/token")
meta() { curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/$1"; }
instance_id=$(meta instance-id)
primary_mac=$(meta mac)
attached() {
  local mac
  for mac in $(meta network/interfaces/macs/); do
    [ "$(meta "network/interfaces/macs/${mac}interface-id")" = "$ENI_ID" ] && return 0
  done
  return 1
}
if ! attached; then
  # The replies to the private subnets leave through the primary interface with the remote
  # host as their source: its check must be off too. EC2 refuses this instance-level change
  # once a second interface is attached, hence first.
  aws ec2 modify-instance-attribute --region "$REGION" --instance-id "$instance_id" \
    --no-source-dest-check
  # The instance this one replaces may hold the interface until it has terminated. An
  # attachment that succeeded without the metadata showing it yet is not attempted again.
  until attached || aws ec2 attach-network-interface --region "$REGION" \
      --instance-id "$instance_id" --network-interface-id "$ENI_ID" \
      --device-index __DEVICE_INDEX__; do
    sleep 5
  done
fi
public_if=$(ip -o link show \
  | awk -v mac="$primary_mac" '$0 ~ mac { sub(":$", "", $2); print $2; exit }')
[ -n "$public_if" ] || { echo "tap-nat: no interface with MAC $primary_mac" >&2; exit 1; }
sysctl -q -w net.ipv4.ip_forward=1
# Loose reverse-path filtering: packets from the private subnets arrive on the fixed interface
# while the route back to them is through the primary one.
sysctl -q -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2
nft -f - <<NFTEOF
table ip tap_nat
delete table ip tap_nat
table ip tap_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "$public_if" ip saddr $VPC_CIDR masquerade
  }
}
NFTEOF
echo "tap-nat: forwarding $VPC_CIDR through $public_if"
"""

_BOOTSTRAP = """#!/bin/bash
# TAP NAT instance bootstrap (__ENVIRONMENT__, __REGION__).
set -euo pipefail
cat > /usr/local/sbin/tap-nat <<'SHEOF'
__SCRIPT__
SHEOF
chmod 0755 /usr/local/sbin/tap-nat
cat > /etc/systemd/system/tap-nat.service <<'UNITEOF'
[Unit]
Description=TAP: NAT for the VPC (fixed interface, forwarding, masquerade)
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/tap-nat
Restart=on-failure
RestartSec=10
[Install]
WantedBy=multi-user.target
UNITEOF
systemctl daemon-reload
systemctl enable tap-nat.service
# Not waited for: the first attempts can fail while the public route is still being created
# or the previous instance still holds the interface; systemd retries every 10 seconds.
systemctl start --no-block tap-nat.service
"""


def render_nat_user_data(environment: str, region: str, vpc_cidr: str, eni_id: str) -> str:
    """The cloud-init script of a NAT instance, as text: it installs tap-nat.service, which
    attaches `eni_id`, turns the primary interface's source/destination check off, enables
    IPv4 forwarding and masquerades what `vpc_cidr` sends out of the primary interface."""
    script = (
        _NAT_SCRIPT.replace("__ENI_ID__", eni_id)
        .replace("__VPC_CIDR__", vpc_cidr)
        .replace("__DEVICE_INDEX__", str(FIXED_DEVICE_INDEX))
    )
    return (
        _BOOTSTRAP.replace("__SCRIPT__", script.strip())
        .replace("__ENVIRONMENT__", environment)
        .replace("__REGION__", region)
    )


def nat_role_policy(eni_arn: str, instance_profile_arn: str) -> str:
    """What the instance may do: attach the fixed interface, to itself only (an instance
    launched with the NAT's instance profile), and turn its own source/destination check off.

    AttachNetworkInterface is authorised on the interface and on the instance, each by its own
    ARN (Service Authorization Reference, Amazon EC2: both resource types are required); the
    instance is named by the ec2:InstanceProfile condition, as its id is not known in advance."""
    head, _, _ = eni_arn.partition(":network-interface/")
    return document(
        {
            "Sid": "AttachTheFixedInterface",
            "Effect": "Allow",
            "Action": "ec2:AttachNetworkInterface",
            "Resource": eni_arn,
        },
        {
            "Sid": "OnlyToTheNatInstance",
            "Effect": "Allow",
            "Action": ["ec2:AttachNetworkInterface", "ec2:ModifyInstanceAttribute"],
            "Resource": f"{head}:instance/*",
            "Condition": {"ArnEquals": {"ec2:InstanceProfile": instance_profile_arn}},
        },
    )


@dataclass(frozen=True)
class NatInstanceArgs:
    """Inputs of NatInstance."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider."""
    vpc_id: pulumi.Input[str]
    """VPC of the region."""
    vpc_cidr: str
    """The VPC's range: what the instance accepts and masquerades."""
    subnet_id: pulumi.Input[str]
    """The public subnet (route to the internet gateway) of the instance and of the fixed
    interface. One subnet, not the list: an interface attaches only within its own AZ."""
    kms_key_arn: pulumi.Input[str]
    """Region key for the root volume."""
    tags: Mapping[str, str]
    """Stack tags, copied onto the instance, its volume and interfaces (provider default tags
    do not reach instances launched by Auto Scaling)."""
    instance_type: str
    """tap:network.nat_instance_type (a Graviton type picks the arm64 image)."""


class NatInstance(pulumi.ComponentResource):
    """A hardened NAT instance (IMDSv2 only, encrypted root volume, no key pair, Session
    Manager only) in an Auto Scaling group of exactly one, behind a fixed network interface
    that the private route tables target (`network_interface_id`)."""

    def __init__(
        self, name: str, args: NatInstanceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:nat_instance:NatInstance", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)

        group = self._security_group()
        interface = aws.ec2.NetworkInterface(
            f"{name}-eni",
            subnet_id=args.subnet_id,
            security_groups=[group.id],
            # It receives packets addressed to the internet: EC2 drops those unless the
            # check is off (Amazon VPC User Guide, "NAT instances": disable source/destination
            # checks).
            source_dest_check=False,
            description=f"TAP NAT {args.environment} {args.region}: private route target",
            tags=name_tag(self._label("nat-eni")),
            opts=self._child,
        )
        profile = self._instance_profile(interface)
        template = self._launch_template(group, profile, interface)
        asg = self._auto_scaling_group(template)

        self.network_interface_id: pulumi.Output[str] = interface.id
        self.security_group_id: pulumi.Output[str] = group.id
        self.asg_name: pulumi.Output[str] = asg.name
        self.register_outputs(
            {
                "network_interface_id": self.network_interface_id,
                "security_group_id": self.security_group_id,
                "asg_name": self.asg_name,
            }
        )

    def _label(self, service: str, limit: int = naming.DEFAULT_LIMIT) -> str:
        return naming.physical_name(self._args.environment, service, self._args.region, limit)

    def _security_group(self) -> aws.ec2.SecurityGroup:
        name, args = self._name, self._args
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=self._label("nat-sg"),
            # Static: a description change replaces the group, which fails while in use.
            description="NAT instance: traffic from the VPC in, HTTPS out",
            vpc_id=args.vpc_id,
            tags=name_tag(self._label("nat-sg")),
            opts=self._child,
        )
        # Whatever the private instances' own groups let out reaches the NAT; what leaves it
        # is decided by the egress rules below.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-vpc",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4=args.vpc_cidr,
            description="All traffic from the VPC, to forward",
            tags=name_tag(self._label("nat-from-vpc")),
            opts=self._child,
        )
        # Out: HTTPS only. It is all the app instances may send (components/compute.py), and
        # all the NAT itself needs (Session Manager, the EC2 API, the AL2023 repositories,
        # which are HTTPS). No port 80: nothing behind the NAT may use it.
        tcp_rule(
            f"{name}-https-out",
            "egress",
            group_id=group.id,
            port=443,
            cidr="0.0.0.0/0",
            description="HTTPS to the internet: forwarded and own",
            tag=self._label("nat-https-out"),
            parent=self,
        )
        # The replies of forwarded connections leave through the primary interface towards
        # the private instances' ephemeral ports: on that interface they belong to no tracked
        # connection (it saw the masqueraded one), so they need a rule of their own.
        low, high = EPHEMERAL_PORTS
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-replies-to-vpc",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=low,
            to_port=high,
            cidr_ipv4=args.vpc_cidr,
            description="Replies of forwarded connections, back to the VPC",
            tags=name_tag(self._label("nat-replies-to-vpc")),
            opts=self._child,
        )
        return group

    def _instance_profile(self, interface: aws.ec2.NetworkInterface) -> aws.iam.InstanceProfile:
        name, args = self._name, self._args
        role_name = self._label("nat", naming.IAM_ROLE_NAME)
        role = aws.iam.Role(
            f"{name}-role",
            name=role_name,
            description=f"TAP NAT instance, {args.environment} {args.region}",
            assume_role_policy=assume_role("ec2.amazonaws.com"),
            tags=name_tag(role_name),
            opts=self._child,
        )
        for policy_arn in MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{policy_arn.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=policy_arn,
                opts=self._child,
            )
        profile = aws.iam.InstanceProfile(
            f"{name}-profile",
            name=role_name,
            role=role.name,
            tags=name_tag(role_name),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{name}-attach-interface",
            role=role.id,
            policy=pulumi.Output.all(interface.arn, profile.arn).apply(
                lambda arns: nat_role_policy(arns[0], arns[1])
            ),
            opts=self._child,
        )
        return profile

    def _launch_template(
        self,
        group: aws.ec2.SecurityGroup,
        profile: aws.iam.InstanceProfile,
        interface: aws.ec2.NetworkInterface,
    ) -> aws.ec2.LaunchTemplate:
        name, args = self._name, self._args
        instance_tags = {**args.tags, **name_tag(self._label("nat"))}
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name=self._label("nat-lt"),
            description=f"TAP NAT instance, {args.environment} {args.region}",
            # Resolved by EC2 at each launch: the latest AL2023, and a template (and plan)
            # that stays the same between runs.
            image_id=f"resolve:ssm:{AL2023_PARAMETER[architecture_of(args.instance_type)]}",
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            # The primary interface needs a public IPv4 address: the NAT's way out, and its
            # own way to the EC2 API before anything else works. Security groups go inside the
            # interface (RunInstances refuses them next to it: InvalidParameterCombination).
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    associate_public_ip_address="true",
                    security_groups=[group.id],
                    delete_on_termination="true",
                )
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            # Basic (5-minute) monitoring, free. Detailed monitoring bills its 7 metrics
            # ($2.10 a month at list price, two thirds of a t4g.nano) for a NAT the group
            # replaces on a failed status check anyway.
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=False),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=ROOT_VOLUME_GB,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.kms_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            user_data=interface.id.apply(
                lambda eni_id: encode(
                    render_nat_user_data(args.environment, args.region, args.vpc_cidr, eni_id)
                )
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            update_default_version=True,
            tags=name_tag(self._label("nat-lt")),
            opts=self._child,
        )

    def _auto_scaling_group(self, template: aws.ec2.LaunchTemplate) -> aws.autoscaling.Group:
        name, args = self._name, self._args
        return aws.autoscaling.Group(
            f"{name}-asg",
            name=self._label("nat-asg", 255),
            # The fixed interface's subnet only: see the module docstring.
            vpc_zone_identifiers=[args.subnet_id],
            min_size=1,
            max_size=1,
            desired_capacity=1,
            # EC2 status checks: a failed instance is replaced, and its successor takes over
            # the fixed interface.
            health_check_type="EC2",
            health_check_grace_period=120,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            # A template change replaces the instance. With one instance and one interface,
            # the old one has to go before the new one can attach it: nothing stays healthy
            # meanwhile (a minute or two without egress).
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=0, max_healthy_percentage=100
                ),
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=False)
                for key, value in sorted({**args.tags, **name_tag(self._label("nat-asg"))}.items())
            ],
            opts=self._child,
        )
