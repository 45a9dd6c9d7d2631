"""The dated on-demand price table behind `tap_tooling.cost` (USD, list prices, no discounts).

Assumptions, stated once and printed with every estimate:
- prices are the public on-demand list prices of us-east-1 as of PRICES_AS_OF, read from the
  pages in PRICE_SOURCES; every other region is priced the same (OTHER_REGIONS: us-east-2 and
  us-west-2 list the same prices for most of what TAP uses, other regions are mostly dearer,
  often by 10-30%);
- Linux instances, no Savings Plans, Reserved Instances or credits; of the free tier, only the
  always-free CloudWatch allowances (FREE_TIER), taken as the stack's own (one stack per account);
- a month is 730 hours (the figure AWS's own calculator uses);
- first-year prices: a KMS key with yearly rotation costs $1 a month more after each of its
  first two rotations (KMS pricing, "key rotation"), i.e. $2 in its second year, $3 after.
Update the table (and the date) when AWS changes a price TAP relies on.
"""

from __future__ import annotations

from datetime import date

PRICES_AS_OF = date(2025, 6, 1)
PRICE_REGION = "us-east-1"
OTHER_REGIONS = f"{PRICE_REGION} prices applied to every other region"
"""What the estimate assumes for regions other than PRICE_REGION, printed with it."""
HOURS_PER_MONTH = 730
PRICE_SOURCES: dict[str, str] = {
    "EC2 instances": "https://aws.amazon.com/ec2/pricing/on-demand/",
    "EBS volumes": "https://aws.amazon.com/ebs/pricing/",
    "NAT gateways, public IPv4 addresses": "https://aws.amazon.com/vpc/pricing/",
    "interface endpoints": "https://aws.amazon.com/privatelink/pricing/",
    "load balancers": "https://aws.amazon.com/elasticloadbalancing/pricing/",
    "RDS for PostgreSQL and MySQL": "https://aws.amazon.com/rds/postgresql/pricing/",
    "KMS keys": "https://aws.amazon.com/kms/pricing/",
    "Secrets Manager": "https://aws.amazon.com/secrets-manager/pricing/",
    "CloudWatch alarms, dashboards, metrics": "https://aws.amazon.com/cloudwatch/pricing/",
    "Route 53 zones and health checks": "https://aws.amazon.com/route53/pricing/",
    "WAF": "https://aws.amazon.com/waf/pricing/",
    "CloudTrail": "https://aws.amazon.com/cloudtrail/pricing/",
    "CloudFront": "https://aws.amazon.com/cloudfront/pricing/",
}
"""Where each price below was read (the us-east-1 column of each page)."""

# VPC
NAT_GATEWAY_HOUR = 0.045
# Every public IPv4 address, attached or not, since 2024-02: Elastic IPs, the auto-assigned
# address of an instance (a NAT instance), and each of an internet-facing load balancer's.
PUBLIC_IPV4_HOUR = 0.005
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
    "t4g.nano": 0.0042,
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
KMS_KEY_MONTH = 1.00  # every key: symmetric, asymmetric (DNSSEC signing), replica, external
ALARM_METRIC_MONTH = 0.10  # standard resolution, per metric in the alarm
ALARM_HIGH_RESOLUTION_METRIC_MONTH = 0.30
COMPOSITE_ALARM_MONTH = 0.50
DASHBOARD_MONTH = 3.00
METRIC_MONTH = 0.30  # a custom or detailed-monitoring metric (first 10,000 of the account)
DETAILED_MONITORING_METRICS = 7  # what one instance with detailed monitoring bills (CW pricing)
HEALTH_CHECK_MONTH = 0.50  # basic check of an AWS endpoint
HEALTH_CHECK_FEATURE_MONTH = 1.00  # each of HTTPS, string matching, fast interval, latency
HOSTED_ZONE_MONTH = 0.50
WEB_ACL_MONTH = 5.00
WEB_ACL_RULE_MONTH = 1.00  # each rule, a managed rule group counting as one
# Managed rule groups with a subscription on top of their rule fee (WAF pricing); the AWS
# baseline groups (Common, Known Bad Inputs, IP reputation...) have none.
MANAGED_RULE_GROUP_MONTH: dict[str, float] = {
    "AWSManagedRulesBotControlRuleSet": 10.00,
    "AWSManagedRulesATPRuleSet": 10.00,
    "AWSManagedRulesACFPRuleSet": 10.00,
}
SECRET_MONTH = 0.40  # each secret, and each replica of one in another region
TRAIL_MONTH = 0.00  # the first copy of management events in each region is free
CLOUDFRONT_MONTH = 0.00  # no base fee: requests and transfer are usage

FREE_TIER: dict[str, float] = {
    "alarm metric": 10,  # standard-resolution alarms listing their metrics
    "dashboard": 3,  # of up to 50 metrics each
    "metric": 10,  # custom and detailed-monitoring metrics together
}
"""CloudWatch's always-free allowances, per account and month (all regions together)."""

EXCLUDED = (
    "data transfer out and between regions/AZs",
    "NAT gateway data processing ($0.045/GB)",
    "ALB LCUs (connections, requests, bytes), and the public IPv4 addresses of ALB nodes "
    "beyond one per AZ when it scales out",
    "CloudWatch Logs ingestion and storage (VPC flow logs, application, CloudTrail, WAF logs)",
    "CloudWatch API requests; custom metrics only published on a match (metric filters "
    "without a default value)",
    "KMS requests",
    "S3 storage and requests (access logs, CloudTrail logs)",
    "RDS backup storage beyond the database's size, provisioned IOPS and throughput",
    "CloudTrail data events, Insights and extra copies of management events",
    "CloudFront requests and transfer; WAF requests ($0.60 per million)",
    "Route 53 queries; SNS notifications",
)
"""Usage-based charges the estimate leaves out: they depend on traffic, not on configuration."""
