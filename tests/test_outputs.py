"""The stack outputs contract (tap/outputs.py): what `export` writes under the mocks, what
`parse` reads back from every stack's offline plan, the errors it names, and that one edit of
the definition changes both sides."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Generic

import pytest

from tap import outputs
from tap.outputs import OutputsError, StackFields, Value, parse
from tap_tooling.offline import run_program
from tests.conftest import ALL_FEATURES, STACKS, planned

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "docs" / "operations.md"

REGION_KEYS = [
    "vpc_id",
    "vpc_cidr",
    "public_subnet_ids",
    "private_subnet_ids",
    "database_subnet_ids",
    "public_route_table_id",
    "private_route_table_ids",
    "database_route_table_id",
    "kms_key_arn",
    "alb_arn",
    "alb_dns_name",
    "alb_zone_id",
    "target_group_arn",
    "asg_name",
    "url",
    "https",
    "alert_topic_arn",
    "dashboard_name",
]
DATABASE_KEYS = [
    "db_identifier",
    "db_endpoint",
    "db_address",
    "db_port",
    "db_is_replica",
    "db_multi_az",
    "db_secret_arn",
]
DNS_KEYS = ["zone_id", "app_fqdn", "url", "failover_fqdn", "health_check_ids", "name_servers"]
EDGE_KEYS = ["distribution_id", "domain_name", "web_acl_arn"]
AUDIT_KEYS = ["trail_name", "trail_arn", "trail_bucket", "trail_region"]
SUMMARY_KEYS = [
    "environment",
    "production",
    "primary_region",
    "regions",
    "az_count",
    "nat_strategy",
]
"""The shape docs/operations.md documents and deployed stacks' outputs files hold: changing it
is a decision (old outputs files must still parse), not a side effect."""

# A program that exports every section through `export`: one value a resource's Output, one
# region with a database and one without, dns and edge only when asked.
PROGRAM = """
import pulumi
import pulumi_aws as aws
from {module} import (
    AuditOutputs, DatabaseOutputs, DeploymentSummary, DnsOutputs, EdgeOutputs, RegionOutputs,
    StackOutputs, export,
)

provider = aws.Provider("p", region="us-east-1")
vpc = aws.ec2.Vpc("v", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(provider=provider))
GLOBAL = {with_global}


def region(name, database):
    return RegionOutputs(
        vpc_id=vpc.id,
        vpc_cidr="10.0.0.0/16",
        public_subnet_ids=pulumi.Output.all("subnet-1", "subnet-2"),
        private_subnet_ids=["subnet-3", pulumi.Output.from_input("subnet-4")],
        database_subnet_ids=("subnet-5", "subnet-6"),
        public_route_table_id="rtb-1",
        private_route_table_ids=["rtb-2"],
        database_route_table_id="rtb-3",
        kms_key_arn=f"arn:aws:kms:{{name}}:123456789012:key/k",
        alb_arn="arn:alb",
        alb_dns_name="alb.example.com",
        alb_zone_id="Z1",
        target_group_arn="arn:tg",
        asg_name="asg",
        url="https://alb.example.com",
        https=True,
        alert_topic_arn="arn:sns",
        dashboard_name="dash",
        {extra}
        database=DatabaseOutputs(
            db_identifier=f"db-{{name}}",
            db_endpoint="db.example.com:5432",
            db_address="db.example.com",
            db_port=pulumi.Output.from_input(5432),
            db_is_replica=False,
            db_multi_az=True,
            db_secret_arn="arn:secret",
        ) if database else None,
    )


export(
    StackOutputs(
        regions={{"us-east-1": region("us-east-1", True), "us-west-2": region("us-west-2", False)}},
        dns=DnsOutputs(
            zone_id="Z2",
            app_fqdn="app.example.com",
            url="https://app.example.com",
            failover_fqdn="origin.app.example.com",
            health_check_ids={{"us-east-1": pulumi.Output.from_input("hc-1"), "us-west-2": "hc-2"}},
            name_servers=None,
        ) if GLOBAL else None,
        edge=EdgeOutputs(
            distribution_id="E1", domain_name="d.cloudfront.net", web_acl_arn=None
        ) if GLOBAL else None,
        audit=AuditOutputs(
            trail_name="trail", trail_arn="arn:trail", trail_bucket="logs", trail_region="us-east-1"
        ),
        notices=["us-west-2: plain HTTP"],
        deployment_summary=DeploymentSummary(
            environment="dev",
            production=False,
            primary_region="us-east-1",
            regions=["us-east-1", "us-west-2"],
            az_count=2,
            nat_strategy="single",
        ),
    )
)
"""


def export_under_mocks(
    tmp_path: Path, module: str = "tap.outputs", with_global: bool = True, extra: str = ""
) -> dict[str, Any]:
    """What `export` writes, as the engine would store it (the harness resolves the Outputs)."""
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM.format(module=module, with_global=with_global, extra=extra))
    result = run_program("dev", program=program)
    assert result.warnings == []
    return json.loads(json.dumps(result.outputs))


def keys(section: object) -> list[str]:
    assert isinstance(section, dict), section
    return list(section)


def test_export_writes_exactly_the_documented_keys(tmp_path: Path) -> None:
    exported = export_under_mocks(tmp_path)
    assert sorted(exported) == sorted(
        ["regions", "dns", "edge", "audit", "notices", "deployment_summary"]
    )
    regions = exported["regions"]
    assert keys(regions) == ["us-east-1", "us-west-2"]
    assert keys(regions["us-east-1"]) == REGION_KEYS + DATABASE_KEYS
    assert keys(regions["us-west-2"]) == REGION_KEYS  # no database, no db_* keys (not null)
    assert keys(exported["dns"]) == DNS_KEYS
    assert keys(exported["edge"]) == EDGE_KEYS
    assert keys(exported["audit"]) == AUDIT_KEYS
    assert keys(exported["deployment_summary"]) == SUMMARY_KEYS
    # Values as JSON holds them: Outputs resolved, sequences as lists, None as null.
    east = regions["us-east-1"]
    assert east["vpc_id"].startswith("vpc-")
    assert east["public_subnet_ids"] == ["subnet-1", "subnet-2"]
    assert east["private_subnet_ids"] == ["subnet-3", "subnet-4"]
    assert east["database_subnet_ids"] == ["subnet-5", "subnet-6"]
    assert (east["https"], east["db_port"], east["db_multi_az"]) == (True, 5432, True)
    assert exported["dns"]["health_check_ids"] == {"us-east-1": "hc-1", "us-west-2": "hc-2"}
    assert exported["dns"]["name_servers"] is None
    assert exported["edge"]["web_acl_arn"] is None
    assert exported["notices"] == ["us-west-2: plain HTTP"]


def test_sections_that_are_none_are_not_exported(tmp_path: Path) -> None:
    exported = export_under_mocks(tmp_path, with_global=False)
    assert sorted(exported) == ["audit", "deployment_summary", "notices", "regions"]
    assert parse(exported).dns is None and parse(exported).edge is None


def test_what_export_writes_parses_back(tmp_path: Path) -> None:
    exported = export_under_mocks(tmp_path)
    assert plain(parse(exported)) == exported


# ------------------------------------------------------------------------------- parse


def plain(section: Any) -> Any:
    """Parsed outputs back as the JSON they were read from (None sections left out)."""
    if isinstance(section, Value):
        return plain(section.or_none())
    if is_dataclass(section) and not isinstance(section, type):
        found: dict[str, Any] = {}
        for item in fields(section):
            value = getattr(section, item.name)
            if item.metadata.get("flattened"):
                found.update(plain(value) if value is not None else {})
            elif value is not None or not isinstance(section, StackFields):
                found[item.name] = plain(value)
        return found
    if isinstance(section, Mapping):
        return {key: plain(value) for key, value in section.items()}
    if isinstance(section, tuple):
        return [plain(value) for value in section]
    return section


@pytest.mark.parametrize("stack", [*STACKS, ALL_FEATURES])
def test_every_stacks_outputs_parse_and_round_trip(stack: str) -> None:
    """The program honours the contract in every stack: `parse` requires every value."""
    exported = json.loads(json.dumps(planned(stack).outputs))
    parsed = parse(exported)
    assert plain(parsed) == exported
    summary = parsed.deployment_summary
    assert list(parsed.regions) == list(summary.regions.get())
    primary = parsed.regions[summary.primary_region.get()]
    assert primary.database is not None and primary.database.db_is_replica.get() is False
    assert summary.production.get() is (stack == "prod")


def test_the_all_features_outputs_have_every_section() -> None:
    parsed = parse(json.loads(json.dumps(planned(ALL_FEATURES).outputs)))
    assert parsed.dns is not None and parsed.edge is not None
    assert parsed.dns.name_servers is not None and len(parsed.dns.name_servers.get()) == 4
    assert set(parsed.dns.health_check_ids.get()) == set(parsed.regions)
    replicas = [r.database for r in parsed.regions.values() if r.database]
    assert [d.db_is_replica.get() for d in replicas] == [False, True, True]


@pytest.fixture
def dev_outputs() -> Iterator[dict[str, Any]]:
    yield copy.deepcopy(json.loads(json.dumps(planned("dev").outputs)))


def _drop(outputs: dict[str, Any], path: str) -> None:
    *parents, key = path.split("/")
    for parent in parents:
        outputs = outputs[parent]
    del outputs[key]


def _set(outputs: dict[str, Any], path: str, value: Any) -> None:
    *parents, key = path.split("/")
    for parent in parents:
        outputs = outputs[parent]
    outputs[key] = value


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("drop", "regions/us-east-1/vpc_id"), "outputs regions.us-east-1.vpc_id: missing"),
        (("set", "regions/us-east-1/vpc_id", ""), "outputs regions.us-east-1.vpc_id: missing"),
        (("set", "regions/us-east-1/vpc_id", None), "outputs regions.us-east-1.vpc_id: missing"),
        (
            ("drop", "regions/us-east-1/db_port"),
            "outputs regions.us-east-1.db_port: missing",  # a database is all its keys
        ),
        (
            ("set", "regions/us-east-1/db_port", "5432"),
            "outputs regions.us-east-1.db_port: expected an integer, got '5432'",
        ),
        (
            ("set", "regions/us-west-2/https", "yes"),
            "outputs regions.us-west-2.https: expected true or false, got 'yes'",
        ),
        (
            ("set", "regions/us-west-2/public_subnet_ids", ["subnet-1", 2]),
            "outputs regions.us-west-2.public_subnet_ids: expected a list of strings, got "
            "['subnet-1', 2]",
        ),
        (("set", "regions/us-west-2", []), "outputs regions.us-west-2: expected an object"),
        (("drop", "audit"), "outputs audit: missing"),
        (("drop", "regions"), "outputs regions: missing"),
        (("set", "notices", "none"), "outputs notices: expected a list of strings, got 'none'"),
        (
            ("set", "deployment_summary/az_count", True),
            "outputs deployment_summary.az_count: expected an integer, got True",
        ),
        (
            ("set", "dns", {"zone_id": "Z1"}),
            "outputs dns.app_fqdn: missing",
        ),
    ],
)
def test_a_parse_error_is_one_line_naming_the_key(
    dev_outputs: dict[str, Any], change: tuple[Any, ...], message: str
) -> None:
    if change[0] == "drop":
        _drop(dev_outputs, change[1])
    else:
        _set(dev_outputs, *change[1:])
    with pytest.raises(OutputsError) as error:
        parse(dev_outputs)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_a_long_value_is_shortened_in_the_error(dev_outputs: dict[str, Any]) -> None:
    dev_outputs["deployment_summary"]["environment"] = ["x" * 60]
    with pytest.raises(OutputsError) as error:
        parse(dev_outputs)
    assert str(error.value) == (
        "outputs deployment_summary.environment: expected a string, got ['" + "x" * 35 + "..."
    )


def test_unknown_keys_are_ignored(dev_outputs: dict[str, Any]) -> None:
    dev_outputs["cost_centre"] = {"owner": "ops"}
    dev_outputs["regions"]["us-east-1"]["ipv6_cidr"] = "2001:db8::/56"
    dev_outputs["deployment_summary"]["stack_version"] = 7
    parsed = parse(dev_outputs)
    assert parsed.regions["us-east-1"].vpc_id.get().startswith("vpc-")


def test_outputs_older_than_the_production_flag_parse(dev_outputs: dict[str, Any]) -> None:
    del dev_outputs["deployment_summary"]["production"]
    summary = parse(dev_outputs).deployment_summary
    assert summary.production.or_none() is None
    with pytest.raises(OutputsError, match=r"^outputs deployment_summary.production: missing$"):
        summary.production.get()
    dev_outputs["deployment_summary"]["production"] = "no"
    with pytest.raises(OutputsError, match="production: expected true or false"):
        parse(dev_outputs)


def test_partial_outputs_fail_only_their_reader(dev_outputs: dict[str, Any]) -> None:
    """What verify and dr read: a value the outputs lack raises when it is read, not before."""
    del dev_outputs["regions"]["us-east-1"]["alb_arn"]
    dev_outputs["regions"]["us-east-1"]["db_port"] = "5432"
    del dev_outputs["audit"]
    parsed = parse(dev_outputs, complete=False)
    east = parsed.regions["us-east-1"]
    assert east.vpc_id.get().startswith("vpc-")
    with pytest.raises(OutputsError) as error:
        east.alb_arn.get()
    assert (str(error.value), error.value.key, error.value.missing) == (
        "outputs regions.us-east-1.alb_arn: missing",
        "alb_arn",
        True,
    )
    assert east.alb_arn.or_none() is None
    assert east.database is not None
    with pytest.raises(OutputsError, match="db_port: expected an integer"):
        east.database.db_port.or_none()
    # An absent section reads as that section missing.
    with pytest.raises(OutputsError) as error:
        parsed.audit.trail_name.get()
    assert (str(error.value), error.value.key) == ("outputs audit: missing", "audit")


def test_partial_outputs_may_lack_any_section() -> None:
    parsed = parse({"dns": {"health_check_ids": {"us-east-1": "hc-1"}}}, complete=False)
    assert parsed.regions == {} and parsed.edge is None
    assert parsed.dns is not None and parsed.dns.health_check_ids.get() == {"us-east-1": "hc-1"}
    assert parsed.dns.name_servers is None
    assert parsed.deployment_summary.environment.or_none() is None
    with pytest.raises(OutputsError, match=r"^outputs dns: expected an object$"):
        parse({"dns": "[secret]"}, complete=False)


def test_a_region_without_database_keys_has_no_database(dev_outputs: dict[str, Any]) -> None:
    parsed = parse(dev_outputs)
    assert parsed.regions["us-west-2"].database is None  # dev: DR replicas off
    # One db_* key is enough to make it a database, whose other keys are then required.
    dev_outputs["regions"]["us-west-2"]["db_identifier"] = "dev-db-replica-us-west-2"
    with pytest.raises(OutputsError, match=r"^outputs regions.us-west-2.db_endpoint: missing$"):
        parse(dev_outputs)
    database = parse(dev_outputs, complete=False).regions["us-west-2"].database
    assert database is not None and database.db_identifier.get() == "dev-db-replica-us-west-2"


# ------------------------------------------------------------------ one definition, both sides


@pytest.fixture
def extended(tmp_path: Path) -> Iterator[ModuleType]:
    """tap/outputs.py with one field added to RegionFields, and nothing else changed."""
    source = (ROOT / "tap" / "outputs.py").read_text()
    anchor = '    dashboard_name: Text\n    """The region\'s CloudWatch dashboard."""\n'
    assert anchor in source
    added = anchor + '    owner: Text\n    """Who answers for the region."""\n'
    path = tmp_path / "extended_outputs.py"
    path.write_text(source.replace(anchor, added))
    spec = importlib.util.spec_from_file_location("extended_outputs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["extended_outputs"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["extended_outputs"]


def test_a_field_added_to_the_definition_is_exported_and_parsed(
    tmp_path: Path, extended: ModuleType
) -> None:
    exported = export_under_mocks(tmp_path, "extended_outputs", extra='owner="team-a",')
    assert [exported["regions"][r]["owner"] for r in ("us-east-1", "us-west-2")] == ["team-a"] * 2
    assert keys(exported["regions"]["us-west-2"]) == [*REGION_KEYS, "owner"]
    parsed = extended.parse(exported)
    assert parsed.regions["us-east-1"].owner.get() == "team-a"
    # ... and required: outputs without it no longer parse as complete ones.
    del exported["regions"]["us-west-2"]["owner"]
    with pytest.raises(extended.OutputsError, match=r"^outputs regions.us-west-2.owner: missing$"):
        extended.parse(exported)
    # The unchanged definition ignores the key.
    assert not hasattr(parse(exported).regions["us-east-1"], "owner")


def test_a_field_of_a_shape_the_contract_cannot_read_is_refused() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Odd(Generic[outputs.Text]):
        ratio: float

    with pytest.raises(TypeError, match=r"^Odd.ratio: no output shape for <class 'float'>$"):
        outputs._shapes(Odd)


# ------------------------------------------------------------------------------------ docs


def documented_rows() -> list[tuple[str, list[str]]]:
    """(output, its backquoted keys) of each row of the outputs table in docs/operations.md."""
    text = OPERATIONS.read_text()
    table = text.split("### The stack outputs", 1)[1].split("\n\n")[2]
    rows = []
    for line in table.splitlines()[2:]:
        output, keys_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
        rows.append((output.strip("`"), re.findall(r"`([a-z_]+)`", keys_cell)))
    return rows


def test_the_operations_guide_documents_exactly_the_outputs() -> None:
    assert documented_rows() == [
        ("regions.<region>", REGION_KEYS),
        ("regions.<region>", DATABASE_KEYS),
        ("dns", DNS_KEYS),
        ("edge", EDGE_KEYS),
        ("audit", AUDIT_KEYS),
        ("notices", []),
        ("deployment_summary", SUMMARY_KEYS),
    ], "docs/operations.md, 'The stack outputs', differs from tap/outputs.py"


def test_the_documented_keys_are_the_definitions_fields() -> None:
    def names(section: type) -> list[str]:
        return [f.name for f in fields(section) if not f.metadata.get("flattened")]

    assert names(outputs.RegionFields) == REGION_KEYS
    assert names(outputs.DatabaseFields) == DATABASE_KEYS
    assert names(outputs.DnsFields) == DNS_KEYS
    assert names(outputs.EdgeFields) == EDGE_KEYS
    assert names(outputs.AuditFields) == AUDIT_KEYS
    assert names(outputs.SummaryFields) == SUMMARY_KEYS
    assert names(outputs.StackFields) == [
        "regions",
        "dns",
        "edge",
        "audit",
        "notices",
        "deployment_summary",
    ]
