"""Tags: the stack-wide set carried by every regional provider, plus each resource's Name."""

from __future__ import annotations

from tap.config import StackConfig


def default_tags(config: StackConfig) -> dict[str, str]:
    """Tags every resource carries via its provider's default_tags (sorted, so stable)."""
    tags = {
        "Environment": config.environment,
        "Project": config.tags.project,
        "Owner": config.tags.owner,
        "CostCenter": config.tags.cost_center,
        "ManagedBy": "pulumi",
        # What the config decided (tap:production, else environment prod): the policy pack
        # reads it from the provider's default tags, so any stack name can be production.
        "Production": "true" if config.is_production else "false",
        **config.tags.extra,
    }
    return dict(sorted(tags.items()))


def name_tag(name: str, **extra: str) -> dict[str, str]:
    """The per-resource tags: a Name, plus any resource-specific ones."""
    return dict(sorted({"Name": name, **extra}.items()))
