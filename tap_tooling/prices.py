"""The dated on-demand price table behind `tap_tooling.cost` (USD, list prices, no discounts).

Assumptions, stated once and printed with every estimate:
- prices are the public on-demand list prices of us-east-1 as of PRICES_AS_OF; every other
  region is priced the same (most US and EU regions are within ~10-20% of it, some higher);
- Linux instances, no Savings Plans, Reserved Instances, free tier or credits;
- a month is 730 hours (the figure AWS's own calculator uses).
Update the table (and the date) when AWS changes a price TAP relies on.
"""

from __future__ import annotations

from datetime import date

PRICES_AS_OF = date(2025, 6, 1)
PRICE_REGION = "us-east-1"
HOURS_PER_MONTH = 730

# VPC
NAT_GATEWAY_HOUR = 0.045
PUBLIC_IPV4_HOUR = 0.005  # every public IPv4 address, attached or not, since 2024-02
INTERFACE_ENDPOINT_AZ_HOUR = 0.01

# Load balancing (hours only; LCUs are usage)
ALB_HOUR = 0.0225
NLB_HOUR = 0.0225
GWLB_HOUR = 0.0125

# EC2 on-demand, Linux, per instance-hour
EC2_HOUR: dict[str, float] = {
    "t3.nano": 0.0052,
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "t3.xlarge": 0.1664,
    "t3a.micro": 0.0094,
    "t3a.small": 0.0188,
    "t3a.medium": 0.0376,
    "t3a.large": 0.0752,
    "t4g.micro": 0.0084,
    "t4g.small": 0.0168,
    "t4g.medium": 0.0336,
    "t4g.large": 0.0672,
    "m5.large": 0.096,
    "m5.xlarge": 0.192,
    "m6i.large": 0.096,
    "m6i.xlarge": 0.192,
    "m6g.large": 0.077,
    "m7g.large": 0.0816,
    "m7i.large": 0.1008,
    "c5.large": 0.085,
    "c6i.large": 0.085,
    "c6g.large": 0.068,
    "c7g.large": 0.0725,
    "r6i.large": 0.126,
    "r6g.large": 0.1008,
}

# EBS, per GB-month of provisioned storage
EBS_GB_MONTH: dict[str, float] = {"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "st1": 0.045}

# RDS on-demand, Single-AZ, per instance-hour (Multi-AZ doubles it: a standby of the same size)
RDS_HOUR: dict[str, dict[str, float]] = {
    "postgres": {
        "db.t3.micro": 0.018,
        "db.t3.small": 0.036,
        "db.t3.medium": 0.072,
        "db.t3.large": 0.145,
        "db.t4g.micro": 0.016,
        "db.t4g.small": 0.032,
        "db.t4g.medium": 0.065,
        "db.t4g.large": 0.129,
        "db.m5.large": 0.178,
        "db.m6g.large": 0.159,
        "db.m6i.large": 0.178,
        "db.m7g.large": 0.168,
        "db.r6g.large": 0.225,
        "db.r6i.large": 0.25,
    },
    "mysql": {
        "db.t3.micro": 0.017,
        "db.t3.small": 0.034,
        "db.t3.medium": 0.068,
        "db.t3.large": 0.136,
        "db.t4g.micro": 0.016,
        "db.t4g.small": 0.032,
        "db.t4g.medium": 0.065,
        "db.t4g.large": 0.129,
        "db.m5.large": 0.171,
        "db.m6g.large": 0.152,
        "db.m6i.large": 0.171,
        "db.m7g.large": 0.168,
        "db.r6g.large": 0.216,
        "db.r6i.large": 0.24,
    },
}
RDS_ENGINE_FAMILY = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}
# RDS storage per GB-month, Single-AZ (Multi-AZ doubles it)
RDS_STORAGE_GB_MONTH: dict[str, float] = {
    "gp3": 0.115,
    "gp2": 0.115,
    "io1": 0.125,
    "standard": 0.10,
}
RDS_DEFAULT_STORAGE_TYPE = "gp2"  # what RDS picks when storageType is not given

# Monthly fees
KMS_KEY_MONTH = 1.00
ALARM_METRIC_MONTH = 0.10  # standard resolution, per metric in the alarm
ALARM_HIGH_RESOLUTION_METRIC_MONTH = 0.30
COMPOSITE_ALARM_MONTH = 0.50
DASHBOARD_MONTH = 3.00
HEALTH_CHECK_MONTH = 0.50  # basic check of an AWS endpoint
HEALTH_CHECK_FEATURE_MONTH = 1.00  # each of HTTPS, string matching, fast interval, latency
HOSTED_ZONE_MONTH = 0.50
WEB_ACL_MONTH = 5.00
WEB_ACL_RULE_MONTH = 1.00
SECRET_MONTH = 0.40
TRAIL_MONTH = 0.00  # the first copy of management events in each region is free
CLOUDFRONT_MONTH = 0.00  # no base fee: requests and transfer are usage

EXCLUDED = (
    "data transfer out and between regions/AZs",
    "NAT gateway data processing ($0.045/GB)",
    "ALB LCUs (connections, requests, bytes) and the ALB's own public IPv4 addresses",
    "CloudWatch Logs ingestion and storage (VPC flow logs, application logs)",
    "CloudWatch metrics, API requests; the account's free 10 alarms and 3 dashboards",
    "KMS requests",
    "S3 storage and requests (access logs, CloudTrail logs)",
    "RDS backup storage beyond the database's size, provisioned IOPS and throughput",
    "CloudTrail data events, Insights and extra copies of management events",
    "CloudFront requests and transfer; WAF requests ($0.60 per million)",
    "Route 53 queries; SNS notifications",
)
"""Usage-based charges the estimate leaves out: they depend on traffic, not on configuration."""
