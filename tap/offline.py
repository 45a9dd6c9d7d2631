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

import hashlib
import json
import logging
import runpy
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tap.config import NAMESPACE

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


@dataclass
class PlanResult:
    """Everything one program run registered, and the stack outputs it exported."""

    stack: str
    resources: list[Recorded] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, str | None]] = field(default_factory=list)
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

    def in_region(self, region: str) -> list[Recorded]:
        return [r for r in self.resources if r.region == region]

    def by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def component_of(self, resource: Recorded) -> Recorded | None:
        """The outermost component resource a resource sits in (None for top-level ones)."""
        index = self.by_urn()
        outermost = None
        parent = index.get(resource.parent_urn)
        while parent is not None:
            if not parent.custom:
                outermost = parent
            parent = index.get(parent.parent_urn)
        return outermost


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _arn(service: str, region: str | None, resource: str) -> str:
    return f"arn:aws:{service}:{region or ''}:{MOCK_ACCOUNT_ID}:{resource}"


# Outputs the engine would compute and the program reads back (ARNs, ids, DNS names).
def computed_state(type_: str, name: str, region: str | None, inputs: dict[str, Any]) -> dict:
    module, _, kind = type_.removeprefix("aws:").partition(":")
    service = module.split("/")[0]
    state: dict[str, Any] = {"arn": _arn(service, region, f"{kind.lower()}/{name}")}
    if type_ == "aws:kms/key:Key":
        state["keyId"] = f"{name}-key-id"
        state["arn"] = _arn("kms", region, f"key/{name}-key-id")
    elif type_ == "aws:cloudwatch/logGroup:LogGroup":
        state["arn"] = _arn("logs", region, f"log-group:{inputs.get('name', name)}")
    elif type_ == "aws:lb/loadBalancer:LoadBalancer":
        state["arnSuffix"] = f"app/{inputs.get('name', name)}/0123456789abcdef"
        state["dnsName"] = f"{inputs.get('name', name)}-123456789.{region}.elb.amazonaws.com"
        state["zoneId"] = "Z35SXDOTRQ7X7K"
    elif type_ == "aws:lb/targetGroup:TargetGroup":
        state["arnSuffix"] = f"targetgroup/{inputs.get('name', name)}/0123456789abcdef"
    elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        state["latestVersion"] = 1
    elif type_ == "aws:ec2/instance:Instance":
        state["publicIp"] = "203.0.113.10"
    elif type_ == "aws:rds/instance:Instance":
        identifier = inputs.get("identifier", name)
        address = f"{identifier}.c0offline0000.{region}.rds.amazonaws.com"
        state.update(
            arn=_arn("rds", region, f"db:{identifier}"),
            identifier=identifier,
            address=address,
            endpoint=f"{address}:5432",
            port=5432,
        )
        if inputs.get("manageMasterUserPassword"):
            state["masterUserSecrets"] = [
                {
                    "secretArn": _arn("secretsmanager", region, f"secret:rds!db-{identifier}"),
                    "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                    "secretStatus": "active",
                }
            ]
    elif (
        type_ == "aws:rds/subnetGroup:SubnetGroup"
        or type_ == "aws:rds/parameterGroup:ParameterGroup"
    ):
        state["name"] = inputs.get("name", name)
    elif type_ == "aws:sns/topic:Topic":
        state["arn"] = _arn("sns", region, inputs.get("name", name))
    elif type_ == "aws:cloudtrail/trail:Trail":
        state["arn"] = _arn("cloudtrail", region, f"trail/{inputs.get('name', name)}")
    elif type_ == "aws:route53/zone:Zone":
        digest = hashlib.sha256(inputs.get("name", name).encode()).hexdigest()[:16].upper()
        state["zoneId"] = f"Z0{digest}"
        state["nameServers"] = [
            "ns-1024.awsdns-00.org",
            "ns-1536.awsdns-00.co.uk",
            "ns-512.awsdns-00.net",
            "ns-0.awsdns-00.com",
        ]
    elif type_ == "aws:route53/record:Record":
        state["fqdn"] = str(inputs.get("name", name)).rstrip(".")
    elif type_ == "aws:acm/certificate:Certificate":
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
        state["arn"] = f"arn:aws:cloudfront::{MOCK_ACCOUNT_ID}:distribution/{name}-id"
        state["domainName"] = f"d{_digest(name)[:13]}.cloudfront.net"
        state["hostedZoneId"] = "Z2FDTNDATAQYW2"
    elif type_ == "aws:cloudwatch/logDeliverySource:LogDeliverySource":
        state["arn"] = _arn("logs", region, f"delivery-source:{inputs.get('name', name)}")
    elif type_ == "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination":
        state["arn"] = _arn("logs", region, f"delivery-destination:{inputs.get('name', name)}")
    elif type_ == "aws:wafv2/webAcl:WebAcl":
        state["arn"] = _arn("wafv2", region, f"global/webacl/{inputs.get('name', name)}/{name}-id")
    elif type_ == "aws:iam/role:Role":
        state["arn"] = _arn("iam", "", f"role/{inputs.get('name', name)}")
        state["name"] = inputs.get("name", name)
    elif type_ == "aws:iam/instanceProfile:InstanceProfile":
        state["arn"] = _arn("iam", "", f"instance-profile/{inputs.get('name', name)}")
    elif type_ == "aws:s3/bucket:Bucket":
        state["arn"] = f"arn:aws:s3:::{inputs.get('bucket', name)}"
    elif type_ == "aws:autoscaling/group:Group":
        state["name"] = inputs.get("name", name)
    return state


class RecordingMocks(pulumi_mocks.Mocks):
    """Answers resource registrations and lookups like the engine would, offline."""

    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}
        self.invokes: list[tuple[str, str | None]] = []

    def region_of(self, provider_ref: str | None) -> str | None:
        if not provider_ref:
            return None
        return self.provider_regions.get(provider_ref.rsplit("::", 1)[0])

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == PROVIDER_TYPE:
            return f"{args.name}-provider-id", dict(args.inputs)
        region = self.region_of(args.provider)
        state = {**args.inputs, **computed_state(args.typ, args.name, region, args.inputs)}
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
        region = self.region_of(args.provider)
        self.invokes.append((args.token, region))
        answer = _LOOKUPS.get(args.token)
        if answer is None:
            raise OfflineError(
                f"lookup {args.token} has no offline answer; add one to tap/offline.py"
            )
        if not args.token.startswith("pulumi:") and region is None:
            raise OfflineError(f"lookup {args.token} has no explicit provider")
        return answer(region or "", args.args), []


def _availability_zones(region: str, _args: dict) -> dict:
    letters = "abcdef"
    return {
        "names": [f"{region}{letter}" for letter in letters],
        "zoneIds": [f"{region[:3]}{region[-1]}-az{i + 1}" for i in range(len(letters))],
        "id": region,
        "region": region,
    }


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
        "zoneId": args.get("zoneId") or "Z0OFFLINEZONE0001",
        "id": args.get("zoneId") or "Z0OFFLINEZONE0001",
        "name": args.get("name") or "example.com",
        "nameServers": ["ns-1.awsdns-00.org", "ns-2.awsdns-00.net"],
        "privateZone": False,
        "arn": "arn:aws:route53:::hostedzone/Z0OFFLINEZONE0001",
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
        "id": f"pl-{_digest(args.get('name', ''))[:17]}",
        "name": args.get("name", ""),
        "arn": _arn("ec2", region, f"prefix-list/pl-{_digest(args.get('name', ''))[:17]}"),
        "addressFamily": "IPv4",
        "maxEntries": 55,
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


class RecordingMonitor(pulumi_mocks.MockMonitor):
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
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
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
            )
        )
        return response


_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # pulumi's marker of a secret value


def _plain(value: Any) -> Any:
    """Inputs as plain JSON-like data (secrets unwrapped, resource references named)."""
    if isinstance(value, dict) and _SECRET_SIG in value:
        return _plain(value.get("value"))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return f"<ref {value._name}>"
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


def stack_config_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def read_stack_file(stack: str) -> dict[str, Any]:
    """The `tap:` keys of `Pulumi.<stack>.yaml`, without the namespace."""
    path = stack_config_file(stack)
    if not path.exists():
        raise OfflineError(f"no stack file {path.name} (stacks: dev, staging, prod)")
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    prefix = f"{NAMESPACE}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}


def run_program(
    stack: str,
    config: Mapping[str, Any] | None = None,
    program: Path = MAIN_PROGRAM,
) -> PlanResult:
    """Run `program` for `stack` under recording mocks; `config` overrides the stack file.

    Raises OfflineError for problems of the harness and lets the program's own errors
    (pulumi.RunError for bad config) through.
    """
    raw = read_stack_file(stack) if config is None else dict(config)
    _import_quietly()
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    engine_log = logging.getLogger(f"tap.offline.engine.{stack}")
    engine_log.propagate = False
    engine_log.handlers = [warning_log := _WarningLog()]
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT_NAME, stack=stack, preview=False, monitor=monitor, logger=engine_log
    )
    pulumi.runtime.set_all_config(
        {f"{NAMESPACE}:{key}": json.dumps(value) for key, value in raw.items()}, []
    )
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    result = PlanResult(stack=stack)

    async def program_body() -> None:
        runpy.run_path(str(program), run_name="__main__")
        root = pulumi_settings.get_root_resource()
        outputs = getattr(root, "outputs", {})
        result.outputs = await pulumi.Output.from_input(outputs).future() or {}

    try:
        with warnings.catch_warnings(record=True) as python_warnings:
            warnings.simplefilter("always")
            _sync_await(run_pulumi_func(program_body))
    finally:
        pulumi.runtime.set_all_config({}, [])
    if monitor.violations:
        raise OfflineError(monitor.violations[0])
    result.resources = monitor.recorded
    result.invokes = mocks.invokes
    result.warnings = warning_log.messages + [
        f"{w.category.__name__}: {w.message}"
        for w in python_warnings
        if not issubclass(w.category, ResourceWarning)
    ]
    return result
