"""Fixed stand-ins the global test program uses where the real program has regional outputs."""

from __future__ import annotations

ALERT_TOPIC_ARN = "arn:aws:sns:{region}:123456789012:tap-alerts"
# Canonical hosted zones of ALBs in a few regions (what Compute's alb_zone_id reports).
ALB_ZONES = {
    "eu-central-1": "Z215JYRZR1TBD5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-west-2": "Z1H1FL5HABSF5",
}


def fake_alb_dns_name(environment: str, region: str) -> str:
    """What Compute's alb_dns_name looks like for `region`."""
    return f"{environment}-alb-{region}-1234567890.{region}.elb.amazonaws.com"


def fake_listener_alb_arn(environment: str, region: str) -> str:
    return (
        f"arn:aws:elasticloadbalancing:{region}:123456789012:"
        f"loadbalancer/app/{environment}-alb/0123456789abcdef"
    )
