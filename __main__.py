"""TAP: wiring only. Validate config, one provider per region, regional tiers, global pieces."""

import pulumi
import pulumi_aws as aws

from components.bastion import Bastion, BastionArgs
from components.compute import Compute, ComputeArgs
from components.keys import RegionKey, RegionKeyArgs
from components.network import Network, NetworkArgs
from tap.stack_config import load_stack_config
from tap.tags import default_tags

config = load_stack_config()
tags = default_tags(config)

regions: dict[str, dict[str, object]] = {}
notices: list[str] = []
for region in config.regions:
    # One explicit provider per region; default providers are disabled in Pulumi.yaml, so a
    # resource that forgets its provider fails instead of landing in some ambient region.
    provider = aws.Provider(
        f"aws-{region.name}",
        region=region.name,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    in_region = pulumi.ResourceOptions(providers={"aws": provider})

    key = RegionKey(
        f"{region.name}-key",
        RegionKeyArgs(
            environment=config.environment,
            region=region.name,
            deletion_window_in_days=30 if config.is_production else 7,
        ),
        opts=in_region,
    )
    network = Network(
        f"{region.name}-network",
        NetworkArgs(
            environment=config.environment,
            region=region.name,
            vpc_cidr=region.cidr,
            kms_key_arn=key.key_arn,
            az_count=config.network.az_count,
            nat_strategy=config.network.nat_strategy,
            flow_log_retention_days=config.network.flow_log_retention_days,
        ),
        opts=in_region,
    )
    compute_config = config.compute
    certificate_arn = compute_config.certificate_arns.get(region.name)
    compute = Compute(
        f"{region.name}-compute",
        ComputeArgs(
            environment=config.environment,
            region=region.name,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            kms_key_arn=key.key_arn,
            account_id=key.account_id,
            tags=tags,
            is_production=config.is_production,
            instance_type=compute_config.instance_type,
            min_size=compute_config.min_size,
            max_size=compute_config.max_size,
            desired_capacity=compute_config.desired_capacity,
            cpu_target_percent=compute_config.cpu_target_percent,
            app_port=compute_config.app_port,
            ami_id=compute_config.ami_id,
            root_volume_gb=compute_config.root_volume_gb,
            allowed_cidrs=compute_config.allowed_cidrs,
            certificate_arn=certificate_arn,
            log_retention_days=compute_config.log_retention_days,
            alb_log_retention_days=compute_config.alb_log_retention_days,
        ),
        opts=in_region,
    )
    if not compute.https_enabled:
        notices.append(
            f"{region.name}: no certificate configured, the ALB serves plain HTTP only "
            "(set tap:compute.certificate_arns or a tap:dns domain)"
        )
    bastion = compute_config.bastion
    if bastion.enabled and bastion.ssh_cidr and bastion.key_name:
        Bastion(
            f"{region.name}-bastion",
            BastionArgs(
                environment=config.environment,
                region=region.name,
                vpc_id=network.vpc_id,
                subnet_id=network.public_subnet_ids[0],
                ssh_cidr=bastion.ssh_cidr,
                key_name=bastion.key_name,
                kms_key_arn=key.key_arn,
                tags=tags,
                instance_type=bastion.instance_type,
            ),
            opts=in_region,
        )

    regions[region.name] = {
        "vpc_id": network.vpc_id,
        "vpc_cidr": network.vpc_cidr,
        "public_subnet_ids": network.public_subnet_ids,
        "private_subnet_ids": network.private_subnet_ids,
        "database_subnet_ids": network.database_subnet_ids,
        "public_route_table_id": network.public_route_table_id,
        "private_route_table_ids": network.private_route_table_ids,
        "database_route_table_id": network.database_route_table_id,
        "kms_key_arn": key.key_arn,
        "alb_arn": compute.alb_arn,
        "alb_dns_name": compute.alb_dns_name,
        "alb_zone_id": compute.alb_zone_id,
        "target_group_arn": compute.target_group_arn,
        "asg_name": compute.asg_name,
        "url": compute.url,
        "https": compute.https_enabled,
    }

pulumi.export("regions", regions)
pulumi.export("notices", notices)
pulumi.export(
    "deployment_summary",
    {
        "environment": config.environment,
        "primary_region": config.primary_region,
        "regions": list(config.region_names),
        "az_count": config.network.az_count,
        "nat_strategy": config.network.nat_strategy,
    },
)
