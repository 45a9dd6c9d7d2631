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
from fnmatch import fnmatchcase
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
MIN_PRODUCTION_LOG_DAYS = 365  # Security Hub CloudWatch.16's default minRetentionTime

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
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
CERTIFICATE = "aws:acm/certificate:Certificate"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
LOG_DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ZONE = "aws:route53/zone:Zone"
QUERY_LOG = "aws:route53/queryLog:QueryLog"

CONTROL_FORMAT = re.compile(r"(FSBP|NIST) [A-Za-z0-9]+\.\d+|CIS 3\.0 \d+(\.\d+)+")
"""How a rule names a control: `FSBP <Security Hub id>` (AWS Foundational Security Best
Practices v1.0.0), `CIS 3.0 <recommendation>` (CIS AWS Foundations Benchmark v3.0.0), or
`NIST <Security Hub id>` for a Security Hub control only the NIST SP 800-53 Rev. 5 standard
holds."""

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
    controls: tuple[str, ...] = ()
    """The security-standard controls the rule enforces (CONTROL_FORMAT: `FSBP S3.5`,
    `CIS 3.0 3.7`, `NIST SNS.1`), each a row of the control matrix in docs/security.md."""

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
    controls: tuple[str, ...] = ()
    """The security-standard controls the rule enforces (see ResourceRule.controls)."""

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


def _production_retention(props: Mapping[str, Any], _c: Context) -> list[str]:
    days = as_number(props.get("retentionInDays"))
    if days >= MIN_PRODUCTION_LOG_DAYS:
        return []
    return [f"retentionInDays {days:g} < {MIN_PRODUCTION_LOG_DAYS} (production keeps a year)"]


def _trail_to_cloudwatch(props: Mapping[str, Any], c: Context) -> list[str]:
    return _require_set("cloudWatchLogsGroupArn", "cloudWatchLogsRoleArn")(props, c)


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


# Policy documents (IAM, key, topic and bucket policies). A document still unknown at plan
# time has no statements: it is judged once known (CrossGuard sees it again at `up`).


def policy_statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document, given as JSON text or already parsed."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    return [s for s in statements if isinstance(s, Mapping)]


def _strings(value: Any) -> list[str]:
    """A policy element that is one string or a list of them."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _label(statement: Mapping[str, Any], index: int) -> str:
    return f"statement {statement.get('Sid') or index}"


def _allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    """Whether the statement's Action (wildcards included) or NotAction covers `action`."""
    if "NotAction" in statement:
        return not any(fnmatchcase(action, p.lower()) for p in _strings(statement["NotAction"]))
    return any(fnmatchcase(action, p.lower()) for p in _strings(statement.get("Action")))


def _anyone(statement: Mapping[str, Any]) -> bool:
    """Principal "*" or {"AWS": "*"}: every principal of every account."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in _strings(principal.get("AWS"))


# Condition keys that tie a "*" principal to known accounts, organizations, sources or
# networks, so that the grant is not public (the keys turbot's aws_perimeter control "KMS key
# policies should prohibit public access" accepts, and IAM Access Analyzer's reasoning with
# them). Only the key's presence is checked: a wildcard value would still be public, and the
# program writes none.
ACCOUNT_CONDITION_KEYS = frozenset(
    {
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "kms:calleraccount",
    }
)


def _account_bound(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    return any(
        isinstance(keys, Mapping) and any(str(k).lower() in ACCOUNT_CONDITION_KEYS for k in keys)
        for keys in condition.values()
    )


def _no_public_grants(*paths: str) -> PropsCheck:
    """No Allow statement of the policies at `paths` admits anyone without an account-bound
    condition (FSBP KMS.5, SNS.4)."""

    def check(props: Mapping[str, Any], _c: Context) -> list[str]:
        return [
            f"{path} {_label(s, i)} allows any principal ('*') with no account condition"
            for path in paths
            for i, s in enumerate(policy_statements(props.get(path)))
            if _allows(s) and _anyone(s) and not _account_bound(s)
        ]

    return check


# FSBP S3.6's fixed parameter: actions a bucket policy must not allow other accounts.
S3_CROSS_ACCOUNT_ACTIONS = (
    "s3:deletebucketpolicy",
    "s3:putbucketacl",
    "s3:putbucketpolicy",
    "s3:putencryptionconfiguration",
    "s3:putobjectacl",
)


def _cross_account_bucket_grants(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for i, statement in enumerate(policy_statements(props.get("policy"))):
        principal = statement.get("Principal")
        accounts = principal == "*" or (isinstance(principal, Mapping) and "AWS" in principal)
        if not (_allows(statement) and accounts):
            continue
        granted = [a for a in S3_CROSS_ACCOUNT_ACTIONS if _grants(statement, a)]
        if granted:
            problems.append(f"{_label(statement, i)} allows {', '.join(granted)} to accounts")
    return problems


ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def _policy_documents(props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(where, document) of every identity policy a resource carries: `policy` of a role or
    customer managed policy, `inlinePolicies[].policy` of a role."""
    documents = [("policy", props["policy"])] if "policy" in props else []
    documents += [
        (f"inlinePolicies[{b.get('name', i)}]", b.get("policy"))
        for i, b in enumerate(blocks(props, "inlinePolicies"))
    ]
    return documents


def _no_wildcard_actions(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for where, document in _policy_documents(props):
        for i, statement in enumerate(policy_statements(document)):
            if not _allows(statement):
                continue
            if "NotAction" in statement:
                problems.append(f"{where} {_label(statement, i)} allows everything but NotAction")
            wild = [a for a in _strings(statement.get("Action")) if a == "*" or a.endswith(":*")]
            if wild:
                problems.append(f"{where} {_label(statement, i)} allows {', '.join(wild)}")
    return problems


def _no_administrator_access(props: Mapping[str, Any], _c: Context) -> list[str]:
    arns = _strings(props.get("policyArn")) + _strings(props.get("managedPolicyArns"))
    return [f"attaches {ADMINISTRATOR_ACCESS}" for arn in arns if arn == ADMINISTRATOR_ACCESS]


def _least_privilege(props: Mapping[str, Any], c: Context) -> list[str]:
    return _no_wildcard_actions(props, c) + _no_administrator_access(props, c)


KMS_DECRYPT_ACTIONS = ("kms:decrypt", "kms:reencryptfrom")
_EVERY_KEY = re.compile(r"\*$|arn:aws[\w-]*:kms:[^:]*:[^:]*:key/\*$")


def _no_decrypt_everywhere(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for where, document in _policy_documents(props):
        for i, statement in enumerate(policy_statements(document)):
            actions = [a for a in KMS_DECRYPT_ACTIONS if _grants(statement, a)]
            resources = _strings(statement.get("Resource"))
            if _allows(statement) and actions and any(_EVERY_KEY.match(r) for r in resources):
                problems.append(
                    f"{where} {_label(statement, i)} allows {', '.join(actions)} on every key"
                )
    return problems


def _is_application(props: Mapping[str, Any]) -> bool:
    return props.get("loadBalancerType", "application") == "application"


def _drops_invalid_headers(props: Mapping[str, Any], c: Context) -> list[str]:
    return _require_true("dropInvalidHeaderFields")(props, c) if _is_application(props) else []


def _load_balancer_logs(props: Mapping[str, Any], c: Context) -> list[str]:
    if not _is_application(props):
        return []
    return _require_true("accessLogs.enabled")(props, c) + _require_set("accessLogs.bucket")(
        props, c
    )


DESYNC_MODES = ("defensive", "strictest")


def _desync_mitigation(props: Mapping[str, Any], _c: Context) -> list[str]:
    # ELB User Guide, "Desync mitigation mode": "The default mode is defensive", so an
    # application load balancer that leaves it unset is compliant.
    mode = props.get("desyncMitigationMode")
    if not _is_application(props) or mode is None or mode in DESYNC_MODES:
        return []
    return [f"desyncMitigationMode {mode!r} is not one of {', '.join(DESYNC_MODES)}"]


def _list_of(props: Mapping[str, Any], *keys: str) -> list[Any]:
    """The first of `keys` holding a list (or blocks), else []."""
    for key in keys:
        value = props.get(key)
        if isinstance(value, list) and value:
            return value
    return []


def _load_balancer_zones(props: Mapping[str, Any], _c: Context) -> list[str]:
    if len(_list_of(props, "subnets", "subnetMappings")) >= 2:
        return []
    return ["fewer than 2 subnets (one AZ: an AZ outage takes the load balancer down)"]


def _behind_load_balancer(props: Mapping[str, Any]) -> bool:
    return bool(_list_of(props, "targetGroupArns", "loadBalancers", "trafficSources"))


def _elb_health_checks(props: Mapping[str, Any], _c: Context) -> list[str]:
    if _behind_load_balancer(props) and props.get("healthCheckType") != "ELB":
        kind = props.get("healthCheckType") or "EC2 (the default)"
        return [f"healthCheckType {kind}: instances failing the load balancer stay in service"]
    return []


def _group_zones(props: Mapping[str, Any], _c: Context) -> list[str]:
    if not _behind_load_balancer(props):
        return []
    if len(_list_of(props, "vpcZoneIdentifiers", "availabilityZones")) >= 2:
        return []
    return ["a group behind a load balancer spans fewer than 2 subnets"]


def _launch_template_only(props: Mapping[str, Any], _c: Context) -> list[str]:
    if props.get("launchConfiguration"):
        return ["launches from a launch configuration (no IMDSv2 or newer instance settings)"]
    if props.get("launchTemplate") or props.get("mixedInstancesPolicy"):
        return []
    return ["no launchTemplate"]


def _no_public_ip_on_launch(props: Mapping[str, Any], _c: Context) -> list[str]:
    # Absent, AWS's default for a subnet created through the API is false (EC2 API Reference,
    # ModifySubnetAttribute MapPublicIpOnLaunch; only default subnets start with true).
    return ["mapPublicIpOnLaunch is true"] if is_true(props.get("mapPublicIpOnLaunch")) else []


def _rds_log_exports(props: Mapping[str, Any], _c: Context) -> list[str]:
    exports = _strings(props.get("enabledCloudwatchLogsExports"))
    if not exports:
        return ["enabledCloudwatchLogsExports is empty (no database logs in CloudWatch Logs)"]
    engine = str(props.get("engine") or "")
    if engine.startswith("postgres") and "postgresql" not in exports:
        return [f"enabledCloudwatchLogsExports {exports} leaves out 'postgresql'"]
    return []


def _enhanced_monitoring(props: Mapping[str, Any], _c: Context) -> list[str]:
    if as_number(props.get("monitoringInterval")) > 0:
        return []
    return ["monitoringInterval is 0 (no enhanced monitoring)"]


def _minor_upgrades(props: Mapping[str, Any], _c: Context) -> list[str]:
    # CreateDBInstance AutoMinorVersionUpgrade: "Default: true"; only an explicit false fails.
    value = props.get("autoMinorVersionUpgrade")
    if value is None or is_true(value):
        return []
    return ["autoMinorVersionUpgrade is false (minor engine fixes are not applied)"]


DEFAULT_ADMIN_USERNAMES = frozenset({"admin", "postgres"})
"""The master user names RDS consoles suggest (FSBP RDS.25 fails on them)."""


def _custom_admin_username(props: Mapping[str, Any], _c: Context) -> list[str]:
    # Replicas name no user: they inherit the source's.
    username = props.get("username")
    if isinstance(username, str) and username.lower() in DEFAULT_ADMIN_USERNAMES:
        return [f"username {username!r} is a default administrator name"]
    return []


def _dns_validated(props: Mapping[str, Any], _c: Context) -> list[str]:
    # Imported and private-CA certificates are renewed by their owners, not by validation.
    if props.get("certificateBody") or props.get("certificateAuthorityArn"):
        return []
    if props.get("validationMethod") == "DNS":
        return []
    return [
        f"validationMethod {props.get('validationMethod')!r} is not DNS (ACM renews "
        "automatically only while its validation CNAME stays in DNS)"
    ]


# ACM RequestCertificate KeyAlgorithm: "Default: RSA_2048"; the stronger ones ACM issues.
ACM_KEY_ALGORITHMS = frozenset(
    {"RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"}
)


def _certificate_key(props: Mapping[str, Any], _c: Context) -> list[str]:
    algorithm = props.get("keyAlgorithm")
    if algorithm is None or algorithm in ACM_KEY_ALGORITHMS:
        return []
    return [f"keyAlgorithm {algorithm!r} is weaker than RSA 2048"]


VIEWER_HTTPS = ("https-only", "redirect-to-https")
# FSBP CloudFront.15's fixed parameter (Security Hub controls reference, CloudFront.15).
CLOUDFRONT_TLS_POLICIES = ("TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")


def _viewer_https(props: Mapping[str, Any], _c: Context) -> list[str]:
    default = props.get("defaultCacheBehavior")
    behaviors = [("defaultCacheBehavior", default if isinstance(default, Mapping) else {})]
    behaviors += [
        (f"orderedCacheBehaviors[{i}]", b)
        for i, b in enumerate(blocks(props, "orderedCacheBehaviors"))
    ]
    return [
        f"{where}.viewerProtocolPolicy {b.get('viewerProtocolPolicy')!r} lets viewers use HTTP"
        for where, b in behaviors
        if b.get("viewerProtocolPolicy") not in VIEWER_HTTPS
    ]


def _viewer_tls(props: Mapping[str, Any], _c: Context) -> list[str]:
    raw = props.get("viewerCertificate")
    certificate: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    problems = []
    own = certificate.get("acmCertificateArn") or certificate.get("iamCertificateId")
    if is_true(certificate.get("cloudfrontDefaultCertificate")) or not own:
        problems.append("viewerCertificate is CloudFront's default *.cloudfront.net certificate")
    if certificate.get("sslSupportMethod") != "sni-only":
        problems.append(
            f"viewerCertificate.sslSupportMethod {certificate.get('sslSupportMethod')!r} is not "
            "sni-only (dedicated IP addresses)"
        )
    policy = certificate.get("minimumProtocolVersion")
    if policy not in CLOUDFRONT_TLS_POLICIES:
        problems.append(f"viewerCertificate.minimumProtocolVersion {policy!r} is not recommended")
    return problems


def _origin_tls(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for i, origin in enumerate(blocks(props, "origins")):
        custom = origin.get("customOriginConfig")
        if not isinstance(custom, Mapping):
            continue  # an S3 origin: CloudFront reaches it over HTTPS by itself
        where = f"origins[{origin.get('originId', i)}].customOriginConfig"
        if custom.get("originProtocolPolicy") != "https-only":
            problems.append(
                f"{where}.originProtocolPolicy {custom.get('originProtocolPolicy')!r} is not "
                "https-only"
            )
        protocols = _strings(custom.get("originSslProtocols"))
        if not protocols or set(protocols) - {"TLSv1.2"}:
            problems.append(f"{where}.originSslProtocols {protocols} allow more than TLSv1.2")
    return problems


def _web_acl_rules(props: Mapping[str, Any], _c: Context) -> list[str]:
    if blocks(props, "rules") or props.get("ruleJson"):
        return []
    return ["no rules (the default action decides every request)"]


def _web_acl_metrics(props: Mapping[str, Any], _c: Context) -> list[str]:
    parts = [("visibilityConfig", props.get("visibilityConfig"))] + [
        (f"rules[{r.get('name', i)}].visibilityConfig", r.get("visibilityConfig"))
        for i, r in enumerate(blocks(props, "rules"))
    ]
    return [
        f"{where}.cloudwatchMetricsEnabled is not true"
        for where, config in parts
        if not (isinstance(config, Mapping) and is_true(config.get("cloudwatchMetricsEnabled")))
    ]


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


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    """Deny of every S3 action, to anyone, on the bucket and its objects, without TLS."""
    condition = statement.get("Condition")
    bool_keys = condition.get("Bool") if isinstance(condition, Mapping) else None
    secure = bool_keys.get("aws:SecureTransport") if isinstance(bool_keys, Mapping) else None
    resources = _strings(statement.get("Resource"))
    return (
        statement.get("Effect") == "Deny"
        and _anyone(statement)
        and bool({"s3:*", "*"} & {a.lower() for a in _strings(statement.get("Action"))})
        and str(secure).lower() == "false"
        and any(r.endswith("/*") for r in resources)
        and any(not r.endswith("/*") for r in resources)
    )


def _tls_only_problems(props: Mapping[str, Any]) -> list[str]:
    if any(_denies_insecure_transport(s) for s in policy_statements(props.get("policy"))):
        return []
    return [
        "no statement denies s3:* without TLS (aws:SecureTransport false) on bucket and objects"
    ]


def _owner_enforced_problems(props: Mapping[str, Any]) -> list[str]:
    ownership = get_path(props, "rule.objectOwnership")
    if ownership == "BucketOwnerEnforced":
        return []
    return [f"objectOwnership {ownership!r} leaves ACLs in force (BucketOwnerEnforced disables)"]


def _lifecycle_problems(props: Mapping[str, Any]) -> list[str]:
    if any(rule.get("status") == "Enabled" for rule in blocks(props, "rules")):
        return []
    return ["no enabled lifecycle rule"]


def _routes_to_internet_gateway(index: StackIndex, table: Resource) -> bool:
    gateways = index.of(INTERNET_GATEWAY)

    def internet(gateway: Any) -> bool:
        return isinstance(gateway, str) and (
            gateway.startswith("igw-") or any(gateway in igw.handles for igw in gateways)
        )

    if any(internet(route.get("gatewayId")) for route in blocks(table.props, "routes")):
        return True
    return any(
        internet(route.props.get("gatewayId"))
        or any(points_to(route, "gatewayId", igw) for igw in gateways)
        for route in index.of(ROUTE)
        if points_to(route, "routeTableId", table)
    )


def _databases_off_public_subnets(index: StackIndex, _c: Context) -> list[Finding]:
    public_tables = [t for t in index.of(ROUTE_TABLE) if _routes_to_internet_gateway(index, t)]
    public_subnets = [
        subnet
        for subnet in index.of(SUBNET)
        for association in index.of(ROUTE_TABLE_ASSOCIATION)
        if points_to(association, "subnetId", subnet)
        and any(points_to(association, "routeTableId", t) for t in public_tables)
    ]
    findings: list[Finding] = []
    for group in index.of(RDS_SUBNET_GROUP):
        exposed = [s.name for s in public_subnets if points_to(group, "subnetIds", s)]
        if not exposed:
            continue
        for db in index.of(RDS_INSTANCE):
            if points_to(db, "dbSubnetGroupName", group):
                findings.append(
                    (
                        db,
                        f"subnet group {group.name} holds subnets routed to an internet "
                        f"gateway: {', '.join(sorted(set(exposed)))}",
                    )
                )
    return findings


def _distribution_access_logs(index: StackIndex, _c: Context) -> list[Finding]:
    """Standard logging v2 (a vended-log delivery from an ACCESS_LOGS source of the
    distribution) or legacy standard logging (loggingConfig.bucket)."""
    sources = [s for s in index.of(LOG_DELIVERY_SOURCE) if s.props.get("logType") == "ACCESS_LOGS"]
    deliveries = index.of(LOG_DELIVERY)
    findings: list[Finding] = []
    for distribution in index.of(DISTRIBUTION):
        if get_path(distribution.props, "loggingConfig.bucket"):
            continue
        own = [s for s in sources if points_to(s, "resourceArn", distribution)]
        if not any(points_to(d, "deliverySourceName", s) for d in deliveries for s in own):
            findings.append(
                (distribution, "no access-log delivery (standard logging v2 or legacy)")
            )
    return findings


def _web_acls_log(index: StackIndex, _c: Context) -> list[Finding]:
    configs = [
        c for c in index.of(WEB_ACL_LOGGING) if _strings(c.props.get("logDestinationConfigs"))
    ]
    return [
        (acl, "no logging configuration (requests the web ACL judges leave no record)")
        for acl in index.of(WEB_ACL)
        if not any(points_to(c, "resourceArn", acl) for c in configs)
    ]


@dataclass(frozen=True)
class MonitoringControl:
    """A CIS monitoring recommendation: the CloudTrail event terms its metric filter matches."""

    id: str
    """CIS AWS Foundations Benchmark v3.0.0 recommendation (`4.1`)."""
    security_hub: str
    """The Security Hub control with the same filter (CloudWatch.N, CIS v1.2/v1.4 only)."""
    terms: tuple[str, ...]
    """Event names, sources or values the filter pattern must mention, each as a whole word."""


# CIS AWS Foundations Benchmark v3.0.0, section 4; the filter patterns of the Security Hub
# controls reference, "Amazon CloudWatch controls" (CloudWatch.1 to CloudWatch.14). Written out
# here, not imported from the program, so a filter that drops an event fails the rule.
CIS_MONITORING: tuple[MonitoringControl, ...] = (
    MonitoringControl("4.1", "CloudWatch.2", ("UnauthorizedOperation", "AccessDenied")),
    MonitoringControl("4.2", "CloudWatch.3", ("ConsoleLogin", "MFAUsed", "IAMUser")),
    MonitoringControl("4.3", "CloudWatch.1", ("Root", "invokedBy", "AwsServiceEvent")),
    MonitoringControl(
        "4.4",
        "CloudWatch.4",
        (
            "DeleteGroupPolicy",
            "DeleteRolePolicy",
            "DeleteUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "CreatePolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        ),
    ),
    MonitoringControl(
        "4.5",
        "CloudWatch.5",
        ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"),
    ),
    MonitoringControl("4.6", "CloudWatch.6", ("ConsoleLogin", "Failed authentication")),
    MonitoringControl(
        "4.7", "CloudWatch.7", ("kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion")
    ),
    MonitoringControl(
        "4.8",
        "CloudWatch.8",
        (
            "s3.amazonaws.com",
            "PutBucketAcl",
            "PutBucketPolicy",
            "PutBucketCors",
            "PutBucketLifecycle",
            "PutBucketReplication",
            "DeleteBucketPolicy",
            "DeleteBucketCors",
            "DeleteBucketLifecycle",
            "DeleteBucketReplication",
        ),
    ),
    MonitoringControl(
        "4.9",
        "CloudWatch.9",
        (
            "config.amazonaws.com",
            "StopConfigurationRecorder",
            "DeleteDeliveryChannel",
            "PutDeliveryChannel",
            "PutConfigurationRecorder",
        ),
    ),
    MonitoringControl(
        "4.10",
        "CloudWatch.10",
        (
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
        ),
    ),
    MonitoringControl(
        "4.11",
        "CloudWatch.11",
        (
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        ),
    ),
    MonitoringControl(
        "4.12",
        "CloudWatch.12",
        (
            "CreateCustomerGateway",
            "DeleteCustomerGateway",
            "AttachInternetGateway",
            "CreateInternetGateway",
            "DeleteInternetGateway",
            "DetachInternetGateway",
        ),
    ),
    MonitoringControl(
        "4.13",
        "CloudWatch.13",
        (
            "CreateRoute",
            "CreateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteRoute",
            "DisassociateRouteTable",
        ),
    ),
    MonitoringControl(
        "4.14",
        "CloudWatch.14",
        (
            "CreateVpc",
            "DeleteVpc",
            "ModifyVpcAttribute",
            "AcceptVpcPeeringConnection",
            "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection",
            "RejectVpcPeeringConnection",
            "AttachClassicLinkVpc",
            "DetachClassicLinkVpc",
            "DisableVpcClassicLink",
            "EnableVpcClassicLink",
        ),
    ),
)


def _mentions(pattern: str, term: str) -> bool:
    return re.search(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", pattern) is not None


def _trail_log_groups(index: StackIndex) -> list[Resource]:
    """Log groups a multi-region trail of the stack delivers to."""
    groups = []
    for trail in (t for t in index.of(TRAIL) if _multi_region(t)):
        arn = str(trail.props.get("cloudWatchLogsGroupArn") or "").removesuffix(":*")
        groups += [
            g
            for g in index.of(LOG_GROUP)
            if arn in g.handles or points_to(trail, "cloudWatchLogsGroupArn", g)
        ]
    return groups


def _alarmed(index: StackIndex, metric: Any) -> bool:
    """A metric alarm with an alarm action watches the filter's metric."""
    if not isinstance(metric, Mapping):
        return False
    return any(
        a.props.get("namespace") == metric.get("namespace")
        and a.props.get("metricName") == metric.get("name")
        and bool(_strings(a.props.get("alarmActions")))
        for a in index.of(METRIC_ALARM)
    )


def _cis_monitoring(index: StackIndex, _c: Context) -> list[Finding]:
    groups = _trail_log_groups(index)
    if not groups:
        return [(None, "no multi-region trail delivers to a CloudWatch Logs group")]
    filters = [
        f
        for f in index.of(LOG_METRIC_FILTER)
        if any(points_to(f, "logGroupName", g) for g in groups)
    ]
    findings: list[Finding] = []
    for control in CIS_MONITORING:
        matching = [
            f
            for f in filters
            if all(_mentions(str(f.props.get("pattern") or ""), t) for t in control.terms)
        ]
        if not matching:
            terms = ", ".join(control.terms)
            findings.append(
                (None, f"CIS {control.id}: no filter on the trail's log group matches {terms}")
            )
        elif not any(_alarmed(index, f.props.get("metricTransformation")) for f in matching):
            findings.append(
                (matching[0], f"CIS {control.id}: no alarm with an action on the filter's metric")
            )
    return findings


def _production_zones_log_queries(index: StackIndex, context: Context) -> list[Finding]:
    """Public zones (no VPC association) of a production stack each have a query log."""
    if not context.production:
        return []
    logs = index.of(QUERY_LOG)
    return [
        (zone, "no DNS query logging")
        for zone in index.of(ZONE)
        if not blocks(zone.props, "vpcs") and not any(points_to(q, "zoneId", zone) for q in logs)
    ]


# ---------------------------------------------------------------------------------------------
# The rules

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "TAP-KMS-1",
        "Customer-managed symmetric KMS keys rotate yearly.",
        MANDATORY,
        "KMS.4",
        {KMS_KEY: _kms_rotation},
        controls=("CIS 3.0 3.6",),
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
        controls=("FSBP EC2.3", "FSBP EC2.181"),
    ),
    ResourceRule(
        "TAP-EC2-1",
        "Instances and launch templates require IMDSv2 session tokens.",
        MANDATORY,
        "EC2.170",
        {LAUNCH_TEMPLATE: _imdsv2, EC2_INSTANCE: _imdsv2},
        controls=("FSBP EC2.8", "FSBP EC2.170", "CIS 3.0 5.6"),
    ),
    ResourceRule(
        "TAP-RDS-1",
        "RDS storage is encrypted at rest (replicas through a key of their region).",
        MANDATORY,
        "RDS.3",
        {RDS_INSTANCE: _rds_encrypted, RDS_CLUSTER: _require_true("storageEncrypted")},
        controls=("FSBP RDS.3", "FSBP RDS.4", "CIS 3.0 2.3.1"),
    ),
    ResourceRule(
        "TAP-RDS-2",
        "No database is publicly accessible.",
        MANDATORY,
        "RDS.2",
        {RDS_INSTANCE: _not_public, RDS_CLUSTER_INSTANCE: _not_public},
        controls=("FSBP RDS.2", "CIS 3.0 2.3.3"),
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
        controls=("FSBP RDS.8",),
    ),
    ResourceRule(
        "TAP-RDS-4",
        f"Production databases keep automated backups for {MIN_BACKUP_RETENTION_DAYS}+ days.",
        MANDATORY,
        "RDS.11",
        {RDS_INSTANCE: _when_production(_backups), RDS_CLUSTER: _when_production(_backups)},
        controls=("FSBP RDS.11",),
    ),
    ResourceRule(
        "TAP-RDS-5",
        "Production primary databases are Multi-AZ.",
        ADVISORY,
        "RDS.5",
        {RDS_INSTANCE: _when_production(_multi_az)},
        controls=("FSBP RDS.5",),
    ),
    ResourceRule(
        "TAP-SNS-1",
        "SNS topics are encrypted with a KMS key.",
        MANDATORY,
        "SNS.1",
        {SNS_TOPIC: _require_set("kmsMasterKeyId")},
        controls=("NIST SNS.1",),
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
        controls=("FSBP EC2.18", "FSBP EC2.19", "CIS 3.0 5.2", "CIS 3.0 5.3"),
    ),
    ResourceRule(
        "TAP-SG-3",
        "Each VPC's default security group has no rules.",
        MANDATORY,
        "EC2.2",
        {DEFAULT_SECURITY_GROUP: _default_sg_empty},
        controls=("FSBP EC2.2", "CIS 3.0 5.4"),
    ),
    ResourceRule(
        "TAP-ELB-1",
        "HTTPS/TLS listeners use a security policy with TLS 1.2 or newer only.",
        MANDATORY,
        "ELB.17",
        {LISTENER: _tls_policy},
        controls=("FSBP ELB.17",),
    ),
    ResourceRule(
        "TAP-ELB-3",
        "Production load balancers have deletion protection.",
        MANDATORY,
        "ELB.6",
        {LOAD_BALANCER: _when_production(_require_true("enableDeletionProtection"))},
        controls=("FSBP ELB.6",),
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
        controls=("FSBP CloudTrail.4", "CIS 3.0 3.2"),
    ),
    ResourceRule(
        "TAP-TRAIL-2",
        "CloudTrail trails are encrypted with a KMS key.",
        MANDATORY,
        "CloudTrail.2",
        {TRAIL: _require_set("kmsKeyId")},
        controls=("FSBP CloudTrail.2", "CIS 3.0 3.5"),
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
    ResourceRule(
        "TAP-S3-5",
        "Bucket policies allow no account to change the bucket's policy, ACLs or encryption.",
        MANDATORY,
        "S3.6",
        {BUCKET_POLICY: _cross_account_bucket_grants},
        controls=("FSBP S3.6",),
    ),
    ResourceRule(
        "TAP-ELB-4",
        "Application load balancers drop invalid HTTP header fields.",
        MANDATORY,
        "ELB.4",
        {LOAD_BALANCER: _drops_invalid_headers},
        controls=("FSBP ELB.4",),
    ),
    ResourceRule(
        "TAP-ELB-5",
        "Application load balancers write access logs to a bucket.",
        MANDATORY,
        "ELB.5",
        {LOAD_BALANCER: _load_balancer_logs},
        controls=("FSBP ELB.5",),
    ),
    ResourceRule(
        "TAP-ELB-6",
        "Application load balancers keep the defensive or strictest desync mitigation mode.",
        MANDATORY,
        "ELB.12",
        {LOAD_BALANCER: _desync_mitigation},
        controls=("FSBP ELB.12",),
    ),
    ResourceRule(
        "TAP-ELB-7",
        "Load balancers span at least two subnets (Availability Zones).",
        MANDATORY,
        "ELB.13",
        {LOAD_BALANCER: _load_balancer_zones},
        controls=("FSBP ELB.13",),
    ),
    ResourceRule(
        "TAP-ASG-1",
        "Auto Scaling groups behind a load balancer use its health checks.",
        MANDATORY,
        "AutoScaling.1",
        {AUTOSCALING_GROUP: _elb_health_checks},
        controls=("FSBP AutoScaling.1",),
    ),
    ResourceRule(
        "TAP-ASG-2",
        "Auto Scaling groups behind a load balancer span at least two subnets.",
        MANDATORY,
        "AutoScaling.2",
        {AUTOSCALING_GROUP: _group_zones},
        controls=("FSBP AutoScaling.2",),
    ),
    ResourceRule(
        "TAP-ASG-3",
        "Auto Scaling groups launch from launch templates, never launch configurations.",
        MANDATORY,
        "AutoScaling.9",
        {AUTOSCALING_GROUP: _launch_template_only},
        controls=("FSBP AutoScaling.9",),
    ),
    ResourceRule(
        "TAP-EC2-2",
        "Subnets assign no public IPv4 address on launch.",
        MANDATORY,
        "EC2.15",
        {SUBNET: _no_public_ip_on_launch},
        controls=("FSBP EC2.15",),
    ),
    ResourceRule(
        "TAP-RDS-6",
        "Databases export their logs to CloudWatch Logs (PostgreSQL: the postgresql log).",
        MANDATORY,
        "RDS.9",
        {RDS_INSTANCE: _rds_log_exports},
        controls=("FSBP RDS.9", "FSBP RDS.36"),
    ),
    ResourceRule(
        "TAP-RDS-7",
        "Databases accept IAM database authentication.",
        MANDATORY,
        "RDS.10",
        {RDS_INSTANCE: _require_true("iamDatabaseAuthenticationEnabled")},
        controls=("FSBP RDS.10",),
    ),
    ResourceRule(
        "TAP-RDS-8",
        "Production databases have enhanced monitoring.",
        MANDATORY,
        "RDS.6",
        {RDS_INSTANCE: _when_production(_enhanced_monitoring)},
        controls=("FSBP RDS.6",),
    ),
    ResourceRule(
        "TAP-RDS-9",
        "Databases take automatic minor engine upgrades (advisory: pinning a minor version "
        "turns them off on purpose).",
        ADVISORY,
        "RDS.13",
        {RDS_INSTANCE: _minor_upgrades},
        controls=("FSBP RDS.13", "CIS 3.0 2.3.2"),
    ),
    ResourceRule(
        "TAP-RDS-10",
        "Databases copy their tags to snapshots.",
        MANDATORY,
        "RDS.17",
        {RDS_INSTANCE: _require_true("copyTagsToSnapshot")},
        controls=("FSBP RDS.17",),
    ),
    ResourceRule(
        "TAP-RDS-11",
        "Database master users have a name of their own (not admin or postgres).",
        MANDATORY,
        "RDS.25",
        {RDS_INSTANCE: _custom_admin_username},
        controls=("FSBP RDS.25",),
    ),
    ResourceRule(
        "TAP-KMS-2",
        "Key policies allow no principal '*' without a condition naming the account or source.",
        MANDATORY,
        "KMS.5",
        {KMS_KEY: _no_public_grants("policy"), KMS_KEY_POLICY: _no_public_grants("policy")},
        controls=("FSBP KMS.5",),
    ),
    ResourceRule(
        "TAP-SNS-2",
        "Topic policies allow no principal '*' without a condition naming the account or source.",
        MANDATORY,
        "SNS.4",
        {TOPIC_POLICY: _no_public_grants("policy"), SNS_TOPIC: _no_public_grants("policy")},
        controls=("FSBP SNS.4",),
    ),
    ResourceRule(
        "TAP-IAM-1",
        "IAM policies the stack writes allow no '*' or 'service:*' action, and no role gets "
        "AdministratorAccess.",
        MANDATORY,
        "IAM.21",
        {
            ROLE_POLICY: _least_privilege,
            IAM_POLICY: _least_privilege,
            IAM_ROLE: _least_privilege,
            ROLE_POLICY_ATTACHMENT: _least_privilege,
        },
        controls=("FSBP IAM.1", "FSBP IAM.21", "CIS 3.0 1.16"),
    ),
    ResourceRule(
        "TAP-IAM-2",
        "IAM policies the stack writes allow kms:Decrypt and kms:ReEncryptFrom on named keys "
        "only, never on every key.",
        MANDATORY,
        "KMS.2",
        {
            ROLE_POLICY: _no_decrypt_everywhere,
            IAM_POLICY: _no_decrypt_everywhere,
            IAM_ROLE: _no_decrypt_everywhere,
        },
        controls=("FSBP KMS.1", "FSBP KMS.2"),
    ),
    ResourceRule(
        "TAP-ACM-1",
        "ACM certificates are DNS-validated, so ACM renews them by itself.",
        MANDATORY,
        "ACM.1",
        {CERTIFICATE: _dns_validated},
        controls=("FSBP ACM.1",),
    ),
    ResourceRule(
        "TAP-ACM-2",
        "ACM certificates use RSA 2048 or stronger, or ECDSA keys.",
        MANDATORY,
        "ACM.2",
        {CERTIFICATE: _certificate_key},
        controls=("FSBP ACM.2",),
    ),
    ResourceRule(
        "TAP-CF-1",
        "CloudFront serves viewers over HTTPS only (redirect-to-https or https-only).",
        MANDATORY,
        "CloudFront.3",
        {DISTRIBUTION: _viewer_https},
        controls=("FSBP CloudFront.3",),
    ),
    ResourceRule(
        "TAP-CF-2",
        "CloudFront uses the stack's own certificate, SNI, and a recommended TLS policy "
        f"({', '.join(CLOUDFRONT_TLS_POLICIES)}).",
        MANDATORY,
        "CloudFront.15",
        {DISTRIBUTION: _viewer_tls},
        controls=("FSBP CloudFront.7", "FSBP CloudFront.8", "FSBP CloudFront.15"),
    ),
    ResourceRule(
        "TAP-CF-3",
        "CloudFront reaches custom origins over HTTPS only, with TLS 1.2 only.",
        MANDATORY,
        "CloudFront.9",
        {DISTRIBUTION: _origin_tls},
        controls=("FSBP CloudFront.9", "FSBP CloudFront.10"),
    ),
    ResourceRule(
        "TAP-CF-5",
        "Production CloudFront distributions have an AWS WAF web ACL.",
        MANDATORY,
        "CloudFront.6",
        {DISTRIBUTION: _when_production(_require_set("webAclId"))},
        controls=("FSBP CloudFront.6",),
    ),
    ResourceRule(
        "TAP-WAF-1",
        "Web ACLs have at least one rule.",
        MANDATORY,
        "WAF.10",
        {WEB_ACL: _web_acl_rules},
        controls=("FSBP WAF.10",),
    ),
    ResourceRule(
        "TAP-WAF-2",
        "Web ACLs and each of their rules publish CloudWatch metrics.",
        MANDATORY,
        "WAF.12",
        {WEB_ACL: _web_acl_metrics},
        controls=("FSBP WAF.12",),
    ),
    ResourceRule(
        "TAP-TRAIL-5",
        "CloudTrail trails also deliver to a CloudWatch Logs group, through a role.",
        MANDATORY,
        "CloudTrail.5",
        {TRAIL: _trail_to_cloudwatch},
        controls=("FSBP CloudTrail.5",),
    ),
    ResourceRule(
        "TAP-LOG-3",
        f"Production log groups keep their events {MIN_PRODUCTION_LOG_DAYS} days or more.",
        MANDATORY,
        None,
        {LOG_GROUP: _when_production(_production_retention)},
        controls=("NIST CloudWatch.16",),
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "TAP-VPC-1",
        "Every VPC has a flow log.",
        MANDATORY,
        "EC2.6",
        _every_vpc_has_flow_logs,
        controls=("FSBP EC2.6", "CIS 3.0 3.7"),
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
        controls=("FSBP S3.2", "FSBP S3.3", "FSBP S3.8", "CIS 3.0 2.1.4"),
    ),
    StackRule(
        "TAP-SG-2",
        "A security group open to the internet belongs to a load balancer and nothing else.",
        MANDATORY,
        "EC2.18",
        _internet_only_on_load_balancers,
        controls=("FSBP EC2.18",),
    ),
    StackRule(
        "TAP-ELB-2",
        "A load balancer with a certificate redirects its HTTP listeners to HTTPS.",
        MANDATORY,
        "ELB.1",
        _http_redirects_when_certificate,
        controls=("FSBP ELB.1",),
    ),
    StackRule(
        "TAP-TRAIL-3",
        "The stack's trails are multi-region, and there is only one of them.",
        MANDATORY,
        "CloudTrail.1",
        _one_multi_region_trail,
        controls=("FSBP CloudTrail.1", "CIS 3.0 3.1"),
    ),
    StackRule(
        "TAP-TRAIL-4",
        "The stack defines a multi-region trail (advisory: an organization trail may cover "
        "the account instead).",
        ADVISORY,
        "CloudTrail.1",
        _has_multi_region_trail,
        controls=("FSBP CloudTrail.1", "CIS 3.0 3.1"),
    ),
    StackRule(
        "TAP-S3-4",
        "Every bucket's policy denies requests without TLS (aws:SecureTransport false).",
        MANDATORY,
        "S3.5",
        _bucket_companions(BUCKET_POLICY, "no bucket policy", _tls_only_problems),
        controls=("FSBP S3.5", "CIS 3.0 2.1.1"),
    ),
    StackRule(
        "TAP-S3-6",
        "Every bucket enforces bucket-owner object ownership (ACLs disabled).",
        MANDATORY,
        "S3.12",
        _bucket_companions(BUCKET_OWNERSHIP, "no ownership controls", _owner_enforced_problems),
        controls=("FSBP S3.12",),
    ),
    StackRule(
        "TAP-S3-7",
        "Every bucket has an enabled lifecycle rule.",
        MANDATORY,
        "S3.13",
        _bucket_companions(BUCKET_LIFECYCLE, "no lifecycle configuration", _lifecycle_problems),
        controls=("FSBP S3.13",),
    ),
    StackRule(
        "TAP-RDS-12",
        "No database sits in a subnet whose route table leads to an internet gateway.",
        MANDATORY,
        "RDS.46",
        _databases_off_public_subnets,
        controls=("FSBP RDS.46",),
    ),
    StackRule(
        "TAP-CF-4",
        "Every CloudFront distribution delivers access logs.",
        MANDATORY,
        "CloudFront.5",
        _distribution_access_logs,
        controls=("FSBP CloudFront.5",),
    ),
    StackRule(
        "TAP-WAF-3",
        "Every web ACL logs the requests it judges.",
        MANDATORY,
        None,
        _web_acls_log,
        controls=("NIST WAF.11",),
    ),
    StackRule(
        "TAP-CIS-1",
        "The multi-region trail's log group has a metric filter and an alarm with an action "
        "for each CIS monitoring recommendation 4.1 to 4.14.",
        MANDATORY,
        None,
        _cis_monitoring,
        controls=tuple(f"CIS 3.0 {c.id}" for c in CIS_MONITORING),
    ),
    StackRule(
        "TAP-DNS-1",
        "Production public hosted zones log DNS queries.",
        MANDATORY,
        "Route53.2",
        _production_zones_log_queries,
        controls=("FSBP Route53.2",),
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
