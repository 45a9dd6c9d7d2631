"""DNS of the application, as the real `__main__.py` wires it: the zone, regional and edge
certificates with DNS validation, health checks with alarms, the failover records (PRIMARY /
SECONDARY, a latency set for 3+ regions), and the us-east-1 provider of the global pieces."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.certificate import _first_option
from components.failover import Endpoint, Failover, FailoverArgs
from tap.config import HealthCheckConfig
from tap.global_provider import GLOBAL_REGION
from tap_tooling import sdk
from tap_tooling.offline import PROVIDER_TYPE, PlanResult, Recorded, physical_id
from tests.conftest import changed_config, planned

ZONE = "aws:route53/zone:Zone"
GET_ZONE = "aws:route53/getZone:getZone"
RECORD = "aws:route53/record:Record"
HEALTH = "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
LISTENER = "aws:lb/listener:Listener"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
CREATE = {"domain": "tap-offline-plan.net", "create_zone": True}
EDGE_ON = {"cloudfront_enabled": True, "waf_enabled": True, "log_retention_days": 30}
THREE_REGIONS = [
    {"name": "us-east-1", "cidr": "10.10.0.0/16"},
    {"name": "us-west-2", "cidr": "10.11.0.0/16"},
    {"name": "eu-west-1", "cidr": "10.12.0.0/16"},
]
EU_REGIONS = [
    {"name": "eu-west-1", "cidr": "10.40.0.0/16"},
    {"name": "eu-central-1", "cidr": "10.41.0.0/16"},
]
GLOBAL_TYPES = ("aws:route53/", "aws:acm/", "aws:cloudfront/", "aws:wafv2/")
GLOBAL_COMPONENTS = ("tap:zone:", "tap:certificate:", "tap:failover:", "tap:edge:")


# --- runs of the real program, shared by the tests here and in test_edge.py -----------------


def run(stack: str, **changes: Any) -> PlanResult:
    """`run_config(stack, **changes)` of conftest, shared like every run of `planned`."""
    return planned(stack, changed_config(stack, **changes))


def dev_three_regions() -> PlanResult:
    """dev with a created zone, CloudFront + WAF, and a third region (a latency set)."""
    return run("dev", regions=THREE_REGIONS, dns=CREATE, edge=EDGE_ON)


def dev_zone_by_id() -> PlanResult:
    """dev with an existing zone by id and no CloudFront: the app name itself fails over."""
    return run("dev", dns={"domain": "tap-offline-plan.net", "zone_id": ZONE_ID})


def dev_zone_by_name() -> PlanResult:
    """dev with the public zone found by name, us-west-2 primary, faster health checks."""
    dns = {
        "domain": "Tap-Offline-Plan.NET.",
        "health_check": {"failure_threshold": 5, "request_interval": 10},
    }
    return run("dev", dns=dns, primary_region="us-west-2")


def dev_in_europe() -> PlanResult:
    """dev in two regions without us-east-1, with a domain and CloudFront + WAF."""
    return run("dev", regions=EU_REGIONS, primary_region="eu-west-1", dns=CREATE, edge=EDGE_ON)


def prod_without_domain() -> PlanResult:
    return run("prod", dns=None, edge=None)


# --- helpers ---------------------------------------------------------------------------------


def records(plan: PlanResult, name: str | None = None) -> list[Recorded]:
    return [r for r in plan.of_type(RECORD) if name is None or r.inputs.get("name") == name]


def failover_records(plan: PlanResult) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["failoverRoutingPolicies"][0]["type"]: r.inputs
        for r in plan.of_type(RECORD)
        if "failoverRoutingPolicies" in r.inputs
    }


def alb_alias(plan: PlanResult, region: str) -> dict[str, Any]:
    """The alias target of `region`'s real ALB, as the program exports it."""
    alb = plan.outputs["regions"][region]
    assert alb["alb_dns_name"].endswith(f".{region}.elb.amazonaws.com")
    return {"name": alb["alb_dns_name"], "zoneId": alb["alb_zone_id"], "evaluateTargetHealth": True}


def health_alarms(plan: PlanResult) -> list[Recorded]:
    return [a for a in plan.of_type(ALARM) if a.inputs.get("metricName") == "HealthCheckStatus"]


def providers(plan: PlanResult) -> dict[str, Recorded]:
    return {p.name: p for p in plan.of_type(PROVIDER_TYPE)}


@pytest.fixture(params=["prod", "dev-three-regions", "dev-zone-by-id", "dev-in-europe"])
def dns_plan(request: pytest.FixtureRequest) -> PlanResult:
    """Plans with a domain: created zone, looked-up zone, 2 and 3 regions, no us-east-1."""
    return {
        "prod": lambda: planned("prod"),
        "dev-three-regions": dev_three_regions,
        "dev-zone-by-id": dev_zone_by_id,
        "dev-in-europe": dev_in_europe,
    }[request.param]()


def test_plans_with_a_domain_have_no_warnings(dns_plan: PlanResult) -> None:
    assert dns_plan.warnings == []
    assert dns_plan.outputs["dns"]["url"] == "https://app.tap-offline-plan.net"
    assert dns_plan.outputs["dns"]["app_fqdn"] == "app.tap-offline-plan.net"


# --- zone ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "force_destroy"), [("dev", True), ("prod", False)])
def test_created_zone_is_public_and_exports_name_servers(stack: str, force_destroy: bool) -> None:
    plan = planned("prod") if stack == "prod" else dev_three_regions()
    assert GET_ZONE not in {token for token, _ in plan.invokes}
    (zone,) = plan.of_type(ZONE)
    assert zone.inputs["name"] == "tap-offline-plan.net" and zone.region == "us-east-1"
    assert "vpcs" not in zone.inputs  # a VPC association would make it private
    assert zone.inputs["forceDestroy"] is force_destroy
    assert zone.inputs["tags"] == {"Name": f"{stack}-zone"}
    out = plan.outputs["dns"]
    assert out["name_servers"] and all(ns.startswith("ns-") for ns in out["name_servers"])
    assert out["zone_id"] and {r.inputs["zoneId"] for r in records(plan)} == {out["zone_id"]}


def test_existing_zone_by_id_is_looked_up_not_created() -> None:
    plan = dev_zone_by_id()
    assert plan.of_type(ZONE) == []
    assert [i for i in plan.invokes if i[0] == GET_ZONE] == [(GET_ZONE, "us-east-1")]
    assert plan.outputs["dns"]["zone_id"] == ZONE_ID
    assert plan.outputs["dns"]["name_servers"] is None
    assert {r.inputs["zoneId"] for r in records(plan)} == {ZONE_ID}
    assert {r["zoneId"] for r in failover_records(plan).values()} == {ZONE_ID}


def test_existing_zone_by_name_is_looked_up_not_created() -> None:
    plan = dev_zone_by_name()
    assert plan.warnings == []
    assert plan.of_type(ZONE) == []
    assert [i for i in plan.invokes if i[0] == GET_ZONE] == [(GET_ZONE, "us-east-1")]
    out = plan.outputs["dns"]
    assert out["name_servers"] is None
    assert (
        out["app_fqdn"] == "app.tap-offline-plan.net"
    )  # the domain is normalised before the lookup
    assert out["zone_id"] and out["zone_id"] != ZONE_ID
    assert {r.inputs["zoneId"] for r in records(plan)} == {out["zone_id"]}


# --- certificates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cloudfront", [False, True], ids=["without-cloudfront", "behind-cloudfront"]
)
def test_one_certificate_per_region_for_the_failover_name(cloudfront: bool) -> None:
    plan = planned("prod") if cloudfront else dev_zone_by_id()
    alb_name = "origin.app.tap-offline-plan.net" if cloudfront else "app.tap-offline-plan.net"
    regional = [c for c in plan.of_type(CERT) if not c.name.startswith("global-edge")]
    assert sorted(str(c.region) for c in regional) == ["us-east-1", "us-west-2"]
    for cert in regional:
        assert cert.name == f"{cert.region}-certificate-cert"
        assert cert.inputs["domainName"] == alb_name
        assert cert.inputs["validationMethod"] == "DNS"
        assert "subjectAlternativeNames" not in cert.inputs
        assert cert.inputs["tags"]["Name"].endswith(str(cert.region))
    assert plan.outputs["dns"]["failover_fqdn"] == alb_name


@pytest.mark.parametrize("plan_of", [lambda: planned("prod"), dev_in_europe], ids=["prod", "eu"])
def test_each_validation_record_has_exactly_one_owner(plan_of: Any) -> None:
    plan: PlanResult = plan_of()
    by_urn = plan.by_urn()
    certificates = plan.of_type(CERT)
    assert len(certificates) == 3  # two regional ALB ones, one for CloudFront
    owners: dict[str, Recorded] = {}
    for record in records(plan):
        # Route53's key of a record set: name, type and (for routing policies) set identifier.
        key = (
            record.inputs["zoneId"],
            record.inputs["name"].rstrip("."),
            record.inputs["type"],
            record.inputs.get("setIdentifier"),
        )
        assert str(key) not in owners, f"{record.name} and {owners[str(key)].name} own {key}"
        owners[str(key)] = record
        # A single owner overwrites nothing and keeps nothing behind on destroy.
        assert not record.inputs.get("allowOverwrite"), record.name
    primary = plan.outputs["deployment_summary"]["primary_region"]
    for cert in certificates:
        domain = cert.inputs["domainName"]
        (validation,) = [v for v in plan.of_type(VALIDATION) if cert.urn in v.depends_on]
        assert validation.region == cert.region
        (fqdn,) = validation.inputs["validationRecordFqdns"]
        (record,) = [r for r in records(plan) if r.inputs["name"].rstrip(".") == fqdn]
        assert record.inputs["zoneId"] == plan.outputs["dns"]["zone_id"]
        assert record.inputs["type"] == "CNAME" and record.inputs["ttl"] == 60
        assert fqdn.startswith("_") and fqdn.endswith(f".{domain}")
        (value,) = record.inputs["records"]
        assert value.endswith(".acm-validations.aws.")
        assert by_urn[record.parent_urn].type == "tap:certificate:Certificate"
        owner = by_urn[record.parent_urn]
        if "edge" in cert.name:
            assert owner.name == "global-edge-certificate"
        else:
            # The regional certificates share one CNAME: the primary region's writes it.
            assert owner.name == f"{primary}-certificate"
            assert record.region == primary
        if cert.parent_urn == record.parent_urn:
            assert record.urn in validation.depends_on


def test_nothing_in_the_zone_outlives_a_destroy(dns_plan: PlanResult) -> None:
    """HostedZoneNotEmpty: a destroy can delete a created zone only once every record the
    stack wrote is gone, so no record (or anything else) is retained on delete."""
    assert [r.name for r in dns_plan.resources if r.custom and r.retain_on_delete] == []


def test_listeners_wait_for_validation(prod_plan: PlanResult) -> None:
    https = [
        listener for listener in prod_plan.of_type(LISTENER) if listener.name.endswith("-https")
    ]
    assert sorted(str(listener.region) for listener in https) == ["us-east-1", "us-west-2"]
    for listener in https:
        validation = prod_plan.one(VALIDATION, f"{listener.region}-certificate-validation")
        assert validation.region == listener.region
        assert validation.urn in listener.depends_on
        assert listener.inputs["certificateArn"] == validation.inputs["certificateArn"]
        assert prod_plan.outputs["regions"][listener.region]["https"] is True
    assert prod_plan.outputs["notices"] == []  # every ALB got a certificate


def test_a_missing_validation_option_leaves_the_record_unset_instead_of_crashing() -> None:
    """Until ACM reports its validation options (an engine leaves them unknown) the record's
    fields stay unset, so the certificate still plans."""
    assert _first_option(None, "resource_record_name") is None
    assert _first_option([], "resource_record_type") is None

    class Option:
        resource_record_name = "_abc.app.tap-offline-plan.net."

    assert _first_option([Option()], "resource_record_name") == "_abc.app.tap-offline-plan.net."


# --- health checks and alarms ----------------------------------------------------------------


def test_a_health_check_per_region_against_its_alb(prod_plan: PlanResult) -> None:
    checks = {c.name.rsplit("-health-", 1)[1]: c for c in prod_plan.of_type(HEALTH)}
    assert sorted(checks) == ["us-east-1", "us-west-2"]
    for region, check in checks.items():
        inputs = check.inputs
        assert inputs["type"] == "HTTPS" and inputs["port"] == 443
        assert inputs["resourcePath"] == "/health" and inputs["enableSni"] is True
        assert inputs["fqdn"] == prod_plan.outputs["regions"][region]["alb_dns_name"]
        assert (inputs["failureThreshold"], inputs["requestInterval"]) == (3, 30)
        assert "regions" not in inputs and "ipAddress" not in inputs
        assert inputs["tags"] == {"Name": f"prod-health-{region}"}
        assert check.region == "us-east-1"
    assert prod_plan.outputs["dns"]["health_check_ids"] == {
        region: physical_id(
            "aws:route53/healthCheck:HealthCheck", f"global-failover-health-{region}"
        )
        for region in checks
    }


def test_health_check_settings_come_from_config() -> None:
    plan = dev_zone_by_name()
    checks = plan.of_type(HEALTH)
    assert len(checks) == 2
    assert {(c.inputs["failureThreshold"], c.inputs["requestInterval"]) for c in checks} == {
        (5, 10)
    }


@pytest.mark.parametrize(
    "plan_of", [lambda: planned("prod"), dev_three_regions], ids=["prod", "dev-three-regions"]
)
def test_an_alarm_per_health_check_to_the_global_alert_topic(plan_of: Any) -> None:
    plan: PlanResult = plan_of()
    ids = plan.outputs["dns"]["health_check_ids"]
    topic = global_topic_arn(plan)
    assert topic.startswith("arn:aws:sns:us-east-1:")
    regional = {out["alert_topic_arn"] for out in plan.outputs["regions"].values()}
    assert topic not in regional
    alarms = health_alarms(plan)
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
        assert inputs["name"] == f"{plan.stack}-health-check-{region}"


# --- failover records ------------------------------------------------------------------------


def test_two_regions_fail_over_primary_to_secondary(prod_plan: PlanResult) -> None:
    ids = prod_plan.outputs["dns"]["health_check_ids"]
    zone_id = prod_plan.outputs["dns"]["zone_id"]
    pair = failover_records(prod_plan)
    assert sorted(pair) == ["PRIMARY", "SECONDARY"]
    for role, region in (("PRIMARY", "us-east-1"), ("SECONDARY", "us-west-2")):
        record = pair[role]
        assert record["name"] == "origin.app.tap-offline-plan.net" and record["type"] == "A"
        assert record["zoneId"] == zone_id
        assert record["setIdentifier"] == role.lower()
        assert record["aliases"] == [alb_alias(prod_plan, region)]
        assert record["healthCheckId"] == ids[region]
        assert "records" not in record and "ttl" not in record
    assert not [r for r in records(prod_plan) if "latencyRoutingPolicies" in r.inputs]
    assert prod_plan.outputs["dns"]["failover_fqdn"] == "origin.app.tap-offline-plan.net"


def test_without_cloudfront_the_app_name_itself_fails_over() -> None:
    plan = dev_zone_by_id()
    assert {r["name"] for r in failover_records(plan).values()} == {"app.tap-offline-plan.net"}
    out = plan.outputs["dns"]
    assert out["failover_fqdn"] == out["app_fqdn"] == "app.tap-offline-plan.net"
    assert out["url"] == "https://app.tap-offline-plan.net"
    assert "edge" not in plan.outputs


def test_primary_follows_config() -> None:
    plan = dev_zone_by_name()
    pair = failover_records(plan)
    assert pair["PRIMARY"]["aliases"] == [alb_alias(plan, "us-west-2")]
    assert pair["SECONDARY"]["aliases"] == [alb_alias(plan, "us-east-1")]
    ids = plan.outputs["dns"]["health_check_ids"]
    assert pair["PRIMARY"]["healthCheckId"] == ids["us-west-2"]


def test_three_regions_secondary_is_a_latency_set() -> None:
    plan = dev_three_regions()
    ids = plan.outputs["dns"]["health_check_ids"]
    assert sorted(ids) == ["eu-west-1", "us-east-1", "us-west-2"]
    pair = failover_records(plan)
    zone_id = plan.outputs["dns"]["zone_id"]
    assert pair["PRIMARY"]["aliases"] == [alb_alias(plan, "us-east-1")]
    assert pair["PRIMARY"]["healthCheckId"] == ids["us-east-1"]
    # SECONDARY is healthy while any member of the latency set is: no health check of its own.
    assert pair["SECONDARY"]["aliases"] == [
        {
            "name": "secondary.origin.app.tap-offline-plan.net",
            "zoneId": zone_id,
            "evaluateTargetHealth": True,
        }
    ]
    assert "healthCheckId" not in pair["SECONDARY"]
    latency = records(plan, "secondary.origin.app.tap-offline-plan.net")
    assert sorted(r.inputs["setIdentifier"] for r in latency) == ["eu-west-1", "us-west-2"]
    for record in latency:
        region = record.inputs["setIdentifier"]
        assert record.inputs["type"] == "A" and record.inputs["zoneId"] == zone_id
        assert record.inputs["latencyRoutingPolicies"] == [{"region": region}]
        assert record.inputs["aliases"] == [alb_alias(plan, region)]
        assert record.inputs["healthCheckId"] == ids[region]
    # Route53 rejects an alias to a name that does not exist yet.
    secondary = plan.one(RECORD, "global-failover-secondary")
    assert {r.urn for r in latency} <= set(secondary.depends_on)
    assert len(health_alarms(plan)) == 3


def test_failover_args_are_checked() -> None:
    class Quiet(sdk.Mocks):
        def new_resource(self, args: sdk.MockResourceArgs) -> tuple[str, dict]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: sdk.MockCallArgs) -> tuple[dict, list]:
            return {}, []

    pulumi.runtime.set_mocks(Quiet(), project="tap", stack="dev", preview=False)
    east = Endpoint(dns_name="a.elb.amazonaws.com", zone_id="Z35SXDOTRQ7X7K")
    both = {"us-east-1": east, "us-west-2": east}

    def args(**changes: Any) -> FailoverArgs:
        fields: dict[str, Any] = {
            "environment": "dev",
            "zone_id": ZONE_ID,
            "record_fqdn": "app.tap-offline-plan.net",
            "primary_region": "us-east-1",
            "endpoints": both,
            "health_check": HealthCheckConfig(),
            "alarm_topic_arn": None,
        }
        return FailoverArgs(**{**fields, **changes})

    with pytest.raises(ValueError, match=r"FailoverArgs\.primary_region"):
        Failover("f1", args(primary_region="eu-west-1"))
    with pytest.raises(ValueError, match=r"FailoverArgs\.endpoints"):
        Failover("f2", args(endpoints={"us-east-1": east}))


# --- where the global pieces live ------------------------------------------------------------


def global_topic_arn(plan: PlanResult) -> str:
    """The ARN of the global-alerts topic, as the mock harness computes it."""
    (topic,) = [
        t
        for t in plan.of_type("aws:sns/topic:Topic")
        if (outer := plan.component_of(t)) is not None and outer.name == "global-alerts"
    ]
    return f"arn:aws:sns:{GLOBAL_REGION}:123456789012:{topic.inputs['name']}"


@pytest.mark.parametrize("plan_of", [lambda: planned("prod"), dev_in_europe], ids=["prod", "eu"])
def test_global_pieces_have_their_own_provider_key_and_topic(plan_of: Any) -> None:
    """Whether us-east-1 is a stack region (prod) or not (eu): the same `aws-global` provider,
    with a key and alert topic of its own for the health-check alarms, which may only notify
    a topic of their region."""
    plan: PlanResult = plan_of()
    found = providers(plan)
    assert [p.name for p in found.values() if p.name.startswith("aws-global")] == ["aws-global"]
    glob = found["aws-global"]
    assert glob.inputs["region"] == GLOBAL_REGION
    regional = [p for name, p in found.items() if name != "aws-global"]
    # Its default tags are the stack's, like every regional provider's.
    assert {p.inputs["defaultTags"] for p in regional} == {glob.inputs["defaultTags"]}
    on_global = {r.type for r in plan.resources if r.provider_urn == glob.urn}
    assert {
        ZONE,
        HEALTH,
        ALARM,
        "aws:cloudfront/distribution:Distribution",
        "aws:wafv2/webAcl:WebAcl",
        "aws:cloudwatch/logDeliverySource:LogDeliverySource",
        "aws:kms/key:Key",
        "aws:sns/topic:Topic",
    } <= on_global
    # The ALB certificates stay in their own regions.
    certificate_regions = {
        r.region for r in plan.of_type(CERT) if not r.name.startswith("global-edge")
    }
    assert certificate_regions == set(plan.outputs["deployment_summary"]["regions"])
    plan.one("tap:keys:RegionKey", "global-key")
    plan.one("tap:alerts:AlertTopic", "global-alerts")
    (key,) = [
        k
        for k in plan.of_type("aws:kms/key:Key")
        if (outer := plan.component_of(k)) is not None and outer.name == "global-key"
    ]
    assert key.region == GLOBAL_REGION and key.provider_urn == glob.urn
    topic = global_topic_arn(plan)
    regional_topics = {out["alert_topic_arn"] for out in plan.outputs["regions"].values()}
    alarms = health_alarms(plan)
    assert len(alarms) == 2
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic] == alarm.inputs["okActions"]
        assert topic not in regional_topics


# --- no domain -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plan_of", [lambda: planned("dev"), prod_without_domain], ids=["dev", "prod-without"]
)
def test_no_domain_means_no_dns_certificates_or_edge(plan_of: Any) -> None:
    plan: PlanResult = plan_of()
    assert plan.warnings == []
    assert "dns" not in plan.outputs and "edge" not in plan.outputs
    assert not [r for r in plan.resources if r.type.startswith(GLOBAL_TYPES)]
    assert not [r for r in plan.resources if r.type.startswith(GLOBAL_COMPONENTS)]
    assert not [r for r in plan.resources if r.type.startswith("aws:cloudwatch/logDelivery")]
    assert not [r for r in plan.resources if r.name.startswith("global-")]
    assert sorted(providers(plan)) == ["aws-us-east-1", "aws-us-west-2"]
    assert GET_ZONE not in {token for token, _ in plan.invokes}
    # The ALBs serve plain HTTP, and the plan says so.
    assert all(region["https"] is False for region in plan.outputs["regions"].values())
    assert len(plan.outputs["notices"]) == 2


def test_a_signed_zone_pages_when_its_signing_breaks() -> None:
    plan = planned("prod")
    zone_id = plan.outputs["dns"]["zone_id"]
    alarms = {
        a.inputs["metricName"]: a
        for a in plan.of_type(ALARM)
        if a.inputs["metricName"].startswith("DNSSEC")
    }
    assert sorted(alarms) == ["DNSSECInternalFailure", "DNSSECKeySigningKeysNeedingAction"]
    (topic,) = [t for t in plan.of_type("aws:sns/topic:Topic") if t.name == "global-alerts-topic"]
    for alarm in alarms.values():
        assert alarm.inputs["namespace"] == "AWS/Route53" and alarm.region == GLOBAL_REGION
        assert alarm.inputs["dimensions"] == {"HostedZoneId": zone_id}
        assert alarm.inputs["threshold"] == 1
        assert alarm.inputs["alarmActions"] == [plan.id_of(topic)]
    # Unsigned zones (dev, staging: not production) have no such alarms.
    for stack in ("dev", "staging"):
        assert not [a for a in planned(stack).of_type(ALARM) if "DNSSEC" in a.inputs["metricName"]]
