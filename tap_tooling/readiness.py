"""Deploy-readiness rules: AWS's own constraints on what TAP creates, checked offline.

Pulumi's mocks accept any input; AWS does not. Like tflint's AWS ruleset does for Terraform,
each rule here encodes one thing the AWS API (or the provider in front of it) refuses, or a
setting AWS accepts but that can never do what it says (a grant that never applies, a
lifecycle that pays an early-deletion charge on every object). Each rule cites the document it
comes from (`source`), and runs in `deploy.py plan` (a mandatory violation exits 1) and in the
CrossGuard pack, next to the policy rules of `tap_tooling.rules`, over the same `Resource`
views with the engine's camelCase input names.

A value unknown at plan time (absent from the properties, or not a string where a name is
expected) is not judged: these rules check what the program says, not what AWS computes.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tap_tooling import graph, rules
from tap_tooling.rules import (
    MANDATORY,
    Context,
    Finding,
    PrefixList,
    PropsCheck,
    Resource,
    ResourceRule,
    StackIndex,
    StackRule,
    as_number,
    blocks,
    get_path,
    is_true,
    points_to,
)

# Resource type tokens (pulumi-aws v7) not already named in tap_tooling.rules.
SG_EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
S3_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
KMS_ALIAS = "aws:kms/alias:Alias"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
IAM_INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ZONE = "aws:route53/zone:Zone"
RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
CERTIFICATE = "aws:acm/certificate:Certificate"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
LOG_DELIVERY_DESTINATION = "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
SECRET = "aws:secretsmanager/secret:Secret"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
RESPONSE_HEADERS_POLICY = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"


def _source(title: str, url: str) -> str:
    return f"{title} <{url}>"


# The documents the rules cite (title, then address).
SRC_SG = _source(
    "Amazon EC2 API Reference, CreateSecurityGroup (GroupName, GroupDescription) and IpRange/"
    "Ipv6Range/PrefixListId (Description)",
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
)
SRC_RUN_INSTANCES = _source(
    "pulumi-aws issue #2506, 'Network interfaces and an instance-level security groups may not "
    "be specified on the same request' (RunInstances InvalidParameterCombination)",
    "https://github.com/pulumi/pulumi-aws/issues/2506",
)
SRC_LAUNCH_TEMPLATE = _source(
    "AWS CloudFormation, AWS::EC2::LaunchTemplate LaunchTemplateData.NetworkInterfaces: 'If you "
    "specify a network interface, you must specify any security groups and subnets as part of "
    "the network interface'",
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
    "aws-properties-ec2-launchtemplate-launchtemplatedata.html",
)
SRC_LAUNCH_TEMPLATE_NAME = _source(
    "Amazon EC2 API Reference, CreateLaunchTemplate (LaunchTemplateName: 3-128, "
    "[a-zA-Z0-9().-/_]+)",
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html",
)
SRC_VPC_QUOTAS = _source(
    "Amazon VPC User Guide, Amazon VPC quotas (security groups: 60 inbound and 60 outbound "
    "rules per group, 5 groups per network interface, product at most 1,000) and 'AWS-managed "
    "prefix lists' (weights: CloudFront origin-facing 55, Route 53 health checks 25)",
    "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
)
SRC_RDS_IDENTIFIERS = _source(
    "Amazon RDS API Reference, CreateDBInstance (DBInstanceIdentifier), DeleteDBInstance "
    "(FinalDBSnapshotIdentifier), CreateDBParameterGroup, CreateDBSubnetGroup",
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
)
SRC_RDS_SECRETS = _source(
    "Amazon RDS User Guide, 'Limitations for Secrets Manager integration with Amazon RDS' "
    "(no read replica of a source that manages its master password, every engine but SQL "
    "Server); Aurora User Guide, same section (no global database, no cross-Region replica)",
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html"
    "#rds-secrets-manager-limitations",
)
SRC_RDS_MASTER = _source(
    "Amazon RDS API Reference, CreateDBInstance (MasterUsername; MasterUserPassword: printable "
    "ASCII except '/', '\"', '@' and space; PostgreSQL 8-128, MySQL/MariaDB 8-41; not with "
    "ManageMasterUserPassword)",
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
)
SRC_S3_NAMES = _source(
    "Amazon S3 User Guide, 'General purpose bucket naming rules'",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
)
SRC_S3_LIFECYCLE = _source(
    "Amazon S3 User Guide, 'Transitioning objects using Amazon S3 Lifecycle' (constraints and "
    "considerations: Standard-IA/One Zone-IA only after 30 days; minimum storage durations "
    "30/90/90/180 days, early deletion charged pro rata) and S3 API Reference, Transition",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
    "lifecycle-transition-general-considerations.html",
)
SRC_ELB_NAMES = _source(
    "Elastic Load Balancing API Reference, CreateLoadBalancer and CreateTargetGroup (Name: at "
    "most 32 alphanumeric characters or hyphens, not beginning or ending with a hyphen, not "
    "beginning with 'internal-')",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
    "API_CreateLoadBalancer.html",
)
SRC_ELB_HEADER = _source(
    "Elastic Load Balancing API Reference, HttpHeaderConditionConfig (HttpHeaderName at most 40 "
    "RFC 7230 token characters; Values at most 128 characters, '*' and '?' are wildcards); "
    "ALB User Guide, listener rules quotas (5 condition values per rule)",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
    "API_HttpHeaderConditionConfig.html",
)
SRC_ELB_PRIORITY = _source(
    "Elastic Load Balancing API Reference, CreateRule (Priority 1-50000, unique per listener: "
    "PriorityInUse)",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html",
)
SRC_LOG_GROUP = _source(
    "Amazon CloudWatch Logs API Reference, CreateLogGroup (logGroupName 1-512 of "
    "[.\\-_/#A-Za-z0-9]) and PutRetentionPolicy (retentionInDays valid values)",
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
)
SRC_LOG_DELIVERY = _source(
    "Amazon CloudWatch Logs API Reference, PutDeliverySource and PutDeliveryDestination (name "
    "1-60 of [\\w-])",
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/"
    "API_PutDeliverySource.html",
)
SRC_KMS_ALIAS = _source(
    "AWS KMS Developer Guide, 'Create aliases' (1-256 of alphanumerics, '/', '_', '-'; prefix "
    "alias/; alias/aws/ is reserved for AWS managed keys)",
    "https://docs.aws.amazon.com/kms/latest/developerguide/alias-create.html",
)
SRC_KMS_CONTEXT = _source(
    "AWS KMS Developer Guide, 'AWS KMS condition keys', kms:EncryptionContext:context-key "
    "(only cryptographic operations with a symmetric key and CreateGrant carry an encryption "
    "context; a condition on it never matches any other request)",
    "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"
    "#conditions-kms-encryption-context",
)
SRC_SNS = _source(
    "Amazon SNS API Reference, CreateTopic (Name: 1-256 of [A-Za-z0-9_-]; FIFO topics end in "
    ".fifo)",
    "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
)
SRC_IAM = _source(
    "IAM API Reference, CreateRole / CreateInstanceProfile / CreatePolicy (names [\\w+=,.@-], "
    "64/128 characters; role Description at most 1000 of tab, newline and Latin-1 printable)",
    "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
)
SRC_RESERVED_DNS = _source(
    "RFC 2606 'Reserved Top Level DNS Names' and RFC 6761 'Special-Use Domain Names' "
    "(example.com/.net/.org, .example, .test, .invalid, .localhost; .local per RFC 6762); "
    "Route 53 refuses them: InvalidDomainName",
    "https://www.rfc-editor.org/rfc/rfc6761",
)
SRC_DNS_OWNER = _source(
    "Amazon Route 53 API Reference, ChangeResourceRecordSets (one record set per name, type "
    "and set identifier; CREATE of an existing one fails, UPSERT overwrites it; a CNAME cannot "
    "coexist with other records of its name, RFC 1034 3.6.2)",
    "https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html",
)
SRC_DNS_NAMES = _source(
    "Amazon Route 53 Developer Guide, 'DNS domain name format' (labels at most 63 octets, "
    "names at most 255) and CreateHealthCheck (FullyQualifiedDomainName and ResourcePath at "
    "most 255)",
    "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html",
)
SRC_ACM = _source(
    "AWS Certificate Manager API Reference, RequestCertificate (DomainName: first name at most "
    "64 octets; 10 domain names per certificate by default)",
    "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html",
)
SRC_CLOUDFRONT_HEADERS = _source(
    "Amazon CloudFront Developer Guide, 'Add custom headers to origin requests' (custom headers "
    "that CloudFront can't add) and Quotas (10 custom headers per origin; name 256, value "
    "1,783 characters)",
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
    "add-origin-custom-headers.html",
)
SRC_WAF = _source(
    "AWS WAF API Reference, CreateWebACL (Name 1-128 of [\\w-]; Description pattern; "
    "VisibilityConfig.MetricName 1-255 of [\\w#:.\\-/], not 'All' or 'Default_Action')",
    "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html",
)
SRC_REGIONS = _source(
    "Amazon CloudFront Developer Guide, 'Requirements for using SSL/TLS certificates with "
    "CloudFront' (ACM certificates in us-east-1), AWS WAF Developer Guide (CLOUDFRONT scope "
    "in us-east-1), Amazon RDS User Guide 'Creating a read replica in a different AWS Region'",
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
    "cnames-and-https-requirements.html",
)
SRC_SSM = _source(
    "AWS Systems Manager User Guide, 'Parameter Store: naming constraints' (a-zA-Z0-9_.-/; no "
    "aws or ssm prefix; at most 1011 characters and 15 levels)",
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html",
)
SRC_SECRETS = _source(
    "AWS Secrets Manager API Reference, CreateSecret (Name 1-512 of [A-Za-z0-9/_+=.@-]) and "
    "DeleteSecret (RecoveryWindowInDays 7-30)",
    "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
)
SRC_TRAIL = _source(
    "AWS CloudTrail API Reference, CreateTrail (Name: 3-128, letters, numbers, '.', '_', '-'; "
    "starts and ends with a letter or number; no adjacent '.', '_', '-'; not an IP address)",
    "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html",
)
SRC_CLOUDWATCH = _source(
    "Amazon CloudWatch API Reference, PutMetricAlarm (AlarmName 1-255) and PutDashboard "
    "(DashboardName: A-Z, a-z, 0-9, '-', '_', at most 255)",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
)

SRC_WAF_LOGGING = _source(
    "AWS WAF Developer Guide, logging destinations 'Amazon CloudWatch Logs', 'Amazon S3' and "
    "'Amazon Data Firehose' (the destination's name must start with aws-waf-logs-; a log group "
    "in the web ACL's Region and account: us-east-1 for CloudFront) and API Reference, "
    "LoggingConfiguration",
    "https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html",
)
SRC_WAF_RATE = _source(
    "AWS WAF API Reference, RateBasedStatement (Limit 10 to 2,000,000,000; EvaluationWindowSec "
    "60, 120, 300 or 600) and Developer Guide, 'Rate-based rule high-level settings'",
    "https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html",
)
SRC_HSTS = _source(
    "RFC 6797 (HTTP Strict Transport Security) 6.1.1-6.1.2 and the HSTS preload list's "
    "submission requirements (max-age at least 31536000 seconds, includeSubDomains); CloudFront "
    "API Reference, ResponseHeadersPolicyStrictTransportSecurity",
    "https://hstspreload.org/#submission-requirements",
)


# ---------------------------------------------------------------------------------------------
# Names and descriptions: one declarative check per (property, constraint)


@dataclass(frozen=True)
class Shape:
    """What AWS accepts for one string property."""

    path: str
    """Dotted property path; `[]` after a key means "each block of that list"."""
    pattern: str
    """Characters and structure AWS accepts (full match)."""
    max_len: int
    min_len: int = 1
    shown: str = ""
    """The accepted characters as AWS documents them, for the message."""
    refuse: tuple[tuple[str, str], ...] = ()
    """(regex searched in the value, why AWS refuses it)."""
    chars: str = ""
    """A character class of the accepted characters, to name the refused ones."""


def _values_at(props: Mapping[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for a path whose `key[]` segments fan out over list blocks."""
    head, sep, rest = path.partition("[].")
    if not sep:
        if path.endswith("[]"):
            key = path[:-2]
            for i, item in enumerate(_as_list(get_path(props, key))):
                yield f"{key}[{i}]", item
            return
        yield path, get_path(props, path)
        return
    for i, block in enumerate(_as_list(get_path(props, head))):
        if isinstance(block, Mapping):
            for sub, value in _values_at(block, rest):
                yield f"{head}[{i}].{sub}", value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _shape_problems(shape: Shape, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for where, value in _values_at(props, shape.path):
        if not isinstance(value, str):
            continue
        if not shape.min_len <= len(value) <= shape.max_len:
            problems.append(
                f"{where} {value!r} is {len(value)} characters; AWS allows "
                f"{shape.min_len}-{shape.max_len}"
            )
        if not re.fullmatch(shape.pattern, value, flags=re.DOTALL):
            allowed = f" (allowed: {shape.shown})" if shape.shown else ""
            bad = sorted({c for c in value if shape.chars and not re.fullmatch(shape.chars, c)})
            detail = f": {''.join(bad)!r} not accepted" if bad else ""
            problems.append(f"{where} {value!r} does not match what AWS accepts{detail}{allowed}")
        problems += [
            f"{where} {value!r}: {why}"
            for regex, why in shape.refuse
            if re.search(regex, value, flags=re.IGNORECASE)
        ]
    return problems


def _shapes(*shapes: Shape) -> PropsCheck:
    def check(props: Mapping[str, Any], _c: Context) -> list[str]:
        return [p for shape in shapes for p in _shape_problems(shape, props)]

    return check


# EC2 security groups: names and descriptions (also rule descriptions).
_SG_CHARS = r"[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]"
_SG_SHOWN = "a-z A-Z 0-9 space . _ - : / ( ) # , @ [ ] + = & ; { } ! $ *"
SG_DESCRIPTION = Shape("description", f"{_SG_CHARS}*", 255, 0, _SG_SHOWN, chars=_SG_CHARS)
SG_NAME = Shape(
    "name",
    f"{_SG_CHARS}+",
    255,
    1,
    _SG_SHOWN,
    (("^sg-", "names cannot start with 'sg-'"),),
    chars=_SG_CHARS,
)
SG_RULE_DESCRIPTIONS = tuple(
    Shape(f"{key}[].description", f"{_SG_CHARS}*", 255, 0, _SG_SHOWN, chars=_SG_CHARS)
    for key in ("ingress", "egress")
)

# RDS identifiers: a letter first, letters/digits/hyphens, no '--', no trailing '-'.
_RDS_REFUSE = (
    ("--", "AWS refuses two consecutive hyphens"),
    ("-$", "AWS refuses a trailing hyphen"),
)


def _rds_identifier(path: str, max_len: int) -> Shape:
    return Shape(
        path, r"[A-Za-z][A-Za-z0-9-]*", max_len, 1, "a letter, then letters, digits, '-'",
        _RDS_REFUSE,
    )  # fmt: skip


# S3 general purpose buckets.
S3_BUCKET_NAME = Shape(
    "bucket",
    r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
    63,
    3,
    "lowercase letters, digits, '.', '-'; a letter or digit at both ends",
    (
        (r"\.\.", "AWS refuses two adjacent periods"),
        (r"^\d+\.\d+\.\d+\.\d+$", "AWS refuses names formatted as an IP address"),
        (r"^(xn--|sthree-|amzn-s3-demo-)", "AWS reserves this prefix"),
        (r"(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$", "AWS reserves this suffix"),
    ),
)

# ALB and target group names.
_ELB_NAME = Shape(
    "name",
    r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?",
    32,
    1,
    "letters, digits, '-', not '-' at either end",
)
ALB_NAME = Shape(
    _ELB_NAME.path,
    _ELB_NAME.pattern,
    32,
    1,
    _ELB_NAME.shown,
    (("^internal-", "load balancer names cannot start with 'internal-'"),),
)

LOG_GROUP_NAME = Shape("name", r"[.\-_/#A-Za-z0-9]+", 512, 1, "A-Z a-z 0-9 . - _ / #")
LOG_DELIVERY_NAME = Shape("name", r"[\w-]+", 60, 1, "letters, digits, '_', '-'")
KMS_ALIAS_NAME = Shape(
    "name",
    r"alias/[a-zA-Z0-9/_-]+",
    256,
    7,
    "'alias/' then letters, digits, '/', '_', '-'",
    (("^alias/aws/", "alias/aws/ is reserved for AWS managed keys"),),
)
IAM_ROLE_NAME = Shape("name", r"[\w+=,.@-]+", 64, 1, "letters, digits, + = , . @ _ -")
IAM_PROFILE_NAME = Shape("name", r"[\w+=,.@-]+", 128, 1, "letters, digits, + = , . @ _ -")
IAM_ROLE_DESCRIPTION = Shape(
    "description", r"[\t\n\r\x20-\x7e\xa1-\xff]*", 1000, 0, "tab, newline, Latin-1 printable"
)
IAM_ROLE_PATH = Shape("path", r"/(?:[\x21-\x7e]*/)?", 512, 1, "/ or /path/ of printable ASCII")
SSM_NAME = Shape(
    "name",
    r"[a-zA-Z0-9_./-]+",
    1011,
    1,
    "a-z A-Z 0-9 _ . - /",
    (
        (r"^/?(aws|ssm)", "names cannot begin with 'aws' or 'ssm' (any case)"),
        (r"^(?:/[^/]*){16,}$", "at most 15 hierarchy levels"),
    ),
)
SECRET_NAME = Shape("name", r"[A-Za-z0-9/_+=.@-]+", 512, 1, "A-Z a-z 0-9 / _ + = . @ -")
TRAIL_NAME = Shape(
    "name",
    r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?",
    128,
    3,
    "letters, digits, '.', '_', '-'; a letter or digit at both ends",
    (
        (r"[._-]{2}", "AWS refuses adjacent '.', '_' or '-'"),
        (r"^\d+\.\d+\.\d+\.\d+$", "AWS refuses names formatted as an IP address"),
    ),
)
WAF_NAME = Shape("name", r"[\w-]+", 128, 1, "letters, digits, '_', '-'")
WAF_DESCRIPTION = Shape(
    "description",
    r"[\w+=:#@/\-,.][\w+=:#@/\-,.\s]*[\w+=:#@/\-,.]|[\w+=:#@/\-,.]",
    256,
    1,
    "letters, digits, whitespace, + = : # @ / - , .",
)
_METRIC_REFUSE = (("^(All|Default_Action)$", "reserved metric name"),)
WAF_METRICS = (
    Shape("visibilityConfig.metricName", r"[\w#:.\-/]+", 255, 1, r"\w # : . - /", _METRIC_REFUSE),
    Shape(
        "rules[].visibilityConfig.metricName", r"[\w#:.\-/]+", 255, 1, r"\w # : . - /",
        _METRIC_REFUSE,
    ),
)  # fmt: skip
LAUNCH_TEMPLATE_NAME = Shape("name", r"[a-zA-Z0-9().\-/_]+", 128, 3, "a-z A-Z 0-9 ( ) . - / _")
DASHBOARD_NAME = Shape("dashboardName", r"[A-Za-z0-9_-]+", 255, 1, "A-Z a-z 0-9 - _")
ALARM_NAME = Shape("name", r"[^\x00-\x1f\x7f]+", 255, 1, "printable characters")
CLOUDFRONT_COMMENT = Shape("comment", r".*", 128, 0)


def _sns_name(props: Mapping[str, Any], context: Context) -> list[str]:
    name = props.get("name")
    if not isinstance(name, str):
        return []
    fifo = is_true(props.get("fifoTopic"))
    base = name.removesuffix(".fifo") if fifo else name
    problems = _shape_problems(
        Shape("name", r"[A-Za-z0-9_-]+", 256 - (5 if fifo else 0), 1, "A-Z a-z 0-9 _ -"),
        {"name": base},
    )
    if fifo and not name.endswith(".fifo"):
        problems.append(f"name {name!r}: a FIFO topic's name must end in '.fifo'")
    return problems


# ---------------------------------------------------------------------------------------------
# RDS


def _rds_master(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    username = props.get("username")
    if isinstance(username, str) and not props.get("replicateSourceDb"):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", username):
            problems.append(
                f"username {username!r}: 1-63 letters, digits or '_', beginning with a letter"
            )
        if username.lower() in _RDS_RESERVED_USERNAMES:
            problems.append(f"username {username!r} is reserved by the engine or RDS")
    engine = str(props.get("engine") or "")
    low, high = (8, 41) if engine in ("mysql", "mariadb") else (8, 128)
    for key in ("password", "passwordWo"):
        password = props.get(key)
        if not isinstance(password, str):
            continue
        if is_true(props.get("manageMasterUserPassword")):
            problems.append(f"{key} is set while manageMasterUserPassword is true")
        if not low <= len(password) <= high:
            problems.append(f"{key} is {len(password)} characters; {engine} allows {low}-{high}")
        refused = sorted({c for c in password if not ("!" <= c <= "~") or c in '/"@'})
        if refused:
            shown = ", ".join("space" if c == " " else repr(c) for c in refused)
            problems.append(f"{key} holds characters RDS refuses ({shown})")
    return problems


_RDS_RESERVED_USERNAMES = frozenset(
    {"postgres", "rdsadmin", "rdsrepladmin", "rds_superuser", "admin", "root", "user", "select"}
)


def _replicas_of_managed_sources(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    instances = index.of(rules.RDS_INSTANCE)
    for replica in instances:
        if not replica.props.get("replicateSourceDb"):
            continue
        for source in instances:
            if source is replica or not points_to(replica, "replicateSourceDb", source):
                continue
            if is_true(source.props.get("manageMasterUserPassword")):
                findings.append(
                    (
                        replica,
                        f"replicates {source.name}, which manages its master password in "
                        "Secrets Manager: RDS cannot create this replica",
                    )
                )
    return findings


def _aurora_managed_password(props: Mapping[str, Any], _c: Context) -> list[str]:
    if not is_true(props.get("manageMasterUserPassword")):
        return []
    return [
        f"manageMasterUserPassword with {key} (Aurora supports neither together)"
        for key in ("globalClusterIdentifier", "replicationSourceIdentifier")
        if props.get(key)
    ]


# ---------------------------------------------------------------------------------------------
# S3 lifecycle

# Minimum storage duration (days) of each storage class; deleting or transitioning an object
# sooner is charged as if it had stayed that long.
MIN_STORAGE_DAYS: Mapping[str, int] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "GLACIER_IR": 90,
    "GLACIER": 90,
    "DEEP_ARCHIVE": 180,
}
IA_CLASSES = ("STANDARD_IA", "ONEZONE_IA")
MIN_DAYS_BEFORE_IA = 30


def _lifecycle(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for i, rule in enumerate(blocks(props, "rules")):
        if str(rule.get("status", "Enabled")) != "Enabled":
            continue
        label = f"rules[{i}] ({rule.get('id', '?')})"
        steps = sorted(
            (
                (as_number(t.get("days"), -1), str(t.get("storageClass", "")))
                for t in blocks(rule, "transitions")
                if t.get("days") is not None
            ),
        )
        for days, storage in steps:
            if storage in IA_CLASSES and days < MIN_DAYS_BEFORE_IA:
                problems.append(
                    f"{label}: transition to {storage} at day {days:g}; S3 requires at least "
                    f"{MIN_DAYS_BEFORE_IA} days in the previous class"
                )
        for (days, storage), (later, target) in itertools.pairwise(steps):
            minimum = MIN_STORAGE_DAYS.get(storage, 0)
            if later - days < minimum:
                problems.append(
                    f"{label}: objects leave {storage} for {target} after {later - days:g} days; "
                    f"{storage} bills {minimum} days minimum (early-deletion charge on every "
                    "object)"
                )
        expiration = get_path(rule, "expiration.days")
        if steps and expiration is not None:
            days, storage = steps[-1]
            minimum = MIN_STORAGE_DAYS.get(storage, 0)
            left = as_number(expiration) - days
            if left < minimum:
                problems.append(
                    f"{label}: objects expire {left:g} days after moving to {storage} (day "
                    f"{days:g}, expiration day {as_number(expiration):g}); {storage} bills "
                    f"{minimum} days minimum (early-deletion charge on every object)"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# Load balancers

# RFC 7230 token characters.
_HEADER_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
MAX_CONDITION_VALUES = 5


def _listener_rule_conditions(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    total = 0
    for i, condition in enumerate(blocks(props, "conditions")):
        for block in condition.values():
            if isinstance(block, Mapping):
                total += len(_as_list(block.get("values")))
        header = condition.get("httpHeader")
        if not isinstance(header, Mapping):
            continue
        name = header.get("httpHeaderName")
        if isinstance(name, str):
            if len(name) > 40 or not re.fullmatch(_HEADER_TOKEN, name):
                problems.append(
                    f"conditions[{i}].httpHeader.httpHeaderName {name!r}: at most 40 RFC 7230 "
                    "token characters"
                )
            if name.lower() == "host":
                problems.append(f"conditions[{i}]: use a hostHeader condition for Host")
        for j, value in enumerate(_as_list(header.get("values"))):
            if not isinstance(value, str):
                continue
            where = f"conditions[{i}].httpHeader.values[{j}]"
            if len(value) > 128:
                problems.append(f"{where} is {len(value)} characters; AWS allows 128")
            if "*" in value or "?" in value:
                problems.append(
                    f"{where} holds '*' or '?', which the ALB treats as wildcards: the rule "
                    "matches more than this exact value"
                )
    if total > MAX_CONDITION_VALUES:
        problems.append(f"{total} condition values; a rule holds {MAX_CONDITION_VALUES}")
    return problems


def _unique_priorities(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[tuple[str, int], Resource] = {}
    for rule in sorted(index.of(LISTENER_RULE), key=lambda r: r.name):
        priority = rule.props.get("priority")
        listener = rule.props.get("listenerArn")
        if priority is None:
            continue
        value = int(as_number(priority))
        if not 1 <= value <= 50000:
            findings.append((rule, f"priority {value} outside 1-50000"))
        if not isinstance(listener, str):
            continue
        first = seen.setdefault((listener, value), rule)
        if first is not rule:
            findings.append(
                (rule, f"priority {value} already used by {first.name} (PriorityInUse)")
            )
    return findings


# ---------------------------------------------------------------------------------------------
# CloudWatch Logs

LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip


def _retention_value(props: Mapping[str, Any], _c: Context) -> list[str]:
    days = props.get("retentionInDays")
    if days is None or as_number(days) == 0 or int(as_number(days)) in LOG_RETENTION_DAYS:
        return []
    return [f"retentionInDays {as_number(days):g} is not a value CloudWatch Logs accepts"]


# ---------------------------------------------------------------------------------------------
# KMS key policies

# Operations whose requests can carry an encryption context (kms:EncryptionContext:* and
# kms:EncryptionContextKeys apply to them only).
CONTEXT_OPERATIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:CreateGrant",
    "kms:RetireGrant",
)


def _context_condition(statement: Mapping[str, Any]) -> str | None:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return None
    for operator in condition.values():
        if isinstance(operator, Mapping):
            for key in operator:
                if str(key).lower().startswith("kms:encryptioncontext"):
                    return str(key)
    return None


def _policy_statements(policy: Any) -> list[Mapping[str, Any]]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
    statements = policy.get("Statement") if isinstance(policy, Mapping) else None
    if isinstance(statements, Mapping):
        statements = [statements]
    return [s for s in statements or [] if isinstance(s, Mapping)]


def _context_grants(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for i, statement in enumerate(_policy_statements(props.get("policy"))):
        key = _context_condition(statement)
        if key is None or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        for action in actions if isinstance(actions, list) else [actions]:
            if not isinstance(action, str):
                continue
            covered = [op for op in CONTEXT_OPERATIONS if fnmatch.fnmatchcase(op, action)]
            if not covered:
                problems.append(
                    f"statement {statement.get('Sid', i)!r} allows {action} only under {key}, "
                    "which that request never carries: the grant never applies"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# DNS

RESERVED_DOMAINS = (
    "example.com",
    "example.net",
    "example.org",
    "example",
    "test",
    "invalid",
    "localhost",
    "local",
)


def reserved_domain(name: str) -> str | None:
    """The reserved or special-use domain `name` sits in (RFC 2606, 6761, 6762), or None."""
    labels = name.lower().rstrip(".").removeprefix("*.")
    for domain in RESERVED_DOMAINS:
        if labels == domain or labels.endswith(f".{domain}"):
            return domain
    return None


def _reserved(*paths: str) -> PropsCheck:
    def check(props: Mapping[str, Any], _c: Context) -> list[str]:
        problems = []
        for path in paths:
            for where, value in _values_at(props, path):
                if isinstance(value, str) and (domain := reserved_domain(value)):
                    problems.append(f"{where} {value!r} is under the reserved domain {domain}")
        return problems

    return check


def _dns_name_problems(where: str, name: str) -> list[str]:
    text = name.rstrip(".")
    problems = []
    if len(text) > 253:
        problems.append(f"{where} {name!r} is {len(text)} characters; DNS allows 253")
    long_labels = [label for label in text.split(".") if len(label) > 63]
    if long_labels:
        problems.append(f"{where} {name!r} has a label over 63 characters")
    if "" in text.split("."):
        problems.append(f"{where} {name!r} has an empty label")
    return problems


def _dns_names(*paths: str, limits: Mapping[str, int] | None = None) -> PropsCheck:
    def check(props: Mapping[str, Any], _c: Context) -> list[str]:
        problems = []
        for path in paths:
            for where, value in _values_at(props, path):
                if isinstance(value, str):
                    problems += _dns_name_problems(where, value)
        for path, limit in (limits or {}).items():
            value = get_path(props, path)
            if isinstance(value, str) and len(value) > limit:
                problems.append(f"{path} is {len(value)} characters; AWS allows {limit}")
        return problems

    return check


def _record_key(record: Resource) -> tuple[str, str]:
    zone = record.props.get("zoneId")
    name = str(record.props.get("name") or "").lower().rstrip(".")
    return (str(zone) if isinstance(zone, str) else "?", name)


def _one_owner_per_record(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    by_name: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for record in sorted(index.of(RECORD), key=lambda r: r.name):
        by_name[_record_key(record)].append(record)
        if is_true(record.props.get("allowOverwrite")):
            findings.append(
                (
                    record,
                    "allowOverwrite is true: the record takes over whatever another writer "
                    "created under this name (and deletes it on destroy)",
                )
            )
    for (_zone, name), records in by_name.items():
        owners: dict[tuple[str, str], Resource] = {}
        for record in records:
            key = (str(record.props.get("type", "")), str(record.props.get("setIdentifier") or ""))
            first = owners.setdefault(key, record)
            if first is not record:
                findings.append(
                    (record, f"{key[0]} {name} is also written by {first.name}: two owners")
                )
        types = {str(r.props.get("type", "")) for r in records}
        if "CNAME" in types and len(types) > 1:
            findings.append(
                (records[0], f"a CNAME at {name} next to {sorted(types - {'CNAME'})} records")
            )
    return findings


def _acm(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    domain = props.get("domainName")
    if isinstance(domain, str) and len(domain.rstrip(".")) > 64:
        problems.append(f"domainName {domain!r} is over 64 octets (ACM refuses)")
    sans = _as_list(props.get("subjectAlternativeNames"))
    names = {n for n in [domain, *sans] if isinstance(n, str)}
    if len(names) > 10:
        problems.append(f"{len(names)} domain names; ACM allows 10 per certificate by default")
    return problems


def _secret(props: Mapping[str, Any], context: Context) -> list[str]:
    problems = _shapes(SECRET_NAME)(props, context)
    window = props.get("recoveryWindowInDays")
    if window is not None and as_number(window) not in (0, *range(7, 31)):
        problems.append(f"recoveryWindowInDays {as_number(window):g}: AWS takes 0 or 7-30")
    return problems


# ---------------------------------------------------------------------------------------------
# CloudFront

CLOUDFRONT_REFUSED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Cache-Control", "Connection", "Content-Length", "Cookie", "Host", "If-Match",
        "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Max-Forwards",
        "Pragma", "Proxy-Authorization", "Proxy-Connection", "Range", "Request-Range", "TE",
        "Trailer", "Transfer-Encoding", "Upgrade", "Via", "X-Real-Ip",
    )
)  # fmt: skip
CLOUDFRONT_REFUSED_PREFIXES = ("x-amz-", "x-edge-")


def _origin_headers(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for i, origin in enumerate(blocks(props, "origins")):
        headers = blocks(origin, "customHeaders")
        if len(headers) > 10:
            problems.append(f"origins[{i}] has {len(headers)} custom headers; CloudFront allows 10")
        for j, header in enumerate(headers):
            name, value = header.get("name"), header.get("value")
            where = f"origins[{i}].customHeaders[{j}]"
            if isinstance(name, str):
                lowered = name.lower()
                if lowered in CLOUDFRONT_REFUSED_HEADERS or lowered.startswith(
                    CLOUDFRONT_REFUSED_PREFIXES
                ):
                    problems.append(f"{where} {name!r} is a header CloudFront cannot add")
                if len(name) > 256 or not re.fullmatch(_HEADER_TOKEN, name):
                    problems.append(f"{where} name {name!r} is not a header name CloudFront takes")
            if isinstance(value, str) and len(value) > 1783:
                problems.append(f"{where} value is {len(value)} characters; CloudFront allows 1783")
    return problems


# ---------------------------------------------------------------------------------------------
# EC2: launch templates and instances


def _template_network(props: Mapping[str, Any], _c: Context) -> list[str]:
    if not blocks(props, "networkInterfaces"):
        return []
    return [
        f"{key} next to networkInterfaces: security groups go inside the network interface"
        for key in ("vpcSecurityGroupIds", "securityGroupNames")
        if _as_list(props.get(key))
    ]


_INSTANCE_NETWORK = (
    "subnetId",
    "associatePublicIpAddress",
    "vpcSecurityGroupIds",
    "securityGroups",
    "privateIp",
)


def _set(props: Mapping[str, Any], key: str) -> bool:
    value = props.get(key)
    return value not in (None, "", []) and value is not False


def _template_of(index: StackIndex, instance: Resource) -> Resource | None:
    for template in index.of(rules.LAUNCH_TEMPLATE):
        if points_to(instance, "launchTemplate.id", template) or points_to(
            instance, "launchTemplate.name", template
        ):
            return template
    return None


def _instance_vs_template(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    for instance in index.of(rules.EC2_INSTANCE):
        if not isinstance(instance.props.get("launchTemplate"), Mapping):
            continue
        template = _template_of(index, instance)
        if template is None:
            continue
        mine = [key for key in _INSTANCE_NETWORK if _set(instance.props, key)]
        if blocks(template.props, "networkInterfaces") and mine:
            findings.append(
                (
                    instance,
                    f"sets {', '.join(mine)} while launch template {template.name} sets "
                    "networkInterfaces (InvalidParameterCombination)",
                )
            )
            continue
        template_groups = [
            k for k in ("vpcSecurityGroupIds", "securityGroupNames") if _set(template.props, k)
        ]
        placement = [k for k in ("subnetId", "associatePublicIpAddress") if _set(instance.props, k)]
        if template_groups and placement:
            findings.append(
                (
                    instance,
                    f"sets {', '.join(placement)} while launch template {template.name} sets "
                    f"{', '.join(template_groups)}: the provider sends a network interface "
                    "next to instance-level security groups (InvalidParameterCombination)",
                )
            )
    return findings


# ---------------------------------------------------------------------------------------------
# Security group quotas

RULES_PER_GROUP = 60
"""Default quota of inbound (and, separately, outbound) rules per security group, per family."""
GROUPS_PER_INTERFACE = 5
"""Default quota of security groups per network interface."""
RULES_PER_INTERFACE = 1000
"""AWS caps rules per group x groups per interface at 1,000."""
assert RULES_PER_GROUP * GROUPS_PER_INTERFACE <= RULES_PER_INTERFACE

# AWS-managed prefix lists and the weight each reference counts against a group's rule quota
# (Amazon VPC User Guide, "AWS-managed prefix lists"). `{region}` matches any region.
MANAGED_PREFIX_LIST_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("com.amazonaws.global.cloudfront.origin-facing", 55),
    ("com.amazonaws.global.ipv6.cloudfront.origin-facing", 55),
    ("com.amazonaws.{region}.route53-healthchecks", 25),
    ("com.amazonaws.{region}.ipv6.route53-healthchecks", 25),
    ("com.amazonaws.{region}.ec2-instance-connect", 2),
    ("com.amazonaws.{region}.ipv6.ec2-instance-connect", 2),
    ("com.amazonaws.{region}.s3", 1),
    ("com.amazonaws.{region}.s3express", 6),
    ("com.amazonaws.{region}.dynamodb", 1),
    ("com.amazonaws.{region}.vpc-lattice", 10),
    ("com.amazonaws.{region}.ipv6.vpc-lattice", 10),
    ("com.amazonaws.global.groundstation", 5),
)


def managed_prefix_list_weight(name: str) -> int | None:
    """The documented weight of an AWS-managed prefix list, by name (None when unknown)."""
    for pattern, weight in MANAGED_PREFIX_LIST_WEIGHTS:
        regex = re.escape(pattern).replace(re.escape("{region}"), r"[a-z]{2}(-[a-z]+)+-\d")
        if re.fullmatch(regex, name):
            return weight
    return None


UNKNOWN_PREFIX_LIST = PrefixList(weight=1)
"""A list the plan did not look up (CrossGuard sees only its id) counts as one rule."""

Counts = dict[tuple[str, str], int]
"""(direction, family) -> rules counted against the quota."""


def _entries(props: Mapping[str, Any], direction: str, lists: Mapping[str, PrefixList]) -> Counts:
    """Quota units of one inline block or standalone rule, by (direction, family)."""
    counts: Counts = defaultdict(int)
    counts[(direction, "IPv4")] += len(_as_list(props.get("cidrBlocks")))
    counts[(direction, "IPv6")] += len(_as_list(props.get("ipv6CidrBlocks")))
    counts[(direction, "IPv4")] += 1 if props.get("cidrIpv4") else 0
    counts[(direction, "IPv6")] += 1 if props.get("cidrIpv6") else 0
    groups = _as_list(props.get("securityGroups")) + [
        props.get(k) for k in ("referencedSecurityGroupId", "sourceSecurityGroupId") if props.get(k)
    ]
    counts[(direction, "IPv4")] += len(groups) + (1 if is_true(props.get("self")) else 0)
    ids = _as_list(props.get("prefixListIds"))
    if props.get("prefixListId"):
        ids.append(props["prefixListId"])
    for pl in ids:
        known = lists.get(pl, UNKNOWN_PREFIX_LIST) if isinstance(pl, str) else UNKNOWN_PREFIX_LIST
        counts[(direction, known.family)] += known.weight
    return counts


def _add(total: Counts, more: Counts) -> None:
    for key, value in more.items():
        total[key] += value


def group_rule_counts(index: StackIndex, context: Context) -> dict[str, tuple[Resource, Counts]]:
    """{group urn or name: (group, rules counted per (direction, family))}."""
    lists = context.prefix_lists
    found: dict[str, tuple[Resource, Counts]] = {}
    standalone = [
        (rule, "ingress") for rule in index.of(rules.SG_INGRESS_RULE)
    ] + [(rule, "egress") for rule in index.of(SG_EGRESS_RULE)] + [
        (rule, str(rule.props.get("type", "ingress"))) for rule in index.of(rules.SG_LEGACY_RULE)
    ]  # fmt: skip
    for group in index.of(rules.SECURITY_GROUP):
        counts: Counts = defaultdict(int)
        for direction in ("ingress", "egress"):
            for block in blocks(group.props, direction):
                _add(counts, _entries(block, direction, lists))
        for rule, direction in standalone:
            if points_to(rule, "securityGroupId", group):
                _add(counts, _entries(rule.props, direction, lists))
        found[group.urn or group.name] = (group, counts)
    return found


def _rule_quota(index: StackIndex, context: Context) -> list[Finding]:
    findings: list[Finding] = []
    for group, counts in group_rule_counts(index, context).values():
        for (direction, family), count in sorted(counts.items()):
            if count > RULES_PER_GROUP:
                findings.append(
                    (
                        group,
                        f"{count} {family} {'inbound' if direction == 'ingress' else 'outbound'} "
                        f"rules (prefix lists counted at their weight); the quota is "
                        f"{RULES_PER_GROUP}",
                    )
                )
    return findings


_GROUP_USERS: Mapping[str, tuple[str, ...]] = {
    rules.LOAD_BALANCER: ("securityGroups",),
    rules.LAUNCH_TEMPLATE: ("vpcSecurityGroupIds",),
    rules.EC2_INSTANCE: ("vpcSecurityGroupIds",),
    rules.RDS_INSTANCE: ("vpcSecurityGroupIds",),
    rules.RDS_CLUSTER: ("vpcSecurityGroupIds",),
    VPC_ENDPOINT: ("securityGroupIds",),
}


def _interface_quota(index: StackIndex, context: Context) -> list[Finding]:
    findings: list[Finding] = []
    counted = group_rule_counts(index, context)
    for type_, paths in _GROUP_USERS.items():
        for user in index.of(type_):
            attached = [
                (group, counts)
                for group, counts in counted.values()
                if any(points_to(user, path, group) for path in paths)
            ]
            listed = max(len(_as_list(user.props.get(p))) for p in paths)
            if max(listed, len(attached)) > GROUPS_PER_INTERFACE:
                findings.append(
                    (
                        user,
                        f"{max(listed, len(attached))} security groups on one network "
                        f"interface; the quota is {GROUPS_PER_INTERFACE}",
                    )
                )
            total: Counts = defaultdict(int)
            for _group, counts in attached:
                _add(total, counts)
            for (direction, family), count in sorted(total.items()):
                if count > RULES_PER_INTERFACE:
                    findings.append(
                        (
                            user,
                            f"{count} {family} {direction} rules across its groups; one "
                            f"interface takes {RULES_PER_INTERFACE}",
                        )
                    )
    return findings


# ---------------------------------------------------------------------------------------------
# Cross-region references

ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)")
GLOBAL_SERVICE_REGION = "us-east-1"
"""Where CloudFront's certificates, CLOUDFRONT-scope web ACLs and log sources must live."""

# (resource type, top-level property) where AWS requires or allows another region's ARN.
CROSS_REGION_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        # A cross-Region read replica names its source by ARN.
        (rules.RDS_INSTANCE, "replicateSourceDb"),
        (rules.RDS_CLUSTER, "replicationSourceIdentifier"),
        ("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
         "sourceDbInstanceArn"),
        # A replica key points at its primary; a secret's replicas name their regions' keys.
        ("aws:kms/replicaKey:ReplicaKey", "primaryKeyArn"),
        (SECRET, "replicas"),
        # Replication rules name the destination's key.
        ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "rules"),
    }
)  # fmt: skip
# Services whose resources are global: their inputs may name any region.
GLOBAL_TYPES = ("aws:iam/", "aws:organizations/")


def arns_in(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(property path, service, region) of each whole-string ARN in a property value."""
    if isinstance(value, str):
        if match := ARN.fullmatch(value):
            yield path, match.group(2), match.group(3)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from arns_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from arns_in(item, f"{path}[{i}]")


def _cross_region(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    for resource in index.resources:
        if resource.type.startswith(GLOBAL_TYPES) or resource.region is None:
            continue
        is_global = graph.location(resource) == "global"
        if resource.props.get("scope") == "CLOUDFRONT" and resource.region != GLOBAL_SERVICE_REGION:
            findings.append(
                (resource, f"CLOUDFRONT scope in {resource.region}: create it in us-east-1")
            )
        for path, service, region in arns_in(resource.props):
            if not region:
                continue
            top = re.split(r"[.\[]", path, maxsplit=1)[0]
            if is_global:
                if region != GLOBAL_SERVICE_REGION:
                    findings.append(
                        (resource, f"{path} is a {service} ARN of {region}; this global resource "
                         f"takes only {GLOBAL_SERVICE_REGION}'s")
                    )  # fmt: skip
                continue
            if service == "cloudfront" or (resource.type, top) in CROSS_REGION_ALLOWED:
                continue
            if region != resource.region:
                findings.append(
                    (resource, f"{path} is a {service} ARN of {region}, used in {resource.region}")
                )
        if resource.type == LOG_DELIVERY_SOURCE and resource.region != GLOBAL_SERVICE_REGION:
            arn = resource.props.get("resourceArn")
            if isinstance(arn, str) and ":cloudfront:" in arn:
                findings.append(
                    (resource, "CloudFront log delivery sources live in us-east-1")
                )  # fmt: skip
    return findings


# ---------------------------------------------------------------------------------------------
# AWS WAF and CloudFront

WAF_LOG_PREFIX = "aws-waf-logs-"
# arn:aws:logs:<region>:<account>:log-group:<name>[:*], arn:aws:s3:::<bucket>,
# arn:aws:firehose:<region>:<account>:deliverystream/<name>
_WAF_DESTINATION = re.compile(
    r"^arn:[\w-]+:(?:logs:(?P<log_region>[\w-]+):\d{12}:log-group:(?P<log>[^:]+)(?::\*)?"
    r"|s3:::(?P<bucket>[^/]+)"
    r"|firehose:(?P<stream_region>[\w-]+):\d{12}:deliverystream/(?P<stream>.+))$"
)
_ARN_REGION = re.compile(r"^arn:[\w-]+:[\w-]+:(?P<region>[\w-]*):")
RATE_LIMIT_RANGE = (10, 2_000_000_000)
RATE_WINDOWS = frozenset({60, 120, 300, 600})


def _waf_log_destinations(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    acl = props.get("resourceArn")
    acl_region = (
        m.group("region") if isinstance(acl, str) and (m := _ARN_REGION.match(acl)) else None
    )
    for i, arn in enumerate(_as_list(props.get("logDestinationConfigs"))):
        if not isinstance(arn, str):
            continue
        match = _WAF_DESTINATION.match(arn)
        if match is None:
            problems.append(f"logDestinationConfigs[{i}] {arn!r} is no log group, bucket or stream")
            continue
        name = match.group("log") or match.group("bucket") or match.group("stream")
        if not name.startswith(WAF_LOG_PREFIX):
            problems.append(
                f"logDestinationConfigs[{i}] {name!r} does not start with {WAF_LOG_PREFIX!r}: "
                "AWS WAF refuses the destination"
            )
        region = match.group("log_region") or match.group("stream_region")
        if acl_region and region and region != acl_region:
            problems.append(
                f"logDestinationConfigs[{i}] is in {region}, the web ACL in {acl_region}: a "
                "destination must be in the web ACL's Region"
            )
    return problems


def _rate_based(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    low, high = RATE_LIMIT_RANGE
    for i, rule in enumerate(blocks(props, "rules")):
        statement = get_path(rule, "statement.rateBasedStatement")
        if not isinstance(statement, Mapping):
            continue
        where = f"rules[{i}] ({rule.get('name', '?')})"
        limit = statement.get("limit")
        if limit is not None and not low <= as_number(limit, -1) <= high:
            problems.append(f"{where} limit {limit} outside {low}-{high:,} requests")
        window = statement.get("evaluationWindowSec")
        if window is not None and int(as_number(window, -1)) not in RATE_WINDOWS:
            problems.append(
                f"{where} evaluationWindowSec {window} is not one of "
                f"{', '.join(map(str, sorted(RATE_WINDOWS)))}"
            )
    return problems


HSTS_MIN_MAX_AGE = 31_536_000  # one year


def _hsts(props: Mapping[str, Any], _c: Context) -> list[str]:
    security = props.get("securityHeadersConfig")
    if not isinstance(security, Mapping):
        return []  # not known at plan time, or no security headers at all: not judged here
    hsts = security.get("strictTransportSecurity")
    if not isinstance(hsts, Mapping):
        return ["securityHeadersConfig sets no strictTransportSecurity"]
    problems = []
    age = hsts.get("accessControlMaxAgeSec")
    if age is not None and as_number(age) < HSTS_MIN_MAX_AGE:
        problems.append(
            f"strictTransportSecurity.accessControlMaxAgeSec {as_number(age):g} is under "
            f"{HSTS_MIN_MAX_AGE} (one year)"
        )
    if "includeSubdomains" in hsts and not is_true(hsts["includeSubdomains"]):
        problems.append("strictTransportSecurity.includeSubdomains is not true")
    return problems


def _headers_policy_attached(props: Mapping[str, Any], _c: Context) -> list[str]:
    behaviors = [("defaultCacheBehavior", props.get("defaultCacheBehavior"))] + [
        (f"orderedCacheBehaviors[{i}]", b)
        for i, b in enumerate(_as_list(props.get("orderedCacheBehaviors")))
    ]
    return [
        f"{where} has no responseHeadersPolicyId (no HSTS, nosniff, frame or referrer policy)"
        for where, behavior in behaviors
        if isinstance(behavior, Mapping) and not behavior.get("responseHeadersPolicyId")
    ]


# ---------------------------------------------------------------------------------------------
# Route 53 DNSSEC and query logging

KSK = "aws:route53/keySigningKey:KeySigningKey"
ZONE_SIGNING = "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
LOG_RESOURCE_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"

SRC_DNSSEC = _source(
    "Route 53 Developer Guide, 'Working with customer managed keys for DNSSEC' (an asymmetric "
    "ECC_NIST_P256 key in US East (N. Virginia)); Route 53 API Reference, CreateKeySigningKey "
    "(key usage Sign and verify; a key policy allowing DescribeKey, GetPublicKey and Sign to "
    "dnssec-route53.amazonaws.com; Name: 3-128 letters, digits and '_') and "
    "EnableHostedZoneDNSSEC (KeySigningKeyWithActiveStatusNotFound)",
    "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
    "dns-configuring-dnssec-cmk-requirements.html",
)
SRC_QUERY_LOGS = _source(
    "Route 53 API Reference, CreateQueryLoggingConfig ('You must create the log group in the "
    "us-east-1 region', and a CloudWatch Logs resource policy there letting "
    "route53.amazonaws.com create log streams and put log events in it; else "
    "InsufficientCloudWatchLogsResourcePolicy)",
    "https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateQueryLoggingConfig.html",
)
DNSSEC_KEY_SPEC = "ECC_NIST_P256"
DNSSEC_KEY_USAGE = "SIGN_VERIFY"
DNSSEC_PRINCIPAL = "dnssec-route53.amazonaws.com"
DNSSEC_ACTIONS = ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign")
QUERY_LOG_PRINCIPAL = "route53.amazonaws.com"
QUERY_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
KSK_NAME = Shape("name", r"[A-Za-z0-9_]+", 128, 3, "letters, digits and '_'")
_LOG_GROUP_ARN = re.compile(
    r"^arn:[\w-]+:logs:(?P<region>[\w-]+):\d{12}:log-group:(?P<name>[^:]+)(?::\*)?$"
)


def _one_or_many(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them."""
    return value if isinstance(value, list) else [] if value is None else [value]


def _allows(policy: Any, principal: str, action: str, resource: str = "*") -> bool:
    """Some Allow statement of `policy` names the service `principal` and covers `action` on
    `resource` (its conditions are not judged)."""
    for statement in _policy_statements(policy):
        who = statement.get("Principal")
        services = _one_or_many(who.get("Service")) if isinstance(who, Mapping) else []
        if statement.get("Effect") != "Allow" or principal not in services:
            continue
        actions = [a for a in _one_or_many(statement.get("Action")) if isinstance(a, str)]
        resources = [r for r in _one_or_many(statement.get("Resource")) if isinstance(r, str)]
        if any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


def _dnssec_key_problems(key: Resource) -> list[str]:
    problems = []
    spec = key.props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = key.props.get("keyUsage") or "ENCRYPT_DECRYPT"
    if spec != DNSSEC_KEY_SPEC or usage != DNSSEC_KEY_USAGE:
        problems.append(
            f"a {spec} {usage} key: Route 53 signs with {DNSSEC_KEY_SPEC} {DNSSEC_KEY_USAGE} only"
        )
    if key.region and key.region != GLOBAL_SERVICE_REGION:
        problems.append(f"in {key.region}: Route 53 takes DNSSEC keys of {GLOBAL_SERVICE_REGION}")
    policy = key.props.get("policy")
    missing = [a for a in DNSSEC_ACTIONS if not _allows(policy, DNSSEC_PRINCIPAL, a)]
    if isinstance(policy, str) and missing:
        problems.append(f"its policy does not allow {', '.join(missing)} to {DNSSEC_PRINCIPAL}")
    return problems


def _dnssec(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    ksks = index.of(KSK)
    for ksk in ksks:
        findings += [(ksk, p) for p in _shape_problems(KSK_NAME, ksk.props)]
        for key in index.of(rules.KMS_KEY):
            if points_to(ksk, "keyManagementServiceArn", key):
                findings += [(ksk, f"key {key.name}: {p}") for p in _dnssec_key_problems(key)]
    active = {
        zone
        for ksk in ksks
        if ksk.props.get("status", "ACTIVE") == "ACTIVE"
        and isinstance(zone := ksk.props.get("hostedZoneId"), str)
    }
    for signing in index.of(ZONE_SIGNING):
        zone = signing.props.get("hostedZoneId")
        signs = signing.props.get("signingStatus", "SIGNING") == "SIGNING"
        if signs and isinstance(zone, str) and zone not in active:
            findings.append((signing, f"signs zone {zone}, which has no ACTIVE key-signing key"))
    return findings


def _query_logs(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    documents = [
        p.props.get("policyDocument")
        for p in index.of(LOG_RESOURCE_POLICY)
        if (p.region or GLOBAL_SERVICE_REGION) == GLOBAL_SERVICE_REGION
    ]
    for query_log in index.of(QUERY_LOG):
        arn = query_log.props.get("cloudwatchLogGroupArn")
        if not isinstance(arn, str) or (match := _LOG_GROUP_ARN.match(arn)) is None:
            continue
        region, group = match.group("region"), match.group("name")
        if region != GLOBAL_SERVICE_REGION:
            findings.append(
                (query_log, f"log group {group} is in {region}: Route 53 logs queries to "
                            f"{GLOBAL_SERVICE_REGION} only")
            )  # fmt: skip
            continue
        if any(not isinstance(d, str | Mapping) for d in documents):
            continue  # a policy unknown at plan time may be the one
        stream = f"{arn.removesuffix(':*')}:log-stream:probe"
        missing = [
            a for a in QUERY_LOG_ACTIONS
            if not any(_allows(d, QUERY_LOG_PRINCIPAL, a, stream) for d in documents)
        ]  # fmt: skip
        if missing:
            findings.append(
                (query_log, f"no CloudWatch Logs resource policy in {GLOBAL_SERVICE_REGION} "
                            f"allows {', '.join(missing)} on {group} to {QUERY_LOG_PRINCIPAL}")
            )  # fmt: skip
    return findings


# CloudTrail to CloudWatch Logs, metric filters

# --- constants (top of readiness.py, with the other type tokens) ------------------------------
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"

# --- sources ----------------------------------------------------------------------------------
SRC_TRAIL_CWL = _source(
    "AWS CloudTrail API Reference, CreateTrail (CloudWatchLogsLogGroupArn 'Not required unless "
    "you specify CloudWatchLogsRoleArn'; InvalidCloudWatchLogsRoleArnException 'You must "
    "specify a role ARN as well as a log group') and Pulumi AWS registry, cloudtrail.Trail "
    "(cloudWatchLogsGroupArn: 'CloudTrail requires the Log Stream wildcard', i.e. the group's "
    "ARN followed by ':*'; without it InvalidCloudWatchLogsLogGroupArnException, "
    "hashicorp/terraform-provider-aws #14557)",
    "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html",
)
SRC_TRAIL_ROLE = _source(
    "AWS CloudTrail User Guide, 'Role policy document for CloudTrail to use CloudWatch Logs for "
    "monitoring': 'Confused deputy prevention is not applicable to the role policy for "
    "CloudWatch Logs monitoring. The role policy doesn't support the use of aws:SourceArn and "
    "aws:SourceAccount'",
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/"
    "cloudtrail-required-policy-for-cloudwatch-logs.html",
)
SRC_METRIC_FILTER = _source(
    "Amazon CloudWatch Logs API Reference, PutMetricFilter (filterName 1-512 of [^:*]; "
    "filterPattern up to 1,024; metricName and metricNamespace up to 255 of [^:*$]; "
    "metricValue up to 100; at most 100 metric filters per log group)",
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html",
)

# --- TAP-AWS-TRAIL-2: a trail's CloudWatch Logs delivery ----------------------------------------
# arn:<partition>:logs:<region>:<account>:log-group:<name>:*  (the name: LogGroupName's chars)
_TRAIL_LOG_GROUP = re.compile(r"^arn:[\w-]+:logs:[\w-]+:\d{12}:log-group:[.\-_/#A-Za-z0-9]+:\*$")


def _trail_cloudwatch_logs(props: Mapping[str, Any], _c: Context) -> list[str]:
    group = props.get("cloudWatchLogsGroupArn")
    role = props.get("cloudWatchLogsRoleArn")
    problems = []
    if isinstance(group, str) and group and not role:
        problems.append("cloudWatchLogsGroupArn without cloudWatchLogsRoleArn")
    if isinstance(role, str) and role and not group:
        problems.append("cloudWatchLogsRoleArn without cloudWatchLogsGroupArn")
    if isinstance(group, str) and group and not _TRAIL_LOG_GROUP.match(group):
        detail = (
            "does not end with the log-stream wildcard ':*' (LogGroup.arn does not carry it: "
            "append it)"
            if not group.endswith(":*")
            else "is not a log group ARN"
        )
        problems.append(f"cloudWatchLogsGroupArn {group!r} {detail}")
    return problems


# --- TAP-AWS-IAM-2: a role CloudTrail assumes -------------------------------------------------
_SOURCE_KEYS = ("aws:sourcearn", "aws:sourceaccount")


def _services(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, Mapping) else None
    return [s for s in ([service] if isinstance(service, str) else _as_list(service))
            if isinstance(s, str)]  # fmt: skip


def _cloudtrail_trust(props: Mapping[str, Any], _c: Context) -> list[str]:
    problems = []
    for i, statement in enumerate(_policy_statements(props.get("assumeRolePolicy"))):
        if statement.get("Effect") != "Allow" or "cloudtrail.amazonaws.com" not in _services(
            statement
        ):
            continue
        condition = statement.get("Condition")
        keys = [
            str(key)
            for operator in (condition.values() if isinstance(condition, Mapping) else [])
            if isinstance(operator, Mapping)
            for key in operator
            if str(key).lower() in _SOURCE_KEYS
        ]
        if keys:
            problems.append(
                f"trust statement {statement.get('Sid', i)!r} admits cloudtrail.amazonaws.com "
                f"only under {', '.join(keys)}, which CloudTrail does not send when it assumes "
                "a CloudWatch Logs delivery role: CreateTrail fails"
            )
    return problems


# --- TAP-AWS-LOG-4: metric filters --------------------------------------------------------------
_NO_COLON_STAR_DOLLAR = r"[^:*$]+"
METRIC_FILTER_SHAPES = (
    Shape("name", r"[^:*]+", 512, 1, "anything but ':' and '*'"),
    Shape("pattern", r".*", 1024, 0),
    Shape("metricTransformation.name", _NO_COLON_STAR_DOLLAR, 255, 1, "anything but : * $"),
    Shape("metricTransformation.namespace", _NO_COLON_STAR_DOLLAR, 255, 1, "anything but : * $"),
    Shape("metricTransformation.value", r".+", 100, 1),
)

# --- TAP-AWS-LOG-5: at most 100 metric filters per log group ----------------------------------
FILTERS_PER_GROUP = 100


def _filters_per_group(index: StackIndex, _c: Context) -> list[Finding]:
    by_group: dict[tuple[str | None, str], list[Any]] = defaultdict(list)
    for metric_filter in index.of(METRIC_FILTER):
        group = metric_filter.props.get("logGroupName")
        if isinstance(group, str):
            by_group[(metric_filter.region, group)].append(metric_filter)
    return [
        (filters[FILTERS_PER_GROUP], f"log group {group} has {len(filters)} metric filters; "
         f"CloudWatch Logs allows {FILTERS_PER_GROUP}")
        for (_region, group), filters in sorted(by_group.items(), key=lambda kv: str(kv[0]))
        if len(filters) > FILTERS_PER_GROUP
    ]  # fmt: skip


# NAT instances and Auto Scaling

NETWORK_INTERFACE = "aws:ec2/networkInterface:NetworkInterface"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"

SRC_NAT_SOURCE_DEST = _source(
    "Amazon VPC User Guide, NAT instances, 'Disable source/destination checks' (an instance "
    "forwarding traffic not addressed to it must have the check off)",
    "https://docs.aws.amazon.com/vpc/latest/userguide/work-with-nat-instances.html",
)
SRC_ENI_AZ = _source(
    "Amazon EC2 User Guide, Network interface attachments: 'You must attach a network "
    "interface to an EC2 instance that is in the same Availability Zone'",
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/network-interface-attachments.html",
)
SRC_INSTANCE_REFRESH = _source(
    "Amazon EC2 Auto Scaling API Reference, RefreshPreferences: MinHealthyPercentage 0-100, "
    "MaxHealthyPercentage 100-200, at most 100 apart",
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html",
)


def _route_targets(index: StackIndex) -> list[tuple[rules.Resource, str]]:
    """(route or route table, the interface id it targets) for every IPv4/IPv6 route."""
    found = [
        (route, str(route.props["networkInterfaceId"]))
        for route in index.of(ROUTE)
        if isinstance(route.props.get("networkInterfaceId"), str)
    ]
    for table in index.of(ROUTE_TABLE):
        for inline in rules.blocks(table.props, "routes"):
            if isinstance(inline.get("networkInterfaceId"), str):
                found.append((table, str(inline["networkInterfaceId"])))
    return found


def _routed_interfaces_forward(index: StackIndex, _c: Context) -> list[Finding]:
    """A route to a network interface delivers packets addressed elsewhere: with the check on
    (EC2's default), the interface drops them."""
    interfaces = index.of(NETWORK_INTERFACE)
    findings: list[Finding] = []
    for route, target in _route_targets(index):
        for interface in interfaces:
            if target in interface.handles and interface.props.get("sourceDestCheck") is not False:
                findings.append(
                    (
                        interface,
                        f"route {route.name} targets it but sourceDestCheck is not false: it "
                        "drops every packet not addressed to itself",
                    )
                )
    return findings


def _user_data(template: rules.Resource) -> str:
    raw = template.props.get("userData")
    if not isinstance(raw, str):
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return raw


def _template_of_group(index: StackIndex, group: rules.Resource) -> rules.Resource | None:
    for template in index.of(rules.LAUNCH_TEMPLATE):
        for path in ("launchTemplate.id", "launchTemplate.name"):
            if get_path(group.props, path) is not None and points_to(group, path, template):
                return template
    return None


def _groups_attach_within_the_interfaces_az(index: StackIndex, _c: Context) -> list[Finding]:
    """A group whose instances attach a fixed interface at boot (its id in their user data,
    next to attach-network-interface) launches only in that interface's subnet: an instance in
    another AZ cannot attach it."""
    findings: list[Finding] = []
    interfaces = index.of(NETWORK_INTERFACE)
    for group in index.of(AUTOSCALING_GROUP):
        template = _template_of_group(index, group)
        script = _user_data(template) if template else ""
        if "attach-network-interface" not in script and "AttachNetworkInterface" not in script:
            continue
        subnets = group.props.get("vpcZoneIdentifiers")
        if not isinstance(subnets, list) or not all(isinstance(s, str) for s in subnets):
            continue  # not known at plan time
        for interface in interfaces:
            if not any(
                handle in script for handle in interface.handles if handle.startswith("eni-")
            ):
                continue
            subnet = interface.props.get("subnetId")
            if isinstance(subnet, str) and set(subnets) != {subnet}:
                findings.append(
                    (
                        group,
                        f"its instances attach {interface.name} (subnet {subnet}) but it "
                        f"launches in {', '.join(sorted(subnets))}: an instance in another AZ "
                        "cannot attach the interface",
                    )
                )
    return findings


def _refresh_percentages(index: StackIndex, _c: Context) -> list[Finding]:
    findings: list[Finding] = []
    for group in index.of(AUTOSCALING_GROUP):
        preferences = get_path(group.props, "instanceRefresh.preferences") or {}
        low = preferences.get("minHealthyPercentage")
        high = preferences.get("maxHealthyPercentage")
        problems = []
        if low is not None and not 0 <= as_number(low, -1) <= 100:
            problems.append(f"minHealthyPercentage {low} is not 0-100")
        if high is not None and not 100 <= as_number(high, -1) <= 200:
            problems.append(f"maxHealthyPercentage {high} is not 100-200")
        if low is not None and high is not None and as_number(high) - as_number(low) > 100:
            problems.append(f"maxHealthyPercentage {high} is more than 100 above {low}")
        findings += [(group, problem) for problem in problems]
    return findings


# ---------------------------------------------------------------------------------------------
# The catalogue


def _rule(
    id_: str, description: str, source: str, checks: Mapping[str, PropsCheck]
) -> ResourceRule:
    return ResourceRule(id_, description, MANDATORY, None, checks, source=source)


def _stack_rule(
    id_: str, description: str, source: str, check: Callable[[StackIndex, Context], list[Finding]]
) -> StackRule:
    return StackRule(id_, description, MANDATORY, None, check, source=source)


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    _rule(
        "TAP-AWS-TRAIL-2",
        "A trail delivering to CloudWatch Logs names both the group and the role, and the "
        "group's ARN ends with the log-stream wildcard ':*'.",
        SRC_TRAIL_CWL,
        {rules.TRAIL: _trail_cloudwatch_logs},
    ),
    _rule(
        "TAP-AWS-IAM-2",
        "A role trusted by cloudtrail.amazonaws.com sets no aws:SourceArn or aws:SourceAccount "
        "condition (CloudTrail sends neither when it assumes a delivery role).",
        SRC_TRAIL_ROLE,
        {rules.IAM_ROLE: _cloudtrail_trust},
    ),
    _rule(
        "TAP-AWS-LOG-4",
        "Metric filter names (1-512, no ':' or '*'), patterns (1,024), metric names and "
        "namespaces (255, no ':' '*' '$') and values (100) fit CloudWatch Logs.",
        SRC_METRIC_FILTER,
        {METRIC_FILTER: _shapes(*METRIC_FILTER_SHAPES)},
    ),
    _rule(
        "TAP-AWS-EC2-1",
        "Security group names and descriptions, and rule descriptions, use the characters and "
        "lengths EC2 accepts (no 'sg-' name prefix, no apostrophes).",
        SRC_SG,
        {
            rules.SECURITY_GROUP: _shapes(SG_NAME, SG_DESCRIPTION, *SG_RULE_DESCRIPTIONS),
            rules.SG_INGRESS_RULE: _shapes(SG_DESCRIPTION),
            SG_EGRESS_RULE: _shapes(SG_DESCRIPTION),
            rules.SG_LEGACY_RULE: _shapes(SG_DESCRIPTION),
        },
    ),
    _rule(
        "TAP-AWS-EC2-3",
        "A launch template with network interfaces keeps its security groups inside them.",
        SRC_LAUNCH_TEMPLATE,
        {rules.LAUNCH_TEMPLATE: _template_network},
    ),
    _rule(
        "TAP-AWS-EC2-6",
        "Launch template names fit EC2's pattern (3-128 of a-z A-Z 0-9 ( ) . - / _).",
        SRC_LAUNCH_TEMPLATE_NAME,
        {rules.LAUNCH_TEMPLATE: _shapes(LAUNCH_TEMPLATE_NAME)},
    ),
    _rule(
        "TAP-AWS-RDS-1",
        "RDS identifiers (instance, final snapshot, parameter and subnet groups) fit RDS's "
        "patterns: a letter first, letters/digits/hyphens, no '--', no trailing '-'.",
        SRC_RDS_IDENTIFIERS,
        {
            rules.RDS_INSTANCE: _shapes(
                _rds_identifier("identifier", 63), _rds_identifier("finalSnapshotIdentifier", 255)
            ),
            RDS_PARAMETER_GROUP: _shapes(_rds_identifier("name", 255)),
            RDS_SUBNET_GROUP: _shapes(
                Shape(
                    "name",
                    r"[a-z0-9._ -]+",
                    255,
                    1,
                    "lowercase letters, digits, . _ space -",
                    (("^default$", "'default' is reserved"),),
                )
            ),
        },
    ),
    _rule(
        "TAP-AWS-RDS-3",
        "The RDS master user name and any password given fit the engine's rules, and a "
        "password is not given with manageMasterUserPassword.",
        SRC_RDS_MASTER,
        {rules.RDS_INSTANCE: _rds_master},
    ),
    _rule(
        "TAP-AWS-RDS-4",
        "An Aurora cluster in a global database or a cross-Region replica does not manage "
        "its master password in Secrets Manager.",
        SRC_RDS_SECRETS,
        {rules.RDS_CLUSTER: _aurora_managed_password},
    ),
    _rule(
        "TAP-AWS-S3-1",
        "Bucket names follow S3's general purpose naming rules.",
        SRC_S3_NAMES,
        {rules.S3_BUCKET: _shapes(S3_BUCKET_NAME)},
    ),
    _rule(
        "TAP-AWS-S3-2",
        "Lifecycle rules move objects to Standard-IA/One Zone-IA after 30+ days and never "
        "move or expire them before their class's minimum storage duration (mandatory: every "
        "object would pay the early-deletion charge).",
        SRC_S3_LIFECYCLE,
        {S3_LIFECYCLE: _lifecycle},
    ),
    _rule(
        "TAP-AWS-ELB-1",
        "Load balancer and target group names: 32 letters, digits or hyphens, no hyphen at "
        "either end, no 'internal-' prefix.",
        SRC_ELB_NAMES,
        {rules.LOAD_BALANCER: _shapes(ALB_NAME), rules.TARGET_GROUP: _shapes(_ELB_NAME)},
    ),
    _rule(
        "TAP-AWS-ELB-2",
        "Listener rule http-header conditions: a token header name of 40 or fewer, values of "
        "128 or fewer without the wildcards '*' and '?', 5 condition values per rule.",
        SRC_ELB_HEADER,
        {LISTENER_RULE: _listener_rule_conditions},
    ),
    _rule(
        "TAP-AWS-LOG-1",
        "Log group names use CloudWatch Logs' characters (1-512 of . - _ / # letters digits).",
        SRC_LOG_GROUP,
        {rules.LOG_GROUP: _shapes(LOG_GROUP_NAME)},
    ),
    _rule(
        "TAP-AWS-LOG-2",
        "Log group retention is one of the values CloudWatch Logs accepts.",
        SRC_LOG_GROUP,
        {rules.LOG_GROUP: _retention_value},
    ),
    _rule(
        "TAP-AWS-LOG-3",
        "Vended log delivery source and destination names: 1-60 letters, digits, '_' or '-'.",
        SRC_LOG_DELIVERY,
        {
            LOG_DELIVERY_SOURCE: _shapes(LOG_DELIVERY_NAME),
            LOG_DELIVERY_DESTINATION: _shapes(LOG_DELIVERY_NAME),
        },
    ),
    _rule(
        "TAP-AWS-KMS-1",
        "KMS aliases start with 'alias/', not 'alias/aws/', and use KMS's characters.",
        SRC_KMS_ALIAS,
        {KMS_ALIAS: _shapes(KMS_ALIAS_NAME)},
    ),
    _rule(
        "TAP-AWS-KMS-2",
        "Key policies grant no action under an encryption-context condition its requests "
        "never carry (kms:DescribeKey, kms:*Key*...).",
        SRC_KMS_CONTEXT,
        {rules.KMS_KEY: _context_grants, KMS_KEY_POLICY: _context_grants},
    ),
    _rule(
        "TAP-AWS-SNS-1",
        "SNS topic names: 1-256 letters, digits, '_' or '-' ('.fifo' only on FIFO topics).",
        SRC_SNS,
        {rules.SNS_TOPIC: _sns_name},
    ),
    _rule(
        "TAP-AWS-IAM-1",
        "IAM role, instance profile and policy names, role descriptions and paths fit IAM's "
        "patterns and lengths.",
        SRC_IAM,
        {
            rules.IAM_ROLE: _shapes(IAM_ROLE_NAME, IAM_ROLE_DESCRIPTION, IAM_ROLE_PATH),
            IAM_INSTANCE_PROFILE: _shapes(IAM_PROFILE_NAME, IAM_ROLE_PATH),
            IAM_POLICY: _shapes(IAM_PROFILE_NAME, IAM_ROLE_PATH),
            IAM_ROLE_POLICY: _shapes(IAM_PROFILE_NAME),
        },
    ),
    _rule(
        "TAP-AWS-DNS-1",
        "No zone, certificate, record, health check or CloudFront alias uses a reserved or "
        "special-use domain (example.com/.net/.org, .example, .test, .invalid, .localhost, "
        ".local).",
        SRC_RESERVED_DNS,
        {
            ZONE: _reserved("name"),
            CERTIFICATE: _reserved("domainName", "subjectAlternativeNames[]"),
            RECORD: _reserved("name"),
            HEALTH_CHECK: _reserved("fqdn"),
            DISTRIBUTION: _reserved("aliases[]"),
        },
    ),
    _rule(
        "TAP-AWS-DNS-3",
        "DNS names fit DNS (labels of 63, names of 253) and health-check paths fit Route 53 (255).",
        SRC_DNS_NAMES,
        {
            ZONE: _dns_names("name"),
            RECORD: _dns_names("name"),
            HEALTH_CHECK: _dns_names("fqdn", limits={"fqdn": 255, "resourcePath": 255}),
            DISTRIBUTION: _dns_names("aliases[]"),
        },
    ),
    _rule(
        "TAP-AWS-ACM-1",
        "A certificate's first domain name is 64 octets or fewer, with 10 names at most.",
        SRC_ACM,
        {CERTIFICATE: _acm},
    ),
    _rule(
        "TAP-AWS-CF-1",
        "CloudFront origin custom headers are headers CloudFront can add (10 per origin), and "
        "the distribution comment fits 128 characters.",
        SRC_CLOUDFRONT_HEADERS,
        {
            DISTRIBUTION: lambda props, c: (
                _origin_headers(props, c) + _shapes(CLOUDFRONT_COMMENT)(props, c)
            )
        },
    ),
    _rule(
        "TAP-AWS-WAF-1",
        "Web ACL names, descriptions and metric names fit AWS WAF's patterns.",
        SRC_WAF,
        {WEB_ACL: _shapes(WAF_NAME, WAF_DESCRIPTION, *WAF_METRICS)},
    ),
    _rule(
        "TAP-AWS-WAF-2",
        "A web ACL logs to a destination named aws-waf-logs-*, in the web ACL's Region "
        "(us-east-1 for CloudFront).",
        SRC_WAF_LOGGING,
        {WAF_LOGGING: _waf_log_destinations},
    ),
    _rule(
        "TAP-AWS-WAF-3",
        "Rate-based rules: a limit of 10 to 2,000,000,000 requests over an evaluation window of "
        "60, 120, 300 or 600 seconds.",
        SRC_WAF_RATE,
        {WEB_ACL: _rate_based},
    ),
    _rule(
        "TAP-AWS-CF-2",
        "Every CloudFront cache behavior has a response headers policy, and its "
        "Strict-Transport-Security lasts a year or more and covers subdomains.",
        SRC_HSTS,
        {RESPONSE_HEADERS_POLICY: _hsts, DISTRIBUTION: _headers_policy_attached},
    ),
    _rule(
        "TAP-AWS-SSM-1",
        "Parameter names fit Parameter Store (characters, no aws/ssm prefix, 15 levels).",
        SRC_SSM,
        {SSM_PARAMETER: _shapes(SSM_NAME)},
    ),
    _rule(
        "TAP-AWS-SM-1",
        "Secret names fit Secrets Manager, and a recovery window is 0 or 7-30 days.",
        SRC_SECRETS,
        {
            SECRET: _secret,
        },
    ),
    _rule(
        "TAP-AWS-TRAIL-1",
        "Trail names fit CloudTrail's pattern.",
        SRC_TRAIL,
        {rules.TRAIL: _shapes(TRAIL_NAME)},
    ),
    _rule(
        "TAP-AWS-CW-1",
        "Alarm and dashboard names fit CloudWatch.",
        SRC_CLOUDWATCH,
        {METRIC_ALARM: _shapes(ALARM_NAME), DASHBOARD: _shapes(DASHBOARD_NAME)},
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    _stack_rule(
        "TAP-AWS-EC2-7",
        "A network interface that a route targets has its source/destination check off.",
        SRC_NAT_SOURCE_DEST,
        _routed_interfaces_forward,
    ),
    _stack_rule(
        "TAP-AWS-EC2-8",
        "An Auto Scaling group whose instances attach a fixed network interface launches only "
        "in that interface's subnet.",
        SRC_ENI_AZ,
        _groups_attach_within_the_interfaces_az,
    ),
    _stack_rule(
        "TAP-AWS-ASG-1",
        "Instance refresh keeps MinHealthyPercentage 0-100, MaxHealthyPercentage 100-200, at "
        "most 100 apart.",
        SRC_INSTANCE_REFRESH,
        _refresh_percentages,
    ),
    _stack_rule(
        "TAP-AWS-LOG-5",
        f"A log group has at most {FILTERS_PER_GROUP} metric filters.",
        SRC_METRIC_FILTER,
        _filters_per_group,
    ),
    _stack_rule(
        "TAP-AWS-DNS-4",
        "A key-signing key is named with 3-128 letters, digits or '_' and backed by an "
        "ECC_NIST_P256 SIGN_VERIFY KMS key in us-east-1 whose policy lets "
        "dnssec-route53.amazonaws.com DescribeKey, GetPublicKey and Sign; a zone is signed "
        "only with an ACTIVE key-signing key.",
        SRC_DNSSEC,
        _dnssec,
    ),
    _stack_rule(
        "TAP-AWS-DNS-5",
        "Route 53 query logs go to a log group in us-east-1 that a CloudWatch Logs resource "
        "policy there opens to route53.amazonaws.com (CreateLogStream, PutLogEvents).",
        SRC_QUERY_LOGS,
        _query_logs,
    ),
    _stack_rule(
        "TAP-AWS-EC2-2",
        "An instance launched from a template that sets security groups or network "
        "interfaces does not also set its subnet, public IP or groups.",
        SRC_RUN_INSTANCES,
        _instance_vs_template,
    ),
    _stack_rule(
        "TAP-AWS-EC2-4",
        f"A security group holds at most {RULES_PER_GROUP} inbound and {RULES_PER_GROUP} "
        "outbound rules per address family, a prefix-list reference counting as its weight.",
        SRC_VPC_QUOTAS,
        _rule_quota,
    ),
    _stack_rule(
        "TAP-AWS-EC2-5",
        f"A network interface carries at most {GROUPS_PER_INTERFACE} security groups and "
        f"{RULES_PER_INTERFACE} rules across them.",
        SRC_VPC_QUOTAS,
        _interface_quota,
    ),
    _stack_rule(
        "TAP-AWS-RDS-2",
        "No read replica of a source that manages its master password in Secrets Manager.",
        SRC_RDS_SECRETS,
        _replicas_of_managed_sources,
    ),
    _stack_rule(
        "TAP-AWS-ELB-3",
        "Listener rule priorities are 1-50000 and unique per listener.",
        SRC_ELB_PRIORITY,
        _unique_priorities,
    ),
    _stack_rule(
        "TAP-AWS-DNS-2",
        "Each DNS record has one owner: one resource per (zone, name, type, set identifier), "
        "no allowOverwrite, no CNAME beside other records.",
        SRC_DNS_OWNER,
        _one_owner_per_record,
    ),
    _stack_rule(
        "TAP-AWS-REGION-1",
        "A regional resource references ARNs of its own region only, except where AWS "
        "requires another (cross-Region replica sources, replica keys); global resources take "
        "us-east-1's certificates and web ACLs.",
        SRC_REGIONS,
        _cross_region,
    ),
)

READINESS_RULES: tuple[ResourceRule | StackRule, ...] = RESOURCE_RULES + STACK_RULES
CATALOGUE: tuple[ResourceRule | StackRule, ...] = rules.ALL_RULES + READINESS_RULES
"""Every rule the plan and the CrossGuard pack apply: policy rules, then readiness rules."""
CATALOGUE_BY_ID: Mapping[str, ResourceRule | StackRule] = {r.id: r for r in CATALOGUE}


def evaluate(
    resources: Iterable[Resource],
    environment: str,
    prefix_lists: Mapping[str, PrefixList] | None = None,
    catalogue: Sequence[ResourceRule | StackRule] = CATALOGUE,
    production: bool | None = None,
) -> list[rules.Violation]:
    """Every rule of the catalogue over the stack (policy and deploy readiness)."""
    return rules.evaluate(
        resources,
        environment,
        catalogue=catalogue,
        prefix_lists=prefix_lists,
        production=production,
    )
