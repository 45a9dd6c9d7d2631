"""Where the stack's global pieces live: CloudFront, its certificate, WAF, Route53 health alarms.

CloudFront only accepts ACM certificates and WAF web ACLs from us-east-1, and Route53 publishes
health-check metrics only there, so those pieces need a provider in us-east-1. When us-east-1 is
already one of the stack's regions its provider serves; otherwise exactly one extra provider is
made for them.
"""

from __future__ import annotations

from collections.abc import Sequence

GLOBAL_REGION = "us-east-1"


def needs_global_provider(regions: Sequence[str]) -> bool:
    """True when none of the stack's regions is us-east-1, so one extra provider is needed."""
    return GLOBAL_REGION not in regions


def global_provider_name(regions: Sequence[str]) -> str:
    """Resource name of the provider the global pieces use.

    The regional naming (`aws-<region>`) when us-east-1 is a stack region, so the same provider
    is reused; a distinct name otherwise, so adding us-east-1 as a region later does not
    collide with the extra provider.
    """
    if needs_global_provider(regions):
        return f"aws-global-{GLOBAL_REGION}"
    return f"aws-{GLOBAL_REGION}"
