"""One region's network: VPC, three subnet tiers over several AZs, NAT, routes, flow logs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.nat_instance import NatInstance, NatInstanceArgs
from components.security_rules import tcp_rule
from tap import naming
from tap.cidr import TIERS, allocate_subnets
from tap.config import NetworkConfig
from tap.policy_doc import assume_role, document
from tap.tags import name_tag

EXCLUDED_ZONE_IDS = ("use1-az3",)


def _zone_number(zone_id: str) -> tuple[int, str]:
    _, _, number = zone_id.rpartition("-az")
    return (int(number) if number.isdigit() else 1_000_000, zone_id)


def pick_zone_ids(zone_ids: list[str], count: int) -> list[str] | None:
    """The first `count` zone IDs in numeric order (az2 before az10), whatever order AWS answers
    in; None when there are fewer. A zone added later by AWS gets a higher number, so it never
    displaces a zone already in use."""
    ordered = sorted(set(zone_ids), key=_zone_number)
    return ordered[:count] if len(ordered) >= count else None


# Without NAT, private instances still need these AWS APIs: Session Manager, CloudWatch agent
# (logs, metrics), and the database secret.
NO_NAT_INTERFACE_ENDPOINTS = (
    "ec2messages",
    "logs",
    "monitoring",
    "secretsmanager",
    "ssm",
    "ssmmessages",
)


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of Network."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider."""
    vpc_cidr: str
    """The region's VPC CIDR; subnets are carved from it by tap.cidr.allocate_subnets."""
    kms_key_arn: pulumi.Input[str]
    """The region's KMS key, encrypting the flow-log group."""
    shape: NetworkConfig
    """tap:network: AZ count, NAT strategy, flow-log retention (validated there)."""
    tags: Mapping[str, str]
    """Stack tags, for what Auto Scaling launches (the NAT instance): provider default tags
    do not reach it."""


class Network(pulumi.ComponentResource):
    """VPC with public / private / database subnets per AZ, NAT per strategy and flow logs.

    Public subnets route to the internet gateway; private subnets route to a NAT gateway (the
    one in their own AZ when there is one per AZ); database subnets have no route out at all.
    """

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:network:Network", name, None, opts)
        plan = allocate_subnets(args.vpc_cidr, args.shape.az_count)
        child = pulumi.ResourceOptions(parent=self)
        env, region = args.environment, args.region

        def label(service: str) -> str:
            return naming.physical_name(env, service, region)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=plan.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=name_tag(label("vpc")),
            opts=child,
        )
        azs = aws.get_availability_zones_output(
            # No state filter: an impaired or unavailable AZ must not drop out of the list and
            # shift every later subnet into another zone (a replacement of each). Local and
            # Wavelength Zones, which an account may opt into, are not AZs of the region.
            filters=[
                aws.GetAvailabilityZonesFilterArgs(name="zone-type", values=["availability-zone"]),
                aws.GetAvailabilityZonesFilterArgs(
                    name="opt-in-status", values=["opt-in-not-required"]
                ),
            ],
            # use1-az3 is a constrained zone without most current instance families.
            exclude_zone_ids=list(EXCLUDED_ZONE_IDS),
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        def zone(index: int) -> pulumi.Output[str]:
            def pick(zone_ids: list[str]) -> str:
                chosen = pick_zone_ids(zone_ids, args.shape.az_count)
                if chosen is None:
                    raise pulumi.RunError(
                        f"{region} has {len(zone_ids)} usable AZs; tap:network.az_count asks for "
                        f"{args.shape.az_count}"
                    )
                return chosen[index]

            return azs.zone_ids.apply(pick)

        subnets: dict[str, list[aws.ec2.Subnet]] = {tier: [] for tier in TIERS}
        for tier in TIERS:
            for index, cidr in enumerate(plan.tier(tier)):
                subnets[tier].append(
                    aws.ec2.Subnet(
                        f"{name}-{tier}-{index}",
                        vpc_id=vpc.id,
                        cidr_block=cidr,
                        # By zone ID: the same physical zone in every account, where names
                        # (us-east-1a) are shuffled per account and sort with Local Zones.
                        availability_zone_id=zone(index),
                        # Nothing launches with a public IP: the ALB and NAT bring their own.
                        map_public_ip_on_launch=False,
                        tags=name_tag(label(f"{tier}-{index}"), Tier=tier),
                        opts=child,
                    )
                )

        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=name_tag(label("igw")), opts=child
        )

        nat_count = {"one_per_az": args.shape.az_count, "single": 1, "instance": 0, "none": 0}[
            args.shape.nat_strategy
        ]
        nat_ids: list[pulumi.Output[str]] = []
        for index in range(nat_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{index}",
                domain="vpc",
                tags=name_tag(label(f"nat-{index}")),
                opts=child,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{index}",
                allocation_id=eip.allocation_id,
                subnet_id=subnets["public"][index].id,
                tags=name_tag(label(f"nat-{index}")),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat_ids.append(nat.id)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags=name_tag(label("public-rt")), opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        nat_interface_id: pulumi.Output[str] | None = None
        if args.shape.nat_strategy == "instance":
            nat_instance = NatInstance(
                f"{name}-nat-instance",
                NatInstanceArgs(
                    environment=env,
                    region=region,
                    vpc_id=vpc.id,
                    vpc_cidr=plan.vpc_cidr,
                    subnet_id=subnets["public"][0].id,
                    kms_key_arn=args.kms_key_arn,
                    tags=args.tags,
                    instance_type=args.shape.nat_instance_type,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat_interface_id = nat_instance.network_interface_id

        # One private route table per NAT gateway (so each AZ egresses through its own NAT and
        # survives the loss of another AZ); a single table when there is one NAT or none.
        private_rts: list[aws.ec2.RouteTable] = []
        for index in range(max(nat_count, 1)):
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                tags=name_tag(label(f"private-rt-{index}")),
                opts=child,
            )
            if nat_ids:
                aws.ec2.Route(
                    f"{name}-private-default-{index}",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_ids[index],
                    opts=child,
                )
            elif nat_interface_id is not None:
                # The NAT instance's fixed interface: it outlives every instance the group
                # launches, so the route never needs rewriting.
                aws.ec2.Route(
                    f"{name}-private-default-{index}",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    network_interface_id=nat_interface_id,
                    opts=child,
                )
            private_rts.append(table)

        # Database subnets: local routes only (plus the S3 endpoint), never a way out.
        database_rt = aws.ec2.RouteTable(
            f"{name}-database-rt", vpc_id=vpc.id, tags=name_tag(label("database-rt")), opts=child
        )

        for index in range(args.shape.az_count):
            private_table = private_rts[index] if len(private_rts) > 1 else private_rts[0]
            for tier, table in (
                ("public", public_rt),
                ("private", private_table),
                ("database", database_rt),
            ):
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-rta-{index}",
                    subnet_id=subnets[tier][index].id,
                    route_table_id=table.id,
                    opts=child,
                )

        # A gateway endpoint is free and keeps S3 traffic (packages, logs) off the NAT bill.
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_rts] + [database_rt.id],
            tags=name_tag(label("s3-endpoint")),
            opts=child,
        )

        if args.shape.nat_strategy == "none":
            self._interface_endpoints(name, args, vpc.id, subnets["private"], label)

        # The default security group is attached to anything launched without one: empty it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=name_tag(label("default-sg-unused")),
            opts=child,
        )

        self._flow_logs(name, args, vpc.id, label)

        self.vpc_id: pulumi.Output[str] = vpc.id
        self.vpc_cidr: str = plan.vpc_cidr
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["public"]])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["private"]])
        self.database_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["database"]])
        self.public_route_table_id: pulumi.Output[str] = public_rt.id
        self.private_route_table_ids = pulumi.Output.all(*[t.id for t in private_rts])
        self.database_route_table_id: pulumi.Output[str] = database_rt.id
        self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)
        self.nat_gateway_count: int = nat_count
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "public_route_table_id": self.public_route_table_id,
                "private_route_table_ids": self.private_route_table_ids,
                "database_route_table_id": self.database_route_table_id,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _interface_endpoints(
        self,
        name: str,
        args: NetworkArgs,
        vpc_id: pulumi.Output[str],
        private_subnets: list[aws.ec2.Subnet],
        label,
    ) -> None:
        """Private endpoints for the AWS APIs the instances use, when there is no NAT."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            name=label("endpoints-sg"),
            description="Interface endpoints: HTTPS from inside the VPC",
            vpc_id=vpc_id,
            tags=name_tag(label("endpoints-sg")),
            opts=child,
        )
        tcp_rule(
            f"{name}-endpoints-https-in",
            "ingress",
            group_id=group.id,
            port=443,
            cidr=args.vpc_cidr,
            description="HTTPS from the VPC",
            tag=label("endpoints-https-in"),
            parent=self,
        )
        for service in NO_NAT_INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=vpc_id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[group.id],
                tags=name_tag(label(f"{service}-endpoint")),
                opts=child,
            )

    def _flow_logs(self, name: str, args: NetworkArgs, vpc_id: pulumi.Output[str], label) -> None:
        child = pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/tap/{args.environment}/{args.region}/vpc-flow-logs",
            retention_in_days=args.shape.flow_log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=name_tag(label("flow-logs")),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            name=naming.physical_name(
                args.environment, "flowlogs", args.region, naming.IAM_ROLE_NAME
            ),
            description=f"VPC flow-log delivery for {args.environment} in {args.region}",
            assume_role_policy=identity.account_id.apply(
                lambda account: assume_role("vpc-flow-logs.amazonaws.com", account)
            ),
            tags=name_tag(label("flowlogs-role")),
            opts=child,
        )
        # Delivery needs to create streams and put events in this one group, nothing else.
        aws.iam.RolePolicy(
            f"{name}-flow-logs-delivery",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, identity.account_id).apply(
                lambda values: document(
                    {
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:DescribeLogStreams",
                            "logs:PutLogEvents",
                        ],
                        "Resource": [values[0], f"{values[0]}:*"],
                    },
                    {
                        # DescribeLogGroups authorises against the account's group pattern,
                        # never a single group: scoped to this account and region.
                        "Effect": "Allow",
                        "Action": "logs:DescribeLogGroups",
                        "Resource": f"arn:aws:logs:{args.region}:{values[1]}:log-group:*",
                    },
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=name_tag(label("flow-log")),
            opts=child,
        )
