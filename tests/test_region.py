"""Region on its own: one region of a shipped stack built under its provider, as __main__.py
builds it, with the stack's config and the region's RegionPlan alone. Every child sits on that
provider and under the Region; the exposure, the certificate, the database's role, the bastion
and the notices follow the config."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import pytest

from components.db_credential import DatabaseCredential, DatabaseCredentialArgs
from components.origin_secret import ORIGIN_SECRET_HEADER, OriginSecret, OriginSecretArgs
from components.region import Region, RegionArgs
from tap.config import RegionPlan, StackConfig
from tap_tooling.offline import PROVIDER_TYPE, Recorded
from tests.harness import ACCOUNT, Built, build, in_region, shipped_stack

LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
RDS = "aws:rds/instance:Instance"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
DOMAIN = {"domain": "tap-unit-test.net", "create_zone": True}
CERT_ARN = f"arn:aws:acm:us-west-2:{ACCOUNT}:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
# EC2 CreateSecurityGroup / rule descriptions: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
# (EC2 API Reference, CreateSecurityGroup GroupDescription and IpRange Description).
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
TIERS = ("key", "network", "compute", "alerts", "monitoring")
"""The child components every Region has, named `<region>-<tier>`."""


def plan_of(stack: StackConfig, region: str) -> RegionPlan:
    (plan,) = [p for p in stack.region_plans if p.name == region]
    return plan


def primary_db_arn(stack: StackConfig) -> str:
    region = stack.primary_region
    return f"arn:aws:rds:{region}:{ACCOUNT}:db:{stack.environment}-db-{region}"


def build_region(
    stack: StackConfig,
    region: str,
    *,
    zone_id: str | None = None,
    edge: bool = False,
    replicate_from: str | None = None,
) -> Built:
    """One Region of `stack` on its `aws-<region>` provider; with `edge`, behind the origin
    secrets of an OriginSecret (version 2: the current and the previous value).

    Cached per arguments (a build is pure, several tests read the same one: read it, never
    modify it): a Region is most of a stack, the dearest build of these tests."""
    key = json.dumps(
        [stack.model_dump(mode="json"), region, zone_id, edge, replicate_from], sort_keys=True
    )
    if key not in _BUILDS:
        _BUILDS[key] = _build_region(stack, region, zone_id, edge, replicate_from)
    return _BUILDS[key]


_BUILDS: dict[str, Built] = {}


def _build_region(
    stack: StackConfig,
    region: str,
    zone_id: str | None,
    edge: bool,
    replicate_from: str | None,
) -> Built:
    plan = plan_of(stack, region)
    if replicate_from is None and plan.database is not None and not plan.is_primary:
        # What __main__.py hands every non-primary database: the primary's ARN.
        replicate_from = primary_db_arn(stack)

    def program() -> dict[str, Any]:
        credential = DatabaseCredential(
            "database-credential",
            DatabaseCredentialArgs(version=stack.database.master_password_version),
        )
        secrets: Sequence[Any] = ()
        values: dict[str, Any] = {}
        if edge:
            origin = OriginSecret("origin-secret", OriginSecretArgs(version=2))
            secrets = origin.accepted
            values["origin_secrets"] = origin.accepted
        built = Region(
            region,
            RegionArgs(
                stack=stack,
                plan=plan,
                credential=credential.credential,
                zone_id=zone_id,
                origin_secrets=secrets,
                replicate_from=replicate_from,
            ),
            opts=in_region(region),
        )
        outputs = built.outputs
        database = outputs.database
        return {
            **values,
            "notices": built.notices,
            "region": {
                f.name: getattr(outputs, f.name) for f in fields(outputs) if f.name != "database"
            },
            "database": None
            if database is None
            else {f.name: getattr(database, f.name) for f in fields(database)},
        }

    return build(program)


def region_component(built: Built) -> Recorded:
    (component,) = built.components("tap:region:Region")
    return component


def listeners(built: Built) -> dict[int, dict[str, Any]]:
    return {r.inputs["port"]: r.inputs for r in built.of_type(LISTENER)}


def open_ports(built: Built) -> list[tuple[int, str]]:
    """(port, CIDR) of every ingress rule admitting an address range to the ALB's groups."""
    alb_groups = {built.id_of(g) for g in built.of_type(GROUP) if "-compute-alb-" in g.name}
    return sorted(
        (r.inputs["fromPort"], r.inputs["cidrIpv4"])
        for r in built.of_type(INGRESS)
        if r.inputs.get("cidrIpv4") and r.inputs["securityGroupId"] in alb_groups
    )


def prefix_list_groups(built: Built) -> list[str]:
    """The ALB's groups admitting an AWS-managed prefix list (CloudFront, health checkers)."""
    return sorted(g.name for g in built.of_type(GROUP) if re.search(r"-alb-\w+-sg$", g.name))


# --- placement ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "region", "options"),
    [
        ("dev", "us-west-2", {}),
        ("staging", "us-east-1", {"zone_id": ZONE_ID}),
        ("prod", "us-west-2", {"zone_id": ZONE_ID, "edge": True}),
    ],
    ids=["dev-secondary", "staging-primary-with-domain", "prod-replica-behind-edge"],
)
def test_every_resource_sits_on_the_regions_provider_and_under_the_region(
    stack: str, region: str, options: dict[str, Any]
) -> None:
    config = shipped_stack(stack, dns=DOMAIN) if stack == "staging" else shipped_stack(stack)
    built = build_region(config, region, **options)
    component = region_component(built)
    inside = {r.urn for r in built.under(component)}
    # The one provider is the one the Region was given: no child builds or names another.
    (provider,) = built.of_type(PROVIDER_TYPE)
    assert provider.name == f"aws-{region}"
    aws_resources = built.aws_resources()
    assert len(aws_resources) > 50
    for resource in aws_resources:
        assert resource.urn in inside, resource.name
        assert resource.provider_urn == provider.urn, resource.name
        assert resource.region == region, resource.name
    # Every lookup went through it too.
    assert {lookup_region for _, lookup_region in built.invokes} == {region}
    # Each tier is a component named after the region, directly under the Region.
    tiers = {r.name: r for r in built.resources if not r.custom and r.parent_urn == component.urn}
    assert {f"{region}-{tier}" for tier in TIERS} <= set(tiers)
    assert all(name.startswith(f"{region}-") for name in tiers)


# --- exposure -------------------------------------------------------------------------------


def test_without_a_domain_or_certificate_plain_http_to_the_allowed_sources_and_a_notice() -> None:
    config = shipped_stack("dev")
    built = build_region(config, "us-west-2")
    (http,) = listeners(built).values()
    assert http["port"] == 80 and http["protocol"] == "HTTP"
    assert http["defaultActions"][0]["type"] == "forward"
    assert built.of_type(CERT) == [] and built.of_type(RULE) == []
    cidrs = config.compute.allowed_cidrs
    assert open_ports(built) == sorted((port, cidr) for port in (80, 443) for cidr in cidrs)
    # No domain, no Route53 health checks: no prefix-list group for their checkers.
    assert prefix_list_groups(built) == []
    assert built.outputs["notices"] == [
        "us-west-2: no certificate configured, the ALB serves plain HTTP only "
        "(set tap:compute.certificate_arns or a tap:dns domain)"
    ]
    assert built.outputs["region"]["url"].startswith("http://")
    assert built.outputs["region"]["https"] is False


def test_a_configured_certificate_serves_https_and_redirects_http() -> None:
    config = shipped_stack("dev", compute={"certificate_arns": {"us-west-2": CERT_ARN}})
    built = build_region(config, "us-west-2")
    by_port = listeners(built)
    assert by_port[443]["certificateArn"] == CERT_ARN
    assert by_port[443]["defaultActions"][0]["type"] == "forward"
    assert by_port[80]["defaultActions"][0]["redirect"] == {
        "protocol": "HTTPS",
        "port": "443",
        "statusCode": "HTTP_301",
    }
    # The configured certificate is used as it is: none is requested.
    assert built.of_type(CERT) == []
    assert built.outputs["notices"] == []
    assert built.outputs["region"]["url"].startswith("https://")


@pytest.mark.parametrize(("region", "owner"), [("us-east-1", True), ("us-west-2", False)])
def test_with_a_domain_a_certificate_validated_in_the_zone_the_primary_owning_the_record(
    region: str, owner: bool
) -> None:
    config = shipped_stack("staging", dns=DOMAIN)
    built = build_region(config, region, zone_id=ZONE_ID)
    (cert,) = built.of_type(CERT)
    assert cert.inputs["domainName"] == config.failover_fqdn == "app.tap-unit-test.net"
    records = built.of_type(RECORD)
    assert len(records) == (1 if owner else 0)
    assert all(r.inputs["zoneId"] == ZONE_ID for r in records)
    (validation,) = built.of_type(VALIDATION)
    https = listeners(built)[443]
    assert https["certificateArn"].startswith(f"arn:aws:acm:{region}:")
    assert validation.urn in built.one(LISTENER, f"{region}-compute-https").depends_on
    # Served directly, and Route53's health checkers are admitted on 443 for the failover.
    assert https["defaultActions"][0]["type"] == "forward"
    assert open_ports(built) == sorted(
        (port, cidr) for port in (80, 443) for cidr in config.compute.allowed_cidrs
    )
    assert prefix_list_groups(built) == [f"{region}-compute-alb-health-sg"]
    assert built.outputs["notices"] == []


def test_behind_the_edge_only_requests_with_an_origin_secret_and_health_checks_get_in() -> None:
    config = shipped_stack("prod")
    built = build_region(config, "us-west-2", zone_id=ZONE_ID, edge=True)
    (cert,) = built.of_type(CERT)
    assert cert.inputs["domainName"] == config.failover_fqdn
    assert config.failover_fqdn is not None and config.failover_fqdn.startswith("origin.")
    # No address range reaches the ALB: only CloudFront's and the health checkers' lists.
    assert open_ports(built) == []
    assert prefix_list_groups(built) == [
        "us-west-2-compute-alb-edge-sg",
        "us-west-2-compute-alb-health-sg",
    ]
    https = listeners(built)[443]
    assert https["defaultActions"][0]["fixedResponse"]["statusCode"] == "403"
    origin = built.one(RULE, "us-west-2-compute-edge-origin")
    (condition,) = origin.inputs["conditions"]
    assert condition["httpHeader"]["httpHeaderName"] == ORIGIN_SECRET_HEADER
    assert condition["httpHeader"]["values"] == built.outputs["origin_secrets"]
    assert len(set(built.outputs["origin_secrets"])) == 2
    # The accepted values reach the engine only as secrets.
    assert "origin_secrets" in built.secret_outputs
    for index in (0, 1):
        assert built.sent_as_secret(origin.name, f".conditions[0].httpHeader.values[{index}]")
    assert built.outputs["notices"] == []


# --- the database's role --------------------------------------------------------------------


def test_the_primary_region_gets_the_writable_multi_az_database() -> None:
    config = shipped_stack("prod")
    plan = plan_of(config, "us-east-1")
    assert plan.database is not None and plan.database.role == "primary"
    built = build_region(config, "us-east-1", zone_id=ZONE_ID, edge=True)
    (instance,) = built.of_type(RDS)
    assert instance.name == "us-east-1-database-primary"
    assert "replicateSourceDb" not in instance.inputs
    assert instance.inputs["multiAz"] is True
    assert instance.inputs["instanceClass"] == plan.database.instance_class
    database = built.outputs["database"]
    assert database["db_is_replica"] is False and database["db_multi_az"] is True
    assert database["db_identifier"] == "prod-db-us-east-1"
    alarms = {a.name.removeprefix("us-east-1-monitoring-") for a in built.of_type(ALARM)}
    assert {"db-cpu", "db-free-storage"} <= alarms and "replica-lag" not in alarms


def test_a_secondary_region_with_replicas_gets_a_replica_of_the_given_source() -> None:
    config = shipped_stack("prod")
    plan = plan_of(config, "us-west-2")
    assert plan.database is not None and plan.database.role == "replica"
    built = build_region(config, "us-west-2", zone_id=ZONE_ID, edge=True)
    (instance,) = built.of_type(RDS)
    assert instance.inputs["replicateSourceDb"] == primary_db_arn(config)
    # A standby of a standby doubles the replica's cost for a failover AWS would not perform.
    assert instance.inputs["multiAz"] is False
    assert instance.inputs["instanceClass"] == plan.database.instance_class
    database = built.outputs["database"]
    assert database["db_is_replica"] is True and database["db_multi_az"] is False
    lag = built.one(ALARM, "us-west-2-monitoring-replica-lag")
    assert lag.inputs["dimensions"] == {"DBInstanceIdentifier": "prod-db-replica-us-west-2"}
    assert lag.inputs["threshold"] == config.alerts.thresholds.replica_lag_seconds


def test_a_secondary_region_without_replicas_has_no_database_and_no_database_alarms() -> None:
    config = shipped_stack("dev")
    assert plan_of(config, "us-west-2").database is None
    built = build_region(config, "us-west-2")
    assert built.of_type(RDS) == []
    assert built.components("tap:database:Database") == []
    assert built.outputs["database"] is None
    assert not [a for a in built.of_type(ALARM) if a.inputs["namespace"] == "AWS/RDS"]


def test_a_promoted_region_keeps_its_replicas_name_and_becomes_writable() -> None:
    config = shipped_stack("prod", database={"promoted_regions": ["us-west-2"]})
    plan = plan_of(config, "us-west-2")
    assert plan.database is not None and plan.database.role == "promoted"
    built = build_region(config, "us-west-2", zone_id=ZONE_ID, edge=True)
    (instance,) = built.of_type(RDS)
    # The replica's logical name and identifier: the program adopts the promoted instance.
    assert instance.name == "us-west-2-database-replica"
    assert instance.inputs["identifier"] == "prod-db-replica-us-west-2"
    assert "replicateSourceDb" not in instance.inputs
    assert instance.inputs["multiAz"] is True
    assert built.outputs["database"]["db_is_replica"] is False
    assert not [a for a in built.of_type(ALARM) if a.name.endswith("replica-lag")]


# --- the rest of the region -----------------------------------------------------------------


def dev_with_options() -> StackConfig:
    """dev with what its stack file leaves off: a bastion, no NAT, two on-call addresses."""
    return shipped_stack(
        "dev",
        compute={"bastion": {"enabled": True, "ssh_cidr": "198.51.100.0/24", "key_name": "ops"}},
        network={"nat_strategy": "none"},
        alerts={"emails": ["a@acme.io", "b@acme.io"]},
    )


def test_alerts_page_the_configured_addresses_through_the_regions_key() -> None:
    built = build_region(dev_with_options(), "us-west-2")
    assert sorted(s.inputs["endpoint"] for s in built.of_type(SUBSCRIPTION)) == [
        "a@acme.io",
        "b@acme.io",
    ]
    (topic,) = built.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == built.outputs["region"]["kms_key_arn"]
    assert built.outputs["region"]["kms_key_arn"].startswith("arn:aws:kms:us-west-2:")
    alarms = built.of_type(ALARM)
    assert alarms and all(
        a.inputs["alarmActions"] == [built.outputs["region"]["alert_topic_arn"]] for a in alarms
    )


def test_the_network_has_the_regions_cidr_and_the_stacks_shape() -> None:
    config = shipped_stack("staging", dns=DOMAIN)
    plan = plan_of(config, "us-west-2")
    built = build_region(config, "us-west-2", zone_id=ZONE_ID)
    (vpc,) = built.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == plan.cidr == built.outputs["region"]["vpc_cidr"]
    assert len(built.outputs["region"]["public_subnet_ids"]) == config.network.az_count
    (flow_logs,) = [g for g in built.of_type("aws:cloudwatch/logGroup:LogGroup")
                    if g.name.endswith("flow-logs")]  # fmt: skip
    assert flow_logs.inputs["kmsKeyId"] == built.outputs["region"]["kms_key_arn"]


def test_no_bastion_unless_configured() -> None:
    built = build_region(shipped_stack("dev"), "us-west-2")
    assert built.components("tap:bastion:Bastion") == []
    assert not [r for r in built.resources if "bastion" in r.name]


def test_a_configured_bastion_sits_in_the_first_public_subnet_of_the_region() -> None:
    built = build_region(dev_with_options(), "us-west-2")
    (component,) = built.components("tap:bastion:Bastion")
    assert component.parent_urn == region_component(built).urn
    (template,) = [t for t in built.of_type("aws:ec2/launchTemplate:LaunchTemplate")
                   if t.name.startswith("us-west-2-bastion")]  # fmt: skip
    (interface,) = template.inputs["networkInterfaces"]
    assert interface["subnetId"] == built.outputs["region"]["public_subnet_ids"][0]
    ssh = [r.inputs for r in built.of_type(INGRESS) if r.inputs.get("fromPort") == 22]
    assert [r["cidrIpv4"] for r in ssh] == ["198.51.100.0/24"]
    # Every security group and rule of the region (app, ALB, endpoints, bastion) is described
    # the way EC2 accepts.
    described = [r for t in (GROUP, INGRESS, EGRESS) for r in built.of_type(t)]
    assert any("bastion" in r.name for r in described)
    assert any("endpoints" in r.name for r in described)
    for resource in described:
        assert EC2_DESCRIPTION.match(resource.inputs["description"]), resource.name
