"""Where the global pieces live: one `aws-global` provider in us-east-1, whatever the regions.

A resource whose provider (or name, type or parent) changes is replaced by the engine, so the
test that matters is the identity one: adding or removing us-east-1 as a stack region leaves
the URN and provider of every global piece unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tap_tooling.offline import PlanResult

PROVIDER = "pulumi:providers:aws"
DNS = {"domain": "acme-platform.io", "create_zone": True}
EDGE = {"cloudfront_enabled": True, "waf_enabled": True}
EU_REGIONS = [
    {"name": "eu-west-1", "cidr": "10.40.0.0/16"},
    {"name": "eu-central-1", "cidr": "10.41.0.0/16"},
]
WITH_EAST = [*EU_REGIONS, {"name": "us-east-1", "cidr": "10.42.0.0/16"}]
STATEFUL = {"Zone", "Distribution", "WebAcl", "Key", "Certificate", "LogGroup", "Bucket", "Topic"}
GLOBAL_TYPES = (
    "aws:route53/zone:Zone",
    "aws:cloudfront/distribution:Distribution",
    "aws:wafv2/webAcl:WebAcl",
    "aws:route53/healthCheck:HealthCheck",
    "aws:cloudwatch/logDeliverySource:LogDeliverySource",
)


def global_pieces(plan: PlanResult) -> dict[str, str]:
    """URN -> provider URN of everything on the global provider."""
    (provider,) = [p for p in plan.of_type(PROVIDER) if p.name == GLOBAL_PROVIDER_NAME]
    return {r.urn: r.provider_urn for r in plan.resources if r.provider_urn == provider.urn}


def test_global_provider_is_its_own_and_in_us_east_1(
    run_config: Callable[..., PlanResult],
) -> None:
    plan = run_config("dev", dns=DNS, edge=EDGE)
    providers = {p.name: p for p in plan.of_type(PROVIDER)}
    # us-east-1 is a stack region here, and still the global pieces do not share its provider.
    assert sorted(providers) == ["aws-global", "aws-us-east-1", "aws-us-west-2"]
    glob = providers[GLOBAL_PROVIDER_NAME]
    assert glob.inputs["region"] == GLOBAL_REGION
    assert glob.inputs["defaultTags"] == providers["aws-us-east-1"].inputs["defaultTags"]
    for type_ in GLOBAL_TYPES:
        assert {r.provider_urn for r in plan.of_type(type_)} == {glob.urn}, type_
    health_alarms = [
        r
        for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if r.inputs["namespace"] == "AWS/Route53"
    ]
    assert health_alarms and {r.provider_urn for r in health_alarms} == {glob.urn}


@pytest.mark.parametrize(
    ("before", "after"),
    [(EU_REGIONS, WITH_EAST), (WITH_EAST, EU_REGIONS)],
    ids=["add-us-east-1", "remove-us-east-1"],
)
def test_adding_or_removing_us_east_1_replaces_no_global_piece(
    run_config: Callable[..., PlanResult], before: list, after: list
) -> None:
    first = run_config("prod", regions=before, primary_region="eu-west-1", dns=DNS, edge=EDGE)
    second = run_config("prod", regions=after, primary_region="eu-west-1", dns=DNS, edge=EDGE)
    kept, now = global_pieces(first), global_pieces(second)
    assert len(kept) > 20
    # Every global piece in both plans sits on the same provider (a changed provider is a
    # replacement), and the stateful ones are all still there with the same inputs.
    for urn in kept.keys() & now.keys():
        assert now[urn] == kept[urn], urn
    stateful = [r for r in first.resources if r.urn in kept and r.type.split(":")[-1] in STATEFUL]
    assert {r.type for r in stateful} >= {"aws:route53/zone:Zone", "aws:kms/key:Key"}
    by_urn = second.by_urn()
    for resource in stateful:
        assert resource.urn in now, resource.urn
        assert by_urn[resource.urn].inputs == resource.inputs, resource.urn


def test_regional_certificates_stay_in_their_regions(
    run_config: Callable[..., PlanResult],
) -> None:
    plan = run_config("prod", regions=EU_REGIONS, primary_region="eu-west-1", dns=DNS, edge=EDGE)
    regional = {
        r.region for r in plan.of_type("aws:acm/certificate:Certificate") if "edge" not in r.name
    }
    assert regional == {"eu-west-1", "eu-central-1"}


def test_no_domain_no_global_provider(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", regions=EU_REGIONS, primary_region="eu-west-1")
    assert sorted(p.name for p in plan.of_type(PROVIDER)) == ["aws-eu-central-1", "aws-eu-west-1"]


def test_global_pieces_do_not_take_the_names_of_a_us_east_1_region(
    run_config: Callable[..., PlanResult],
) -> None:
    """The global key alias and alert topic coexist with a us-east-1 region's own."""
    plan = run_config("prod", regions=WITH_EAST, primary_region="eu-west-1", dns=DNS, edge=EDGE)
    for type_, field in (("aws:kms/alias:Alias", "name"), ("aws:sns/topic:Topic", "name")):
        # The keys' aliases and the topics (a created zone's DNSSEC and query-log keys aside).
        in_east = [
            r
            for r in plan.of_type(type_)
            if r.region == GLOBAL_REGION
            and (tier := plan.component_of(r)) is not None
            and tier.type in ("tap:keys:RegionKey", "tap:alerts:AlertTopic")
        ]
        names = [r.inputs[field] for r in in_east]
        assert len(names) == 2 and len(set(names)) == 2, names
