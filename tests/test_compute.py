"""The application tier of each stack: ALB, listeners, security groups, instances, scaling."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pytest

from components.compute import TLS_POLICY, Compute, ComputeArgs, Exposure, architecture_of
from components.origin_secret import ORIGIN_SECRET_HEADER, OriginSecret, OriginSecretArgs
from tap.config import ComputeConfig
from tap.protection import NON_PRODUCTION
from tap.user_data import render_user_data
from tap_tooling import sdk
from tap_tooling.offline import (
    ALB_ZONE_IDS,
    PlanResult,
    Recorded,
    RecordingMocks,
    RecordingMonitor,
    without_cyclic_gc,
)
from tests.conftest import inputs_of, planned, stack_config

ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TG = "aws:lb/targetGroup:TargetGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CERT = "arn:aws:acm:{region}:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
SIZES = {"dev": (1, 2, 1), "staging": (1, 4, 2), "prod": (2, 10, 3)}


def app_resources(plan: PlanResult, type_: str) -> list[Recorded]:
    """Resources of `type_` in the Compute tier (a NAT instance has a group and template too)."""
    return [
        r
        for r in plan.of_type(type_)
        if (tier := plan.component_of(r)) is not None and tier.type == "tap:compute:Compute"
    ]


def app_inputs(plan: PlanResult, type_: str, region: str | None = None) -> list[dict[str, Any]]:
    return [r.inputs for r in app_resources(plan, type_) if region is None or r.region == region]


def regions_of(plan: PlanResult) -> list[str]:
    return plan.outputs["deployment_summary"]["regions"]


def groups_by_id(plan: PlanResult) -> dict[str, Recorded]:
    """Every security group, keyed by the id the harness gave it (what rules reference)."""
    groups = {plan.id_of(g): g for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert all(re.fullmatch(r"sg-[0-9a-f]{17}", group_id) for group_id in groups)
    return groups


def group_id(plan: PlanResult, name: str, region: str) -> str:
    """The id of the security group called `name` in `region`."""
    (group,) = [
        g
        for g in plan.of_type("aws:ec2/securityGroup:SecurityGroup")
        if g.name == name and g.region == region
    ]
    return plan.id_of(group)


def test_alb_is_hardened_per_environment(stack_plan: PlanResult) -> None:
    prod = stack_plan.stack == "prod"
    for region in regions_of(stack_plan):
        (alb,) = inputs_of(stack_plan, ALB, region)
        assert alb["internal"] is False and alb["loadBalancerType"] == "application"
        assert alb["dropInvalidHeaderFields"] is True
        assert alb["enableDeletionProtection"] is prod
        assert alb["accessLogs"]["enabled"] is True
        assert alb["accessLogs"]["bucket"].startswith(f"{stack_plan.stack}-alb-logs-{region}")
        assert sorted(alb["subnets"]) == sorted(
            stack_plan.outputs["regions"][region]["public_subnet_ids"]
        )
        assert len(alb["name"]) <= 32


def test_alb_log_bucket_admits_only_elb_delivery(stack_plan: PlanResult) -> None:
    policies = [
        p for p in stack_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if "alb-logs" in p.name
    ]
    assert sorted(str(p.region) for p in policies) == sorted(regions_of(stack_plan))
    for policy in policies:
        assert policy.region is not None
        allows = [
            s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"
        ]
        assert len(allows) == 1
        assert allows[0]["Action"] == "s3:PutObject"
        assert allows[0]["Principal"] == {
            "AWS": {
                "us-east-1": "arn:aws:iam::127311923021:root",
                "us-west-2": "arn:aws:iam::797873946194:root",
            }[policy.region]
        }
        assert allows[0]["Resource"].endswith("/alb/AWSLogs/123456789012/*")


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_http_only_without_certificate_and_the_plan_says_so(stack: str) -> None:
    stack_plan = planned(stack)
    for region in regions_of(stack_plan):
        (listener,) = inputs_of(stack_plan, LISTENER, region)
        assert listener["port"] == 80 and listener["defaultActions"][0]["type"] == "forward"
        assert stack_plan.outputs["regions"][region]["url"].startswith("http://")
        assert any(n.startswith(f"{region}: no certificate") for n in stack_plan.outputs["notices"])


def test_prod_listeners_use_the_dns_validated_certificates(prod_plan: PlanResult) -> None:
    validations = {
        r.region: r
        for r in prod_plan.of_type("aws:acm/certificateValidation:CertificateValidation")
        if r.name != "global-edge-certificate-validation"
    }
    for region in regions_of(prod_plan):
        (https,) = [
            x for x in prod_plan.of_type(LISTENER) if x.region == region and x.inputs["port"] == 443
        ]
        assert https.inputs["sslPolicy"] == TLS_POLICY
        assert https.inputs["certificateArn"].startswith(f"arn:aws:acm:{region}:")
        # The listener waits for DNS validation of its certificate.
        assert validations[region].urn in https.depends_on
        assert prod_plan.outputs["regions"][region]["url"].startswith("https://")
    assert prod_plan.outputs["notices"] == []


def test_https_and_redirect_exactly_when_a_certificate_is_configured(
    run_config: Callable[..., PlanResult],
) -> None:
    plan = run_config(
        "staging", compute={"certificate_arns": {"us-east-1": CERT.format(region="us-east-1")}}
    )
    east = inputs_of(plan, LISTENER, "us-east-1")
    https = [x for x in east if x["port"] == 443]
    http = [x for x in east if x["port"] == 80]
    assert len(https) == 1 and len(http) == 1
    assert https[0]["protocol"] == "HTTPS" and https[0]["sslPolicy"] == TLS_POLICY
    assert https[0]["certificateArn"] == CERT.format(region="us-east-1")
    redirect = http[0]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert plan.outputs["regions"]["us-east-1"]["url"].startswith("https://")
    # The other region has no certificate: plain HTTP there, and only there.
    (west,) = inputs_of(plan, LISTENER, "us-west-2")
    assert west["protocol"] == "HTTP" and west["defaultActions"][0]["type"] == "forward"
    assert [n.split(":")[0] for n in plan.outputs["notices"]] == ["us-west-2"]


def _wide_open(rule: dict) -> bool:
    """Open to the internet: IPv6 anywhere, or an IPv4 range of /8 or wider."""
    import ipaddress

    if rule.get("cidrIpv6"):
        return ipaddress.ip_network(rule["cidrIpv6"]).prefixlen <= 8
    return "cidrIpv4" in rule and ipaddress.ip_network(rule["cidrIpv4"]).prefixlen <= 8


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
@pytest.mark.parametrize("cloudfront", [False, True])
def test_only_the_alb_is_open_to_the_internet_and_only_on_80_443(
    stack: str, cloudfront: bool, run_config: Callable[..., PlanResult]
) -> None:
    if cloudfront == (stack == "prod"):
        plan = planned(stack)
    elif cloudfront:
        plan = run_config(stack, dns={"domain": "tap-unit-test.net", "create_zone": True},
                          edge={"cloudfront_enabled": True})  # fmt: skip
    else:
        plan = run_config(stack, edge={"cloudfront_enabled": False, "waf_enabled": False})
    groups = groups_by_id(plan)
    open_rules = [r for r in inputs_of(plan, INGRESS) if _wide_open(r)]
    # Without CloudFront the ALB is open on 80 and 443; behind it, nothing is.
    assert len(open_rules) == (0 if cloudfront else 2 * len(regions_of(plan)))
    for rule in open_rules:
        assert groups[rule["securityGroupId"]].name.endswith("-compute-alb-sg")
        assert rule["fromPort"] == rule["toPort"] and rule["fromPort"] in (80, 443)
    for group in plan.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress")


def test_app_port_only_from_the_alb_and_egress_limited(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        app_sg = group_id(stack_plan, f"{region}-compute-app-sg", region)
        alb_sg = group_id(stack_plan, f"{region}-compute-alb-sg", region)
        ingress = [
            r for r in inputs_of(stack_plan, INGRESS, region) if r["securityGroupId"] == app_sg
        ]
        assert ingress == [
            {**ingress[0], "referencedSecurityGroupId": alb_sg, "fromPort": 8080, "toPort": 8080}
        ]
        egress = [
            r for r in inputs_of(stack_plan, EGRESS, region) if r["securityGroupId"] == app_sg
        ]
        internet = [r for r in egress if r.get("cidrIpv4") == "0.0.0.0/0"]
        assert [(r["fromPort"], r["toPort"], r["ipProtocol"]) for r in internet] == [
            (443, 443, "tcp")
        ]
        alb_out = [
            r for r in inputs_of(stack_plan, EGRESS, region) if r["securityGroupId"] == alb_sg
        ]
        assert [(r["referencedSecurityGroupId"], r["fromPort"]) for r in alb_out] == [
            (app_sg, 8080)
        ]


DEV_COMPUTE_VARIANT = {
    "allowed_cidrs": ["198.51.100.0/24", "203.0.113.0/24"],
    "ami_id": "ami-0123456789abcdef0",
    "bastion": {"enabled": True, "ssh_cidr": "198.51.100.0/24", "key_name": "ops"},
}
"""dev with every compute setting that leaves the others alone changed at once (source
CIDRs, a pinned AMI, a bastion): one run the tests below share, each reading its own
setting's effect."""


def test_allowed_cidrs_are_configurable(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", compute=DEV_COMPUTE_VARIANT)
    sources = {
        (r["cidrIpv4"], r["fromPort"])
        for r in app_inputs(plan, INGRESS, "us-east-1")
        if "cidrIpv4" in r
    }
    assert sources == {(c, p) for c in ("198.51.100.0/24", "203.0.113.0/24") for p in (80, 443)}


def test_target_group_health_check_and_name(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (tg,) = inputs_of(stack_plan, TG, region)
        assert tg["port"] == 8080 and tg["protocol"] == "HTTP" and len(tg["name"]) <= 32
        check = tg["healthCheck"]
        assert check["path"] == "/health" and check["matcher"] == "200"
        assert check["healthyThreshold"] == 2 and check["unhealthyThreshold"] == 3
        assert 0 < tg["deregistrationDelay"] <= 60


def test_launch_template_is_hardened(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (lt,) = app_inputs(stack_plan, LT, region)
        assert lt["metadataOptions"]["httpTokens"] == "required"
        assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert lt["monitoring"] == {"enabled": True}
        (device,) = lt["blockDeviceMappings"]
        assert device["ebs"]["encrypted"] == "true" and device["ebs"]["volumeType"] == "gp3"
        assert device["ebs"]["kmsKeyId"] == stack_plan.outputs["regions"][region]["kms_key_arn"]
        assert "networkInterfaces" not in lt  # hence no public IP: private subnets only
        assert lt["imageId"].startswith(
            "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami"
        )
        assert "keyName" not in lt
        kinds = {spec["resourceType"]: spec["tags"] for spec in lt["tagSpecifications"]}
        assert {"instance", "volume"} <= set(kinds)
        for tags in kinds.values():
            assert tags["Environment"] == stack_plan.stack and tags["CostCenter"] and tags["Name"]


def test_user_data_serves_the_page_and_health_and_ships_logs(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (lt,) = app_inputs(stack_plan, LT, region)
        script = base64.b64decode(lt["userData"]).decode()
        assert script == render_user_data(
            stack_plan.stack, region, 8080, f"/tap/{stack_plan.stack}/{region}/app"
        )
        assert '"/health"' in script and f"{region!r}" in script
        assert "amazon-cloudwatch-agent" in script


def test_user_data_server_answers_health_and_root() -> None:
    """Run the embedded server code for real and query it."""
    import re
    import threading
    import urllib.request

    script = render_user_data("dev", "us-east-1", 0, "/tap/dev/us-east-1/app")
    embedded = re.search(r"<<'PYEOF'\n(.*)\nPYEOF", script, re.S)
    assert embedded is not None
    source = embedded.group(1)
    source = source.replace("/var/log/tap/app.log", "/dev/null")
    source = source.replace(
        'http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()', ""
    )
    namespace: dict = {}
    exec(compile(source, "server.py", "exec"), namespace)
    server = namespace["http"].server.ThreadingHTTPServer(("127.0.0.1", 0), namespace["Handler"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
            assert response.status == 200 and response.read() == b"ok"
        with urllib.request.urlopen(f"{base}/", timeout=5) as response:
            page = response.read().decode()
            assert "TAP dev" in page and "us-east-1" in page
    finally:
        server.shutdown()
        server.server_close()


def test_pinned_ami_is_used(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", compute=DEV_COMPUTE_VARIANT)
    assert {lt["imageId"] for lt in app_inputs(plan, LT)} == {"ami-0123456789abcdef0"}


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("t3.micro", "x86_64"),
        ("m7g.large", "arm64"),
        ("t4g.small", "arm64"),
        ("c6gn.xlarge", "arm64"),
        ("m7i.large", "x86_64"),
        ("g5.xlarge", "x86_64"),
    ],
)
def test_architecture_follows_instance_family(instance_type: str, arch: str) -> None:
    assert architecture_of(instance_type) == arch


def test_instance_role_has_only_the_two_managed_policies(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        attachments = [
            a["policyArn"]
            for a in inputs_of(
                stack_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", region
            )
            if "compute" in a["role"] or "app" in a["role"]
        ]
        assert sorted(attachments) == [
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
        ]
        (role,) = [
            r
            for r in inputs_of(stack_plan, "aws:iam/role:Role", region)
            if r["name"].startswith(f"{stack_plan.stack}-app-")
        ]
        trust = json.loads(role["assumeRolePolicy"])["Statement"]
        assert trust == [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
            }
        ]


def test_auto_scaling_group(stack_plan: PlanResult) -> None:
    low, high, desired = SIZES[stack_plan.stack]
    for region in regions_of(stack_plan):
        (asg,) = [r for r in app_resources(stack_plan, ASG) if r.region == region]
        group = asg.inputs
        assert (group["minSize"], group["maxSize"], group["desiredCapacity"]) == (
            low,
            high,
            desired,
        )
        assert sorted(group["vpcZoneIdentifiers"]) == sorted(
            stack_plan.outputs["regions"][region]["private_subnet_ids"]
        )
        assert group["healthCheckType"] == "ELB" and group["healthCheckGracePeriod"] > 0
        assert group["targetGroupArns"] == [
            stack_plan.outputs["regions"][region]["target_group_arn"]
        ]
        assert "GroupInServiceInstances" in group["enabledMetrics"]
        assert group["instanceRefresh"]["strategy"] == "Rolling"
        # The template's concrete latest version, never "$Latest".
        assert group["launchTemplate"]["version"] == "1"
        assert asg.ignore_changes == ("desiredCapacity",)


def test_cpu_target_tracking_per_environment(stack_plan: PlanResult) -> None:
    target = {"dev": 70.0, "staging": 65.0, "prod": 60.0}[stack_plan.stack]
    for region in regions_of(stack_plan):
        (policy,) = inputs_of(stack_plan, "aws:autoscaling/policy:Policy", region)
        assert policy["policyType"] == "TargetTrackingScaling"
        config = policy["targetTrackingConfiguration"]
        assert (
            config["predefinedMetricSpecification"]["predefinedMetricType"]
            == "ASGAverageCPUUtilization"
        )
        assert config["targetValue"] == target


def test_app_log_group_encrypted_with_retention(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        (group,) = [
            g
            for g in inputs_of(stack_plan, "aws:cloudwatch/logGroup:LogGroup", region)
            if g["name"].endswith("/app")
        ]
        assert group["retentionInDays"] > 0
        assert group["kmsKeyId"] == stack_plan.outputs["regions"][region]["kms_key_arn"]


def test_compute_outputs(stack_plan: PlanResult) -> None:
    for region in regions_of(stack_plan):
        out = stack_plan.outputs["regions"][region]
        assert out["alb_dns_name"].endswith(f"{region}.elb.amazonaws.com")
        (tg,) = [t for t in stack_plan.of_type(TG) if t.region == region]
        assert out["alb_zone_id"] == ALB_ZONE_IDS[region]
        assert out["target_group_arn"] == stack_plan.id_of(tg)
        assert out["target_group_arn"].startswith(
            f"arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/{tg.inputs['name']}/"
        )
        assert out["asg_name"] == f"{stack_plan.stack}-app-asg-{region}"
        scheme = "https" if stack_plan.stack == "prod" else "http"
        assert out["url"] == f"{scheme}://{out['alb_dns_name']}"


def test_no_bastion_by_default(stack_plan: PlanResult) -> None:
    assert not stack_plan.of_type("aws:ec2/instance:Instance")


def test_bastion_when_enabled_is_hardened(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", compute=DEV_COMPUTE_VARIANT)
    instances = plan.of_type("aws:ec2/instance:Instance")
    assert sorted(str(i.region) for i in instances) == ["us-east-1", "us-west-2"]
    templates = [t.inputs for t in plan.of_type(LT) if "bastion" in t.name]
    for template in templates:
        assert template["metadataOptions"]["httpTokens"] == "required"
        assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
        assert template["keyName"] == "ops"
    ssh = [r for r in inputs_of(plan, INGRESS) if r.get("fromPort") == 22]
    assert {r["cidrIpv4"] for r in ssh} == {"198.51.100.0/24"}


@pytest.mark.parametrize(
    ("bastion", "message"),
    [
        (
            {"enabled": True, "ssh_cidr": "0.0.0.0/0", "key_name": "ops"},
            "tap:compute.bastion.ssh_cidr",
        ),
        ({"enabled": True, "key_name": "ops"}, "tap:compute.bastion.ssh_cidr: "),
        ({"enabled": True, "ssh_cidr": "198.51.100.0/24"}, "tap:compute.bastion.key_name"),
    ],
)
def test_bastion_config_is_checked(
    run_config: Callable[..., PlanResult], bastion: dict, message: str
) -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match=message.replace(".", r"\.")):
        run_config("dev", compute={"bastion": bastion})


def test_names_fit_for_long_environment_and_region(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config(
        "dev",
        environment="staging-blue-xy",
        regions=[
            {"name": "ap-southeast-4", "cidr": "10.40.0.0/16"},
            {"name": "ap-northeast-3", "cidr": "10.41.0.0/16"},
        ],
        primary_region="ap-southeast-4",
    )
    for resource in plan.of_type(ALB) + plan.of_type(TG):
        assert len(resource.inputs["name"]) <= 32, resource.inputs["name"]
    for role in plan.of_type("aws:iam/role:Role"):
        assert len(role.inputs["name"]) <= 64
    names = [r.inputs["name"] for r in plan.of_type(ALB) + plan.of_type(TG)]
    assert len(names) == len(set(names))


def test_database_settings_refresh_restarts_the_app_only_on_change(tmp_path) -> None:
    """Run the user data's refresh script for real, with fake `aws` and `systemctl`."""
    import os
    import re
    import stat
    import subprocess

    script = render_user_data("dev", "us-east-1", 8080, "/tap/dev/us-east-1/app")
    embedded = re.search(r"<<'SHEOF'\n(.*?)\nSHEOF", script, re.S)
    assert embedded is not None
    body = embedded.group(1)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "app.env").write_text("")
    refresh = tmp_path / "refresh.sh"
    refresh.write_text(body.replace("/etc/tap/", f"{etc}/"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = tmp_path / "answers"
    answers.mkdir()
    calls = tmp_path / "systemctl.log"
    fakes = {
        # Answers from files named after the parameter; nothing (exit 255) when absent.
        "aws": f'n="${{6##*/}}"; [ -f "{answers}/$n" ] && cat "{answers}/$n" || exit 255\n',
        "systemctl": f'echo "$@" >> "{calls}"\n',
    }
    for name, text in fakes.items():
        path = bin_dir / name
        path.write_text("#!/bin/bash\n" + text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def run() -> None:
        subprocess.run(["bash", str(refresh)], env=env, check=True, timeout=30)

    run()  # parameters not published yet: nothing written, app not restarted
    assert (etc / "app.env").read_text() == "" and not calls.exists()
    (answers / "endpoint").write_text("db.example:5432")
    # Published too, but only for the root-only role bootstrap: the app signs in with IAM
    # tokens, so its settings carry no secret (the bootstrap, not installed here, fails
    # harmlessly: it is retried on the next run and does not hold back the settings).
    (answers / "secret_arn").write_text("arn:aws:secretsmanager:us-east-1:1:secret:x")
    run()
    assert (etc / "app.env").read_text().splitlines() == [
        "TAP_DB_ENDPOINT=db.example:5432",
        "TAP_DB_HOST=db.example",
        "TAP_DB_PORT=5432",
        "TAP_DB_NAME=tap",
        "TAP_DB_USER=tap_app",
        "TAP_DB_REGION=us-east-1",
        "TAP_DB_AUTH=iam",
    ]
    assert calls.read_text().splitlines() == ["try-restart tap-app.service"]
    run()  # unchanged: no second restart
    assert calls.read_text().splitlines() == ["try-restart tap-app.service"]


def test_bastion_egress_is_limited(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", compute=DEV_COMPUTE_VARIANT)
    groups = {group_id for group_id, g in groups_by_id(plan).items() if "bastion" in g.name}
    assert len(groups) == 2
    for region, vpc in (("us-east-1", "10.10.0.0/16"), ("us-west-2", "10.11.0.0/16")):
        egress = {
            (r["fromPort"], r["cidrIpv4"])
            for r in inputs_of(plan, EGRESS, region)
            if r["securityGroupId"] in groups
        }
        assert egress == {(22, vpc), (5432, vpc), (443, "0.0.0.0/0")}


def test_behind_cloudfront_the_alb_admits_only_the_edge_and_health_checkers(
    prod_plan: PlanResult,
) -> None:
    """Nobody can bypass CloudFront and its WAF by calling the ALB directly."""
    for region in regions_of(prod_plan):
        (alb,) = inputs_of(prod_plan, ALB, region)
        groups = groups_by_id(prod_plan)
        rules = [
            r
            for r in inputs_of(prod_plan, INGRESS, region)
            if r["securityGroupId"] in alb["securityGroups"]
        ]
        assert not any("cidrIpv4" in r for r in rules)
        assert sorted((r["fromPort"], r["description"]) for r in rules) == [
            (443, "HTTPS from com.amazonaws.global.cloudfront.origin-facing"),
            (443, f"HTTPS from com.amazonaws.{region}.route53-healthchecks"),
        ]
        # A group per prefix list: their weights (55 + 25) exceed one group's 60 rules.
        assert len({r["securityGroupId"] for r in rules}) == 2
        assert all(r["prefixListId"].startswith("pl-") for r in rules)
        assert all(groups[g].region == region for g in alb["securityGroups"])


def test_without_cloudfront_the_allowed_cidrs_reach_the_alb(dev_plan: PlanResult) -> None:
    (alb,) = inputs_of(dev_plan, ALB, "us-east-1")
    assert alb["securityGroups"] == [group_id(dev_plan, "us-east-1-compute-alb-sg", "us-east-1")]


def test_a_rule_has_exactly_one_peer() -> None:
    from components.security_rules import tcp_rule

    # Refused before any resource is made, so no parent is needed.
    no_parent = cast(pulumi.Resource, None)
    with pytest.raises(ValueError, match="rule r: give exactly one of cidr"):
        tcp_rule("r", "ingress", group_id="sg", port=1, description="d", tag="t",
                 parent=no_parent, cidr="10.0.0.0/8", peer_group_id="sg-2")  # fmt: skip


# --- The edge's origin secret: the ALB forwards only what CloudFront sends, and /health -------

RULE = "aws:lb/listenerRule:ListenerRule"
PASSWORD = "random:index/randomPassword:RandomPassword"
ORIGIN_SECRET = "tap:origin_secret:OriginSecret"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
FORWARD, DENIED = "forward", ("fixed-response", "403")


@dataclass(frozen=True)
class Request:
    """What an ALB rule can look at: method, path (query string included) and headers."""

    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)


def _wildcard(pattern: str, text: str, *, case_sensitive: bool) -> bool:
    """ALB comparison strings: '*' matches 0 or more characters, '?' exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case_sensitive else re.IGNORECASE) is not None


def _holds(condition: dict[str, Any], request: Request) -> bool:
    """One condition block (one field); any of its values may match (ELB User Guide,
    "Condition types for listener rules")."""
    ((kind, config),) = condition.items()
    assert "regexValues" not in config, "regex conditions are not modelled"
    if kind == "httpHeader":  # name and value case-insensitive
        name = config["httpHeaderName"].lower()
        sent = [value for key, value in request.headers.items() if key.lower() == name]
        return any(_wildcard(p, v, case_sensitive=False) for p in config["values"] for v in sent)
    if kind == "pathPattern":  # case-sensitive, the path only, not the query string
        path = request.path.split("?", 1)[0]
        return any(_wildcard(p, path, case_sensitive=True) for p in config["values"])
    if kind == "httpRequestMethod":  # exact, case-sensitive
        return request.method in config["values"]
    raise AssertionError(f"condition {kind} is not modelled")


def _outcome(actions: list[dict[str, Any]]) -> tuple[str, str]:
    (final,) = [a for a in actions if a["type"] in ("forward", "redirect", "fixed-response")]
    if final["type"] == "forward":
        return FORWARD, final["targetGroupArn"]
    if final["type"] == "fixed-response":
        return "fixed-response", final["fixedResponse"]["statusCode"]
    return "redirect", final["redirect"]["protocol"]


def route(listener: Recorded, rules: list[Recorded], request: Request) -> tuple[str, str]:
    """What the ALB does with `request`: the first rule, by priority, whose conditions all hold;
    else the listener's default action (ELB User Guide, "Listener rules")."""
    for rule in sorted(rules, key=lambda r: r.inputs["priority"]):
        if all(_holds(condition, request) for condition in rule.inputs["conditions"]):
            return _outcome(rule.inputs["actions"])
    return _outcome(listener.inputs["defaultActions"])


def https_routing(
    resources: list[Recorded], region: str
) -> tuple[Recorded, list[Recorded], Callable[[Request], tuple[str, str]]]:
    """The region's HTTPS listener, its rules (found by dependency, not by name) and a router."""
    (https,) = [
        r
        for r in resources
        if r.type == LISTENER and r.region == region and r.inputs["port"] == 443
    ]
    rules = [r for r in resources if r.type == RULE and https.urn in r.depends_on]
    return https, rules, lambda request: route(https, rules, request)


def assert_rules_fit_aws(rules: list[Recorded]) -> None:
    """Priorities 1-50000 and unique per listener; at most 3 values per condition and 5 per
    rule; no wildcard in a secret compared against (ELB quotas and condition types)."""
    priorities = [r.inputs["priority"] for r in rules]
    assert len(set(priorities)) == len(priorities)
    assert all(1 <= p <= 50000 for p in priorities)
    for rule in rules:
        counts = [len(next(iter(c.values()))["values"]) for c in rule.inputs["conditions"]]
        assert all(1 <= n <= 3 for n in counts) and sum(counts) <= 5
        for condition in rule.inputs["conditions"]:
            if "httpHeader" in condition:
                header = condition["httpHeader"]
                assert len(header["httpHeaderName"]) <= 40
                assert all(len(v) <= 128 and not set(v) & set("*?") for v in header["values"])


def edge_values(plan_or_resources: PlanResult | list[Recorded]) -> tuple[str, list[str]]:
    """(what CloudFront sends in the origin header, what each region's header rule accepts)."""
    resources = (
        plan_or_resources.resources
        if isinstance(plan_or_resources, PlanResult)
        else plan_or_resources
    )
    (cdn,) = [r for r in resources if r.type == DISTRIBUTION]
    ((origin,),) = [cdn.inputs["origins"]]
    (header,) = origin["customHeaders"]
    assert header["name"] == ORIGIN_SECRET_HEADER
    accepted = [
        c["httpHeader"]["values"]
        for r in resources
        if r.type == RULE
        for c in r.inputs["conditions"]
        if "httpHeader" in c
    ]
    assert accepted and all(values == accepted[0] for values in accepted)  # every region alike
    return header["value"], accepted[0]


def origin_passwords(plan: PlanResult) -> list[Recorded]:
    """The origin secret's passwords (the database credential has its own, tested in
    test_database)."""
    return [
        r
        for r in plan.of_type(PASSWORD)
        if (outer := plan.component_of(r)) is not None and outer.type == ORIGIN_SECRET
    ]


def edge_plan(version: int) -> PlanResult:
    """prod (CloudFront and WAF on) at an origin-secret generation."""
    if version == 1:
        return planned("prod")
    config = stack_config("prod")
    config["edge"] = {**config.get("edge", {}), "origin_secret_version": version}
    return planned("prod", config)


def test_behind_cloudfront_only_the_origin_secret_and_health_reach_the_app(
    prod_plan: PlanResult,
) -> None:
    """A request straight to the ALB (any distribution but ours, anyone in the health checkers'
    ranges) gets 403 unless it carries the secret; without it, only GET/HEAD /health passes."""
    sent, _ = edge_values(prod_plan)
    for region in regions_of(prod_plan):
        https, rules, answer = https_routing(prod_plan.resources, region)
        assert_rules_fit_aws(rules)
        target = prod_plan.outputs["regions"][region]["target_group_arn"]
        assert https.inputs["defaultActions"][0]["fixedResponse"]["contentType"] == "text/plain"
        for refused in (
            Request("/"),
            Request("/", "POST"),
            Request("/", headers={ORIGIN_SECRET_HEADER: "guess"}),
            Request("/", headers={ORIGIN_SECRET_HEADER: ""}),
            Request("/", headers={ORIGIN_SECRET_HEADER: sent[:-1]}),
            Request("/", headers={"X-Other-Header": sent}),
            Request("/health", "POST"),
            Request("/health", "DELETE"),
            Request("/healthz"),
            Request("/health/"),
            Request("/HEALTH"),
            Request("/admin/health"),
        ):
            assert answer(refused) == DENIED, refused
        for health in (Request("/health"), Request("/health", "HEAD"), Request("/health?x=1")):
            assert answer(health) == (FORWARD, target), health
        for through_cloudfront in (
            Request("/", headers={ORIGIN_SECRET_HEADER: sent}),
            Request("/any/path?q=1", "POST", {ORIGIN_SECRET_HEADER.lower(): sent}),
        ):
            assert answer(through_cloudfront) == (FORWARD, target)


def test_the_http_listener_only_redirects_behind_cloudfront(prod_plan: PlanResult) -> None:
    for region in regions_of(prod_plan):
        (http,) = [
            r for r in prod_plan.of_type(LISTENER) if r.region == region and r.inputs["port"] == 80
        ]
        assert [a["type"] for a in http.inputs["defaultActions"]] == ["redirect"]
        assert not [r for r in prod_plan.of_type(RULE) if http.urn in r.depends_on]


def test_a_rotation_accepts_the_previous_secret_while_cloudfront_sends_the_new_one() -> None:
    first_sent, first_accepted = edge_values(edge_plan(1))
    assert first_accepted == [first_sent]  # version 1: one value only
    second_sent, second_accepted = edge_values(second := edge_plan(2))
    assert second_sent != first_sent
    assert second_accepted == [second_sent, first_sent]
    for region in regions_of(second):
        _, _, answer = https_routing(second.resources, region)
        target = second.outputs["regions"][region]["target_group_arn"]
        for value in (first_sent, second_sent):  # edges still on the old value keep working
            assert answer(Request("/", headers={ORIGIN_SECRET_HEADER: value})) == (
                FORWARD,
                target,
            )
    third_sent, third_accepted = edge_values(third := edge_plan(3))
    assert third_accepted == [third_sent, second_sent]  # two generations back: refused
    for region in regions_of(third):
        _, _, answer = https_routing(third.resources, region)
        assert answer(Request("/", headers={ORIGIN_SECRET_HEADER: first_sent})) == DENIED
    passwords = {r.name: r.inputs["keepers"] for r in origin_passwords(third)}
    assert passwords == {
        "origin-secret-3": {"generation": "3"},
        "origin-secret-2": {"generation": "2"},
    }


def test_the_distribution_changes_after_every_alb_accepts_the_secret(
    prod_plan: PlanResult,
) -> None:
    (cdn,) = prod_plan.of_type(DISTRIBUTION)
    rules = prod_plan.of_type(RULE)
    assert len(rules) == 2 * len(regions_of(prod_plan))
    assert {r.urn for r in rules} <= set(cdn.depends_on)


@pytest.mark.parametrize("version", [1, 2])
def test_the_origin_secret_is_in_no_stack_output(version: int) -> None:
    plan = edge_plan(version)
    _, accepted = edge_values(plan)
    outputs = json.dumps(plan.outputs)
    assert all(value not in outputs for value in accepted)
    assert all(len(value) == 64 for value in accepted)
    passwords = origin_passwords(plan)
    assert len(passwords) == version  # the current generation, and the previous one from 2 on
    for password in passwords:
        assert password.inputs["special"] is False and password.inputs["upper"] is False


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_without_cloudfront_the_listeners_forward_everything(
    stack: str, run_config: Callable[..., PlanResult]
) -> None:
    plan = run_config(
        stack, compute={"certificate_arns": {"us-east-1": CERT.format(region="us-east-1")}}
    )
    assert plan.of_type(RULE) == [] and plan.of_type(ORIGIN_SECRET) == []
    assert origin_passwords(plan) == []
    for region in regions_of(plan):
        listener = next(
            r
            for r in plan.of_type(LISTENER)
            if r.region == region and r.inputs["defaultActions"][0]["type"] != "redirect"
        )
        target = plan.outputs["regions"][region]["target_group_arn"]
        for request in (Request("/"), Request("/admin", "POST"), Request("/health")):
            assert route(listener, [], request) == (FORWARD, target)


# --- Compute and OriginSecret built on their own, with their Args alone ----------------------


class _SecretRecordingMonitor(RecordingMonitor):
    """Also keeps, per resource name, which input properties were sent as secrets."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.secret_paths: dict[str, set[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        raw = sdk.deserialize(request.object)
        self.secret_paths[request.name] = set(_secret_paths(raw, ""))
        return super().RegisterResource(request)


def _secret_paths(value: Any, path: str) -> list[str]:
    if sdk.is_secret(value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _secret_paths(v, f"{path}[{i}]")]
    return []


def sent_as_secret(built: Built, name: str, path: str) -> bool:
    """The property at `path` (or one enclosing it) reached the engine as a secret."""
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in built.secret_paths[name])


@dataclass
class Built:
    """What a component build registered, and the plain values it asked to see."""

    resources: list[Recorded]
    secret_paths: dict[str, set[str]]
    values: dict[str, Any]

    def named(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]


def build_offline(build: Callable[[aws.Provider], Mapping[str, Any]]) -> Built:
    """Run `build(provider)` under the harness's recording mocks (a us-east-1 provider, as the
    program hands each component one); the Outputs it returns are resolved, each as
    (value, is_secret)."""
    mocks = RecordingMocks()
    monitor = _SecretRecordingMonitor(mocks)
    sdk.install_mocks(mocks, monitor, "tap", "unit", logging.getLogger("tap.unit"), {})
    values: dict[str, Any] = {}

    async def body() -> None:
        provider = aws.Provider("aws-us-east-1", region="us-east-1")
        for key, output in build(provider).items():
            values[key] = (await output.future(), await output.is_secret())

    with without_cyclic_gc():  # as tap_tooling.offline's runs
        sdk.run(body)
    assert not monitor.violations, monitor.violations
    return Built(monitor.recorded, monitor.secret_paths, values)


def compute_args(**changes: Any) -> ComputeArgs:
    base: dict[str, Any] = dict(
        environment="unit",
        region="us-east-1",
        vpc_id="vpc-0123456789abcdef0",
        public_subnet_ids=["subnet-0a", "subnet-0b"],
        private_subnet_ids=["subnet-1a", "subnet-1b"],
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/unit",
        account_id="123456789012",
        tags={"Environment": "unit"},
        settings=ComputeConfig(),
        exposure=Exposure.behind_edge(
            CERT.format(region="us-east-1"), ("current-value", "previous-value")
        ),
        protection=NON_PRODUCTION,
    )
    return ComputeArgs(**{**base, **changes})


def test_compute_alone_refuses_what_does_not_come_through_the_edge() -> None:
    def build(provider: aws.Provider) -> dict[str, Any]:
        secret = OriginSecret("secret", OriginSecretArgs(version=2))
        compute = Compute(
            "unit-compute",
            compute_args(
                exposure=Exposure.behind_edge(CERT.format(region="us-east-1"), secret.accepted)
            ),
            opts=pulumi.ResourceOptions(provider=provider),
        )
        return {"current": secret.current, "previous": secret.accepted[1],
                "target": compute.target_group_arn}  # fmt: skip

    built = build_offline(build)
    (current, current_secret), (previous, _) = built.values["current"], built.values["previous"]
    assert current_secret and current != previous
    target = built.values["target"][0]
    _, rules, answer = https_routing(built.resources, "us-east-1")
    assert_rules_fit_aws(rules)
    assert answer(Request("/")) == DENIED
    assert answer(Request("/", headers={ORIGIN_SECRET_HEADER: "wrong"})) == DENIED
    assert answer(Request("/health")) == (FORWARD, target)
    assert answer(Request("/health", "PUT")) == DENIED
    for value in (current, previous):
        assert answer(Request("/x", "POST", {ORIGIN_SECRET_HEADER: value})) == (FORWARD, target)
    # The accepted values reach the engine as secrets: encrypted in state, hidden in logs.
    (origin_rule,) = [r for r in rules if r.name == "unit-compute-edge-origin"]
    for index in (0, 1):
        assert sent_as_secret(built, origin_rule.name, f".conditions[0].httpHeader.values[{index}]")


def test_compute_alone_without_health_checks_has_no_health_rule() -> None:
    built = build_offline(
        lambda provider: {
            "arn": Compute(
                "unit-compute",
                compute_args(
                    exposure=Exposure(
                        CERT.format(region="us-east-1"), (), ("value",), health_checked=False
                    )
                ),
                opts=pulumi.ResourceOptions(provider=provider),
            ).alb_arn
        }
    )
    _, rules, answer = https_routing(built.resources, "us-east-1")
    assert [r.name for r in rules] == ["unit-compute-edge-origin"]
    assert answer(Request("/health")) == DENIED


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Exposure.behind_edge(None, ("a",)), "behind the edge needs a certificate"),  # type: ignore[arg-type]
        (lambda: Exposure.behind_edge("arn", ("a", "b", "c", "d")), "1 to 3 origin secrets"),
        (lambda: Exposure.behind_edge("arn", ()), "needs allowed source CIDRs, or origin"),
        (lambda: Exposure("arn", ("10.0.0.0/8",), ("a",), True), "admits no direct sources"),
        (lambda: Exposure.direct((), "arn", health_checked=True), "needs allowed source CIDRs"),
    ],
)
def test_exposure_refuses_an_alb_the_edge_could_be_bypassed_around(
    build: Callable[[], Exposure], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


@pytest.mark.parametrize("version", [1, 2, 3])
def test_origin_secret_keeps_the_current_and_previous_generation(version: int) -> None:
    def build(_provider: aws.Provider) -> dict[str, Any]:
        secret = OriginSecret("origin-secret", OriginSecretArgs(version=version))
        accepted = {f"accepted{i}": value for i, value in enumerate(secret.accepted)}
        return {"current": secret.current, **accepted}

    built = build_offline(build)
    passwords = {r.name: r.inputs for r in built.named(PASSWORD)}
    generations = [version] if version == 1 else [version, version - 1]
    assert sorted(passwords) == sorted(f"origin-secret-{g}" for g in generations)
    for generation in generations:
        inputs = passwords[f"origin-secret-{generation}"]
        assert inputs["keepers"] == {"generation": str(generation)}
        # ALB header values: at most 128 characters, '*' and '?' are wildcards, case ignored.
        assert inputs["length"] == 64 and inputs["special"] is False
        assert inputs["upper"] is False and inputs["lower"] is True and inputs["numeric"] is True
    accepted = [built.values[f"accepted{i}"] for i in range(len(generations))]
    assert accepted[0] == built.values["current"]
    assert all(is_secret for _, is_secret in accepted)
    assert len({value for value, _ in accepted}) == len(generations)


def test_origin_secret_generations_are_stable_across_versions() -> None:
    """The previous value at version n+1 is the current value at version n: the same logical
    name and keepers, hence the same resource in state (no replacement)."""

    def values(version: int) -> list[str]:
        built = build_offline(
            lambda _p: {
                str(i): v
                for i, v in enumerate(
                    OriginSecret("origin-secret", OriginSecretArgs(version=version)).accepted
                )
            }
        )
        return [built.values[key][0] for key in sorted(built.values)]

    one, two, three = values(1), values(2), values(3)
    assert two[1] == one[0] and three[1] == two[0]


def test_origin_secret_version_starts_at_one() -> None:
    with pytest.raises(ValueError, match=r"OriginSecretArgs\.version 0 must be 1 or more"):
        build_offline(lambda _p: {"s": OriginSecret("s", OriginSecretArgs(version=0)).current})


def test_origin_header_is_one_cloudfront_adds_and_an_alb_rule_can_match() -> None:
    # CloudFront Developer Guide, "Custom headers that CloudFront can't add to origin requests".
    refused = {"cache-control", "connection", "content-length", "cookie", "host", "if-match",
               "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
               "max-forwards", "pragma", "proxy-authorization", "proxy-connection", "range",
               "request-range", "te", "trailer", "transfer-encoding", "upgrade", "via",
               "x-real-ip"}  # fmt: skip
    name = ORIGIN_SECRET_HEADER.lower()
    assert name not in refused and not name.startswith(("x-amz-", "x-edge-"))
    assert len(ORIGIN_SECRET_HEADER) <= 40 and re.fullmatch(r"[A-Za-z0-9-]+", ORIGIN_SECRET_HEADER)
