"""Where the stack's global pieces live: the zone, CloudFront, its certificate, WAF, and the
Route53 health checks with their alarms.

CloudFront only accepts ACM certificates and WAF web ACLs from us-east-1, and Route53 publishes
health-check metrics only there, so those pieces need a provider in us-east-1. They always get
one provider of their own, named `aws-global` whatever the region list: a resource whose provider
changes is replaced by the engine, so reusing the us-east-1 regional provider when us-east-1 is a
stack region (and an extra one otherwise) would replace the zone, its name servers and the
distribution the day us-east-1 is added to or removed from the regions.
"""

from __future__ import annotations

GLOBAL_REGION = "us-east-1"
GLOBAL_PROVIDER_NAME = "aws-global"
"""Never `aws-<region>`: regional providers are named that way, so the two cannot collide."""
