"""The stack outputs: one typed definition for the program that exports them and for the
tooling that reads them back (plan, verify, dr, delegation). docs/operations.md documents it.

Each section is a frozen dataclass, generic in how its values are held, so its field list is
written once:
- in the program (`StackOutputs`, `RegionOutputs`, ...) every value is a `pulumi.Input`, and
  `export` hands each top-level section to `pulumi.export`;
- in the tooling (`ParsedOutputs`, `ParsedRegion`, ...) `parse` wraps each JSON value of
  `pulumi stack output --json` in a `Value` that is checked when it is read: a missing or
  ill-typed value fails only what needs it, with one line naming its key path
  (`outputs regions.us-east-1.vpc_id: missing`).
A field added to a section is exported, parsed and required by `parse` from then on; one that
older stacks lack is marked ADDED_LATER. Keys the definition does not know are ignored.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from functools import cache
from types import MappingProxyType, NoneType, UnionType
from typing import Any, Generic, TypeVar

import pulumi

Text = TypeVar("Text")
"""A string: `pulumi.Input[str]` in the program, `Value[str]` once parsed."""
Texts = TypeVar("Texts")
"""A list of strings: `pulumi.Input[Sequence[pulumi.Input[str]]]`, then
`Value[tuple[str, ...]]`."""
Flag = TypeVar("Flag")
"""A boolean: `pulumi.Input[bool]`, then `Value[bool]`."""
Number = TypeVar("Number")
"""An integer: `pulumi.Input[int]`, then `Value[int]`."""
TextMap = TypeVar("TextMap")
"""An object of strings: `pulumi.Input[Mapping[str, pulumi.Input[str]]]`, then
`Value[Mapping[str, str]]`."""
T = TypeVar("T")

FLATTENED = {"flattened": True}
"""Field metadata: a section whose keys sit in its parent's object (absent when it is None)."""
ADDED_LATER = {"added_later": True}
"""Field metadata: outputs of stacks last deployed before the field existed lack it, so
`parse` does not require it; its readers fall back."""


# ---------------------------------------------------------------------------------- sections


@dataclass(frozen=True, kw_only=True)
class DatabaseFields(Generic[Text, Flag, Number]):
    """A region's database, its keys flattened into `regions.<region>`."""

    db_identifier: Text
    """The DB instance identifier."""
    db_endpoint: Text
    """`address:port`."""
    db_address: Text
    """The instance's DNS name."""
    db_port: Number
    """The port it listens on."""
    db_is_replica: Flag
    """A read replica of the primary region's database (false once promoted)."""
    db_multi_az: Flag
    """Whether the instance is Multi-AZ."""
    db_secret_arn: Text
    """The region's own secret holding the master credential."""


@dataclass(frozen=True, kw_only=True)
class RegionFields(Generic[Text, Texts, Flag, Number]):
    """`regions.<region>`: what one region built."""

    vpc_id: Text
    """The region's VPC."""
    vpc_cidr: Text
    """Its IPv4 CIDR."""
    public_subnet_ids: Texts
    """One public subnet per AZ."""
    private_subnet_ids: Texts
    """One private (app) subnet per AZ."""
    database_subnet_ids: Texts
    """One database subnet per AZ."""
    public_route_table_id: Text
    """The public subnets' route table."""
    private_route_table_ids: Texts
    """The private subnets' route tables (one per NAT gateway, or one)."""
    database_route_table_id: Text
    """The database subnets' route table (no internet route)."""
    kms_key_arn: Text
    """The region's KMS key."""
    alb_arn: Text
    """The application load balancer."""
    alb_dns_name: Text
    """Its DNS name."""
    alb_zone_id: Text
    """Its canonical hosted zone (for alias records)."""
    target_group_arn: Text
    """The app's target group."""
    asg_name: Text
    """The app's auto scaling group."""
    url: Text
    """The ALB's URL (https:// when it has a certificate)."""
    https: Flag
    """Whether the ALB serves HTTPS."""
    alert_topic_arn: Text
    """The region's alert topic."""
    dashboard_name: Text
    """The region's CloudWatch dashboard."""
    database: DatabaseFields[Text, Flag, Number] | None = field(metadata=FLATTENED)
    """The region's database (`db_*` keys); None (no keys) when the region has none."""


@dataclass(frozen=True, kw_only=True)
class DnsFields(Generic[Text, Texts, TextMap]):
    """`dns`: the domain, its failover records and health checks (exported with tap:dns)."""

    zone_id: Text
    """The public hosted zone."""
    app_fqdn: Text
    """The name users reach the app at."""
    url: Text
    """`https://<app_fqdn>`."""
    failover_fqdn: Text
    """The name with the regional failover records: the origin name behind CloudFront, else
    app_fqdn itself."""
    health_check_ids: TextMap
    """{region: Route53 health check id}."""
    name_servers: Texts | None
    """The zone's name servers when the stack created the zone, else None."""


@dataclass(frozen=True, kw_only=True)
class EdgeFields(Generic[Text]):
    """`edge`: the CloudFront distribution (exported with tap:edge.cloudfront_enabled)."""

    distribution_id: Text
    """The distribution."""
    domain_name: Text
    """Its cloudfront.net name."""
    web_acl_arn: Text | None
    """Its WAF web ACL; None without WAF."""


@dataclass(frozen=True, kw_only=True)
class AuditFields(Generic[Text]):
    """`audit`: the account's multi-region CloudTrail trail."""

    trail_name: Text
    """The trail."""
    trail_arn: Text
    """Its ARN (finds it from any region)."""
    trail_bucket: Text
    """The bucket it logs to."""
    trail_region: Text
    """Its home region (the primary region)."""


@dataclass(frozen=True, kw_only=True)
class SummaryFields(Generic[Text, Texts, Flag, Number]):
    """`deployment_summary`: what the stack is."""

    environment: Text
    """tap:environment."""
    production: Flag = field(metadata=ADDED_LATER)
    """StackConfig.is_production at the last `up`; older outputs lack it (readers then take
    environment `prod` as production)."""
    primary_region: Text
    """tap:primary_region."""
    regions: Texts
    """Every region of the stack, in config order."""
    az_count: Number
    """Availability zones per region."""
    nat_strategy: Text
    """tap:network.nat_strategy."""


@dataclass(frozen=True, kw_only=True)
class StackFields(Generic[Text, Texts, Flag, Number, TextMap]):
    """Every stack output, one field per top-level key."""

    regions: Mapping[str, RegionFields[Text, Texts, Flag, Number]]
    """{region: what it built}."""
    dns: DnsFields[Text, Texts, TextMap] | None
    """The domain's records; None (not exported) without tap:dns."""
    edge: EdgeFields[Text] | None
    """The distribution; None (not exported) without CloudFront."""
    audit: AuditFields[Text]
    """The trail."""
    notices: Texts
    """What the program tells the user (a region serving plain HTTP, ...)."""
    deployment_summary: SummaryFields[Text, Texts, Flag, Number]
    """What the stack is."""


# ---------------------------------------------------------------------- the program's side

_InText = pulumi.Input[str]
_InTexts = pulumi.Input[Sequence[pulumi.Input[str]]]
_InFlag = pulumi.Input[bool]
_InNumber = pulumi.Input[int]
_InTextMap = pulumi.Input[Mapping[str, pulumi.Input[str]]]

DatabaseOutputs = DatabaseFields[_InText, _InFlag, _InNumber]
RegionOutputs = RegionFields[_InText, _InTexts, _InFlag, _InNumber]
DnsOutputs = DnsFields[_InText, _InTexts, _InTextMap]
EdgeOutputs = EdgeFields[_InText]
AuditOutputs = AuditFields[_InText]
DeploymentSummary = SummaryFields[_InText, _InTexts, _InFlag, _InNumber]
StackOutputs = StackFields[_InText, _InTexts, _InFlag, _InNumber, _InTextMap]


def export(outputs: StackOutputs) -> None:
    """`pulumi.export` every top-level output in the documented shape; a None section (dns,
    edge) is not exported."""
    for section in fields(outputs):
        value = getattr(outputs, section.name)
        if value is not None:
            pulumi.export(section.name, _exported(value))


def _exported(value: Any) -> Any:
    """A section as the JSON object it is exported as (values left as they are: the engine
    resolves the Outputs in it)."""
    if is_dataclass(value) and not isinstance(value, type):
        exported: dict[str, Any] = {}
        for item in fields(value):
            inner = getattr(value, item.name)
            if item.metadata.get("flattened"):
                exported.update(_exported(inner) if inner is not None else {})
            else:
                exported[item.name] = _exported(inner)
        return exported
    if isinstance(value, Mapping):
        return {key: _exported(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_exported(inner) for inner in value]
    return value


# ---------------------------------------------------------------------- the tooling's side


class OutputsError(ValueError):
    """A stack output that is missing or of the wrong type, as one line naming its key path."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"outputs {path}: {problem}")
        self.path = path
        """Dotted, from the top: `regions.us-east-1.vpc_id` (a section's own when it is absent)."""
        self.problem = problem

    @property
    def key(self) -> str:
        """The last part of the path: the output's own key."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def missing(self) -> bool:
        return self.problem == MISSING


MISSING = "missing"


@dataclass(frozen=True)
class Kind(Generic[T]):
    """A kind of JSON value: how it is described and read."""

    description: str
    read: Callable[[object], T | None]
    """The value as its Python type; None when `raw` is not of this kind."""


def _text(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None


def _texts(raw: object) -> tuple[str, ...] | None:
    if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    return None


def _flag(raw: object) -> bool | None:
    return raw if isinstance(raw, bool) else None


def _number(raw: object) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _text_map(raw: object) -> Mapping[str, str] | None:
    if isinstance(raw, Mapping) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in raw.items()
    ):
        return dict(raw)
    return None


TEXT = Kind("a string", _text)
TEXTS = Kind("a list of strings", _texts)
FLAG = Kind("true or false", _flag)
NUMBER = Kind("an integer", _number)
TEXT_MAP = Kind("an object of strings", _text_map)
_KINDS: dict[object, Kind[Any]] = {
    Text: TEXT,
    Texts: TEXTS,
    Flag: FLAG,
    Number: NUMBER,
    TextMap: TEXT_MAP,
}


@dataclass(frozen=True)
class Value(Generic[T]):
    """One output as read back, checked when it is read: `get()` where it is needed, `or_none()`
    where the reader has a fallback."""

    path: str
    """Where it sits: `regions.us-east-1.vpc_id` (its section's path when the section is absent)."""
    raw: object
    """As the JSON held it (None when absent)."""
    kind: Kind[T] = field(repr=False)

    def or_none(self) -> T | None:
        """The value; None when absent, null or an empty string. OutputsError (naming the key)
        when it is of the wrong type."""
        if self.raw is None or self.raw == "":
            return None
        value = self.kind.read(self.raw)
        if value is None:
            shown = repr(self.raw)
            shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
            raise OutputsError(self.path, f"expected {self.kind.description}, got {shown}")
        return value

    def get(self) -> T:
        """The value; OutputsError (naming the key) when it is missing or of the wrong type."""
        value = self.or_none()
        if value is None:
            raise OutputsError(self.path, MISSING)
        return value


_Text = Value[str]
_Texts = Value[tuple[str, ...]]
_Flag = Value[bool]
_Number = Value[int]
_TextMap = Value[Mapping[str, str]]

ParsedDatabase = DatabaseFields[_Text, _Flag, _Number]
ParsedRegion = RegionFields[_Text, _Texts, _Flag, _Number]
ParsedDns = DnsFields[_Text, _Texts, _TextMap]
ParsedEdge = EdgeFields[_Text]
ParsedAudit = AuditFields[_Text]
ParsedSummary = SummaryFields[_Text, _Texts, _Flag, _Number]
ParsedOutputs = StackFields[_Text, _Texts, _Flag, _Number, _TextMap]


def parse(values: Mapping[str, Any], *, complete: bool = True) -> ParsedOutputs:
    """The outputs as `pulumi stack output --json` (or the offline plan) gives them, typed.

    `complete`: require every section and value the program exports (but ADDED_LATER ones), of
    the right type: raises OutputsError on the first that is not. Otherwise (outputs of an
    older or partly deployed stack) an absent section is empty (its values read as missing,
    naming the section; `regions` has no entry) and a value is checked only when read.
    Either way a section that is not a JSON object raises. Unknown keys are ignored. The result
    is read-only.
    """
    if not isinstance(values, Mapping):
        raise OutputsError("(top level)", "expected an object")
    parsed: ParsedOutputs = _section(StackFields, values, "", complete)
    return parsed


def _section(cls: type, values: Mapping[str, Any] | None, path: str, complete: bool) -> Any:
    """An instance of section `cls` over `values` (None: the section is absent)."""
    data: Mapping[str, Any] = values or {}
    arguments: dict[str, Any] = {}
    for name, shape in _shapes(cls).items():
        key_path = f"{path}.{name}" if path else name
        raw = data.get(name)
        if shape.flattened:
            own = _shapes(shape.section)
            present = values is not None and any(key in data for key in own)
            arguments[name] = _section(shape.section, data, path, complete) if present else None
        elif raw is None and shape.nullable:
            arguments[name] = None
        elif shape.kind is not None:
            # Every value of an absent section reads as the section missing.
            value = Value(key_path if values is not None else path, raw, shape.kind)
            if complete and shape.added_later:
                value.or_none()
            elif complete:
                value.get()
            arguments[name] = value
        elif raw is None and complete:
            raise OutputsError(key_path, MISSING)
        elif shape.keyed:
            entries = _object(raw, key_path) if raw is not None else {}
            arguments[name] = MappingProxyType(
                {
                    str(key): _section(
                        shape.section,
                        _object(entry, f"{key_path}.{key}"),
                        f"{key_path}.{key}",
                        complete,
                    )
                    for key, entry in entries.items()
                }
            )
        else:
            section = _object(raw, key_path) if raw is not None else None
            arguments[name] = _section(shape.section, section, key_path, complete)
    return cls(**arguments)


def _object(raw: object, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise OutputsError(path, "expected an object")
    return raw


@dataclass(frozen=True)
class _Shape:
    """What one field of a section holds, read from its annotation and metadata."""

    kind: Kind[Any] | None
    """A value: the TypeVar the field is declared with is its kind."""
    section: Any = None
    """Else a section class: the field holds one, or (keyed) an object of them."""
    keyed: bool = False
    nullable: bool = False
    flattened: bool = False
    added_later: bool = False


@cache
def _shapes(cls: type) -> dict[str, _Shape]:
    """{field name: _Shape} of a section class, in field order."""
    hints = typing.get_type_hints(cls)
    shapes = {}
    for item in fields(cls):
        hint, nullable = hints[item.name], False
        if typing.get_origin(hint) in (typing.Union, UnionType):
            nullable, hint = True, next(a for a in typing.get_args(hint) if a is not NoneType)
        keyed = typing.get_origin(hint) is Mapping
        if keyed:
            hint = typing.get_args(hint)[1]
        section = typing.get_origin(hint) or hint
        if hint in _KINDS and not keyed:
            shape = _Shape(_KINDS[hint], nullable=nullable)
        elif is_dataclass(section):
            shape = _Shape(None, section, keyed, nullable, bool(item.metadata.get("flattened")))
        else:
            raise TypeError(f"{cls.__name__}.{item.name}: no output shape for {hint}")
        if item.metadata.get("added_later"):
            shape = replace(shape, added_later=True)
        shapes[item.name] = shape
    return shapes
