"""The stack's configuration: one frozen, validated model built once per program run.

Every key lives under the `tap:` namespace of `Pulumi.<stack>.yaml`. A bad value stops the
program with a single line naming the key path and the value (see `ConfigError`), before any
resource is registered, so nothing is ever half-deployed because of a typo.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tap.protection import (
    PRODUCTION_REQUIREMENTS,
    Protection,
    decide_production,
    protection_for,
)

NAMESPACE = "tap"

# Commercial AWS regions. A region outside this list is almost always a typo ("us-east1");
# GovCloud and China need other partitions and credentials, which this program does not model.
KNOWN_REGIONS: frozenset[str] = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

# The only values CloudWatch Logs accepts for retention_in_days (0, "never expire", is left
# out on purpose: every log group of the stack must age out).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
# A /16 holds every tier of six AZs with room to grow; below /20 the database and public
# subnets would be too small for ENIs of a Multi-AZ database and the load balancer.
MIN_VPC_PREFIX, MAX_VPC_PREFIX = 16, 20

_ENVIRONMENT_SHAPE = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
_TAG_KEY_SHAPE = re.compile(r"^[\w .:/=+\-@]{1,128}$")


class ConfigError(Exception):
    """A stack configuration problem, reported as one line naming the key path and value."""


class KeyProblem(ValueError):
    """Raised inside validators to point the error at a path below the validated field."""

    def __init__(self, subpath: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.subpath = subpath
        self.value = value
        self.message = message


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TagsConfig(_Strict):
    """Cost-allocation tags that every resource of the stack carries (via provider default_tags)."""

    project: str = Field(min_length=1, max_length=256, description="Value of the Project tag.")
    owner: str = Field(min_length=1, max_length=256, description="Value of the Owner tag.")
    cost_center: str = Field(min_length=1, max_length=256, description="CostCenter tag value.")
    extra: dict[str, str] = Field(default_factory=dict, description="Further tags, free-form.")

    @field_validator("extra")
    @classmethod
    def _extra_keys(cls, extra: dict[str, str]) -> dict[str, str]:
        reserved = {
            "Environment",
            "Project",
            "Owner",
            "CostCenter",
            "Name",
            "ManagedBy",
            "Production",
        }
        for key, value in extra.items():
            if key in reserved:
                raise KeyProblem(f".{key}", value, f"'{key}' is set by TAP itself")
            if key.lower().startswith("aws:") or not _TAG_KEY_SHAPE.match(key):
                raise KeyProblem(f".{key}", value, "is not a valid AWS tag key")
            if len(value) > 256:
                raise KeyProblem(f".{key}", value, "tag values are at most 256 characters")
        return dict(sorted(extra.items()))


class RegionConfig(_Strict):
    """One AWS region of the stack and the VPC address space it owns."""

    name: str = Field(description="AWS region code, e.g. us-east-1.")
    cidr: str = Field(description="The region's VPC CIDR: a private /16../20, unique in the stack.")

    @field_validator("name")
    @classmethod
    def _known_region(cls, name: str) -> str:
        if not _REGION_SHAPE.match(name):
            raise ValueError("is not an AWS region code like 'us-east-1'")
        if name not in KNOWN_REGIONS:
            raise ValueError("is not a known commercial AWS region")
        return name

    @field_validator("cidr")
    @classmethod
    def _private_block(cls, cidr: str) -> str:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            raise ValueError(f"is not a valid IPv4 network ({exc})") from None
        if not isinstance(network, ipaddress.IPv4Network) or not any(
            network.subnet_of(r) for r in _PRIVATE_RANGES
        ):
            raise ValueError("must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
        if not MIN_VPC_PREFIX <= network.prefixlen <= MAX_VPC_PREFIX:
            raise ValueError(f"must be a /{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX} block")
        return str(network)


class NetworkConfig(_Strict):
    """Shape of every region's VPC."""

    az_count: int = Field(default=2, ge=2, le=6, description="Availability zones per region.")
    nat_strategy: Literal["one_per_az", "single", "instance", "none"] = Field(
        default="one_per_az",
        description=(
            "NAT gateways: one per AZ (HA), a single one per region (cheap), a NAT instance per "
            "region (cheapest, self-healing), or none."
        ),
    )
    nat_instance_type: str = Field(
        default="t4g.nano", description="Instance type of a NAT instance (Graviton)."
    )
    flow_log_retention_days: int = Field(default=90, description="Flow-log retention (days).")

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        return check_retention(days)

    @field_validator("nat_instance_type")
    @classmethod
    def _nat_instance_type(cls, value: str) -> str:
        return check_instance_type(value)


def check_retention(days: int) -> int:
    """Accept only retention values CloudWatch Logs takes (raises ValueError otherwise)."""
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return days


_INSTANCE_TYPE_SHAPE = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$")
_AMI_SHAPE = re.compile(r"^ami-[0-9a-f]{8,17}$")
_ACM_ARN_SHAPE = re.compile(r"^arn:aws:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$")
_KEY_NAME_SHAPE = re.compile(r"^[\w .:/=+\-@]{1,255}$")


def check_ipv4_cidr(cidr: str) -> str:
    """A valid IPv4 network in canonical form (raises ValueError otherwise)."""
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise ValueError(f"is not a valid IPv4 network ({exc})") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValueError("must be an IPv4 network")
    return str(network)


def check_instance_type(value: str) -> str:
    if not _INSTANCE_TYPE_SHAPE.match(value):
        raise ValueError("is not an EC2 instance type like 't3.micro'")
    return value


class BastionConfig(_Strict):
    """Optional SSH bastion; off by default (SSM Session Manager is the way in)."""

    enabled: bool = Field(default=False, description="Create a bastion in the first public subnet.")
    ssh_cidr: str | None = Field(default=None, description="The only source admitted on port 22.")
    key_name: str | None = Field(default=None, description="Existing EC2 key pair for SSH.")
    instance_type: str = Field(default="t3.micro", description="Bastion instance type.")

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        return check_instance_type(value)

    @field_validator("ssh_cidr")
    @classmethod
    def _ssh_cidr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cidr = check_ipv4_cidr(value)
        if ipaddress.IPv4Network(cidr).prefixlen == 0:
            raise ValueError("must not admit the whole internet; name your office or VPN range")
        return cidr

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> BastionConfig:
        if self.enabled and not self.ssh_cidr:
            raise KeyProblem("ssh_cidr", None, "is required when the bastion is enabled")
        if self.enabled and not (self.key_name and _KEY_NAME_SHAPE.match(self.key_name)):
            raise KeyProblem("key_name", self.key_name, "is required when the bastion is enabled")
        return self


class ComputeConfig(_Strict):
    """The application tier of every region: ALB, launch template, Auto Scaling group."""

    instance_type: str = Field(default="t3.micro", description="EC2 instance type of the app.")
    min_size: int = Field(default=1, ge=0, le=100, description="ASG minimum per region.")
    max_size: int = Field(default=2, ge=1, le=100, description="ASG maximum per region.")
    desired_capacity: int = Field(default=1, ge=0, le=100, description="ASG initial desired size.")
    cpu_target_percent: int = Field(
        default=60, ge=10, le=90, description="Target-tracking goal for average CPU."
    )
    app_port: int = Field(default=8080, ge=1024, le=65535, description="Port the app listens on.")
    ami_id: str | None = Field(default=None, description="Pin an AMI; default: latest AL2023.")
    root_volume_gb: int = Field(default=20, ge=8, le=1024, description="Root volume size (GiB).")
    allowed_cidrs: tuple[str, ...] = Field(
        default=("0.0.0.0/0",), min_length=1, description="Sources admitted on ALB 80/443."
    )
    certificate_arns: dict[str, str] = Field(
        default_factory=dict, description="Per region, an existing ACM certificate for the ALB."
    )
    log_retention_days: int = Field(default=30, description="Retention of the app log group.")
    alb_log_retention_days: int = Field(default=90, ge=1, le=3650, description="ALB log expiry.")
    bastion: BastionConfig = Field(default_factory=BastionConfig)

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        return check_instance_type(value)

    @field_validator("ami_id")
    @classmethod
    def _ami(cls, value: str | None) -> str | None:
        if value is not None and not _AMI_SHAPE.match(value):
            raise ValueError("is not an AMI id like 'ami-0123456789abcdef0'")
        return value

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        checked = []
        for index, cidr in enumerate(cidrs):
            try:
                checked.append(check_ipv4_cidr(cidr))
            except ValueError as exc:
                raise KeyProblem(f"[{index}]", cidr, str(exc)) from None
        return tuple(checked)

    @field_validator("certificate_arns")
    @classmethod
    def _certificates(cls, arns: dict[str, str]) -> dict[str, str]:
        for region, arn in arns.items():
            match = _ACM_ARN_SHAPE.match(arn)
            if not match:
                raise KeyProblem(f".{region}", arn, "is not an ACM certificate ARN")
            if match.group(1) != region:
                # An ALB can only use a certificate from its own region.
                raise KeyProblem(f".{region}", arn, f"is a certificate of {match.group(1)}")
        return dict(sorted(arns.items()))

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        return check_retention(days)

    @model_validator(mode="after")
    def _sizes(self) -> ComputeConfig:
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise KeyProblem(
                "desired_capacity",
                self.desired_capacity,
                f"must be between min_size {self.min_size} and max_size {self.max_size}",
            )
        return self


_DB_CLASS_SHAPE = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
_PG_VERSION_SHAPE = re.compile(r"^(\d{2})(\.\d+)?$")
_WINDOW_SHAPE = re.compile(r"^\d{2}:\d{2}-\d{2}:\d{2}$")
_MAINTENANCE_SHAPE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$"
)
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)


class DatabaseConfig(_Strict):
    """PostgreSQL: the primary in the primary region, DR replicas in the others."""

    engine_version: str = Field(default="16", description="PostgreSQL 16 or newer.")
    instance_class: str = Field(default="db.t4g.micro", description="DB instance class.")
    allocated_storage: int = Field(default=20, ge=20, le=65536, description="gp3 GiB at start.")
    max_allocated_storage: int = Field(default=100, ge=20, le=65536, description="Autoscaling cap.")
    multi_az: bool = Field(default=False, description="Standby in a second AZ.")
    backup_retention_days: int = Field(default=1, ge=1, le=35, description="Backup retention.")
    backup_window: str = Field(default="03:00-04:00", description="Daily backup window, UTC.")
    maintenance_window: str = Field(default="sun:04:30-sun:05:30", description="Weekly, UTC.")
    monitoring_interval: int = Field(default=0, description="Enhanced monitoring seconds, 0 off.")
    performance_insights: bool = Field(default=False, description="Performance Insights.")
    replicas_enabled: bool = Field(default=True, description="Read replica in each secondary.")
    replica_instance_class: str | None = Field(default=None, description="Default: same class.")
    promoted_regions: tuple[str, ...] = Field(
        default=(), description="Secondaries whose replica was promoted (DR runbook)."
    )
    log_retention_days: int = Field(default=30, description="Retention of exported DB logs.")
    master_password_version: int = Field(
        default=1, ge=1, description="Bump to rotate the master password (a new one is drawn)."
    )

    @field_validator("engine_version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = _PG_VERSION_SHAPE.match(value)
        if not match:
            raise ValueError("is not a PostgreSQL version like '16' or '16.4'")
        if int(match.group(1)) < 16:
            raise ValueError("must be PostgreSQL 16 or newer")
        return value

    @field_validator("instance_class", "replica_instance_class")
    @classmethod
    def _class(cls, value: str | None) -> str | None:
        if value is not None and not _DB_CLASS_SHAPE.match(value):
            raise ValueError("is not a DB instance class like 'db.t4g.micro'")
        return value

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, value: str) -> str:
        if not _WINDOW_SHAPE.match(value):
            raise ValueError("must look like 'hh:mm-hh:mm' (UTC)")
        return value

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str) -> str:
        if not _MAINTENANCE_SHAPE.match(value):
            raise ValueError("must look like 'sun:04:30-sun:05:30' (UTC)")
        return value

    @field_validator("monitoring_interval")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in MONITORING_INTERVALS:
            raise ValueError(f"must be one of {', '.join(map(str, MONITORING_INTERVALS))}")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        return check_retention(days)

    @model_validator(mode="after")
    def _storage(self) -> DatabaseConfig:
        # Storage autoscaling needs a ceiling above the starting size.
        if self.max_allocated_storage <= self.allocated_storage:
            raise KeyProblem(
                "max_allocated_storage",
                self.max_allocated_storage,
                f"must be above allocated_storage {self.allocated_storage}",
            )
        return self


_EMAIL_SHAPE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")


class ThresholdsConfig(_Strict):
    """Alarm thresholds; an alarm fires after `evaluation_periods` breaching minutes."""

    instance_cpu_percent: int = Field(default=85, ge=1, le=100, description="ASG average CPU.")
    alb_5xx_count: int = Field(default=10, ge=1, description="5XX responses per minute.")
    target_response_seconds: float = Field(default=2.0, gt=0, le=60, description="Avg latency.")
    unhealthy_hosts: int = Field(default=1, ge=1, description="Unhealthy targets.")
    db_cpu_percent: int = Field(default=80, ge=1, le=100, description="RDS CPU.")
    db_free_storage_gb: int = Field(default=5, ge=1, description="RDS free storage floor.")
    db_free_memory_mb: int = Field(default=128, ge=1, description="RDS freeable memory floor.")
    db_connections: int = Field(default=100, ge=1, description="RDS connections ceiling.")
    waf_blocked_requests: int = Field(
        default=100, ge=1, description="WAF blocked requests per minute (a spike)."
    )
    replica_lag_seconds: int = Field(default=300, ge=1, description="DR replica lag ceiling.")
    evaluation_periods: int = Field(default=3, ge=1, le=60, description="Minutes in breach.")


class AlertsConfig(_Strict):
    """Who is paged, and when."""

    emails: tuple[str, ...] = Field(default=(), description="Addresses subscribed to alerts.")
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig)

    @field_validator("emails")
    @classmethod
    def _emails(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        for index, email in enumerate(emails):
            if not _EMAIL_SHAPE.match(email):
                raise KeyProblem(f"[{index}]", email, "is not an email address")
        if len(set(emails)) != len(emails):
            raise ValueError("lists an address twice")
        return tuple(sorted(emails))


GLACIER_MINIMUM_DAYS = 90


class AuditConfig(_Strict):
    """The stack's one CloudTrail trail and how long its logs live."""

    transition_ia_days: int = Field(default=30, ge=30, description="To STANDARD_IA after.")
    transition_glacier_days: int = Field(default=90, ge=31, description="To GLACIER after.")
    expiration_days: int = Field(default=365, ge=1, description="Deleted after.")
    log_retention_days: int = Field(
        default=365, description="Retention of the trail's CloudWatch Logs copy (CIS alarms)."
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        return check_retention(days)

    @model_validator(mode="after")
    def _order(self) -> AuditConfig:
        # S3 wants objects 30 days in STANDARD_IA before a lifecycle rule moves them on.
        if self.transition_glacier_days < self.transition_ia_days + 30:
            raise KeyProblem(
                "transition_glacier_days",
                self.transition_glacier_days,
                f"must be at least transition_ia_days + 30 ({self.transition_ia_days + 30})",
            )
        # GLACIER (Flexible Retrieval) bills at least 90 days per object: expiring sooner pays
        # an early-deletion charge on every log file (S3 User Guide, "Constraints and
        # considerations for transitions").
        minimum = self.transition_glacier_days + GLACIER_MINIMUM_DAYS
        if self.expiration_days < minimum:
            raise KeyProblem(
                "expiration_days",
                self.expiration_days,
                f"must be at least transition_glacier_days + {GLACIER_MINIMUM_DAYS} ({minimum}): "
                "GLACIER bills 90 days per object",
            )
        return self


# Names that can never be delegated to a Route53 zone: RFC 2606 (the example second-level
# domains and the .test, .example, .invalid and .localhost TLDs) and RFC 6761 (special-use
# names, among them .local for mDNS per RFC 6762). Route53 refuses them ("InvalidDomainName:
# example.com is reserved by AWS"); a certificate for them can never be validated.
RESERVED_DOMAINS: tuple[str, ...] = (
    "example.com", "example.net", "example.org",
    "example", "test", "invalid", "localhost", "local",
)  # fmt: skip
PLACEHOLDER_DOMAIN = "replace-me.invalid"
"""What a stack file ships until its owner sets a real domain: the offline plan runs with a
stand-in (tap_tooling.offline), and a real preview or up stops on it with one line."""


def reserved_suffix(domain: str) -> str | None:
    """The reserved name `domain` is, or lies under (None when it may be delegated)."""
    name = domain.rstrip(".").lower()
    for reserved in RESERVED_DOMAINS:
        if name == reserved or name.endswith(f".{reserved}"):
            return reserved
    return None


_DOMAIN_SHAPE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LABEL_SHAPE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ZONE_ID_SHAPE = re.compile(r"^Z[A-Z0-9]{4,31}$")


class HealthCheckConfig(_Strict):
    """Route53 health checks of each region's ALB."""

    failure_threshold: int = Field(default=3, ge=1, le=10, description="Failures before unhealthy.")
    request_interval: Literal[10, 30] = Field(default=30, description="Seconds between checks.")


class DnsConfig(_Strict):
    """The application's DNS name, its hosted zone, and failover between regions."""

    domain: str = Field(description="Apex domain of the hosted zone, e.g. acme.io.")
    zone_id: str | None = Field(default=None, description="Use this existing public zone.")
    create_zone: bool = Field(default=False, description="Create the zone (else look it up).")
    record_name: str = Field(default="app", description="Label of the app: app.<domain>.")
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    query_log_retention_days: int = Field(
        default=30, description="Retention of a created zone's query logs (us-east-1)."
    )

    @field_validator("query_log_retention_days")
    @classmethod
    def _query_log_retention(cls, days: int) -> int:
        return check_retention(days)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.rstrip(".").lower()
        if value == PLACEHOLDER_DOMAIN:
            raise ValueError(
                "is the shipped placeholder: set a domain you own "
                "(pulumi config set --path tap:dns.domain <your-domain>)"
            )
        if not _DOMAIN_SHAPE.match(value):
            raise ValueError("is not a DNS domain name like 'app.acme.io'")
        reserved = reserved_suffix(value)
        if reserved is not None:
            raise ValueError(
                f"is reserved ({reserved}, RFC 2606/6761) and cannot be delegated: "
                "set a domain you own"
            )
        return value

    @field_validator("record_name")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL_SHAPE.match(value):
            raise ValueError("must be one DNS label (lowercase letters, digits, '-')")
        return value

    @field_validator("zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is not None and not _ZONE_ID_SHAPE.match(value):
            raise ValueError("is not a Route53 hosted zone id like 'Z0123456789ABCDEFGHIJ'")
        return value

    @model_validator(mode="after")
    def _one_zone_source(self) -> DnsConfig:
        if self.zone_id and self.create_zone:
            raise KeyProblem("create_zone", True, "conflicts with zone_id: use one or the other")
        return self

    @property
    def app_fqdn(self) -> str:
        return f"{self.record_name}.{self.domain}"


class EdgeConfig(_Strict):
    """CloudFront in front of the failover name, optionally behind AWS WAF."""

    cloudfront_enabled: bool = Field(default=False, description="Serve through CloudFront.")
    waf_enabled: bool = Field(default=False, description="AWS WAF (managed common rules).")
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = Field(
        default="PriceClass_100", description="CloudFront edge locations to use."
    )
    log_retention_days: int = Field(default=90, ge=1, le=3650, description="Access-log expiry.")
    # AWS WAF API Reference, RateBasedStatement.Limit: 10 to 2,000,000,000 requests per
    # evaluation window (the minimum was lowered from 100 to 10 in August 2024).
    waf_rate_limit: int = Field(
        default=2000,
        ge=10,
        le=2_000_000_000,
        description="WAF: requests per 5 minutes one IP may send before it is blocked.",
    )
    waf_log_retention_days: int = Field(default=90, description="Retention of the WAF logs.")
    origin_secret_version: int = Field(
        default=1,
        ge=1,
        description="Bump to rotate the origin header (the old one stays valid one more step).",
    )

    @field_validator("waf_log_retention_days")
    @classmethod
    def _waf_retention(cls, days: int) -> int:
        return check_retention(days)

    @model_validator(mode="after")
    def _waf_needs_cloudfront(self) -> EdgeConfig:
        if self.waf_enabled and not self.cloudfront_enabled:
            raise KeyProblem("waf_enabled", True, "needs cloudfront_enabled: true")
        return self


_ACCOUNT_SHAPE = re.compile(r"^\d{12}$")
_ROLE_ARN_SHAPE = re.compile(r"^arn:aws:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
# STS AssumeRole ExternalId: 2-1224 characters of [\w+=,.@:/-] (STS API Reference).
_EXTERNAL_ID_SHAPE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
# STS AssumeRole RoleSessionName: 2-64 characters of [\w+=,.@-].
_SESSION_NAME_SHAPE = re.compile(r"^[\w+=,.@-]{2,64}$")


class AwsConfig(_Strict):
    """Which AWS account the stack deploys into, and how the deploy reaches it."""

    account_id: str | None = Field(
        default=None, description="Expected account id: providers and deploy.py refuse others."
    )
    assume_role_arn: str | None = Field(
        default=None, description="Role every provider and deploy.py assume in that account."
    )
    external_id: str | None = Field(default=None, description="ExternalId the role's trust needs.")
    session_name: str = Field(default="tap-deploy", description="STS session name (CloudTrail).")

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT_SHAPE.match(value):
            raise ValueError("is not a 12-digit AWS account id")
        return value

    @field_validator("assume_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN_SHAPE.match(value):
            raise ValueError("is not an IAM role ARN like 'arn:aws:iam::123456789012:role/deploy'")
        return value

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        if value is not None and not _EXTERNAL_ID_SHAPE.match(value):
            raise ValueError("must be 2-1224 characters of letters, digits and +=,.@:/-")
        return value

    @field_validator("session_name")
    @classmethod
    def _session_name(cls, value: str) -> str:
        if not _SESSION_NAME_SHAPE.match(value):
            raise ValueError("must be 2-64 characters of letters, digits and +=,.@-")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AwsConfig:
        if self.external_id and not self.assume_role_arn:
            raise KeyProblem("external_id", self.external_id, "needs assume_role_arn")
        match = _ROLE_ARN_SHAPE.match(self.assume_role_arn or "")
        if match and self.account_id and match.group(1) != self.account_id:
            raise KeyProblem(
                "assume_role_arn",
                self.assume_role_arn,
                f"is a role of account {match.group(1)}, not of account_id {self.account_id}",
            )
        return self

    @property
    def expected_account(self) -> str | None:
        """The account the credentials must resolve to: the one named, else the role's."""
        match = _ROLE_ARN_SHAPE.match(self.assume_role_arn or "")
        return self.account_id or (match.group(1) if match else None)


@dataclass(frozen=True)
class DatabasePlan:
    """A region's database, as the config decides it."""

    role: Literal["primary", "replica", "promoted"]
    """primary: the stack's writable database; replica: a cross-region DR read replica of it;
    promoted: a former replica the DR runbook made writable."""
    instance_class: str
    """database.instance_class, or database.replica_instance_class for a replica."""
    multi_az: bool
    """database.multi_az on a writable database; never on a DR replica."""

    @property
    def writable(self) -> bool:
        return self.role != "replica"


@dataclass(frozen=True)
class RegionPlan:
    """One region's place in the stack (StackConfig.region_plans)."""

    name: str
    cidr: str
    is_primary: bool
    certificate_arn: str | None
    """An existing ACM certificate of this region (compute.certificate_arns), if configured."""
    database: DatabasePlan | None
    """None: no database here (replicas_enabled is off and this is not the primary)."""


class StackConfig(_Strict):
    """Everything a stack varies on; the same topology for dev, staging and prod."""

    environment: str = Field(
        description="Environment name used in names and tags (default: the stack name)."
    )
    production: bool | None = Field(
        default=None,
        description="Production protection and rules; default: environment is 'prod'.",
    )
    aws: AwsConfig = Field(default_factory=AwsConfig)
    tags: TagsConfig
    regions: tuple[RegionConfig, ...] = Field(
        min_length=2, description="Regions, primary included."
    )
    primary_region: str = Field(
        default="", description="Region of the primary database (default: the first region)."
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    dns: DnsConfig | None = Field(default=None, description="No domain: no DNS, ACM, CloudFront.")
    edge: EdgeConfig = Field(default_factory=EdgeConfig)

    @field_validator("environment")
    @classmethod
    def _environment(cls, environment: str) -> str:
        if not _ENVIRONMENT_SHAPE.match(environment):
            raise ValueError(
                "must be 2-16 lowercase letters, digits or '-', starting with a letter"
            )
        return environment

    @field_validator("regions")
    @classmethod
    def _distinct_regions(cls, regions: tuple[RegionConfig, ...]) -> tuple[RegionConfig, ...]:
        seen_names: dict[str, int] = {}
        seen_cidrs: list[tuple[int, ipaddress.IPv4Network]] = []
        for index, region in enumerate(regions):
            if region.name in seen_names:
                raise KeyProblem(
                    f"[{index}].name",
                    region.name,
                    f"duplicates regions[{seen_names[region.name]}].name",
                )
            seen_names[region.name] = index
            network = ipaddress.IPv4Network(region.cidr)
            for other_index, other in seen_cidrs:
                if network.overlaps(other):
                    raise KeyProblem(
                        f"[{index}].cidr",
                        region.cidr,
                        f"overlaps regions[{other_index}].cidr {other}",
                    )
            seen_cidrs.append((index, network))
        return regions

    @model_validator(mode="after")
    def _primary_among_regions(self) -> StackConfig:
        names = [r.name for r in self.regions]
        if not self.primary_region:
            # Frozen model: the documented default (first region) is filled in here.
            object.__setattr__(self, "primary_region", names[0])
        elif self.primary_region not in names:
            raise KeyProblem(
                "primary_region",
                self.primary_region,
                f"must be one of the configured regions ({', '.join(names)})",
            )
        for region in self.compute.certificate_arns:
            if region not in names:
                raise KeyProblem(
                    f"compute.certificate_arns.{region}",
                    self.compute.certificate_arns[region],
                    "names a region that is not in tap:regions",
                )
        if self.edge.cloudfront_enabled and self.dns is None:
            raise KeyProblem(
                "edge.cloudfront_enabled", True, "needs tap:dns (CloudFront serves the domain)"
            )
        for index, region in enumerate(self.database.promoted_regions):
            if region not in self.secondary_regions or not self.database.replicas_enabled:
                raise KeyProblem(
                    f"database.promoted_regions[{index}]",
                    region,
                    "must be a secondary region with a DR replica (replicas_enabled)",
                )
        if self.is_production:
            for requirement in PRODUCTION_REQUIREMENTS:
                if requirement.applies_when and not self.value_at(requirement.applies_when):
                    continue
                value = self.value_at(requirement.key)
                if not requirement.holds(value):
                    raise KeyProblem(requirement.key, value, requirement.message)
        return self

    def value_at(self, key: str) -> Any:
        """The value at a dotted key under `tap:` ("database.multi_az"); None under an
        optional section that is not set (`dns`)."""
        value: Any = self
        for part in key.split("."):
            if value is None:
                return None
            value = getattr(value, part)
        return value

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    @property
    def secondary_regions(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions if r.name != self.primary_region)

    @property
    def active_region(self) -> str:
        """Where writes go and failover points first: the primary, or the promoted replica."""
        promoted = self.database.promoted_regions
        return promoted[0] if promoted else self.primary_region

    @property
    def is_production(self) -> bool:
        """Whether the stack is production (decided in tap.protection)."""
        return decide_production(self.environment, self.production)

    @property
    def protection(self) -> Protection:
        """What production changes, as one value every component gets."""
        return protection_for(self.is_production)

    @property
    def failover_fqdn(self) -> str | None:
        """The name that fails over between the regions' ALBs. Behind CloudFront the regions
        fail over at an origin name and users resolve the app name to the distribution;
        without it, the app name itself fails over. None without a domain."""
        if self.dns is None:
            return None
        return f"origin.{self.dns.app_fqdn}" if self.edge.cloudfront_enabled else self.dns.app_fqdn

    @property
    def zone_dnssec(self) -> bool:
        """A zone the stack creates in production is DNSSEC-signed and query-logged; a looked-up
        zone is its owner's to sign."""
        return self.is_production and self.dns is not None and self.dns.create_zone

    @property
    def zone_query_log_retention_days(self) -> int | None:
        """Days a signed zone's query logs are kept; None: no query logging."""
        return self.dns.query_log_retention_days if self.zone_dnssec and self.dns else None

    @property
    def region_plans(self) -> tuple[RegionPlan, ...]:
        """Every region's role, primary first: its database is the source of the others'
        replicas, the one cross-region dependency besides the global pieces."""
        ordered = sorted(self.regions, key=lambda r: r.name != self.primary_region)
        return tuple(self._region_plan(region) for region in ordered)

    def _region_plan(self, region: RegionConfig) -> RegionPlan:
        database = self.database
        is_primary = region.name == self.primary_region
        plan: DatabasePlan | None = None
        if is_primary:
            plan = DatabasePlan("primary", database.instance_class, database.multi_az)
        elif database.replicas_enabled:
            # A promoted replica is the writable database of the stack until the region flips
            # back: it gets the primary's Multi-AZ; a DR replica never does (a standby of a
            # standby doubles the replica's cost for no failover AWS would perform).
            promoted = region.name in database.promoted_regions
            plan = DatabasePlan(
                "promoted" if promoted else "replica",
                database.replica_instance_class or database.instance_class,
                database.multi_az and promoted,
            )
        return RegionPlan(
            name=region.name,
            cidr=region.cidr,
            is_primary=is_primary,
            certificate_arn=self.compute.certificate_arns.get(region.name),
            database=plan,
        )


def parse_stack_config(raw: Mapping[str, Any], stack: str) -> StackConfig:
    """Validate raw `tap:` config values (keys without the namespace) into a StackConfig.

    Values may be JSON strings (that is how the engine hands structured config to the
    program) or already-decoded objects (tests, the offline plan).
    """
    data = {key: _decode(value) for key, value in raw.items()}
    data.setdefault("environment", stack)
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    loc = list(error["loc"])
    problem = (error.get("ctx") or {}).get("error")
    if isinstance(problem, KeyProblem):
        subpath = problem.subpath if problem.subpath[:1] in ("[", ".") else f".{problem.subpath}"
        path = _format_path(loc) + subpath
        value, message = problem.value, problem.message
    else:
        path = _format_path(loc)
        value = error.get("input")
        message = _plain_message(error)
    # Only the first problem is reported: later ones are often consequences of it (a bad
    # region also makes the region list "too short"), and the user fixes one line at a time.
    if error["type"] == "missing" or value is None:
        text = "is required" if error["type"] == "missing" else message
        return f"invalid config {NAMESPACE}:{path.lstrip('.')}: {text}"
    shown = json.dumps(value, sort_keys=True, default=str)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"invalid config {NAMESPACE}:{path.lstrip('.')} = {shown}: {message}"


def _plain_message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling against README's config reference)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _format_path(loc: list[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
