"""Production: the one module that decides what being production means.

Whether a stack is production is its `tap:production`, else whether its environment is
`prod`. What that changes is a `Protection` value handed to the components, each field named
for what it does (no component reads a generic "is production" flag), and a few config
requirements a production stack must meet, checked once when the config is validated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SECRET_RECOVERY_WINDOWS = frozenset({0, *range(7, 31)})
PRODUCTION_ENVIRONMENT = "prod"
MIN_PRODUCTION_LOG_DAYS = 365
"""The environment that is production unless `tap:production` says otherwise."""


def decide_production(environment: str, explicit: bool | None) -> bool:
    """`tap:production` when set, else whether the environment is `prod` (so a stack of any
    name, `prod-eu` or `qa`, says what it is in its config)."""
    return explicit if explicit is not None else environment == PRODUCTION_ENVIRONMENT


@dataclass(frozen=True)
class Protection:
    """How hard the stack is to break or delete: the same value reaches every component."""

    deletion_protection: bool
    """AWS-side deletion protection (RDS, ALB): a destroy fails until it is turned off."""
    retain_on_delete: bool
    """Keep data on destroy: a final DB snapshot, buckets and zones not emptied."""
    key_deletion_window_days: int
    """Waiting period of a deleted KMS key (7 to 30): everything it encrypted dies with it."""
    secret_recovery_window_days: int
    """Days a deleted secret stays recoverable: 7 to 30, or 0 to delete it at once (a
    re-created stack can then reuse nothing by mistake)."""
    min_healthy_percent: int
    """Share of instances kept in service during a rolling instance refresh."""
    changes_wait_for_maintenance: bool
    """Disruptive database changes wait for the maintenance window instead of applying now."""

    def __post_init__(self) -> None:
        # KMS ScheduleKeyDeletion, PendingWindowInDays: "between 7 and 30, inclusive".
        if not 7 <= self.key_deletion_window_days <= 30:
            raise ValueError(f"key_deletion_window_days {self.key_deletion_window_days}: 7 to 30")
        # Secrets Manager DeleteSecret, RecoveryWindowInDays: "from 7 to 30"; the provider's 0
        # deletes at once (ForceDeleteWithoutRecovery).
        if self.secret_recovery_window_days not in SECRET_RECOVERY_WINDOWS:
            raise ValueError(
                f"secret_recovery_window_days {self.secret_recovery_window_days}: 0 or 7 to 30"
            )
        if not 0 <= self.min_healthy_percent <= 100:
            raise ValueError(f"min_healthy_percent {self.min_healthy_percent}: 0 to 100")


PRODUCTION = Protection(
    deletion_protection=True,
    retain_on_delete=True,
    key_deletion_window_days=30,
    secret_recovery_window_days=30,
    min_healthy_percent=90,
    changes_wait_for_maintenance=True,
)
# Outside production, `pulumi destroy` finishes in one go and leaves nothing to pay for.
NON_PRODUCTION = Protection(
    deletion_protection=False,
    retain_on_delete=False,
    key_deletion_window_days=7,
    secret_recovery_window_days=0,
    min_healthy_percent=50,
    changes_wait_for_maintenance=False,
)


def protection_for(production: bool) -> Protection:
    """PRODUCTION or NON_PRODUCTION."""
    return PRODUCTION if production else NON_PRODUCTION


@dataclass(frozen=True)
class Requirement:
    """A config value production needs: `key` under `tap:`, and why."""

    key: str
    holds: Callable[[Any], bool]
    """Takes the value at `key`."""
    message: str
    applies_when: str | None = None
    """A dotted boolean key: the requirement applies only when it is true (the resource it
    protects exists)."""


def _a_year_or_more(days: int | None) -> bool:
    return days is None or days >= MIN_PRODUCTION_LOG_DAYS


# What production must have, checked on the whole config so it cannot be weakened by a typo.
PRODUCTION_REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("database.multi_az", bool, "must be true in prod"),
    Requirement("database.backup_retention_days", lambda v: v >= 7, "must be at least 7 in prod"),
    Requirement("database.monitoring_interval", lambda v: v > 0, "must be above 0 in prod"),
    Requirement("database.performance_insights", bool, "must be true in prod"),
    Requirement("database.replicas_enabled", bool, "must be true in prod (DR replica)"),
    Requirement("compute.min_size", lambda v: v >= 2, "prod needs at least 2 instances per region"),
    Requirement(
        "edge.waf_enabled", bool, "must be true in prod with CloudFront", "edge.cloudfront_enabled"
    ),
    # Every log group the stack creates keeps a year in production (CIS AWS Foundations v3 and
    # the audit needs of a production account); None: the group is not created.
    *(
        Requirement(key, _a_year_or_more, "must be at least 365 in prod", applies_when)
        for key, applies_when in (
            ("network.flow_log_retention_days", None),
            ("compute.log_retention_days", None),
            ("database.log_retention_days", None),
            ("audit.log_retention_days", None),
            ("edge.waf_log_retention_days", "edge.waf_enabled"),
            ("dns.query_log_retention_days", "dns.create_zone"),
        )
    ),
)
