"""Where the global pieces live: the us-east-1 provider, extra only when no region is us-east-1."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from tap.config import KNOWN_REGIONS
from tap.global_provider import GLOBAL_REGION, global_provider_name, needs_global_provider
from tap.offline import PlanResult

PROVIDER = "pulumi:providers:aws"
DNS = {"domain": "example.com", "create_zone": True}
EDGE = {"cloudfront_enabled": True, "waf_enabled": True}
EU_REGIONS = [
    {"name": "eu-west-1", "cidr": "10.40.0.0/16"},
    {"name": "eu-central-1", "cidr": "10.41.0.0/16"},
]


def test_us_east_1_among_the_regions_needs_no_extra_provider() -> None:
    assert needs_global_provider(["us-west-2", "us-east-1"]) is False
    assert global_provider_name(["us-west-2", "us-east-1"]) == "aws-us-east-1"


def test_regions_without_us_east_1_need_one() -> None:
    assert needs_global_provider(["eu-west-1", "eu-central-1"]) is True
    assert needs_global_provider(["us-east-2", "us-west-2"]) is True
    assert global_provider_name(["eu-west-1"]) == "aws-global-us-east-1"


@given(st.lists(st.sampled_from(sorted(KNOWN_REGIONS)), min_size=1, max_size=6, unique=True))
def test_extra_provider_exactly_when_us_east_1_is_missing(regions: list[str]) -> None:
    assert needs_global_provider(regions) is (GLOBAL_REGION not in regions)
    # The extra provider's name never collides with a regional provider's `aws-<region>`.
    if needs_global_provider(regions):
        assert global_provider_name(regions) not in {f"aws-{r}" for r in regions}


def test_plan_reuses_the_us_east_1_region_provider(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", dns=DNS, edge=EDGE)
    providers = plan.of_type(PROVIDER)
    assert sorted(p.name for p in providers) == ["aws-us-east-1", "aws-us-west-2"]
    (east,) = [p for p in providers if p.name == "aws-us-east-1"]
    for type_ in (
        "aws:cloudfront/distribution:Distribution",
        "aws:wafv2/webAcl:WebAcl",
        "aws:route53/healthCheck:HealthCheck",
    ):
        assert {r.provider_urn for r in plan.of_type(type_)} == {east.urn}, type_
    health_alarms = [
        r
        for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if r.inputs["namespace"] == "AWS/Route53"
    ]
    assert health_alarms and {r.provider_urn for r in health_alarms} == {east.urn}


def test_plan_adds_exactly_one_us_east_1_provider_for_other_regions(
    run_config: Callable[..., PlanResult],
) -> None:
    plan = run_config("prod", regions=EU_REGIONS, primary_region="eu-west-1", dns=DNS, edge=EDGE)
    assert plan.warnings == []
    providers = {p.name: p for p in plan.of_type(PROVIDER)}
    assert sorted(providers) == ["aws-eu-central-1", "aws-eu-west-1", "aws-global-us-east-1"]
    extra = providers["aws-global-us-east-1"]
    assert extra.inputs["region"] == GLOBAL_REGION
    # Its default tags are the stack's, like every regional provider's.
    assert extra.inputs["defaultTags"] == providers["aws-eu-west-1"].inputs["defaultTags"]
    on_extra = {r.type for r in plan.resources if r.provider_urn == extra.urn}
    assert {
        "aws:cloudfront/distribution:Distribution",
        "aws:wafv2/webAcl:WebAcl",
        "aws:route53/healthCheck:HealthCheck",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/logDeliverySource:LogDeliverySource",
        "aws:route53/zone:Zone",
    } <= on_extra
    # The ALB certificates stay in their own regions.
    regional = {
        r.region for r in plan.of_type("aws:acm/certificate:Certificate") if "edge" not in r.name
    }
    assert regional == {"eu-west-1", "eu-central-1"}


def test_no_domain_no_extra_provider(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", regions=EU_REGIONS, primary_region="eu-west-1")
    assert sorted(p.name for p in plan.of_type(PROVIDER)) == ["aws-eu-central-1", "aws-eu-west-1"]


def test_global_pieces_do_not_take_the_names_of_a_future_us_east_1_region(
    run_config: Callable[..., PlanResult],
) -> None:
    """Adding us-east-1 later must not collide with the global key alias or alert topic."""
    europe = run_config("prod", regions=EU_REGIONS, primary_region="eu-west-1", dns=DNS, edge=EDGE)
    with_east = run_config(
        "prod",
        regions=[*EU_REGIONS, {"name": "us-east-1", "cidr": "10.42.0.0/16"}],
        primary_region="eu-west-1",
        dns=DNS,
        edge=EDGE,
    )

    def names(plan: PlanResult, type_: str, field: str) -> set[str]:
        return {r.inputs[field] for r in plan.of_type(type_) if r.region == GLOBAL_REGION}

    for type_, field in (("aws:kms/alias:Alias", "name"), ("aws:sns/topic:Topic", "name")):
        global_names = names(europe, type_, field)
        regional_names = {
            r.inputs[field]
            for r in with_east.of_type(type_)
            if r.region == GLOBAL_REGION and r.name.startswith("us-east-1-")
        }
        assert global_names and regional_names
        assert not global_names & regional_names
