"""DNS of the application: the zone, regional and edge certificates with DNS validation, health
checks with alarms, and the failover records (PRIMARY / SECONDARY, latency set for 3+ regions)."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from components.failover import Endpoint, Failover, FailoverArgs
from tap.offline import PlanResult, Recorded
from tests.conftest import planned
from tests.programs.fakes import ALB_ZONES, ALERT_TOPIC_ARN, fake_alb_dns_name
from tests.programs.harness import plan_of, run_global

ZONE = "aws:route53/zone:Zone"
RECORD = "aws:route53/record:Record"
HEALTH = "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
LISTENER = "aws:lb/listener:Listener"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
CREATE = {"domain": "example.com", "create_zone": True}
THREE_REGIONS = [
    {"name": "us-east-1", "cidr": "10.10.0.0/16"},
    {"name": "us-west-2", "cidr": "10.11.0.0/16"},
    {"name": "eu-west-1", "cidr": "10.12.0.0/16"},
]
GLOBAL_TYPES = ("aws:route53/", "aws:acm/", "aws:cloudfront/", "aws:wafv2/")


def records(plan: PlanResult, name: str | None = None) -> list[Recorded]:
    return [r for r in plan.of_type(RECORD) if name is None or r.inputs.get("name") == name]


def failover_records(plan: PlanResult) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["failoverRoutingPolicies"][0]["type"]: r.inputs
        for r in plan.of_type(RECORD)
        if "failoverRoutingPolicies" in r.inputs
    }


def alb_alias(stack: str, region: str) -> dict[str, Any]:
    return {
        "name": fake_alb_dns_name(stack, region),
        "zoneId": ALB_ZONES[region],
        "evaluateTargetHealth": True,
    }


# --- zone ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "force_destroy"), [("dev", True), ("prod", False)])
def test_created_zone_is_public_and_exports_name_servers(stack: str, force_destroy: bool) -> None:
    plan, lookups = run_global(stack, dns=CREATE)
    assert plan.warnings == [] and lookups == []
    (zone,) = plan.of_type(ZONE)
    assert zone.inputs["name"] == "example.com" and zone.region == "us-east-1"
    assert "vpcs" not in zone.inputs  # a VPC association would make it private
    assert zone.inputs["forceDestroy"] is force_destroy
    assert zone.inputs["tags"] == {"Name": f"{stack}-zone"}
    out = plan.outputs["dns"]
    assert out["name_servers"] and all(ns.startswith("ns-") for ns in out["name_servers"])
    assert {r.inputs["zoneId"] for r in records(plan)} == {out["zone_id"]}


def test_existing_zone_by_id_is_looked_up_not_created() -> None:
    plan, lookups = run_global("dev", dns={"domain": "example.com", "zone_id": ZONE_ID})
    assert plan.of_type(ZONE) == []
    assert lookups == [{"zoneId": ZONE_ID}]
    assert plan.outputs["dns"]["zone_id"] == ZONE_ID
    assert plan.outputs["dns"]["name_servers"] is None
    assert {r.inputs["zoneId"] for r in records(plan)} == {ZONE_ID}


def test_existing_zone_by_name_is_the_public_one() -> None:
    plan, lookups = run_global("dev", dns={"domain": "Example.COM."})
    assert plan.of_type(ZONE) == []
    assert lookups == [{"name": "example.com", "privateZone": False}]
    assert plan.outputs["dns"]["name_servers"] is None
    assert ("aws:route53/getZone:getZone", "us-east-1") in plan.invokes


# --- certificates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edge", "alb_name"),
    [({"cloudfront_enabled": False}, "app.example.com"), ({}, "origin.app.example.com")],
    ids=["without-cloudfront", "behind-cloudfront"],
)
def test_one_certificate_per_region_for_the_failover_name(edge: dict, alb_name: str) -> None:
    edge = edge or {"cloudfront_enabled": True}
    plan = plan_of("dev", dns=CREATE, edge=edge)
    regional = [c for c in plan.of_type(CERT) if not c.name.startswith("edge")]
    assert sorted(str(c.region) for c in regional) == ["us-east-1", "us-west-2"]
    for cert in regional:
        assert cert.inputs["domainName"] == alb_name
        assert cert.inputs["validationMethod"] == "DNS"
        assert "subjectAlternativeNames" not in cert.inputs
        assert cert.inputs["tags"]["Name"].endswith(cert.region)
    assert plan.outputs["dns"]["failover_fqdn"] == alb_name


def test_each_certificate_is_validated_through_its_own_record(dev_dns: PlanResult) -> None:
    by_urn = dev_dns.by_urn()
    certificates = dev_dns.of_type(CERT)
    assert len(certificates) == 3  # two regional ALB ones, one for CloudFront
    for cert in certificates:
        (record,) = [r for r in records(dev_dns) if cert.urn in r.depends_on]
        assert record.region == cert.region  # through the certificate's own provider
        assert record.inputs["type"] == "CNAME" and record.inputs["ttl"] == 60
        assert record.inputs["allowOverwrite"] is True
        domain = cert.inputs["domainName"]
        assert record.inputs["name"].startswith("_") and record.inputs["name"].endswith(
            f".{domain}."
        )
        (value,) = record.inputs["records"]
        assert value.endswith(".acm-validations.aws.")
        (validation,) = [v for v in dev_dns.of_type(VALIDATION) if cert.urn in v.depends_on]
        assert validation.region == cert.region
        assert validation.inputs["certificateArn"].endswith(f"certificate/{cert.name}")
        assert validation.inputs["validationRecordFqdns"] == [record.inputs["name"].rstrip(".")]
        assert record.urn in validation.depends_on
        assert by_urn[record.parent_urn].type == "tap:certificate:Certificate"


def test_listeners_wait_for_validation(dev_dns: PlanResult) -> None:
    for listener in dev_dns.of_type(LISTENER):
        (validation,) = [
            v
            for v in dev_dns.of_type(VALIDATION)
            if v.region == listener.region and v.name == f"{listener.region}-certificate-validation"
        ]
        assert validation.urn in listener.depends_on
        assert listener.inputs["certificateArn"] == validation.inputs["certificateArn"]
        assert (
            dev_dns.outputs["certificate_arns"][listener.region]
            == (listener.inputs["certificateArn"])
        )


def test_certificates_plan_when_the_engine_reports_no_validation_options() -> None:
    """Inputs-only mocks (no computed outputs): the program must still plan, not crash."""
    plan, _ = run_global("dev", engine_outputs=False, dns=CREATE, edge={"cloudfront_enabled": True})
    assert plan.warnings == []
    assert len(plan.of_type(VALIDATION)) == 3
    assert all(r.inputs["allowOverwrite"] for r in records(plan) if r.name.endswith("validation"))


# --- health checks and alarms --------------------------------------------------------------


def test_a_health_check_per_region_against_its_alb(dev_dns: PlanResult) -> None:
    checks = {c.name.rsplit("-health-", 1)[1]: c for c in dev_dns.of_type(HEALTH)}
    assert sorted(checks) == ["us-east-1", "us-west-2"]
    for region, check in checks.items():
        inputs = check.inputs
        assert inputs["type"] == "HTTPS" and inputs["port"] == 443
        assert inputs["resourcePath"] == "/health" and inputs["enableSni"] is True
        assert inputs["fqdn"] == fake_alb_dns_name("dev", region)
        assert (inputs["failureThreshold"], inputs["requestInterval"]) == (3, 30)
        assert "regions" not in inputs and "ipAddress" not in inputs
        assert inputs["tags"] == {"Name": f"dev-health-{region}"}
        assert check.region == "us-east-1"
    assert dev_dns.outputs["dns"]["health_check_ids"] == {
        region: f"failover-health-{region}-id" for region in checks
    }


def test_health_check_settings_come_from_config() -> None:
    dns = {**CREATE, "health_check": {"failure_threshold": 5, "request_interval": 10}}
    plan = plan_of("staging", dns=dns)
    assert {
        (c.inputs["failureThreshold"], c.inputs["requestInterval"]) for c in plan.of_type(HEALTH)
    } == {(5, 10)}


def test_an_alarm_per_health_check_to_the_alert_topic(dev_dns: PlanResult) -> None:
    ids = dev_dns.outputs["dns"]["health_check_ids"]
    topic = ALERT_TOPIC_ARN.format(region="us-east-1")
    alarms = dev_dns.of_type(ALARM)
    assert sorted(a.inputs["dimensions"]["HealthCheckId"] for a in alarms) == sorted(ids.values())
    for alarm in alarms:
        inputs = alarm.inputs
        region = next(r for r, i in ids.items() if i == inputs["dimensions"]["HealthCheckId"])
        # Route53 health-check metrics exist only in us-east-1.
        assert alarm.region == "us-east-1"
        assert (inputs["namespace"], inputs["metricName"]) == ("AWS/Route53", "HealthCheckStatus")
        assert inputs["statistic"] == "Minimum"
        assert (inputs["comparisonOperator"], inputs["threshold"]) == ("LessThanThreshold", 1)
        assert inputs["treatMissingData"] == "breaching"
        assert inputs["alarmActions"] == [topic] and inputs["okActions"] == [topic]
        assert inputs["name"] == f"dev-health-check-{region}"


# --- failover records ----------------------------------------------------------------------


def test_two_regions_fail_over_primary_to_secondary(dev_dns: PlanResult) -> None:
    ids = dev_dns.outputs["dns"]["health_check_ids"]
    pair = failover_records(dev_dns)
    assert sorted(pair) == ["PRIMARY", "SECONDARY"]
    for role, region in (("PRIMARY", "us-east-1"), ("SECONDARY", "us-west-2")):
        record = pair[role]
        assert record["name"] == "origin.app.example.com" and record["type"] == "A"
        assert record["setIdentifier"] == role.lower()
        assert record["aliases"] == [alb_alias("dev", region)]
        assert record["healthCheckId"] == ids[region]
        assert "records" not in record and "ttl" not in record
    assert not [r for r in records(dev_dns) if "latencyRoutingPolicies" in r.inputs]


def test_without_cloudfront_the_app_name_itself_fails_over() -> None:
    plan = plan_of("dev", dns=CREATE, edge={"cloudfront_enabled": False})
    assert {r["name"] for r in failover_records(plan).values()} == {"app.example.com"}
    assert plan.outputs["dns"]["app_url"] == "https://app.example.com"
    assert plan.outputs["dns"]["cloudfront_domain"] is None


def test_primary_follows_config() -> None:
    plan = plan_of("dev", dns=CREATE, primary_region="us-west-2")
    pair = failover_records(plan)
    assert pair["PRIMARY"]["aliases"] == [alb_alias("dev", "us-west-2")]
    assert pair["SECONDARY"]["aliases"] == [alb_alias("dev", "us-east-1")]


def test_three_regions_secondary_is_a_latency_set() -> None:
    plan = plan_of("staging", regions=THREE_REGIONS, dns=CREATE, edge={"cloudfront_enabled": True})
    assert plan.warnings == []
    ids = plan.outputs["dns"]["health_check_ids"]
    assert sorted(ids) == ["eu-west-1", "us-east-1", "us-west-2"]
    pair = failover_records(plan)
    zone_id = plan.outputs["dns"]["zone_id"]
    assert pair["PRIMARY"]["aliases"] == [alb_alias("staging", "us-east-1")]
    assert pair["PRIMARY"]["healthCheckId"] == ids["us-east-1"]
    # SECONDARY is healthy while any member of the latency set is: no health check of its own.
    assert pair["SECONDARY"]["aliases"] == [
        {
            "name": "secondary.origin.app.example.com",
            "zoneId": zone_id,
            "evaluateTargetHealth": True,
        }
    ]
    assert "healthCheckId" not in pair["SECONDARY"]
    latency = records(plan, "secondary.origin.app.example.com")
    assert sorted(r.inputs["setIdentifier"] for r in latency) == ["eu-west-1", "us-west-2"]
    for record in latency:
        region = record.inputs["setIdentifier"]
        assert record.inputs["type"] == "A" and record.inputs["zoneId"] == zone_id
        assert record.inputs["latencyRoutingPolicies"] == [{"region": region}]
        assert record.inputs["aliases"] == [alb_alias("staging", region)]
        assert record.inputs["healthCheckId"] == ids[region]
    # Route53 rejects an alias to a name that does not exist yet.
    (secondary,) = [r for r in plan.of_type(RECORD) if r.name == "failover-secondary"]
    assert {r.urn for r in latency} <= set(secondary.depends_on)
    assert len(plan.of_type(ALARM)) == 3


def test_failover_args_are_checked() -> None:
    class Quiet(pulumi_mocks.Mocks):
        def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
            return {}, []

    pulumi.runtime.set_mocks(Quiet(), project="tap", stack="dev", preview=False)
    east = Endpoint(dns_name="a.elb.amazonaws.com", zone_id="Z35SXDOTRQ7X7K")
    both = {"us-east-1": east, "us-west-2": east}

    def args(**changes: Any) -> FailoverArgs:
        fields: dict[str, Any] = {
            "environment": "dev",
            "zone_id": ZONE_ID,
            "record_fqdn": "app.example.com",
            "primary_region": "us-east-1",
            "endpoints": both,
        }
        return FailoverArgs(**{**fields, **changes})

    with pytest.raises(ValueError, match=r"FailoverArgs\.primary_region"):
        Failover("f1", args(primary_region="eu-west-1"))
    with pytest.raises(ValueError, match=r"FailoverArgs\.endpoints"):
        Failover("f2", args(endpoints={"us-east-1": east}))
    with pytest.raises(ValueError, match=r"FailoverArgs\.request_interval"):
        Failover("f3", args(request_interval=20))
    with pytest.raises(ValueError, match=r"FailoverArgs\.failure_threshold"):
        Failover("f4", args(failure_threshold=11))


# --- no domain -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_no_domain_means_no_dns_certificates_or_edge(stack: str) -> None:
    plan = plan_of(stack, dns=None, edge=None)
    assert plan.warnings == []
    assert plan.outputs["dns"] is None and plan.outputs["certificate_arns"] == {}
    assert not [r for r in plan.resources if r.type.startswith(GLOBAL_TYPES)]
    assert not [r for r in plan.resources if r.type.startswith("tap:")]


def test_the_real_program_without_a_domain_plans_cleanly() -> None:
    plan = planned("dev")
    assert plan.warnings == []
    assert not [r for r in plan.resources if r.type.startswith(GLOBAL_TYPES)]
    assert not [r for r in plan.resources if r.type.startswith("aws:cloudwatch/logDelivery")]


@pytest.fixture
def dev_dns() -> PlanResult:
    """dev with a created zone and CloudFront (so origin.app.example.com fails over)."""
    return plan_of("dev", dns=CREATE, edge={"cloudfront_enabled": True})
