"""TAP: wiring only. Validate config, one provider per region, regional tiers, global pieces."""

import pulumi
import pulumi_aws as aws

from components.keys import RegionKey, RegionKeyArgs
from components.network import Network, NetworkArgs
from tap.stack_config import load_stack_config
from tap.tags import default_tags

config = load_stack_config()
tags = default_tags(config)

regions: dict[str, dict[str, object]] = {}
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
    }

pulumi.export("regions", regions)
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
