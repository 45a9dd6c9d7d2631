"""Policy rules: every rule fires on a broken resource and stays quiet on a compliant one."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy import crossguard
from tap_tooling import rules
from tap_tooling.graph import Resource
from tap_tooling.plan import judge
from tap_tooling.rules import Context
from tests.conftest import STACKS, planned

DEV = Context(environment="dev", provider_tags={t: "x" for t in rules.REQUIRED_TAGS})
PROD = Context(environment="prod", provider_tags=DEV.provider_tags)
KEY = "arn:aws:kms:us-east-1:123456789012:key/k"
GOOD_LT = {
    "metadataOptions": {"httpTokens": "required"},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}],
    "tags": {"Name": "lt"},
}


@dataclass(frozen=True)
class Case:
    """A resource rule, a resource type, compliant props and broken props (and a context)."""

    rule: str
    type: str
    good: Mapping[str, Any]
    bad: Mapping[str, Any]
    context: Context = DEV


RESOURCE_CASES = [
    Case("TAP-KMS-1", rules.KMS_KEY, {"enableKeyRotation": True}, {"enableKeyRotation": False}),
    Case(
        "TAP-KMS-1",
        rules.KMS_KEY,
        {"customerMasterKeySpec": "RSA_2048"},  # asymmetric keys cannot rotate
        {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"},
    ),
    Case("TAP-EBS-1", rules.LAUNCH_TEMPLATE, GOOD_LT, {**GOOD_LT, "blockDeviceMappings": []}),
    Case(
        "TAP-EBS-1",
        rules.LAUNCH_TEMPLATE,
        GOOD_LT,
        {**GOOD_LT, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {}}]},
    ),
    Case(
        "TAP-EBS-1",
        rules.EC2_INSTANCE,
        {"launchTemplate": {"id": "lt-id"}},  # volumes come from the (checked) template
        {"rootBlockDevice": {"encrypted": False}},
    ),
    Case("TAP-EBS-1", rules.EBS_VOLUME, {"encrypted": True}, {"encrypted": False}),
    Case("TAP-EC2-1", rules.LAUNCH_TEMPLATE, GOOD_LT, {**GOOD_LT, "metadataOptions": {}}),
    Case(
        "TAP-EC2-1",
        rules.EC2_INSTANCE,
        {"metadataOptions": {"httpEndpoint": "disabled"}},
        {"metadataOptions": {"httpTokens": "optional"}},
    ),
    Case("TAP-RDS-1", rules.RDS_INSTANCE, {"storageEncrypted": True}, {"engine": "postgres"}),
    Case(
        "TAP-RDS-1",
        rules.RDS_INSTANCE,
        {"replicateSourceDb": "arn:db", "kmsKeyId": KEY},
        {"replicateSourceDb": "arn:db"},
    ),
    Case(
        "TAP-RDS-2", rules.RDS_INSTANCE, {"publiclyAccessible": False}, {"publiclyAccessible": True}
    ),
    Case(
        "TAP-RDS-3",
        rules.RDS_INSTANCE,
        {"deletionProtection": True, "skipFinalSnapshot": False},
        {"deletionProtection": True, "skipFinalSnapshot": True},
        PROD,
    ),
    Case("TAP-RDS-3", rules.RDS_INSTANCE, {"deletionProtection": True}, {}, PROD),
    Case(
        "TAP-RDS-4",
        rules.RDS_INSTANCE,
        {"backupRetentionPeriod": 7.0},
        {"backupRetentionPeriod": 1.0},
        PROD,
    ),
    Case("TAP-RDS-5", rules.RDS_INSTANCE, {"multiAz": True}, {"multiAz": False}, PROD),
    Case("TAP-SNS-1", rules.SNS_TOPIC, {"kmsMasterKeyId": KEY}, {"name": "alerts"}),
    Case("TAP-LOG-1", rules.LOG_GROUP, {"kmsKeyId": KEY}, {"retentionInDays": 14.0}),
    Case("TAP-LOG-2", rules.LOG_GROUP, {"retentionInDays": 14.0}, {"kmsKeyId": KEY}),
    Case(
        "TAP-SG-1",
        rules.SG_INGRESS_RULE,
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0},
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0},
    ),
    Case(
        "TAP-SG-1",
        rules.SECURITY_GROUP,
        {"ingress": [{"cidrBlocks": ["10.0.0.0/8"], "protocol": "-1"}]},
        {"ingress": [{"ipv6CidrBlocks": ["::/0"], "protocol": "-1"}]},
    ),
    Case(
        "TAP-SG-1",
        rules.SG_LEGACY_RULE,
        {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "-1"},
        {
            "type": "ingress",
            "cidrBlocks": ["0.0.0.0/0"],
            "protocol": "tcp",
            "fromPort": 0.0,
            "toPort": 65535.0,
        },
    ),
    Case(
        "TAP-SG-3",
        rules.DEFAULT_SECURITY_GROUP,
        {"ingress": [], "egress": []},
        {"ingress": [{"self": True, "protocol": "-1"}]},
    ),
    Case(
        "TAP-ELB-1",
        rules.LISTENER,
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"},
    ),
    Case("TAP-ELB-1", rules.LISTENER, {"protocol": "HTTP"}, {"protocol": "HTTPS"}),
    Case(
        "TAP-ELB-3",
        rules.LOAD_BALANCER,
        {"enableDeletionProtection": True},
        {"enableDeletionProtection": False},
        PROD,
    ),
    Case("TAP-S3-3", rules.S3_BUCKET, {"forceDestroy": False}, {"forceDestroy": True}, PROD),
    Case("TAP-TRAIL-1", rules.TRAIL, {"enableLogFileValidation": True}, {"kmsKeyId": KEY}),
    Case("TAP-TRAIL-2", rules.TRAIL, {"kmsKeyId": KEY}, {"enableLogFileValidation": True}),
    Case("TAP-TAG-1", rules.VPC, {"tags": {"Name": "vpc"}}, {"tags": {}}),
    Case(
        "TAP-TAG-1",
        rules.VPC,
        {"tags": {"Name": "vpc", "Project": "p", "Owner": "o", "CostCenter": "c"}},  # own tags
        {"tags": {"Name": "vpc"}},
        Context(environment="dev", provider_tags={"Environment": "dev"}),  # no Owner, Project...
    ),
    Case("TAP-NAME-1", rules.LOAD_BALANCER, {"name": "a" * 32}, {"name": "a" * 33}),
    Case("TAP-NAME-1", rules.IAM_ROLE, {"namePrefix": "r" * 38}, {"namePrefix": "r" * 39}),
    Case("TAP-NAME-1", rules.S3_BUCKET, {"bucket": "b" * 63}, {"bucket": "b" * 64}),
]


def _case_id(case: Case) -> str:
    return f"{case.rule}-{case.type.rsplit(':', 1)[-1]}"


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=_case_id)
def test_resource_rule_fires_on_bad_props_only(case: Case) -> None:
    rule = rules.RULES_BY_ID[case.rule]
    assert isinstance(rule, rules.ResourceRule)
    assert rule.check(case.type, case.good, case.context) == []
    assert rule.check(case.type, case.bad, case.context), f"{case.rule} missed {case.bad}"


@pytest.mark.parametrize(
    "rule_id", ["TAP-RDS-3", "TAP-RDS-4", "TAP-RDS-5", "TAP-ELB-3", "TAP-S3-3"]
)
def test_production_rules_only_bind_production(rule_id: str) -> None:
    case = next(c for c in RESOURCE_CASES if c.rule == rule_id)
    rule = rules.RULES_BY_ID[rule_id]
    assert isinstance(rule, rules.ResourceRule)
    assert rule.check(case.type, case.bad, DEV) == []


def test_replicas_keep_no_final_snapshot_and_no_backups_of_their_own() -> None:
    replica = {"replicateSourceDb": "arn:db", "deletionProtection": True, "skipFinalSnapshot": True}
    for rule_id in ("TAP-RDS-3", "TAP-RDS-4", "TAP-RDS-5"):
        assert rules.RULES_BY_ID[rule_id].check(rules.RDS_INSTANCE, replica, PROD) == []


def test_a_rule_ignores_types_it_does_not_cover() -> None:
    rule = rules.RULES_BY_ID["TAP-KMS-1"]
    assert rule.check(rules.VPC, {"enableKeyRotation": False}, DEV) == []


# ---------------------------------------------------------------------------------------------
# Stack rules, over synthetic stacks


def res(type_: str, name: str, region: str = "us-east-1", **props: Any) -> Resource:
    """A synthetic resource whose mock id is `<name>-id`, as in the offline plan."""
    return Resource(
        type_, name, props, urn=f"urn:{name}", region=region, handles=frozenset({f"{name}-id"})
    )


def findings(rule_id: str, resources: list[Resource], context: Context = DEV) -> list[str]:
    rule = rules.RULES_BY_ID[rule_id]
    assert isinstance(rule, rules.StackRule)
    return [f"{r.name if r else 'stack'}: {m}" for r, m in rule.check(resources, context)]


def test_every_vpc_needs_a_flow_log() -> None:
    vpcs = [res(rules.VPC, "a"), res(rules.VPC, "b", "us-west-2")]
    logged = [
        *vpcs,
        res(rules.FLOW_LOG, "a-log", vpcId="a-id"),
        res(rules.FLOW_LOG, "b-log", vpcId="b-id"),
    ]
    assert findings("TAP-VPC-1", logged) == []
    assert findings("TAP-VPC-1", [*vpcs, res(rules.FLOW_LOG, "a-log", vpcId="a-id")]) == [
        "b: no flow log records this VPC's traffic"
    ]


def test_references_follow_crossguard_property_dependencies() -> None:
    vpc = res(rules.VPC, "vpc")
    log = Resource(
        rules.FLOW_LOG, "log", {}, urn="urn:log", dependencies={"vpcId": frozenset({"urn:vpc"})}
    )
    assert findings("TAP-VPC-1", [vpc, log]) == []


def _bucket_stack(sse: str = "aws:kms", block: bool = True) -> list[Resource]:
    flags = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    flags["restrictPublicBuckets"] = block
    rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": sse}}
    return [
        res(rules.S3_BUCKET, "logs"),
        res(rules.S3_ENCRYPTION, "logs-encryption", bucket="logs-id", rules=[rule]),
        res(rules.S3_PUBLIC_ACCESS_BLOCK, "logs-public-access", bucket="logs-id", **flags),
    ]


def test_buckets_need_encryption_and_a_full_public_access_block() -> None:
    assert findings("TAP-S3-1", _bucket_stack()) == []
    assert findings("TAP-S3-1", _bucket_stack(sse="AES256")) == []  # ALB access logs need it
    assert findings("TAP-S3-2", _bucket_stack()) == []
    assert findings("TAP-S3-1", _bucket_stack()[:1]) == [
        "logs: no server-side encryption configuration"
    ]
    assert findings("TAP-S3-1", _bucket_stack(sse="none"))
    assert findings("TAP-S3-2", _bucket_stack(block=False)) == [
        "logs-public-access: restrictPublicBuckets is not true"
    ]


def _web_stack(cidr: str = "0.0.0.0/0", attach_to: str = rules.LOAD_BALANCER) -> list[Resource]:
    return [
        res(rules.SECURITY_GROUP, "alb-sg"),
        res(
            rules.SG_INGRESS_RULE,
            "alb-in-443",
            securityGroupId="alb-sg-id",
            cidrIpv4=cidr,
            ipProtocol="tcp",
            fromPort=443.0,
            toPort=443.0,
        ),
        res(attach_to, "user", securityGroups=["alb-sg-id"], vpcSecurityGroupIds=["alb-sg-id"]),
    ]


def test_only_a_load_balancer_may_use_an_internet_facing_group() -> None:
    assert findings("TAP-SG-2", _web_stack()) == []
    assert (
        findings("TAP-SG-2", _web_stack(cidr="10.0.0.0/8", attach_to=rules.LAUNCH_TEMPLATE)) == []
    )
    found = findings("TAP-SG-2", _web_stack(attach_to=rules.LAUNCH_TEMPLATE))
    assert found == [
        "alb-sg: open to the internet but attached to no load balancer",
        f"alb-sg: open to the internet and attached to {rules.LAUNCH_TEMPLATE} user",
    ]


def _listeners(http_action: dict[str, Any], https: bool = True) -> list[Resource]:
    lb = res(rules.LOAD_BALANCER, "alb")
    lb = Resource(lb.type, lb.name, lb.props, lb.urn, lb.region, handles=frozenset({"arn:alb"}))
    stack = [
        lb,
        res(
            rules.LISTENER,
            "http",
            loadBalancerArn="arn:alb",
            protocol="HTTP",
            defaultActions=[http_action],
        ),
    ]
    if https:
        stack.append(res(rules.LISTENER, "https", loadBalancerArn="arn:alb", protocol="HTTPS"))
    return stack


def test_http_redirects_to_https_once_the_load_balancer_has_a_certificate() -> None:
    redirect = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}
    forward = {"type": "forward", "targetGroupArn": "arn:tg"}
    assert findings("TAP-ELB-2", _listeners(redirect)) == []
    assert findings("TAP-ELB-2", _listeners(forward, https=False)) == []  # no certificate yet
    assert findings("TAP-ELB-2", _listeners(forward)) == [
        "http: HTTP listener of alb does not redirect to HTTPS"
    ]


def test_exactly_one_multi_region_trail() -> None:
    good = res(rules.TRAIL, "audit", isMultiRegionTrail=True)
    assert findings("TAP-TRAIL-3", [good]) == []
    assert findings("TAP-TRAIL-4", [good]) == []
    assert findings("TAP-TRAIL-3", [good, res(rules.TRAIL, "zz", isMultiRegionTrail=True)]) == [
        "zz: a second multi-region trail besides audit (billed as a second copy)"
    ]
    assert findings("TAP-TRAIL-3", [res(rules.TRAIL, "local")]) == [
        "local: not multi-region (activity in other regions goes unrecorded)"
    ]
    assert findings("TAP-TRAIL-4", []) == [
        "stack: the stack defines no multi-region CloudTrail trail"
    ]
    assert rules.RULES_BY_ID["TAP-TRAIL-4"].severity == rules.ADVISORY


def test_every_rule_is_exercised_here() -> None:
    # The rules that enforce docs/security.md's controls have their cases in
    # tests/test_security_doc.py (a compliant and a broken resource each, and a break of the
    # shipped prod plan that makes them fire).
    source = "".join(
        inspect.getsource(importlib.import_module(module))
        for module in (__name__, "tests.test_security_doc")
    )
    tested = set(re.findall(r'"(TAP-[A-Z0-9]+-\d+)"', source))
    assert tested == set(rules.RULES_BY_ID)


def test_rules_are_documented_and_unique() -> None:
    assert len(rules.RULES_BY_ID) == len(rules.ALL_RULES)
    for rule in rules.ALL_RULES:
        assert re.fullmatch(r"TAP-[A-Z0-9]+-\d+", rule.id)
        assert rule.description.endswith(".") or rule.description.endswith(")")
        assert rule.severity in (rules.MANDATORY, rules.ADVISORY)
        assert rule.fsbp is None or re.fullmatch(r"[A-Za-z0-9]+\.\d+", rule.fsbp)


@given(st.integers(min_value=1, max_value=80))
def test_name_length_limit_is_exact(length: int) -> None:
    rule = rules.RULES_BY_ID["TAP-NAME-1"]
    problems = rule.check(rules.TARGET_GROUP, {"name": "t" * length}, DEV)
    assert bool(problems) == (length > 32)


# ---------------------------------------------------------------------------------------------
# Rules are written against the real pulumi-aws v7 schema


def sdk_class(token: str) -> type:
    module, _, kind = token.removeprefix("aws:").partition(":")
    with warnings.catch_warnings():
        # Importing an SDK module announces deprecated classes TAP never uses.
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(getattr(aws, module.split("/")[0]), kind)


@functools.cache
def input_names(token: str) -> frozenset[str]:
    """camelCase input names of a resource type, from the SDK's getters."""
    source = class_source(sdk_class(token))
    named = re.findall(r'@pulumi\.getter\(name="(\w+)"\)', source)
    plain = re.findall(r"@pulumi\.getter\n\s+def (\w+)", source)
    return frozenset(named) | frozenset(plain)


def class_source(cls: type) -> str:
    """The source of a module-level class: from its `class` line to the next module-level
    `class`, `def` or decorator. (inspect.getsource(cls) parses the whole module into a syntax
    tree to find the class, every time: seconds over the SDK's large modules.)"""
    lines = inspect.getsource(sys.modules[cls.__module__]).splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(rf"class {cls.__name__}\b", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"(class|def)\b|@", lines[i])),
        len(lines),
    )
    return "".join(lines[start:end])


def test_rule_types_and_properties_exist_in_the_sdk() -> None:
    for rule in rules.RESOURCE_RULES:
        for token in rule.checks:
            assert sdk_class(token), token
    for token in rules.TAGGABLE_TYPES:
        assert "tags" in input_names(token), token
    for token, limits in rules.NAME_LIMITS.items():
        assert set(limits) <= input_names(token), token
    for token, props in {
        rules.RDS_INSTANCE: {
            "storageEncrypted",
            "publiclyAccessible",
            "deletionProtection",
            "backupRetentionPeriod",
            "multiAz",
            "replicateSourceDb",
            "kmsKeyId",
            "skipFinalSnapshot",
        },
        rules.LAUNCH_TEMPLATE: {"metadataOptions", "blockDeviceMappings"},
        rules.LISTENER: {
            "sslPolicy",
            "protocol",
            "defaultActions",
            "loadBalancerArn",
            "certificateArn",
        },
        rules.TRAIL: {"isMultiRegionTrail", "enableLogFileValidation", "kmsKeyId"},
        rules.LOG_GROUP: {"kmsKeyId", "retentionInDays"},
        rules.KMS_KEY: {"enableKeyRotation", "customerMasterKeySpec"},
        rules.SNS_TOPIC: {"kmsMasterKeyId"},
        rules.FLOW_LOG: {"vpcId"},
        rules.SG_INGRESS_RULE: {
            "cidrIpv4",
            "cidrIpv6",
            "ipProtocol",
            "fromPort",
            "toPort",
            "securityGroupId",
        },
        rules.LOAD_BALANCER: {"enableDeletionProtection", "securityGroups"},
        rules.S3_BUCKET: {"forceDestroy"},
    }.items():
        assert props <= input_names(token), (token, props - input_names(token))


# ---------------------------------------------------------------------------------------------
# The shipped stacks, and the CrossGuard adapters


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_have_no_mandatory_violations(stack: str) -> None:
    report = judge(planned(stack))
    assert rules.mandatory(report.violations) == []
    assert report.index.of(rules.VPC), "the rules saw the plan's resources"


def test_breaking_the_shipped_plan_makes_rules_fire() -> None:
    report = judge(planned("prod"))
    broken = []
    for resource in report.index.resources:
        props = dict(resource.props)
        if resource.type == rules.LOG_GROUP:
            props.pop("retentionInDays")
        if resource.type == rules.KMS_KEY:
            props["enableKeyRotation"] = False
        if resource.type != rules.FLOW_LOG:
            broken.append(Resource(**{**resource.__dict__, "props": props}))
    fired = {v.rule_id for v in rules.evaluate(broken, "prod")}
    assert {"TAP-LOG-2", "TAP-KMS-1", "TAP-VPC-1"} <= fired


class FakeProvider:
    def __init__(self, tags: dict[str, str]) -> None:
        self.props = {"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})}


class FakeArgs:
    """What CrossGuard passes a resource validator (only the attributes the adapter reads)."""

    def __init__(self, resource_type: str, props: dict[str, Any], environment: str) -> None:
        self.resource_type = resource_type
        self.props = props
        self.urn = f"urn:pulumi:{environment}::tap::{resource_type}::r"
        self.name = "r"
        self.provider = FakeProvider(
            {"Environment": environment, "Project": "tap", "Owner": "o", "CostCenter": "c"}
        )


def test_crossguard_resource_validator_reports_each_problem() -> None:
    reported: list[tuple[str, str | None]] = []
    validate = crossguard.resource_validator(rules.RULES_BY_ID["TAP-RDS-3"])
    args = FakeArgs(rules.RDS_INSTANCE, {"deletionProtection": False}, "prod")
    validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("TAP-RDS-3: deletionProtection is not true", args.urn)]
    reported.clear()
    validate(FakeArgs(rules.RDS_INSTANCE, {}, "dev"), lambda m, u=None: reported.append((m, u)))
    assert reported == []  # production-only rule, dev environment from the provider's tags


def test_crossguard_tag_rule_reads_the_provider_default_tags() -> None:
    reported: list[str] = []
    validate = crossguard.resource_validator(rules.RULES_BY_ID["TAP-TAG-1"])
    validate(
        FakeArgs(rules.VPC, {"tags": {"Name": "v"}}, "dev"), lambda m, u=None: reported.append(m)
    )
    assert reported == []
    args = FakeArgs(rules.VPC, {"tags": {"Name": "v"}}, "dev")
    args.provider = FakeProvider({"Environment": "dev"})
    validate(args, lambda m, u=None: reported.append(m))
    assert reported == [
        "TAP-TAG-1: missing tags Project, Owner, CostCenter (own tags or provider default_tags)"
    ]


class FakePolicyResource(FakeArgs):
    def __init__(
        self, resource_type: str, name: str, props: dict[str, Any], deps: dict[str, list[Any]]
    ) -> None:
        super().__init__(resource_type, props, "dev")
        self.name = name
        self.urn = f"urn:pulumi:dev::tap::{resource_type}::{name}"
        self.property_dependencies = deps


def test_crossguard_stack_validator_follows_dependencies() -> None:
    vpc = FakePolicyResource(rules.VPC, "vpc", {}, {})
    other = FakePolicyResource(rules.VPC, "other", {}, {})
    log = FakePolicyResource(rules.FLOW_LOG, "log", {}, {"vpcId": [vpc]})
    reported: list[tuple[str, str | None]] = []
    validate = crossguard.stack_validator(rules.RULES_BY_ID["TAP-VPC-1"])
    validate(
        type("Args", (), {"resources": [vpc, other, log]})(),
        lambda m, u=None: reported.append((m, u)),
    )
    assert reported == [("TAP-VPC-1: no flow log records this VPC's traffic", other.urn)]


def test_crossguard_policies_mirror_the_rules() -> None:
    built = crossguard.policies()
    # The policy rules first, then the deploy-readiness rules (tests/test_readiness.py).
    assert [p.name for p in built][: len(rules.ALL_RULES)] == [
        r.id.lower() for r in rules.ALL_RULES
    ]
    levels = {p.name: p.enforcement_level.value for p in built}
    assert levels["tap-trail-4"] == "advisory" and levels["tap-vpc-1"] == "mandatory"


def test_production_follows_the_stacks_config_not_its_name() -> None:
    assert Context(environment="prod").production is True
    assert Context(environment="prod-eu").production is False
    assert Context(environment="prod-eu", production_flag=True).production is True
    assert Context(environment="prod", production_flag=False).production is False
    unprotected = [
        Resource(rules.RDS_INSTANCE, "db", {"deletionProtection": False, "storageEncrypted": True})
    ]
    assert "TAP-RDS-3" in {v.rule_id for v in rules.evaluate(unprotected, "qa", production=True)}
    assert "TAP-RDS-3" not in {v.rule_id for v in rules.evaluate(unprotected, "qa")}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"Environment": "prod-eu", "Production": "true"}, True),
        ({"Environment": "prod", "Production": "false"}, False),
        ({"Environment": "prod"}, True),  # a stack from before the tag: the name decides
        ({"Environment": "qa"}, False),
    ],
)
def test_crossguard_reads_production_from_the_providers_tag(
    tags: dict[str, str], expected: bool
) -> None:
    reported: list[str] = []
    validate = crossguard.resource_validator(rules.RULES_BY_ID["TAP-RDS-3"])
    args = FakeArgs(rules.RDS_INSTANCE, {"deletionProtection": False}, "x")
    args.provider = FakeProvider({**tags, "Project": "tap", "Owner": "o", "CostCenter": "c"})
    validate(args, lambda m, u=None: reported.append(m))
    assert bool(reported) is expected
