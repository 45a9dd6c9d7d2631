"""Run the real TAP program under Pulumi mocks and record everything it registers.

One harness serves both the unit tests and the offline plan (`deploy.py plan`): it executes
`__main__.py` exactly as the engine would, with a recording mock monitor in place of the engine,
so what the plan shows is what `pulumi up` would be asked to create.

The mocks behave like a strict engine in two ways that matter here:
- an `aws:` resource or lookup without an explicit provider fails, as it does with
  `pulumi:disable-default-providers: ["aws"]` in Pulumi.yaml;
- a lookup (invoke) the harness does not know fails, instead of answering with nothing.
"""

from __future__ import annotations

import fnmatch
import gc
import hashlib
import json
import logging
import runpy
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format

from tap.config import NAMESPACE, PLACEHOLDER_DOMAIN
from tap_tooling import sdk, yaml_text
from tap_tooling.graph import COMPOSITE_TYPES
from tap_tooling.readiness import managed_prefix_list_weight

PROJECT_DIR = Path(__file__).resolve().parent.parent
MAIN_PROGRAM = PROJECT_DIR / "__main__.py"
PROJECT_NAME = "tap"
MOCK_ACCOUNT_ID = "123456789012"
PROVIDER_TYPE = "pulumi:providers:aws"


class OfflineError(Exception):
    """The program could not run under mocks (bad config, missing provider, unknown lookup)."""


@dataclass(frozen=True)
class Recorded:
    """One resource the program registered: its type, name, inputs and placement."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool
    parent_urn: str
    provider_urn: str
    region: str | None
    protect: bool
    delete_before_replace: bool
    ignore_changes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    retain_on_delete: bool = False
    aliases: tuple[dict[str, Any], ...] = ()
    """Aliases registered with the resource, as the request carries them (alias.proto as JSON):
    {"urn": ...} or {"spec": {"name", "type", "stack", "project", "parentUrn" | "noParent"}}."""


@dataclass(frozen=True)
class Lookup:
    """One invoke the program made, and what the harness answered."""

    token: str
    region: str | None
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass
class PlanResult:
    """Everything one program run registered, and the stack outputs it exported."""

    stack: str
    resources: list[Recorded] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, str | None]] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    """Every lookup with its arguments and the harness's answer (prefix lists, AZs...)."""
    notices: list[str] = field(default_factory=list)
    """What the harness itself changed for an offline run (a placeholder domain stood in for)."""
    warnings: list[str] = field(default_factory=list)
    """Engine warnings (pulumi.log.warn, e.g. deprecated resources) and Python warnings
    raised while the program ran: each one is a defect of the program."""

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Recorded:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(matches) != 1:
            known = sorted(r.name for r in self.of_type(type_))
            raise KeyError(f"{type_} {name!r}: {len(matches)} found; names: {known}")
        return matches[0]

    def id_of(self, resource: Recorded) -> str:
        """The id the harness gave `resource` (what other resources' inputs hold)."""
        return physical_id(resource.type, resource.name, resource.inputs, resource.region)

    def in_region(self, region: str) -> list[Recorded]:
        return [r for r in self.resources if r.region == region]

    def by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def component_of(self, resource: Recorded) -> Recorded | None:
        """The outermost component a resource sits in below the composites (Region, Front:
        graph.COMPOSITE_TYPES), i.e. its tier; None for top-level ones."""
        index = self.by_urn()
        outermost = None
        parent = index.get(resource.parent_urn)
        while parent is not None:
            if not parent.custom and parent.type not in COMPOSITE_TYPES:
                outermost = parent
            parent = index.get(parent.parent_urn)
        return outermost


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _arn(service: str, region: str | None, resource: str) -> str:
    return f"arn:aws:{service}:{region or ''}:{MOCK_ACCOUNT_ID}:{resource}"


# ---------------------------------------------------------------------------------------------
# Identifiers in the shapes AWS returns, fixed by the resource's type and logical name (the
# engine keeps a created resource's id in state; it changes only on replacement).

_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _bytes(seed: str, count: int) -> bytes:
    out = b""
    block = 0
    while len(out) < count:
        out += hashlib.sha256(f"{seed}#{block}".encode()).digest()
        block += 1
    return out[:count]


def _hex(seed: str, length: int) -> str:
    return _bytes(seed, length).hex()[:length]


def _chars(seed: str, length: int, alphabet: str) -> str:
    return "".join(alphabet[b % len(alphabet)] for b in _bytes(seed, length))


def _uuid(seed: str) -> str:
    h = _hex(seed, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


# EC2 resources whose id is `<prefix>-<17 hex>`.
EC2_ID_PREFIXES: Mapping[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/instance:Instance": "i",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": "acl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/networkInterface:NetworkInterface": "eni",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/keyPair:KeyPair": "key",
}
# EC2 ARN resource types (arn:aws:ec2:<region>:<account>:<kind>/<id>).
_EC2_ARN_KINDS = {
    "vpc": "vpc", "subnet": "subnet", "sg": "security-group", "igw": "internet-gateway",
    "nat": "natgateway", "eipalloc": "elastic-ip", "rtb": "route-table", "lt": "launch-template",
    "i": "instance", "acl": "network-acl", "vpce": "vpc-endpoint", "fl": "vpc-flow-log",
    "sgr": "security-group-rule", "eni": "network-interface", "key": "key-pair",
    "rtbassoc": "route-table-association",
}  # fmt: skip
BUCKET_COMPANIONS: tuple[str, ...] = (
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
)
"""Resources that configure one bucket: their id (and physical name) is the bucket's name."""
# Resources whose id is their name (or another input) in the provider.
_NAMED_BY = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:rds/parameterGroup:ParameterGroup": "name",
    "aws:kms/alias:Alias": "name",
    "aws:ssm/parameter:Parameter": "name",
    "aws:autoscaling/group:Group": "name",
    "aws:cloudtrail/trail:Trail": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "name",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "name",
    **dict.fromkeys(BUCKET_COMPANIONS, "bucket"),
}
# Route 53 hosted zone ids of ALBs per region (Elastic Load Balancing endpoints and quotas).
ALB_ZONE_IDS = {
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-central-1": "Z215JYRZR1TBD5",
    "ap-southeast-2": "Z1GM3OXH4ZPM65",
}
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


def _seed(type_: str, name: str) -> str:
    return f"{type_}|{name}"


def _name(inputs: Mapping[str, Any], key: str, name: str) -> str:
    value = inputs.get(key)
    return value if isinstance(value, str) and value else name


def physical_id(
    type_: str, name: str, inputs: Mapping[str, Any] | None = None, region: str | None = None
) -> str:
    """The id the harness gives a resource: AWS's shape for its type, fixed by type and name.

    EC2 ids are `<prefix>-<17 hex>` (vpc-0123456789abcdef0), KMS keys and health checks UUIDs,
    hosted zones `Z` + 20 characters, CloudFront `E` + 13, DB instances their DbiResourceId;
    load balancers, listeners, target groups, topics and secrets are known by their ARN, and
    named resources (buckets, log groups, roles...) by their name, as the provider does.
    """
    inputs = inputs or {}
    seed = _seed(type_, name)
    if type_ in EC2_ID_PREFIXES:
        return f"{EC2_ID_PREFIXES[type_]}-{_hex(seed, 17)}"
    if type_ in _NAMED_BY:
        return _name(inputs, _NAMED_BY[type_], name)
    if type_ in (
        "aws:kms/key:Key",
        "aws:route53/healthCheck:HealthCheck",
        "aws:wafv2/webAcl:WebAcl",
    ):
        return _uuid(seed)
    if type_ == "aws:route53/zone:Zone":
        return "Z" + _chars(seed, 20, _UPPER_ALNUM)
    if type_ == "aws:cloudfront/distribution:Distribution":
        return "E" + _chars(seed, 13, _UPPER_ALNUM)
    if type_ == "aws:rds/instance:Instance":
        return "db-" + _chars(seed, 26, _UPPER_ALNUM)
    if type_ == "aws:route53/record:Record":
        parts = [str(inputs.get("zoneId", "")), str(inputs.get("name", name)).rstrip(".")]
        parts.append(str(inputs.get("type", "")))
        if inputs.get("setIdentifier"):
            parts.append(str(inputs["setIdentifier"]))
        return "_".join(parts)
    if type_ == "aws:ec2/route:Route":
        return f"r-{inputs.get('routeTableId', 'rtb')}{int(_hex(seed, 8), 16) % 10**10}"
    arn = computed_state(type_, name, region, dict(inputs)).get("arn")
    if type_.startswith(("aws:lb/", "aws:sns/topic:", "aws:secretsmanager/secret:", "aws:acm/")):
        return str(arn)
    return _hex(seed, 20)


def _lb_parts(inputs: Mapping[str, Any], name: str, seed: str) -> tuple[str, str]:
    """(name, 16-hex id) of a load balancer, from its own inputs."""
    return _name(inputs, "name", name), _hex(seed, 16)


def _parent_lb(arn: Any) -> str:
    """`app/<name>/<hex>` of the load balancer an ARN input points at, when it is one."""
    if isinstance(arn, str) and ":loadbalancer/" in arn:
        return arn.split(":loadbalancer/", 1)[1]
    return f"app/unknown/{_hex(str(arn), 16)}"


def _region_code(region: str) -> str:
    """AWS's short code of a region for zone ids: us-east-1 -> use1, ap-southeast-2 -> apse2."""
    area, *directions, number = region.split("-")
    short = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c"}
    code = ""
    for direction in directions:
        for word, letter in (("northeast", "ne"), ("northwest", "nw"), ("southeast", "se"),
                             ("southwest", "sw"), *short.items()):  # fmt: skip
            if direction == word:
                code += letter
                break
    return f"{area}{code}{number}"


# Outputs the engine would compute and the program reads back (ARNs, ids, DNS names).
def computed_state(type_: str, name: str, region: str | None, inputs: dict[str, Any]) -> dict:
    module, _, kind = type_.removeprefix("aws:").partition(":")
    service = module.split("/")[0]
    seed = _seed(type_, name)
    state: dict[str, Any] = {"arn": _arn(service, region, f"{kind.lower()}/{name}")}
    if type_ in EC2_ID_PREFIXES:
        ec2_id = physical_id(type_, name, inputs, region)
        state["arn"] = _arn("ec2", region, f"{_EC2_ARN_KINDS[EC2_ID_PREFIXES[type_]]}/{ec2_id}")
        if type_ == "aws:ec2/vpc:Vpc":
            state["defaultSecurityGroupId"] = f"sg-{_hex(seed + 'default-sg', 17)}"
            state["defaultRouteTableId"] = f"rtb-{_hex(seed + 'main-rtb', 17)}"
            state["defaultNetworkAclId"] = f"acl-{_hex(seed + 'default-acl', 17)}"
            state["mainRouteTableId"] = state["defaultRouteTableId"]
            state["ownerId"] = MOCK_ACCOUNT_ID
        elif type_ == "aws:ec2/eip:Eip":
            state["allocationId"] = ec2_id
            state["publicIp"] = f"198.51.100.{int(_hex(seed, 2), 16) % 254 + 1}"
        elif type_ == "aws:ec2/instance:Instance":
            state["publicIp"] = "203.0.113.10"
            state["privateIp"] = (
                f"10.0.{int(_hex(seed, 2), 16) % 254}.{int(_hex(seed, 4), 16) % 254 + 1}"
            )
            state["primaryNetworkInterfaceId"] = f"eni-{_hex(seed + 'eni', 17)}"
        elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
            state["defaultVersion"] = 1
        elif type_ == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" or (
            type_ == "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
        ):
            state["securityGroupRuleId"] = ec2_id
        elif type_ == "aws:ec2/natGateway:NatGateway":
            state["publicIp"] = f"198.51.100.{int(_hex(seed, 2), 16) % 254 + 1}"
    if type_ == "aws:kms/key:Key":
        key_id = physical_id(type_, name, inputs, region)
        state["keyId"] = key_id
        state["arn"] = _arn("kms", region, f"key/{key_id}")
    elif type_ == "aws:kms/alias:Alias":
        state["arn"] = _arn("kms", region, _name(inputs, "name", name))
    elif type_ == "aws:cloudwatch/logGroup:LogGroup":
        state["arn"] = _arn("logs", region, f"log-group:{_name(inputs, 'name', name)}")
    elif type_ == "aws:lb/loadBalancer:LoadBalancer":
        lb_name, lb_hex = _lb_parts(inputs, name, seed)
        kind = "net" if inputs.get("loadBalancerType") == "network" else "app"
        state["arnSuffix"] = f"{kind}/{lb_name}/{lb_hex}"
        state["arn"] = _arn("elasticloadbalancing", region, f"loadbalancer/{state['arnSuffix']}")
        prefix = "internal-" if inputs.get("internal") else ""
        state["dnsName"] = (
            f"{prefix}{lb_name}-{int(_hex(seed, 8), 16) % 10**10}.{region}.elb.amazonaws.com"
        )
        state["zoneId"] = ALB_ZONE_IDS.get(region or "", "Z35SXDOTRQ7X7K")
    elif type_ == "aws:lb/targetGroup:TargetGroup":
        state["arnSuffix"] = f"targetgroup/{_name(inputs, 'name', name)}/{_hex(seed, 16)}"
        state["arn"] = _arn("elasticloadbalancing", region, state["arnSuffix"])
    elif type_ == "aws:lb/listener:Listener":
        lb = _parent_lb(inputs.get("loadBalancerArn"))
        state["arn"] = _arn("elasticloadbalancing", region, f"listener/{lb}/{_hex(seed, 16)}")
    elif type_ == "aws:lb/listenerRule:ListenerRule":
        listener = str(inputs.get("listenerArn", ""))
        tail = listener.split(":listener/", 1)[1] if ":listener/" in listener else "app/x/0/0"
        state["arn"] = _arn(
            "elasticloadbalancing", region, f"listener-rule/{tail}/{_hex(seed, 16)}"
        )
    elif type_ == "aws:rds/instance:Instance":
        identifier = _name(inputs, "identifier", name)
        cluster = _chars(f"{MOCK_ACCOUNT_ID}|{region}", 12, _LOWER_ALNUM)
        address = f"{identifier}.{cluster}.{region}.rds.amazonaws.com"
        port = int(inputs.get("port") or 5432)
        state.update(
            arn=_arn("rds", region, f"db:{identifier}"),
            identifier=identifier,
            resourceId=physical_id(type_, name, inputs, region),
            address=address,
            endpoint=f"{address}:{port}",
            port=port,
            hostedZoneId="Z2R2ITUGPM61AM",
        )
        if inputs.get("manageMasterUserPassword"):
            secret = f"rds!db-{_uuid(seed + 'secret')}"
            state["masterUserSecrets"] = [
                {
                    "secretArn": _arn(
                        "secretsmanager",
                        region,
                        f"secret:{secret}-{_chars(seed + 'suffix', 6, _UPPER_ALNUM + 'abcdef')}",
                    ),
                    "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                    "secretStatus": "active",
                }
            ]
    elif type_ in ("aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup"):
        group = _name(inputs, "name", name)
        state["name"] = group
        kind = "subgrp" if "subnetGroup" in type_ else "pg"
        state["arn"] = _arn("rds", region, f"{kind}:{group}")
    elif type_ == "aws:sns/topic:Topic":
        state["arn"] = _arn("sns", region, _name(inputs, "name", name))
    elif type_ == "aws:sns/topicSubscription:TopicSubscription":
        state["arn"] = f"{inputs.get('topic', _arn('sns', region, name))}:{_uuid(seed)}"
    elif type_ == "aws:secretsmanager/secret:Secret":
        secret = _name(inputs, "name", name)
        suffix = _chars(seed, 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        state["arn"] = _arn("secretsmanager", region, f"secret:{secret}-{suffix}")
    elif type_ == "aws:ssm/parameter:Parameter":
        state["arn"] = _arn("ssm", region, f"parameter/{_name(inputs, 'name', name).lstrip('/')}")
    elif type_ == "aws:cloudtrail/trail:Trail":
        state["arn"] = _arn("cloudtrail", region, f"trail/{_name(inputs, 'name', name)}")
    elif type_ == "aws:route53/zone:Zone":
        zone_id = physical_id(type_, name, inputs, region)
        state["zoneId"] = zone_id
        state["arn"] = f"arn:aws:route53:::hostedzone/{zone_id}"
        n = int(_hex(seed, 4), 16)
        state["nameServers"] = [
            f"ns-{n % 512}.awsdns-{n % 64:02d}.com",
            f"ns-{512 + n % 512}.awsdns-{(n >> 6) % 64:02d}.net",
            f"ns-{1024 + n % 512}.awsdns-{(n >> 7) % 64:02d}.org",
            f"ns-{1536 + n % 512}.awsdns-{(n >> 8) % 64:02d}.co.uk",
        ]
    elif type_ == "aws:route53/healthCheck:HealthCheck":
        state["arn"] = f"arn:aws:route53:::healthcheck/{physical_id(type_, name, inputs, region)}"
    elif type_ == "aws:route53/record:Record":
        state["fqdn"] = str(inputs.get("name", name)).rstrip(".")
    elif type_ == "aws:acm/certificate:Certificate":
        state["arn"] = _arn("acm", region, f"certificate/{_uuid(seed)}")
        # The same CNAME for the same name in every region, as ACM does.
        domain = inputs.get("domainName", name)
        state["domainValidationOptions"] = [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_digest('name' + domain)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest('value' + domain)}.acm-validations.aws.",
            }
        ]
    elif type_ == "aws:cloudfront/distribution:Distribution":
        distribution_id = physical_id(type_, name, inputs, region)
        state["arn"] = f"arn:aws:cloudfront::{MOCK_ACCOUNT_ID}:distribution/{distribution_id}"
        state["domainName"] = f"d{_chars(seed, 13, _LOWER_ALNUM)}.cloudfront.net"
        state["hostedZoneId"] = CLOUDFRONT_ZONE_ID
        state["etag"] = _chars(seed + "etag", 14, _UPPER_ALNUM)
    elif type_ == "aws:cloudwatch/logDeliverySource:LogDeliverySource":
        state["arn"] = _arn("logs", region, f"delivery-source:{_name(inputs, 'name', name)}")
    elif type_ == "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination":
        state["arn"] = _arn("logs", region, f"delivery-destination:{_name(inputs, 'name', name)}")
    elif type_ == "aws:cloudwatch/logDelivery:LogDelivery":
        state["arn"] = _arn("logs", region, f"delivery:{_chars(seed, 16, _LOWER_ALNUM)}")
    elif type_ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        state["arn"] = _arn("cloudwatch", region, f"alarm:{_name(inputs, 'name', name)}")
    elif type_ == "aws:wafv2/webAcl:WebAcl":
        scope = "global" if inputs.get("scope") == "CLOUDFRONT" else "regional"
        acl_id = physical_id(type_, name, inputs, region)
        acl_name = _name(inputs, "name", name)
        state["arn"] = _arn("wafv2", region, f"{scope}/webacl/{acl_name}/{acl_id}")
        state["lockToken"] = _uuid(seed + "lock")
    elif type_ == "aws:iam/role:Role":
        path = str(inputs.get("path") or "/")
        state["arn"] = _arn("iam", "", f"role{path}{_name(inputs, 'name', name)}")
        state["name"] = _name(inputs, "name", name)
        state["uniqueId"] = "AROA" + _chars(seed, 17, _UPPER_ALNUM)
    elif type_ == "aws:iam/instanceProfile:InstanceProfile":
        path = str(inputs.get("path") or "/")
        state["arn"] = _arn("iam", "", f"instance-profile{path}{_name(inputs, 'name', name)}")
        state["uniqueId"] = "AIPA" + _chars(seed, 17, _UPPER_ALNUM)
    elif type_ == "aws:iam/policy:Policy":
        state["arn"] = _arn("iam", "", f"policy/{_name(inputs, 'name', name)}")
        state["policyId"] = "ANPA" + _chars(seed, 17, _UPPER_ALNUM)
    elif type_ == "aws:s3/bucket:Bucket":
        bucket = _name(inputs, "bucket", name)
        state["arn"] = f"arn:aws:s3:::{bucket}"
        state["bucket"] = bucket
        state["bucketDomainName"] = f"{bucket}.s3.amazonaws.com"
        state["bucketRegionalDomainName"] = f"{bucket}.s3.{region}.amazonaws.com"
        state["hostedZoneId"] = "Z3AQBSTGFYJSTF"
        state["region"] = region
    elif type_ == "aws:autoscaling/group:Group":
        group = _name(inputs, "name", name)
        state["name"] = group
        state["arn"] = _arn(
            "autoscaling", region, f"autoScalingGroup:{_uuid(seed)}:autoScalingGroupName/{group}"
        )
    return state


def random_state(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What pulumi_random would store: a value fixed by the logical name and keepers (the real
    provider draws it once at create and keeps it in state; it changes only on replacement)."""
    seed = _digest(f"{type_}|{name}|{json.dumps(inputs.get('keepers') or {}, sort_keys=True)}")
    if type_ == "random:index/randomPassword:RandomPassword":
        length = int(inputs.get("length", 16))
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        if inputs.get("special", True):
            alphabet += str(inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?")
        digest = hashlib.sha256(seed.encode()).digest() * (1 + length // 32)
        result = "".join(alphabet[b % len(alphabet)] for b in digest[:length])
        return {"result": result, "bcryptHash": f"$2a$10${seed}"}
    if type_ == "random:index/randomId:RandomId":
        size = int(inputs.get("byteLength", 8))
        raw = hashlib.sha256(seed.encode()).hexdigest()[: size * 2]
        return {"hex": raw, "dec": str(int(raw, 16)), "b64Url": raw, "b64Std": raw, "id": raw}
    return {}


class RecordingMocks(sdk.Mocks):
    """Answers resource registrations and lookups like the engine would, offline."""

    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}
        self.invokes: list[tuple[str, str | None]] = []
        self.lookups: list[Lookup] = []

    def region_of(self, provider_ref: str | None) -> str | None:
        if not provider_ref:
            return None
        return self.provider_regions.get(provider_ref.rsplit("::", 1)[0])

    def new_resource(self, args: sdk.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == PROVIDER_TYPE:
            return f"{args.name}-provider-id", dict(args.inputs)
        if args.typ.startswith("random:"):
            return f"{args.name}-id", {
                **args.inputs,
                **random_state(args.typ, args.name, args.inputs),
            }
        region = self.region_of(args.provider)
        state = {**args.inputs, **computed_state(args.typ, args.name, region, args.inputs)}
        return physical_id(args.typ, args.name, args.inputs, region), state

    def call(self, args: sdk.MockCallArgs) -> tuple[dict, list]:
        region = self.region_of(args.provider)
        self.invokes.append((args.token, region))
        answer = _LOOKUPS.get(args.token)
        if answer is None:
            raise OfflineError(
                f"lookup {args.token} has no offline answer; add one to tap_tooling/offline.py"
            )
        if not args.token.startswith("pulumi:") and region is None:
            raise OfflineError(f"lookup {args.token} has no explicit provider")
        result = answer(region or "", args.args)
        self.lookups.append(Lookup(args.token, region, dict(args.args), result))
        return result, []


@dataclass(frozen=True)
class Zone:
    """One zone as DescribeAvailabilityZones describes it."""

    name: str
    zone_id: str
    zone_type: str = "availability-zone"
    opt_in_status: str = "opt-in-not-required"
    state: str = "available"
    group_name: str = ""


# AZ count per region (the rest get 3); names map to zone ids in order here, as they do in
# some accounts (AWS maps them per account).
AZ_COUNTS = {"us-east-1": 6, "us-west-2": 4, "us-east-2": 3, "eu-west-1": 3, "ap-southeast-2": 3}
# Local Zones the mock account has opted into, and ones it has not (returned only with
# allAvailabilityZones): us-west-2-lax-1a sorts before us-west-2a.
LOCAL_ZONES = {
    "us-west-2": (("lax-1a", "lax1-az1", "opted-in"), ("lax-1b", "lax1-az2", "opted-in")),
    "us-east-1": (("bos-1a", "bos1-az1", "not-opted-in"),),
}


def region_zones(region: str) -> list[Zone]:
    """Every zone of `region` the mock account can see (AZs, then Local Zones)."""
    code = _region_code(region)
    zones = [
        Zone(f"{region}{letter}", f"{code}-az{i + 1}", group_name=region)
        for i, letter in enumerate("abcdef"[: AZ_COUNTS.get(region, 3)])
    ]
    zones += [
        Zone(
            f"{region}-{suffix}",
            f"{code}-{zone_id}",
            "local-zone",
            status,
            group_name=f"{region}-{suffix[:-1]}",
        )
        for suffix, zone_id, status in LOCAL_ZONES.get(region, ())
    ]
    return zones


_ZONE_FACTS: Mapping[str, Callable[[Zone], str]] = {
    "zone-type": lambda z: z.zone_type,
    "opt-in-status": lambda z: z.opt_in_status,
    "state": lambda z: z.state,
    "zone-name": lambda z: z.name,
    "zone-id": lambda z: z.zone_id,
    "group-name": lambda z: z.group_name,
    "region-name": lambda z: z.name[: len(z.group_name)] if z.zone_type == "availability-zone"
    else z.group_name.rsplit("-", 1)[0],
}  # fmt: skip


def _availability_zones(region: str, args: dict) -> dict:
    """getAvailabilityZones as AWS answers it: opted-in zones unless allAvailabilityZones,
    then `filters` (name/values, '*' wildcards), `state`, `excludeNames`, `excludeZoneIds`;
    sorted by name, as the provider returns them."""
    kept = []
    for zone in sorted(region_zones(region), key=lambda z: z.name):
        if not args.get("allAvailabilityZones") and zone.opt_in_status == "not-opted-in":
            continue
        if args.get("state") and zone.state != args["state"]:
            continue
        if zone.name in (args.get("excludeNames") or []):
            continue
        if zone.zone_id in (args.get("excludeZoneIds") or []):
            continue
        facts_match = all(
            any(fnmatch.fnmatchcase(_ZONE_FACTS[f["name"]](zone), v) for v in f.get("values", []))
            for f in args.get("filters") or []
            if f.get("name") in _ZONE_FACTS
        )
        unknown = [
            f.get("name") for f in args.get("filters") or [] if f.get("name") not in _ZONE_FACTS
        ]
        if unknown:
            raise OfflineError(f"getAvailabilityZones filter {unknown[0]!r} has no offline answer")
        if facts_match:
            kept.append(zone)
    return {
        "names": [z.name for z in kept],
        "zoneIds": [z.zone_id for z in kept],
        "groupNames": sorted({z.group_name for z in kept}),
        "id": region,
        "region": region,
    }


def _looked_up_zone(name: str) -> str:
    """The id of an existing hosted zone found by name: `Z` + 20 characters, like AWS's."""
    return "Z" + _chars(f"existing-zone|{name.rstrip('.')}", 20, _UPPER_ALNUM)


_LOOKUPS: dict[str, Callable[[str, dict], dict]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda region, _a: {
        "accountId": MOCK_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/offline",
        "id": MOCK_ACCOUNT_ID,
        "userId": "AIDAOFFLINE",
    },
    "aws:index/getPartition:getPartition": lambda region, _a: {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
        "reverseDnsPrefix": "com.amazonaws",
    },
    "aws:route53/getZone:getZone": lambda region, args: {
        "zoneId": (zone_id := args.get("zoneId") or _looked_up_zone(args.get("name") or "")),
        "id": zone_id,
        "name": args.get("name") or "tap-offline-plan.net",
        "nameServers": ["ns-1.awsdns-00.org", "ns-2.awsdns-00.net"],
        "privateZone": False,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
    },
    "aws:cloudfront/getCachePolicy:getCachePolicy": lambda region, args: {
        "id": {
            "Managed-CachingDisabled": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            "Managed-CachingOptimized": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        }.get(args.get("name", ""), "00000000-0000-0000-0000-000000000000"),
        "name": args.get("name", ""),
    },
    "aws:cloudfront/getOriginRequestPolicy:getOriginRequestPolicy": lambda region, args: {
        "id": {
            "Managed-AllViewer": "216adef6-5c7f-47e4-b989-5492eafa07d3",
            "Managed-AllViewerExceptHostHeader": "b689b0a8-53d0-40ab-baf2-68738e2966ac",
        }.get(args.get("name", ""), "00000000-0000-0000-0000-000000000000"),
        "name": args.get("name", ""),
    },
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": lambda region, args: {
        "id": f"pl-{_hex(region + args.get('name', ''), 8)}",
        "name": args.get("name", ""),
        "arn": _arn("ec2", region, f"prefix-list/pl-{_hex(region + args.get('name', ''), 8)}"),
        "addressFamily": "IPv4",
        # A reference counts against a group's rule quota at the list's weight (max entries).
        "maxEntries": managed_prefix_list_weight(args.get("name", "")) or 20,
        "entries": [],
        "ownerId": "AWS",
        "version": 1,
    },
    "aws:index/getRegion:getRegion": lambda region, _a: {
        "name": region,
        "region": region,
        "id": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": region,
    },
}


class RecordingMonitor(sdk.MockMonitor):
    """A mock monitor that also keeps each registration's parent, provider and options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        self.recorded: list[Recorded] = []
        self.violations: list[str] = []

    def RegisterResource(self, request: Any) -> Any:
        custom = bool(request.custom)
        if custom and request.type.startswith("aws:") and not request.provider:
            # Reported after the run: raising inside the RPC thread only leaves asyncio noise.
            self.violations.append(
                f"{request.type} {request.name!r} has no explicit provider "
                "(default providers are disabled for aws)"
            )
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = sdk.deserialize(request.object)
        # The mocks have the provider's region once it is registered: record it now.
        if request.type == PROVIDER_TYPE:
            self.recording_mocks.provider_regions[response.urn] = inputs.get("region", "")
        provider_urn = request.provider.rsplit("::", 1)[0] if request.provider else ""
        self.recorded.append(
            Recorded(
                type=request.type,
                name=request.name,
                urn=response.urn,
                inputs=_plain(inputs),
                custom=custom,
                parent_urn=request.parent,
                provider_urn=provider_urn,
                region=self.recording_mocks.provider_regions.get(provider_urn) if custom else None,
                protect=bool(request.protect),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=tuple(request.ignoreChanges),
                depends_on=tuple(sorted(request.dependencies)),
                retain_on_delete=bool(request.retainOnDelete),
                aliases=tuple(json_format.MessageToDict(a) for a in request.aliases),
            )
        )
        return response


def _plain(value: Any) -> Any:
    """Inputs as plain JSON-like data (secrets unwrapped, resource references named)."""
    if isinstance(value, dict) and sdk.SECRET_SIG in value:
        return _plain(value.get("value"))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return f"<ref {sdk.resource_name(value)}>"
    return value


class _WarningLog(logging.Handler):
    """Collects what the program logs to the engine at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# Submodules of pulumi_aws the program uses. Some of them warn once, when imported, about
# deprecated classes TAP never touches; importing them here first keeps those import-time
# notices out of the run, so every warning recorded during it comes from the program itself.
_AWS_MODULES = (
    "acm", "autoscaling", "cloudfront", "cloudtrail", "cloudwatch", "ec2", "iam", "kms", "lb",
    "rds", "route53", "s3", "secretsmanager", "sns", "ssm", "wafv2",
)  # fmt: skip


def _import_quietly() -> None:
    import pulumi_aws

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in _AWS_MODULES:
            getattr(getattr(pulumi_aws, module), "_utilities", None)  # forces the lazy import


FREEZE_AFTER_RUN = False
"""For a process that makes hundreds of runs (the test suite sets it): a run's leftovers are
moved out of the collector's generations when it ends (gc.freeze) instead of being walked.

A run allocates a few hundred thousand tracked objects with the collector paused; the first
collection after it walks every one still alive, and the older generations walk the
survivors again (in the suite, a tenth of its CPU). Frozen, they are never walked: what
reference counting frees is freed as usual, and only the run's reference cycles stay (a few
MB a run). A process that plans once (deploy.py) keeps the default."""


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for one run (reference counting still frees almost
    everything a run drops).

    A run keeps tens of thousands of tasks, futures and Outputs alive until it ends, in a
    process that already holds hundreds of thousands of long-lived objects (pulumi_aws's
    generated classes): the collections its allocations trigger walk them over and over and
    free almost nothing, about half of a run's CPU. The cycles a run leaves behind are collected
    after it, once collection resumes (or kept, frozen: FREEZE_AFTER_RUN).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if FREEZE_AFTER_RUN:
            gc.freeze()
        if enabled:
            gc.enable()


def stack_config_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def stack_names(project_dir: Path | None = None) -> list[str]:
    """Every stack of the project: a stack is any name with a `Pulumi.<name>.yaml`."""
    files = (project_dir or PROJECT_DIR).glob("Pulumi.*.yaml")
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in files)


def read_stack_file(stack: str) -> dict[str, Any]:
    """The `tap:` keys of `Pulumi.<stack>.yaml`, without the namespace."""
    path = stack_config_file(stack)
    if not path.exists():
        known = ", ".join(stack_names()) or "none"
        raise OfflineError(f"no stack file {path.name} (stacks: {known})")
    try:
        document = yaml_text.parse(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise OfflineError(f"{path.name}{where}: {problem}") from None
    if not isinstance(document, dict):
        raise OfflineError(f"{path.name}: expected a mapping with a config: section")
    config = document.get("config") or {}
    prefix = f"{NAMESPACE}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}


OFFLINE_DOMAIN = "tap-offline-plan.net"
"""Stands in for the shipped placeholder domain in offline runs only, so the plan of a stack
whose owner has not set a domain yet still exercises DNS, certificates, failover and the edge.
A real preview or up never sees it: the program refuses the placeholder itself."""


def with_offline_domain(raw: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """`raw` with the placeholder domain replaced for an offline run, and a notice saying so."""
    dns = raw.get("dns")
    if isinstance(dns, str):
        try:
            dns = json.loads(dns)
        except ValueError:
            return dict(raw), None
    if not isinstance(dns, Mapping) or dns.get("domain") != PLACEHOLDER_DOMAIN:
        return dict(raw), None
    notice = (
        f"tap:dns.domain is the placeholder {PLACEHOLDER_DOMAIN}: planned offline as "
        f"{OFFLINE_DOMAIN}; a real preview or up stops until you set a domain you own"
    )
    return {**raw, "dns": {**dns, "domain": OFFLINE_DOMAIN}}, notice


def run_program(
    stack: str,
    config: Mapping[str, Any] | None = None,
    program: Path = MAIN_PROGRAM,
) -> PlanResult:
    """Run `program` for `stack` under recording mocks; `config` overrides the stack file.

    Raises OfflineError for problems of the harness and lets the program's own errors
    (pulumi.RunError for bad config) through.
    """
    raw, placeholder_notice = with_offline_domain(
        read_stack_file(stack) if config is None else config
    )

    async def program_body() -> Mapping[str, Any]:
        runpy.run_path(str(program), run_name="__main__")
        return sdk.root_outputs()

    result = _run(stack, raw, program_body, RecordingMonitor(RecordingMocks()))
    result.notices = [placeholder_notice] if placeholder_notice else []
    return result


def run_components(
    build: Callable[[], Mapping[str, Any] | None],
    monitor: RecordingMonitor | None = None,
    stack: str = "unit",
    config: Mapping[str, Any] | None = None,
) -> PlanResult:
    """Run `build` (code creating components, as a component's own tests do) under the same
    recording mocks, strictness and speed as `run_program`; the mapping it returns (values or
    Outputs) becomes the result's outputs. `monitor`: a RecordingMonitor (subclass) that
    records more; `config`: `tap:` keys, for code that reads pulumi.Config."""

    async def body() -> Mapping[str, Any]:
        return build() or {}

    return _run(stack, config or {}, body, monitor or RecordingMonitor(RecordingMocks()))


def _run(
    stack: str,
    raw: Mapping[str, Any],
    body: Callable[[], Awaitable[Mapping[str, Any]]],
    monitor: RecordingMonitor,
) -> PlanResult:
    """Run `body` as the engine runs a program, under `monitor` and the `tap:` config `raw`;
    the mapping it returns is resolved into the outputs."""
    _import_quietly()
    mocks = monitor.recording_mocks
    engine_log = logging.getLogger(f"tap_tooling.offline.engine.{stack}")
    engine_log.propagate = False
    engine_log.handlers = [warning_log := _WarningLog()]
    sdk.install_mocks(
        mocks,
        monitor,
        PROJECT_NAME,
        stack,
        engine_log,
        {f"{NAMESPACE}:{key}": json.dumps(value) for key, value in raw.items()},
    )
    result = PlanResult(stack=stack)

    async def run_body() -> None:
        outputs = await body()
        result.outputs = dict(await pulumi.Output.from_input(outputs).future() or {})

    try:
        with (
            warnings.catch_warnings(record=True) as python_warnings,
            sdk.without_source_positions(),
            without_cyclic_gc(),
        ):
            warnings.simplefilter("always")
            sdk.run(run_body)
    finally:
        sdk.clear_config()
    if monitor.violations:
        raise OfflineError(monitor.violations[0])
    result.resources = monitor.recorded
    result.invokes = mocks.invokes
    result.lookups = mocks.lookups
    result.warnings = warning_log.messages + [
        f"{w.category.__name__}: {w.message}"
        for w in python_warnings
        if not issubclass(w.category, ResourceWarning)
    ]
    return result
