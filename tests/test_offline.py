"""The mock harness invents ids, ARNs and lookups in the shapes AWS returns."""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import Any

import pytest

from tap_tooling import offline
from tap_tooling.offline import MOCK_ACCOUNT_ID, computed_state, physical_id

ACCT = MOCK_ACCOUNT_ID
HEX17 = r"[0-9a-f]{17}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.mark.parametrize(
    ("type_", "shape"),
    [
        ("aws:ec2/vpc:Vpc", rf"vpc-{HEX17}"),
        ("aws:ec2/subnet:Subnet", rf"subnet-{HEX17}"),
        ("aws:ec2/securityGroup:SecurityGroup", rf"sg-{HEX17}"),
        ("aws:ec2/internetGateway:InternetGateway", rf"igw-{HEX17}"),
        ("aws:ec2/natGateway:NatGateway", rf"nat-{HEX17}"),
        ("aws:ec2/eip:Eip", rf"eipalloc-{HEX17}"),
        ("aws:ec2/routeTable:RouteTable", rf"rtb-{HEX17}"),
        ("aws:ec2/launchTemplate:LaunchTemplate", rf"lt-{HEX17}"),
        ("aws:ec2/instance:Instance", rf"i-{HEX17}"),
        ("aws:ec2/networkAcl:NetworkAcl", rf"acl-{HEX17}"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", rf"vpce-{HEX17}"),
        ("aws:ec2/flowLog:FlowLog", rf"fl-{HEX17}"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", rf"sgr-{HEX17}"),
        ("aws:kms/key:Key", UUID),
        ("aws:route53/healthCheck:HealthCheck", UUID),
        ("aws:route53/zone:Zone", r"Z[0-9A-Z]{20}"),
        ("aws:cloudfront/distribution:Distribution", r"E[0-9A-Z]{13}"),
        ("aws:rds/instance:Instance", r"db-[0-9A-Z]{26}"),
    ],
)
def test_ids_have_aws_shapes_and_are_deterministic(type_: str, shape: str) -> None:
    first = physical_id(type_, "thing", {}, "us-east-1")
    assert re.fullmatch(shape, first), first
    assert physical_id(type_, "thing", {}, "us-east-1") == first
    assert physical_id(type_, "other", {}, "us-east-1") != first


def test_named_resources_are_known_by_their_name() -> None:
    assert physical_id("aws:s3/bucket:Bucket", "b", {"bucket": "dev-logs-1"}) == "dev-logs-1"
    assert physical_id("aws:iam/role:Role", "r", {"name": "dev-app"}) == "dev-app"
    assert physical_id("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/tap/x"}) == "/tap/x"
    record = {"zoneId": "Z1", "name": "app.acme.io.", "type": "A", "setIdentifier": "primary"}
    assert physical_id("aws:route53/record:Record", "rec", record) == "Z1_app.acme.io_A_primary"


def test_load_balancer_arns_and_names() -> None:
    alb = computed_state(
        "aws:lb/loadBalancer:LoadBalancer", "alb", "us-west-2", {"name": "prod-alb-us-west-2"}
    )
    assert re.fullmatch(
        rf"arn:aws:elasticloadbalancing:us-west-2:{ACCT}:loadbalancer/app/prod-alb-us-west-2/"
        r"[0-9a-f]{16}",
        alb["arn"],
    )
    assert alb["arn"].endswith(alb["arnSuffix"])
    assert re.fullmatch(r"prod-alb-us-west-2-\d+\.us-west-2\.elb\.amazonaws\.com", alb["dnsName"])
    assert alb["zoneId"] == "Z1H1FL5HABSF5"
    assert physical_id("aws:lb/loadBalancer:LoadBalancer", "alb", {"name": "prod-alb-us-west-2"},
                       "us-west-2") == alb["arn"]  # fmt: skip
    listener = computed_state(
        "aws:lb/listener:Listener", "https", "us-west-2", {"loadBalancerArn": alb["arn"]}
    )
    assert re.fullmatch(
        rf"arn:aws:elasticloadbalancing:us-west-2:{ACCT}:listener/{alb['arnSuffix']}/[0-9a-f]{{16}}",
        listener["arn"],
    )
    group = computed_state("aws:lb/targetGroup:TargetGroup", "tg", "us-west-2", {"name": "tg-1"})
    assert re.fullmatch(r"targetgroup/tg-1/[0-9a-f]{16}", group["arnSuffix"])
    assert group["arn"] == f"arn:aws:elasticloadbalancing:us-west-2:{ACCT}:{group['arnSuffix']}"


def test_service_arns() -> None:
    def arn(type_: str, inputs: dict, region: str = "eu-west-1") -> str:
        return str(computed_state(type_, "x", region, inputs)["arn"])

    assert arn("aws:sns/topic:Topic", {"name": "alerts"}) == f"arn:aws:sns:eu-west-1:{ACCT}:alerts"
    assert re.fullmatch(
        rf"arn:aws:kms:eu-west-1:{ACCT}:key/{UUID}", arn("aws:kms/key:Key", {})
    )  # fmt: skip
    assert re.fullmatch(
        rf"arn:aws:secretsmanager:eu-west-1:{ACCT}:secret:tap/db-[A-Za-z0-9]{{6}}",
        arn("aws:secretsmanager/secret:Secret", {"name": "tap/db"}),
    )
    assert arn("aws:iam/role:Role", {"name": "app"}) == f"arn:aws:iam::{ACCT}:role/app"
    certificate = arn("aws:acm/certificate:Certificate", {})
    assert re.fullmatch(rf"arn:aws:acm:eu-west-1:{ACCT}:certificate/{UUID}", certificate)
    assert arn("aws:ec2/vpc:Vpc", {}).startswith(f"arn:aws:ec2:eu-west-1:{ACCT}:vpc/vpc-")
    waf = arn("aws:wafv2/webAcl:WebAcl", {"name": "edge", "scope": "CLOUDFRONT"}, "us-east-1")
    assert re.fullmatch(rf"arn:aws:wafv2:us-east-1:{ACCT}:global/webacl/edge/{UUID}", waf)
    cdn = computed_state("aws:cloudfront/distribution:Distribution", "cdn", "us-east-1", {})
    assert re.fullmatch(rf"arn:aws:cloudfront::{ACCT}:distribution/E[0-9A-Z]{{13}}", cdn["arn"])
    assert re.fullmatch(r"d[a-z0-9]{13}\.cloudfront\.net", cdn["domainName"])


def test_rds_instances_have_a_resource_id_and_an_endpoint() -> None:
    state = computed_state(
        "aws:rds/instance:Instance",
        "primary",
        "us-east-1",
        {"identifier": "prod-db-us-east-1", "manageMasterUserPassword": True},
    )
    assert re.fullmatch(r"db-[0-9A-Z]{26}", state["resourceId"])
    assert re.fullmatch(
        r"prod-db-us-east-1\.[a-z0-9]{12}\.us-east-1\.rds\.amazonaws\.com", state["address"]
    )
    assert state["arn"] == f"arn:aws:rds:us-east-1:{ACCT}:db:prod-db-us-east-1"
    [secret] = state["masterUserSecrets"]
    assert re.fullmatch(
        rf"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:rds!db-{UUID}-[A-Za-z0-9]{{6}}",
        secret["secretArn"],
    )


def test_a_zone_gets_four_name_servers_and_an_id() -> None:
    state = computed_state("aws:route53/zone:Zone", "zone", "us-east-1", {"name": "acme.io"})
    assert re.fullmatch(r"Z[0-9A-Z]{20}", state["zoneId"])
    assert len(state["nameServers"]) == 4
    assert all(re.fullmatch(r"ns-\d+\.awsdns-\d{2}\.[a-z.]+", ns) for ns in state["nameServers"])


# ---------------------------------------------------------------------------------------------
# getAvailabilityZones


def zones(region: str, **args: object) -> dict:
    return offline._availability_zones(region, dict(args))


@pytest.mark.parametrize(
    ("region", "code"),
    [
        ("us-east-1", "use1"),
        ("us-west-2", "usw2"),
        ("eu-west-1", "euw1"),
        ("ap-southeast-2", "apse2"),
        ("eu-central-1", "euc1"),
        ("ap-northeast-1", "apne1"),
        ("ca-central-1", "cac1"),
    ],
)
def test_zone_ids_use_aws_region_codes(region: str, code: str) -> None:
    answer = zones(region, filters=[{"name": "zone-type", "values": ["availability-zone"]}])
    assert answer["zoneIds"][0] == f"{code}-az1"
    assert all(z.startswith(f"{code}-az") for z in answer["zoneIds"])
    assert answer["names"][0] == f"{region}a"


def test_opted_in_local_zones_sort_first_unless_filtered() -> None:
    everything = zones("us-west-2")
    assert everything["names"][0] == "us-west-2-lax-1a"
    assert "usw2-lax1-az1" in everything["zoneIds"]
    azs = zones("us-west-2", filters=[{"name": "zone-type", "values": ["availability-zone"]}])
    assert azs["names"] == ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]
    local = zones("us-west-2", filters=[{"name": "zone-type", "values": ["local-zone"]}])
    assert local["names"] == ["us-west-2-lax-1a", "us-west-2-lax-1b"]
    opt_in = zones("us-west-2", filters=[{"name": "opt-in-status", "values": ["opt-in-not-*"]}])
    assert opt_in["names"] == azs["names"]


def test_zones_not_opted_into_need_all_availability_zones() -> None:
    assert "us-east-1-bos-1a" not in zones("us-east-1")["names"]
    assert "us-east-1-bos-1a" in zones("us-east-1", allAvailabilityZones=True)["names"]


def test_state_and_exclusions() -> None:
    kept = zones("us-east-1", excludeZoneIds=["use1-az3"], excludeNames=["us-east-1f"])
    assert "use1-az3" not in kept["zoneIds"] and "us-east-1f" not in kept["names"]
    assert len(kept["names"]) == len(kept["zoneIds"]) == 4
    assert zones("us-east-1", state="available")["names"] == zones("us-east-1")["names"]
    assert zones("us-east-1", state="impaired")["names"] == []


def test_impaired_zones_are_dropped_only_by_a_state_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    real = offline.region_zones

    def impaired(region: str) -> list[offline.Zone]:
        return [
            offline.Zone(z.name, z.zone_id, z.zone_type, z.opt_in_status, "impaired", z.group_name)
            if z.zone_id == "use1-az2"
            else z
            for z in real(region)
        ]

    monkeypatch.setattr(offline, "region_zones", impaired)
    assert "use1-az2" in zones("us-east-1")["zoneIds"]
    assert "use1-az2" not in zones("us-east-1", state="available")["zoneIds"]


def test_an_unknown_filter_is_an_error_not_a_silent_match() -> None:
    with pytest.raises(offline.OfflineError, match="network-border-group"):
        zones("us-east-1", filters=[{"name": "network-border-group", "values": ["x"]}])


def test_prefix_lists_answer_with_their_documented_weight() -> None:
    lookup = offline._LOOKUPS["aws:ec2/getManagedPrefixList:getManagedPrefixList"]
    cloudfront = lookup("us-east-1", {"name": "com.amazonaws.global.cloudfront.origin-facing"})
    health = lookup("us-east-1", {"name": "com.amazonaws.us-east-1.route53-healthchecks"})
    assert (cloudfront["maxEntries"], health["maxEntries"]) == (55, 25)
    assert re.fullmatch(r"pl-[0-9a-f]{8}", cloudfront["id"])
    assert cloudfront["id"] != lookup("us-west-2", {"name": cloudfront["name"]})["id"]


def test_collection_pauses_during_a_run_and_resumes_after_it(tmp_path: Path) -> None:
    """The harness pauses the cyclic garbage collector while the program runs (half of a run's
    CPU otherwise): the program sees it off; the caller gets it back as it was, error or not."""
    reports = tmp_path / "__main__.py"
    reports.write_text("import gc, pulumi\npulumi.export('collecting', gc.isenabled())\n")
    fails = tmp_path / "fails.py"
    fails.write_text("raise RuntimeError('the program failed')\n")
    assert gc.isenabled()
    assert offline.run_program("dev", program=reports).outputs == {"collecting": False}
    assert gc.isenabled()
    with pytest.raises(Exception, match="the program failed"):
        offline.run_program("dev", program=fails)
    assert gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        offline.run_program("dev", program=reports)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_runs_leftovers_are_frozen_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FREEZE_AFTER_RUN (the suite's setting): what a run leaves alive is out of the
    collector's generations once it ends; off (deploy.py's default), it stays collectable."""
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi\npulumi.export('vpc', 'vpc-1')\n")
    for freeze in (False, True):
        monkeypatch.setattr(offline, "FREEZE_AFTER_RUN", freeze)
        gc.collect()
        frozen_before = gc.get_freeze_count()
        result = offline.run_program("dev", program=program)
        assert result.outputs == {"vpc": "vpc-1"}
        assert (gc.get_freeze_count() > frozen_before) is freeze
        assert gc.isenabled()


def test_components_run_alone_with_the_programs_mocks_and_strictness() -> None:
    import pulumi
    import pulumi_aws as aws

    def build() -> dict[str, Any]:
        provider = aws.Provider("aws-eu-west-1", region="eu-west-1")
        opts = pulumi.ResourceOptions(provider=provider)
        topic = aws.sns.Topic("alerts", name="unit-alerts", opts=opts)
        return {"topic_arn": topic.arn, "plain": 1}

    built = offline.run_components(build)
    assert built.outputs == {
        "topic_arn": f"arn:aws:sns:eu-west-1:{ACCT}:unit-alerts",
        "plain": 1,
    }
    topic = built.one("aws:sns/topic:Topic", "alerts")
    assert (topic.region, topic.inputs["name"]) == ("eu-west-1", "unit-alerts")
    assert built.warnings == []
    with pytest.raises(offline.OfflineError, match="'stray' has no explicit provider"):
        offline.run_components(lambda: {"vpc": aws.ec2.Vpc("stray", cidr_block="10.0.0.0/16")})
