"""TAP's policy rules: pure functions over one resource's (type, properties) or the whole stack.

The same rules serve the offline plan (`deploy.py plan`, over the mocked resources) and the
CrossGuard pack in `policy/` (over what `pulumi preview` is about to create). Nothing here
imports Pulumi: each caller turns its own resources into `Resource` views.

Properties use the engine's camelCase input names (`storageEncrypted`, `metadataOptions`),
as both the mock monitor and CrossGuard see them. A rule whose resource types are absent from
a stack finds nothing; a property whose value is unknown at plan time (absent from the
properties) is never guessed to be compliant, except where the rule says so.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tap import naming
from tap_tooling.graph import Resource, StackIndex

Severity = Literal["mandatory", "advisory"]
MANDATORY: Severity = "mandatory"
ADVISORY: Severity = "advisory"

# StackConfig.is_production's fallback (not imported: the policy pack runs without the
# program's config model, and only needs the name).
PRODUCTION_ENVIRONMENT = "prod"
REQUIRED_TAGS = ("Environment", "Project", "Owner", "CostCenter")
"""Tags every taggable resource carries, normally through its provider's default_tags."""

INTERNET_V4, INTERNET_V6 = "0.0.0.0/0", "::/0"
WEB_PORTS = frozenset({80, 443})
MIN_BACKUP_RETENTION_DAYS = 7  # FSBP RDS.11's default threshold

# Resource type tokens (pulumi-aws v7).
KMS_KEY = "aws:kms/key:Key"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
EBS_DEFAULT_ENCRYPTION = "aws:ebs/encryptionByDefault:EncryptionByDefault"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SNS_TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
TRAIL = "aws:cloudtrail/trail:Trail"
IAM_ROLE = "aws:iam/role:Role"

# Types whose `tags` is a map that provider default_tags merge into. Autoscaling groups are
# left out on purpose: their `tags` is a list of blocks and default_tags never reach them (the
# instances get tags from the launch template's tag specifications).
TAGGABLE_TYPES: frozenset[str] = frozenset(
    {
        "aws:acm/certificate:Certificate",
        "aws:cloudfront/distribution:Distribution",
        "aws:cloudtrail/trail:Trail",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/eip:Eip",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:kms/key:Key",
        "aws:lb/listener:Listener",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:rds/instance:Instance",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:route53/healthCheck:HealthCheck",
        "aws:route53/zone:Zone",
        "aws:s3/bucket:Bucket",
        "aws:secretsmanager/secret:Secret",
        "aws:sns/topic:Topic",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:wafv2/webAcl:WebAcl",
    }
)

# AWS length limits of the names TAP sets: {type: {property: limit}}. `namePrefix` limits are
# the full limit minus the 26 characters of the engine's random suffix (6 for ALBs and target
# groups, whose names are only 32 long).
NAME_LIMITS: Mapping[str, Mapping[str, int]] = {
    LOAD_BALANCER: {"name": naming.ALB_NAME, "namePrefix": naming.NAME_PREFIX},
    TARGET_GROUP: {"name": naming.TARGET_GROUP_NAME, "namePrefix": naming.NAME_PREFIX},
    IAM_ROLE: {"name": naming.IAM_ROLE_NAME, "namePrefix": 38},
    "aws:iam/instanceProfile:InstanceProfile": {"name": naming.IAM_INSTANCE_PROFILE_NAME},
    "aws:iam/policy:Policy": {"name": 128},
    RDS_INSTANCE: {"identifier": naming.DB_IDENTIFIER, "identifierPrefix": 37},
    "aws:rds/subnetGroup:SubnetGroup": {"name": 255},
    "aws:rds/parameterGroup:ParameterGroup": {"name": 255},
    S3_BUCKET: {"bucket": naming.S3_BUCKET, "bucketPrefix": 37},
    LOG_GROUP: {"name": naming.LOG_GROUP_NAME},
    "aws:kms/alias:Alias": {"name": naming.KMS_ALIAS},
    SNS_TOPIC: {"name": naming.SNS_TOPIC},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {"name": naming.ALARM_NAME},
    "aws:cloudwatch/dashboard:Dashboard": {"dashboardName": 255},
    LAUNCH_TEMPLATE: {"name": 128},
    "aws:autoscaling/group:Group": {"name": 255},
    SECURITY_GROUP: {"name": 255},
    TRAIL: {"name": 128},
    "aws:wafv2/webAcl:WebAcl": {"name": 128},
    "aws:secretsmanager/secret:Secret": {"name": 512},
}

# ELB security policies that accept nothing older than TLS 1.2 (TLS13-1-2*, TLS13-1-3*,
# TLS-1-2*, FS-1-2*, and their post-quantum variants).
TLS12_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)(-|$)")

# Properties through which a resource attaches security groups.
SG_ATTACHMENT_PROPS = ("securityGroups", "vpcSecurityGroupIds", "securityGroupIds")


# ---------------------------------------------------------------------------------------------
# What the rules see


@dataclass(frozen=True)
class PrefixList:
    """What the plan knows about a managed prefix list a security group rule references."""

    weight: int
    """Rules one reference counts against the group's quota (the list's max entries)."""
    family: str = "IPv4"


@dataclass(frozen=True)
class Context:
    """Facts about the stack (and the resource's provider) that some rules depend on."""

    environment: str = ""
    provider_tags: Mapping[str, str] = field(default_factory=dict)
    """The default_tags of the provider the resource is created with."""
    production_flag: bool | None = None
    """Whether the stack is production, as its config decided (StackConfig.is_production);
    None: judged from the environment name alone."""
    prefix_lists: Mapping[str, PrefixList] = field(default_factory=dict)
    """Prefix lists the program looked up, by id (their weight against security-group quotas)."""

    @property
    def production(self) -> bool:
        if self.production_flag is not None:
            return self.production_flag
        return self.environment == PRODUCTION_ENVIRONMENT


@dataclass(frozen=True)
class Violation:
    """One finding of one rule, on one resource (or on the stack as a whole)."""

    rule_id: str
    severity: Severity
    fsbp: str | None
    resource_type: str
    resource_name: str
    region: str | None
    message: str
    source: str = ""
    """The AWS or provider document the rule comes from (deploy-readiness rules)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "severity": self.severity,
            "fsbp": self.fsbp,
            "type": self.resource_type,
            "name": self.resource_name,
            "region": self.region,
            "message": self.message,
            "source": self.source,
        }


PropsCheck = Callable[[Mapping[str, Any], Context], list[str]]
Finding = tuple[Resource | None, str]


@dataclass(frozen=True)
class ResourceRule:
    """A rule over one resource: `checks` maps each resource type it covers to its check."""

    id: str
    description: str
    severity: Severity
    fsbp: str | None
    checks: Mapping[str, PropsCheck]
    source: str = ""
    """The document the rule comes from (title <URL>); FSBP rules cite their control."""

    def check(self, resource_type: str, props: Mapping[str, Any], context: Context) -> list[str]:
        """What is wrong with a resource of `resource_type` with `props` ([] when compliant)."""
        check = self.checks.get(resource_type)
        return check(props, context) if check else []


@dataclass(frozen=True)
class StackRule:
    """A rule over the whole stack (relations between resources, counts)."""

    id: str
    description: str
    severity: Severity
    fsbp: str | None
    check_index: Callable[[StackIndex, Context], list[Finding]]
    source: str = ""
    """The document the rule comes from (title <URL>); FSBP rules cite their control."""

    def check(self, resources: Iterable[Resource] | StackIndex, context: Context) -> list[Finding]:
        """(offending resource or None for the stack, message) for each problem found."""
        index = resources if isinstance(resources, StackIndex) else StackIndex(resources)
        return self.check_index(index, context)


# ---------------------------------------------------------------------------------------------
# Small helpers over property values


def get_path(props: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`metadataOptions.httpTokens`), or None when absent."""
    value: Any = props
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def is_true(value: Any) -> bool:
    """True for a boolean true or the string "true" (some AWS flags are typed as strings)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def as_number(value: Any, default: float = 0) -> float:
    """Numbers arrive as floats from the engine, sometimes as strings; anything else: default."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def blocks(props: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A list-of-blocks property, tolerating absence and non-dict entries."""
    value = props.get(key)
    return [b for b in value if isinstance(b, Mapping)] if isinstance(value, list) else []


def decode_default_tags(provider_props: Mapping[str, Any]) -> dict[str, str]:
    """A provider's default tags: its `defaultTags` input, a JSON string or already a dict."""
    value = provider_props.get("defaultTags")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    tags = value.get("tags") if isinstance(value, Mapping) else None
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def points_to(source: Resource, path: str, target: Resource) -> bool:
    """Whether `source`'s property at `path` refers to `target`.

    Offline the value is compared with the target's handles (the mocks' ids and ARNs);
    CrossGuard also knows which resources a property depends on, even when the value itself
    is still unknown. When neither is available, the engine's naming convention decides:
    a companion resource (`<bucket>-public-access`) is named after what it configures.
    """
    value = get_path(source.props, path)
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and v in target.handles for v in values):
        return True
    top = path.split(".", 1)[0]
    if target.urn and target.urn in source.dependencies.get(top, ()):
        return True
    unknown = value is None and top not in source.dependencies
    return unknown and source.name.startswith(f"{target.name}-")


def referrers(
    index: StackIndex, target: Resource, types: Sequence[str], paths: Sequence[str]
) -> list[Resource]:
    """Resources of `types` whose property at one of `paths` points to `target`."""
    return [r for r in index.of(*types) if any(points_to(r, p, target) for p in paths)]


# ---------------------------------------------------------------------------------------------
# Resource checks. Each returns the problems it finds as short sentences.


def _when_production(check: PropsCheck) -> PropsCheck:
    """Apply `check` only in the production environment."""
    return lambda props, context: check(props, context) if context.production else []


def _require_true(*paths: str) -> PropsCheck:
    """Every path must be true."""
    return lambda props, _c: [f"{p} is not true" for p in paths if not is_true(get_path(props, p))]


def _require_set(*paths: str) -> PropsCheck:
    """Every path must hold a value (a key ARN, a retention, ...)."""
    return lambda props, _c: [f"{p} is not set" for p in paths if get_path(props, p) in (None, "")]


def _kms_rotation(props: Mapping[str, Any], _c: Context) -> list[str]:
    spec = props.get("customerMasterKeySpec") or props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return []  # AWS rotates only symmetric encryption keys.
    return _require_true("enableKeyRotation")(props, _c)


def _launch_template_volumes(props: Mapping[str, Any], _c: Context) -> list[str]:
    mappings = blocks(props, "blockDeviceMappings")
    if not mappings:
        return [
            "no blockDeviceMappings: the root volume follows the AMI's mapping, unencrypted "
            "unless the account turned on EBS encryption by default"
        ]
    return [
        f"blockDeviceMappings[{i}] ({m.get('deviceName', '?')}) ebs.encrypted is not true"
        for i, m in enumerate(mappings)
        if isinstance(m.get("ebs"), Mapping) and not is_true(m["ebs"].get("encrypted"))
    ]


def _from_template(props: Mapping[str, Any], key: str) -> bool:
    """An instance that leaves `key` to its launch template (checked as a template itself)."""
    return bool(props.get("launchTemplate")) and key not in props


def _instance_volumes(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    root_encrypted = is_true(get_path(props, "rootBlockDevice.encrypted"))
    if not root_encrypted and not _from_template(props, "rootBlockDevice"):
        problems.append("rootBlockDevice.encrypted is not true")
    problems += [
        f"ebsBlockDevices[{i}] is not encrypted"
        for i, device in enumerate(blocks(props, "ebsBlockDevices"))
        if not is_true(device.get("encrypted"))
    ]
    return problems


def _imdsv2(props: Mapping[str, Any], _c: Context) -> list[str]:
    if _from_template(props, "metadataOptions"):
        return []
    if get_path(props, "metadataOptions.httpEndpoint") == "disabled":
        return []
    if get_path(props, "metadataOptions.httpTokens") == "required":
        return []
    return ["metadataOptions.httpTokens is not 'required' (IMDSv1 stays reachable)"]


def _is_replica(props: Mapping[str, Any]) -> bool:
    return bool(props.get("replicateSourceDb"))


def _rds_encrypted(props: Mapping[str, Any], _c: Context) -> list[str]:
    if _is_replica(props):
        # A replica inherits encryption; a cross-region one must name a key of its own region.
        if is_true(props.get("storageEncrypted")) or props.get("kmsKeyId"):
            return []
        return ["replica has neither storageEncrypted nor a kmsKeyId of its region"]
    return _require_true("storageEncrypted")(props, _c)


def _not_public(props: Mapping[str, Any], _c: Context) -> list[str]:
    return ["publiclyAccessible is true"] if is_true(props.get("publiclyAccessible")) else []


def _rds_deletion_protection(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = _require_true("deletionProtection")(props, _c)
    # AWS takes no final snapshot of a read replica: only primaries must keep one.
    if is_true(props.get("skipFinalSnapshot")) and not _is_replica(props):
        problems.append("skipFinalSnapshot is true (no snapshot when deleted)")
    return problems


def _backups(props: Mapping[str, Any], _c: Context) -> list[str]:
    if _is_replica(props):
        return []  # FSBP RDS.11 does not evaluate read replicas; the primary holds backups.
    days = as_number(props.get("backupRetentionPeriod"))
    if days < MIN_BACKUP_RETENTION_DAYS:
        return [f"backupRetentionPeriod {days:g} < {MIN_BACKUP_RETENTION_DAYS} days"]
    return []


def _multi_az(props: Mapping[str, Any], _c: Context) -> list[str]:
    if _is_replica(props) or is_true(props.get("multiAz")):
        return []
    return ["multiAz is not true (an AZ outage stops the primary database)"]


def _no_force_destroy(props: Mapping[str, Any], _c: Context) -> list[str]:
    if is_true(props.get("forceDestroy")):
        return ["forceDestroy is true (deleting the bucket deletes its objects)"]
    return []


def _retention(props: Mapping[str, Any], _c: Context) -> list[str]:
    if as_number(props.get("retentionInDays")) <= 0:
        return ["retentionInDays is not set (logs are kept, and billed, forever)"]
    return []


def _internet_ingress(props: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """(protocol, from port, to port) of each ingress entry open to the whole internet."""
    entries: list[Mapping[str, Any]] = []
    if "ingress" in props:  # aws.ec2.SecurityGroup inline rules
        entries = blocks(props, "ingress")
    elif props.get("type", "ingress") == "ingress":  # one standalone rule
        entries = [props]
    open_entries = []
    for entry in entries:
        v4 = entry.get("cidrBlocks") or [entry.get("cidrIpv4")]
        v6 = entry.get("ipv6CidrBlocks") or [entry.get("cidrIpv6")]
        if INTERNET_V4 in v4 or INTERNET_V6 in v6:
            protocol = str(entry.get("protocol", entry.get("ipProtocol", "-1"))).lower()
            ports = (as_number(entry.get("fromPort"), -1), as_number(entry.get("toPort"), -1))
            open_entries.append((protocol, *ports))
    return open_entries


def _internet_ports(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for protocol, low, high in _internet_ingress(props):
        web = protocol in ("tcp", "6") and low == high and low in WEB_PORTS
        if not web:
            shown = "all ports" if protocol in ("-1", "all") else f"{protocol} {low:g}-{high:g}"
            problems.append(f"ingress from the internet on {shown} (only tcp 80/443 may be open)")
    return problems


def _default_sg_empty(props: Mapping[str, Any], _c: Context) -> list[str]:
    return [
        f"default security group keeps {key} rules"
        for key in ("ingress", "egress")
        if blocks(props, key)
    ]


def _tls_policy(props: Mapping[str, Any], _c: Context) -> list[str]:
    if str(props.get("protocol", "")).upper() not in ("HTTPS", "TLS"):
        return []
    policy = str(props.get("sslPolicy") or "")
    if TLS12_POLICY.match(policy):
        return []
    return [f"sslPolicy {policy or '(default)'!r} accepts TLS older than 1.2"]


def _required_tags(props: Mapping[str, Any], context: Context) -> list[str]:
    tags = props.get("tags")
    own: Mapping[str, Any] = tags if isinstance(tags, Mapping) else {}
    problems = [] if own.get("Name") else ["no Name tag"]
    effective = {**context.provider_tags, **own}
    missing = [key for key in REQUIRED_TAGS if not effective.get(key)]
    if missing:
        problems.append(f"missing tags {', '.join(missing)} (own tags or provider default_tags)")
    return problems


def _name_lengths(limits: Mapping[str, int]) -> PropsCheck:
    def check(props: Mapping[str, Any], _c: Context) -> list[str]:
        return [
            f"{prop} {props[prop]!r} is {len(str(props[prop]))} characters; AWS allows {limit}"
            for prop, limit in limits.items()
            if props.get(prop) is not None and len(str(props[prop])) > limit
        ]

    return check


def _trail_validation(props: Mapping[str, Any], _c: Context) -> list[str]:
    return _require_true("enableLogFileValidation")(props, _c)


# ---------------------------------------------------------------------------------------------
# Stack checks


def _every_vpc_has_flow_logs(index: StackIndex, _c: Context) -> list[Finding]:
    flow_logs = index.of(FLOW_LOG)
    return [
        (vpc, "no flow log records this VPC's traffic")
        for vpc in index.of(VPC)
        if not any(points_to(log, "vpcId", vpc) for log in flow_logs)
    ]


def _bucket_companions(
    companion_type: str, missing: str, problems: Callable[[Mapping[str, Any]], list[str]]
) -> Callable[[StackIndex, Context], list[Finding]]:
    """Every bucket needs a companion resource of `companion_type` whose props pass `problems`."""

    def check(index: StackIndex, _c: Context) -> list[Finding]:
        findings: list[Finding] = []
        companions = index.of(companion_type)
        for bucket in index.of(S3_BUCKET):
            own = [c for c in companions if points_to(c, "bucket", bucket)]
            if not own:
                findings.append((bucket, missing))
            findings += [(c, problem) for c in own for problem in problems(c.props)]
        return findings

    return check


_STRONG_SSE = ("aws:kms", "aws:kms:dsse", "AES256")


def _sse_problems(props: Mapping[str, Any]) -> list[str]:
    algorithms = [
        get_path(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
        for rule in blocks(props, "rules")
    ]
    if algorithms and all(a in _STRONG_SSE for a in algorithms):
        return []
    return [f"sseAlgorithm {algorithms or 'missing'} is not one of {', '.join(_STRONG_SSE)}"]


_PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def _public_access_problems(props: Mapping[str, Any]) -> list[str]:
    return _require_true(*_PUBLIC_ACCESS_FLAGS)(props, Context())


def _open_security_groups(index: StackIndex) -> list[Resource]:
    """Security groups with internet ingress, inline or through standalone rules."""
    open_groups = {
        sg.urn or sg.name: sg for sg in index.of(SECURITY_GROUP) if _internet_ingress(sg.props)
    }
    rules = [r for r in index.of(SG_INGRESS_RULE, SG_LEGACY_RULE) if _internet_ingress(r.props)]
    for sg in index.of(SECURITY_GROUP):
        if any(points_to(rule, "securityGroupId", sg) for rule in rules):
            open_groups[sg.urn or sg.name] = sg
    return list(open_groups.values())


_SG_USERS = (
    LAUNCH_TEMPLATE,
    EC2_INSTANCE,
    RDS_INSTANCE,
    RDS_CLUSTER,
    "aws:ec2/vpcEndpoint:VpcEndpoint",
)


def _internet_only_on_load_balancers(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    for sg in _open_security_groups(index):
        if not referrers(index, sg, (LOAD_BALANCER,), SG_ATTACHMENT_PROPS):
            findings.append((sg, "open to the internet but attached to no load balancer"))
        for user in referrers(index, sg, _SG_USERS, SG_ATTACHMENT_PROPS):
            findings.append((sg, f"open to the internet and attached to {user.type} {user.name}"))
    return findings


def _redirects(listener: Resource) -> bool:
    actions = blocks(listener.props, "defaultActions")
    return bool(actions) and all(
        a.get("type") == "redirect" and str(get_path(a, "redirect.protocol")).upper() == "HTTPS"
        for a in actions
    )


def _http_redirects_when_certificate(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    listeners = index.of(LISTENER)
    for lb in index.of(LOAD_BALANCER):
        own = [listener for listener in listeners if points_to(listener, "loadBalancerArn", lb)]
        has_certificate = any(
            str(li.props.get("protocol", "")).upper() == "HTTPS" or li.props.get("certificateArn")
            for li in own
        )
        if not has_certificate:
            continue
        findings += [
            (li, f"HTTP listener of {lb.name} does not redirect to HTTPS")
            for li in own
            if str(li.props.get("protocol", "")).upper() == "HTTP" and not _redirects(li)
        ]
    return findings


def _multi_region(trail: Resource) -> bool:
    return is_true(trail.props.get("isMultiRegionTrail"))


def _one_multi_region_trail(index: StackIndex, _c: Context) -> list[Finding]:
    trails = index.of(TRAIL)
    findings: list[Finding] = [
        (t, "not multi-region (activity in other regions goes unrecorded)")
        for t in trails
        if not _multi_region(t)
    ]
    multi = sorted((t for t in trails if _multi_region(t)), key=lambda t: t.name)
    findings += [
        (t, f"a second multi-region trail besides {multi[0].name} (billed as a second copy)")
        for t in multi[1:]
    ]
    return findings


def _has_multi_region_trail(index: StackIndex, _c: Context) -> list[Finding]:
    if any(_multi_region(t) for t in index.of(TRAIL)):
        return []
    return [(None, "the stack defines no multi-region CloudTrail trail")]


# ---------------------------------------------------------------------------------------------
# The rules

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "TAP-KMS-1",
        "Customer-managed symmetric KMS keys rotate yearly.",
        MANDATORY,
        "KMS.4",
        {KMS_KEY: _kms_rotation},
    ),
    ResourceRule(
        "TAP-EBS-1",
        "EBS volumes (launch templates, instances, volumes) are encrypted at rest.",
        MANDATORY,
        "EC2.7",
        {
            LAUNCH_TEMPLATE: _launch_template_volumes,
            EC2_INSTANCE: _instance_volumes,
            EBS_VOLUME: _require_true("encrypted"),
            EBS_DEFAULT_ENCRYPTION: _require_true("enabled"),
        },
    ),
    ResourceRule(
        "TAP-EC2-1",
        "Instances and launch templates require IMDSv2 session tokens.",
        MANDATORY,
        "EC2.170",
        {LAUNCH_TEMPLATE: _imdsv2, EC2_INSTANCE: _imdsv2},
    ),
    ResourceRule(
        "TAP-RDS-1",
        "RDS storage is encrypted at rest (replicas through a key of their region).",
        MANDATORY,
        "RDS.3",
        {RDS_INSTANCE: _rds_encrypted, RDS_CLUSTER: _require_true("storageEncrypted")},
    ),
    ResourceRule(
        "TAP-RDS-2",
        "No database is publicly accessible.",
        MANDATORY,
        "RDS.2",
        {RDS_INSTANCE: _not_public, RDS_CLUSTER_INSTANCE: _not_public},
    ),
    ResourceRule(
        "TAP-RDS-3",
        "Production databases have deletion protection and a final snapshot.",
        MANDATORY,
        "RDS.8",
        {
            RDS_INSTANCE: _when_production(_rds_deletion_protection),
            RDS_CLUSTER: _when_production(_rds_deletion_protection),
        },
    ),
    ResourceRule(
        "TAP-RDS-4",
        f"Production databases keep automated backups for {MIN_BACKUP_RETENTION_DAYS}+ days.",
        MANDATORY,
        "RDS.11",
        {RDS_INSTANCE: _when_production(_backups), RDS_CLUSTER: _when_production(_backups)},
    ),
    ResourceRule(
        "TAP-RDS-5",
        "Production primary databases are Multi-AZ.",
        ADVISORY,
        "RDS.5",
        {RDS_INSTANCE: _when_production(_multi_az)},
    ),
    ResourceRule(
        "TAP-SNS-1",
        "SNS topics are encrypted with a KMS key.",
        MANDATORY,
        "SNS.1",
        {SNS_TOPIC: _require_set("kmsMasterKeyId")},
    ),
    ResourceRule(
        "TAP-LOG-1",
        "CloudWatch log groups are encrypted with a customer-managed KMS key.",
        MANDATORY,
        None,
        {LOG_GROUP: _require_set("kmsKeyId")},
    ),
    ResourceRule(
        "TAP-LOG-2",
        "CloudWatch log groups have a retention period.",
        MANDATORY,
        None,
        {LOG_GROUP: _retention},
    ),
    ResourceRule(
        "TAP-SG-1",
        "Security groups admit the internet only on tcp 80 and 443.",
        MANDATORY,
        "EC2.18",
        {
            SECURITY_GROUP: _internet_ports,
            SG_INGRESS_RULE: _internet_ports,
            SG_LEGACY_RULE: _internet_ports,
        },
    ),
    ResourceRule(
        "TAP-SG-3",
        "Each VPC's default security group has no rules.",
        MANDATORY,
        "EC2.2",
        {DEFAULT_SECURITY_GROUP: _default_sg_empty},
    ),
    ResourceRule(
        "TAP-ELB-1",
        "HTTPS/TLS listeners use a security policy with TLS 1.2 or newer only.",
        MANDATORY,
        "ELB.17",
        {LISTENER: _tls_policy},
    ),
    ResourceRule(
        "TAP-ELB-3",
        "Production load balancers have deletion protection.",
        MANDATORY,
        "ELB.6",
        {LOAD_BALANCER: _when_production(_require_true("enableDeletionProtection"))},
    ),
    ResourceRule(
        "TAP-S3-3",
        "Production buckets are not force-destroyed with their objects.",
        MANDATORY,
        None,
        {S3_BUCKET: _when_production(_no_force_destroy)},
    ),
    ResourceRule(
        "TAP-TRAIL-1",
        "CloudTrail trails validate log file integrity.",
        MANDATORY,
        "CloudTrail.4",
        {TRAIL: _trail_validation},
    ),
    ResourceRule(
        "TAP-TRAIL-2",
        "CloudTrail trails are encrypted with a KMS key.",
        MANDATORY,
        "CloudTrail.2",
        {TRAIL: _require_set("kmsKeyId")},
    ),
    ResourceRule(
        "TAP-TAG-1",
        f"Taggable resources have a Name tag and {', '.join(REQUIRED_TAGS)} (own or default).",
        MANDATORY,
        None,
        dict.fromkeys(TAGGABLE_TYPES, _required_tags),
    ),
    ResourceRule(
        "TAP-NAME-1",
        "Physical names fit AWS length limits (ALB/target group 32, IAM role 64, RDS 63...).",
        MANDATORY,
        None,
        {type_: _name_lengths(limits) for type_, limits in NAME_LIMITS.items()},
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "TAP-VPC-1",
        "Every VPC has a flow log.",
        MANDATORY,
        "EC2.6",
        _every_vpc_has_flow_logs,
    ),
    StackRule(
        "TAP-S3-1",
        "Every bucket has default encryption (SSE-KMS, or SSE-S3 where AWS requires it, "
        "e.g. ALB access logs).",
        MANDATORY,
        None,
        _bucket_companions(S3_ENCRYPTION, "no server-side encryption configuration", _sse_problems),
    ),
    StackRule(
        "TAP-S3-2",
        "Every bucket blocks public access (all four settings).",
        MANDATORY,
        "S3.8",
        _bucket_companions(
            S3_PUBLIC_ACCESS_BLOCK, "no public access block", _public_access_problems
        ),
    ),
    StackRule(
        "TAP-SG-2",
        "A security group open to the internet belongs to a load balancer and nothing else.",
        MANDATORY,
        "EC2.18",
        _internet_only_on_load_balancers,
    ),
    StackRule(
        "TAP-ELB-2",
        "A load balancer with a certificate redirects its HTTP listeners to HTTPS.",
        MANDATORY,
        "ELB.1",
        _http_redirects_when_certificate,
    ),
    StackRule(
        "TAP-TRAIL-3",
        "The stack's trails are multi-region, and there is only one of them.",
        MANDATORY,
        "CloudTrail.1",
        _one_multi_region_trail,
    ),
    StackRule(
        "TAP-TRAIL-4",
        "The stack defines a multi-region trail (advisory: an organization trail may cover "
        "the account instead).",
        ADVISORY,
        "CloudTrail.1",
        _has_multi_region_trail,
    ),
)

ALL_RULES: tuple[ResourceRule | StackRule, ...] = RESOURCE_RULES + STACK_RULES
RULES_BY_ID: Mapping[str, ResourceRule | StackRule] = {rule.id: rule for rule in ALL_RULES}


def _rules_by_type() -> dict[str, list[ResourceRule]]:
    by_type: dict[str, list[ResourceRule]] = defaultdict(list)
    for rule in RESOURCE_RULES:
        for type_ in rule.checks:
            by_type[type_].append(rule)
    return dict(by_type)


RESOURCE_RULES_BY_TYPE: Mapping[str, list[ResourceRule]] = _rules_by_type()


def violation(rule: ResourceRule | StackRule, resource: Resource | None, message: str) -> Violation:
    return Violation(
        rule_id=rule.id,
        severity=rule.severity,
        fsbp=rule.fsbp,
        resource_type=resource.type if resource else "stack",
        resource_name=resource.name if resource else "",
        region=resource.region if resource else None,
        message=message,
        source=rule.source,
    )


def evaluate(
    resources: Iterable[Resource],
    environment: str,
    catalogue: Sequence[ResourceRule | StackRule] = ALL_RULES,
    prefix_lists: Mapping[str, PrefixList] | None = None,
    production: bool | None = None,
) -> list[Violation]:
    """Every rule of `catalogue` over every resource, then its stack rules; sorted output."""
    index = StackIndex(resources)
    lists = prefix_lists or {}
    by_type: dict[str, list[ResourceRule]] = defaultdict(list)
    for rule in catalogue:
        if isinstance(rule, ResourceRule):
            for type_ in rule.checks:
                by_type[type_].append(rule)
    contexts: dict[tuple[tuple[str, str], ...], Context] = {}
    found: list[Violation] = []
    for resource in index.resources:
        resource_rules = by_type.get(resource.type)
        if not resource_rules:
            continue
        key = tuple(sorted(resource.provider_tags.items()))
        if key not in contexts:
            contexts[key] = Context(
                environment=environment,
                provider_tags=resource.provider_tags,
                prefix_lists=lists,
                production_flag=production,
            )
        context = contexts[key]
        for rule in resource_rules:
            found += [
                violation(rule, resource, m)
                for m in rule.check(resource.type, resource.props, context)
            ]
    stack_context = Context(environment=environment, prefix_lists=lists, production_flag=production)
    for stack_rule in catalogue:
        if isinstance(stack_rule, StackRule):
            found += [
                violation(stack_rule, r, m) for r, m in stack_rule.check(index, stack_context)
            ]
    return sorted(found, key=_violation_order)


def _violation_order(v: Violation) -> tuple[int, str, str, str, str]:
    return (v.severity != MANDATORY, v.rule_id, v.region or "", v.resource_name, v.message)


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.severity == MANDATORY]
