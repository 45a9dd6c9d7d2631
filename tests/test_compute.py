"""The application tier of each stack: ALB, listeners, security groups, instances, scaling."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from components.compute import TLS_POLICY, architecture_of
from tap.offline import PlanResult
from tap.user_data import render_user_data
from tests.conftest import inputs_of, planned

ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TG = "aws:lb/targetGroup:TargetGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CERT = "arn:aws:acm:{region}:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
SIZES = {"dev": (1, 2, 1), "staging": (1, 4, 2), "prod": (2, 10, 3)}


def regions_of(plan: PlanResult) -> list[str]:
    return plan.outputs["deployment_summary"]["regions"]


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
    assert sorted(p.region for p in policies) == sorted(regions_of(stack_plan))
    for policy in policies:
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
        if r.name != "edge-certificate-validation"
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
        plan = run_config(stack, dns={"domain": "example.com", "create_zone": True},
                          edge={"cloudfront_enabled": True})  # fmt: skip
    else:
        plan = run_config(stack, edge={"cloudfront_enabled": False, "waf_enabled": False})
    groups = {r.name + "-id": r for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")}
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
        app_sg = f"{region}-compute-app-sg-id"
        alb_sg = f"{region}-compute-alb-sg-id"
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


def test_allowed_cidrs_are_configurable(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config("dev", compute={"allowed_cidrs": ["198.51.100.0/24", "203.0.113.0/24"]})
    sources = {
        (r["cidrIpv4"], r["fromPort"])
        for r in inputs_of(plan, INGRESS, "us-east-1")
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
        (lt,) = inputs_of(stack_plan, LT, region)
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
        (lt,) = inputs_of(stack_plan, LT, region)
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
    source = re.search(r"<<'PYEOF'\n(.*)\nPYEOF", script, re.S).group(1)
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
    plan = run_config("dev", compute={"ami_id": "ami-0123456789abcdef0"})
    assert {lt["imageId"] for lt in inputs_of(plan, LT)} == {"ami-0123456789abcdef0"}


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
        (asg,) = stack_plan.of_type(ASG) and [
            r for r in stack_plan.of_type(ASG) if r.region == region
        ]
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
        assert out["alb_zone_id"] and out["target_group_arn"].startswith(f"arn:aws:lb:{region}:")
        assert out["asg_name"] == f"{stack_plan.stack}-app-asg-{region}"
        scheme = "https" if stack_plan.stack == "prod" else "http"
        assert out["url"] == f"{scheme}://{out['alb_dns_name']}"


def test_no_bastion_by_default(stack_plan: PlanResult) -> None:
    assert not stack_plan.of_type("aws:ec2/instance:Instance")


def test_bastion_when_enabled_is_hardened(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config(
        "dev",
        compute={"bastion": {"enabled": True, "ssh_cidr": "198.51.100.0/24", "key_name": "ops"}},
    )
    instances = plan.of_type("aws:ec2/instance:Instance")
    assert sorted(i.region for i in instances) == ["us-east-1", "us-west-2"]
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
    body = re.search(r"<<'SHEOF'\n(.*?)\nSHEOF", script, re.S).group(1)
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
    (answers / "secret_arn").write_text("arn:aws:secretsmanager:us-east-1:1:secret:x")
    run()
    assert (etc / "app.env").read_text().splitlines() == [
        "TAP_DB_ENDPOINT=db.example:5432",
        "TAP_DB_SECRET_ARN=arn:aws:secretsmanager:us-east-1:1:secret:x",
    ]
    assert calls.read_text().splitlines() == ["try-restart tap-app.service"]
    run()  # unchanged: no second restart
    assert calls.read_text().splitlines() == ["try-restart tap-app.service"]


def test_bastion_egress_is_limited(run_config: Callable[..., PlanResult]) -> None:
    plan = run_config(
        "dev",
        compute={"bastion": {"enabled": True, "ssh_cidr": "198.51.100.0/24", "key_name": "ops"}},
    )
    groups = {
        r.name + "-id"
        for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")
        if "bastion" in r.name
    }
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
        groups = {
            g.name + "-id": g for g in prod_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
        }
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
    assert alb["securityGroups"] == ["us-east-1-compute-alb-sg-id"]


def test_a_rule_has_exactly_one_peer() -> None:
    from components.security_rules import tcp_rule

    with pytest.raises(ValueError, match="rule r: give exactly one of cidr"):
        tcp_rule("r", "ingress", group_id="sg", port=1, description="d", tag="t", parent=None,
                 cidr="10.0.0.0/8", peer_group_id="sg-2")  # fmt: skip
