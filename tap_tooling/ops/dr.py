"""`deploy.py dr status` and `deploy.py dr promote`: the DR runbook (README, "Disaster recovery
runbook") as two commands.

`status` reads, per region, the Route53 health check, the database's role (primary, replica or
promoted) and the replica lag. `promote` moves writes to a secondary region:

1. refuses a region that has no DR replica, the primary region, or a second promotion;
2. promotes only when the primary region fails its health check, or with `force`;
3. promotes the replica with boto3 and waits until it is a standalone, available instance;
4. records the region in `tap:database.promoted_regions` of `Pulumi.<stack>.yaml`;
5. refreshes the stack and runs an `up` limited to the promoted region and the failover
   records, so nothing in the (possibly unreachable) primary region is touched.

Each step first checks whether it is already done, so after a partial failure the same command
is simply run again. The engine is a seam (`DrEngine`): the CLI drives the Automation API.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from tap import naming
from tap.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from tap.outputs import OutputsError, ParsedOutputs, Value, parse
from tap_tooling import yaml_text
from tap_tooling.ops.aws import ClientFactory, describe_error, error_code
from tap_tooling.ops.errors import ExitCode, OpsError
from tap_tooling.ops.verify import check_health

PRIMARY, REPLICA, PROMOTED = "primary", "replica", "promoted"
FORMER_PRIMARY = "former primary"
"""The primary region's database once a secondary is promoted: stale, no longer written to."""
AVAILABLE = "available"
ROUTE53_REGION = "us-east-1"
"""The Route53 API (a global service's control plane) is served from us-east-1 only (AWS Fault
Isolation Boundaries whitepaper, "Global services"): during an outage there, health-check
status may be unreadable, and `--force` is the way on."""
LAG_WINDOW = timedelta(minutes=15)
"""How far back `status` looks for a ReplicaLag datapoint (RDS publishes it every minute)."""
PROJECT = "tap"
"""`name` in Pulumi.yaml: the project part of every URN."""
PROVIDER_TYPE = "pulumi:providers:aws"
T = TypeVar("T")


class DrEngine(Protocol):
    """The engine operations `promote` needs (the CLI implements them with the Automation API)."""

    def refresh(self, targets: Sequence[str] | None = None) -> None:
        """`pulumi refresh`, limited to `targets` (literal URNs) when given (raises OpsError)."""
        ...

    def up(self, targets: Sequence[str] | None) -> None:
        """`pulumi up`, limited to `targets` (URNs or URN globs) when given (raises OpsError)."""
        ...


@dataclass(frozen=True)
class WaitPolicy:
    """How `promote` polls RDS while the replica turns into a standalone instance."""

    delay_seconds: float = 30.0
    """Between two DescribeDBInstances calls (the AWS CLI's db-instance-available waiter
    also polls every 30 s)."""
    max_attempts: int = 120
    """An hour in all: promotion takes minutes, more for a large or busy replica."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


@dataclass(frozen=True)
class RegionStatus:
    """One row of `dr status`."""

    region: str
    role: str
    database: str
    db_status: str
    lag: str
    health: str


# ---------------------------------------------------------------------------------- status


def run_status(
    config: StackConfig,
    stack: str,
    outputs: Mapping[str, Any],
    clients: ClientFactory,
    out: Callable[[str], None],
) -> ExitCode:
    """Print the DR table; FAILED when something could not be read (one line each)."""
    problems: list[str] = []
    parsed = read_outputs(outputs)
    rows = [region_status(config, region, parsed, clients, problems) for region in _ordered(config)]
    active = config.active_region
    if active == config.primary_region:
        out(f"stack {stack}: writes go to the primary region {active}")
    else:
        primary = config.primary_region
        out(f"stack {stack}: writes go to {active} (promoted; primary region {primary})")
    out(render_status(rows))
    for problem in problems:
        out(f"could not read: {problem}")
    return ExitCode.FAILED if problems else ExitCode.OK


def region_status(
    config: StackConfig,
    region: str,
    outputs: ParsedOutputs,
    clients: ClientFactory,
    problems: list[str],
) -> RegionStatus:
    """One region's row; what cannot be read shows as "?" and adds a line to `problems`."""
    identifier = db_identifier(config, region, outputs)
    health = _health_cell(config, region, outputs, clients, problems)
    if identifier is None:
        return RegionStatus(region, "-", "-", "no database (replicas off)", "-", health)
    try:
        instance = describe_instance(clients("rds", region), identifier)
    except (ClientError, BotoCoreError) as exc:
        _stop_without_credentials(exc)
        problems.append(f"{region} database {identifier}: {describe_error(exc)}")
        return RegionStatus(region, "?", identifier, "?", "?", health)
    if instance is None:
        problems.append(f"{region} database {identifier}: not found")
        return RegionStatus(region, "?", identifier, "not found", "-", health)
    role = database_role(config, region, instance)
    lag = "-"
    if role == REPLICA:
        try:
            lag = replica_lag(clients("cloudwatch", region), identifier)
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"{region} replica lag of {identifier}: {describe_error(exc)}")
            lag = "?"
    if role == REPLICA and region in config.database.promoted_regions:
        role = "replica (config says promoted)"
    return RegionStatus(
        region, role, identifier, str(instance.get("DBInstanceStatus", "?")), lag, health
    )


def render_status(rows: Sequence[RegionStatus]) -> str:
    headers = ("REGION", "ROLE", "DATABASE", "STATUS", "LAG", "HEALTH CHECK")
    table = [headers, *((r.region, r.role, r.database, r.db_status, r.lag, r.health) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in table
    )


def database_role(config: StackConfig, region: str, instance: Mapping[str, Any]) -> str:
    """primary, replica or promoted, from what RDS says (a source instance makes a replica) and
    which region it is; the primary region's database after a promotion is the former one."""
    if instance.get("ReadReplicaSourceDBInstanceIdentifier"):
        return REPLICA
    if region != config.primary_region or region in config.database.promoted_regions:
        # A secondary's instance (named `<env>-db-replica-<region>`) with no source any more.
        return PROMOTED
    return FORMER_PRIMARY if config.database.promoted_regions else PRIMARY


def read_outputs(outputs: Mapping[str, Any]) -> ParsedOutputs:
    """The stack outputs, typed (tap/outputs.py). DR runs when things are broken: outputs that
    do not parse count as none, and the names come from the config."""
    try:
        return parse(outputs, complete=False)
    except OutputsError:
        return parse({}, complete=False)


def db_identifier(config: StackConfig, region: str, outputs: ParsedOutputs) -> str | None:
    """The region's DB instance identifier: the stack output `regions.<region>.db_identifier`,
    else the name the program gives it (components/database.py); None when it has none."""
    regional = outputs.regions.get(region)
    database = regional.database if regional else None
    identifier = _lenient(database.db_identifier) if database else None
    if identifier:
        return identifier
    is_primary = region == config.primary_region
    if not is_primary and not config.database.replicas_enabled:
        return None
    service = "db" if is_primary else "db-replica"
    return naming.physical_name(config.environment, service, region, naming.DB_IDENTIFIER)


def describe_instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    """The instance as DescribeDBInstances shows it; None when there is no such instance."""
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as exc:
        if error_code(exc) == "DBInstanceNotFound":
            return None
        raise
    return dict(found[0]) if found else None


def replica_lag(cloudwatch: Any, identifier: str, now: datetime | None = None) -> str:
    """The latest `AWS/RDS ReplicaLag` datapoint of the last LAG_WINDOW, as "12 s (03:14 UTC)".

    ReplicaLag is published for PostgreSQL read replicas in seconds (RDS User Guide, "Amazon
    CloudWatch metrics for Amazon RDS"); a replica that stopped replicating may publish none.
    """
    end = now or datetime.now(UTC)
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
        StartTime=end - LAG_WINDOW,
        # A minute ahead: the current minute's datapoint counts, clock skew or not.
        EndTime=end + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    ).get("Datapoints", [])
    if not datapoints:
        return f"no data ({int(LAG_WINDOW.total_seconds() // 60)} min)"
    latest = max(datapoints, key=lambda point: point["Timestamp"])
    stamp = latest["Timestamp"].astimezone(UTC).strftime("%H:%M UTC")
    return f"{latest['Maximum']:.0f} s ({stamp})"


def health_check_id(outputs: ParsedOutputs, region: str) -> str | None:
    """The region's Route53 health check from the stack output `dns.health_check_ids`."""
    ids = _lenient(outputs.dns.health_check_ids) if outputs.dns else None
    return (ids or {}).get(region) or None


def _health_cell(
    config: StackConfig,
    region: str,
    outputs: ParsedOutputs,
    clients: ClientFactory,
    problems: list[str],
) -> str:
    if config.dns is None:
        return "- (no tap:dns)"
    check_id = health_check_id(outputs, region)
    if check_id is None:
        problems.append(f"{region} health check: no dns.health_check_ids.{region} in the outputs")
        return "?"
    try:
        healthy, detail = check_health(clients("route53", ROUTE53_REGION), check_id)
    except (ClientError, BotoCoreError) as exc:
        _stop_without_credentials(exc)
        problems.append(f"{region} health check {check_id}: {describe_error(exc)}")
        return "?"
    return f"{'healthy' if healthy else 'FAILING'}: {detail}"


# --------------------------------------------------------------------------------- promote


def run_promote(
    config: StackConfig,
    stack: str,
    region: str,
    outputs: Mapping[str, Any],
    clients: ClientFactory,
    engine: DrEngine,
    stack_file: Path,
    force: bool,
    out: Callable[[str], None],
    *,
    wait: WaitPolicy | None = None,
) -> ExitCode:
    """Promote `region`'s replica and make the stack follow; raises OpsError (one line, with
    its exit code) when it refuses or a step fails. Safe to run again after any failure."""
    check_promotable(config, stack, region)
    parsed = read_outputs(outputs)
    identifier = db_identifier(config, region, parsed)
    assert identifier is not None  # check_promotable: a secondary with replicas on
    rds = clients("rds", region)
    policy = wait or WaitPolicy()

    instance = _read_instance(rds, region, identifier)
    if instance.get("ReadReplicaSourceDBInstanceIdentifier") and _status(instance) != AVAILABLE:
        # Perhaps a promotion started by an earlier run (or by hand); RDS refuses to promote a
        # replica that is not available (PromoteReadReplica: not while backing-up).
        out(f"1/3 {identifier} is {_status(instance)}: waiting until it is available")
        instance = _wait(rds, region, identifier, policy, out, lambda i: _status(i) == AVAILABLE)
    if instance.get("ReadReplicaSourceDBInstanceIdentifier"):
        confirm_primary_down(config, stack, region, parsed, clients, force, out)
        _report_lag(clients, region, identifier, out)
        out(f"1/3 promoting {identifier} in {region} (this takes minutes)")
        try:
            rds.promote_read_replica(
                DBInstanceIdentifier=identifier,
                BackupRetentionPeriod=config.database.backup_retention_days,
                PreferredBackupWindow=config.database.backup_window,
            )
        except (ClientError, BotoCoreError) as exc:
            raise OpsError(
                f"promote-read-replica {identifier} in {region}: {describe_error(exc)}"
            ) from None
        _wait(rds, region, identifier, policy, out, is_promoted)
        out(f"1/3 {identifier} is promoted: a standalone, writable database")
    else:
        out(f"1/3 {identifier} is already promoted (no source instance): skipping")

    if record_promotion(stack_file, stack, region):
        out(f"2/3 recorded {region} in tap:database.promoted_regions of {stack_file.name}")
    else:
        out(f"2/3 {stack_file.name} already records {region} as promoted: skipping")

    targets = promotion_targets(stack, region, read_tap_config(stack_file))
    out(f"3/3 refreshing stack {stack}")
    # Only what the promotion touches: a stack-wide refresh would read the failed region too.
    literal = [t for t in targets if not t.endswith("*")]
    _engine_step("refresh", stack, region, lambda: engine.refresh(literal))
    out(f"3/3 updating {len(targets)} resources of {region} and the failover records")
    _engine_step("up", stack, region, lambda: engine.up(targets))
    out(
        f"done: {region} takes the writes and is the PRIMARY failover target; "
        f"run `deploy.py verify --stack {stack}`, and a full `deploy.py up` once "
        f"{config.primary_region} is reachable again"
    )
    return ExitCode.OK


def check_promotable(config: StackConfig, stack: str, region: str) -> None:
    """Refuse (OpsError, USAGE) a region whose replica this stack cannot promote."""
    if region not in config.region_names:
        raise OpsError(
            f"{region} is not a region of stack {stack} ({', '.join(config.region_names)})",
            ExitCode.USAGE,
        )
    if region == config.primary_region:
        raise OpsError(
            f"{region} is the primary region of stack {stack}: promote a secondary "
            f"({', '.join(config.secondary_regions)})",
            ExitCode.USAGE,
        )
    if not config.database.replicas_enabled:
        raise OpsError(
            f"stack {stack} has no DR replicas (tap:database.replicas_enabled is false): "
            "nothing to promote",
            ExitCode.USAGE,
        )
    others = [r for r in config.database.promoted_regions if r != region]
    if others:
        raise OpsError(
            f"stack {stack} already promoted {others[0]} (tap:database.promoted_regions): its "
            f"database takes the writes; {region}'s replica still follows the old primary",
            ExitCode.USAGE,
        )


def confirm_primary_down(
    config: StackConfig,
    stack: str,
    region: str,
    outputs: ParsedOutputs,
    clients: ClientFactory,
    force: bool,
    out: Callable[[str], None],
) -> None:
    """Go on only when the primary region fails its Route53 health check, or with `force`."""
    primary = config.primary_region
    if force:
        out(f"--force: not checking the health of the primary region {primary}")
        return
    retry = f"pass --force to promote {region} anyway"
    if config.dns is None:
        raise OpsError(
            f"stack {stack} has no health checks (no tap:dns) to confirm that {primary} is "
            f"down: confirm it yourself and {retry}",
            ExitCode.USAGE,
        )
    check_id = health_check_id(outputs, primary)
    if check_id is None:
        raise OpsError(
            f"the outputs of stack {stack} name no health check for {primary} "
            f"(dns.health_check_ids): confirm the outage yourself and {retry}",
            ExitCode.USAGE,
        )
    try:
        healthy, detail = check_health(clients("route53", ROUTE53_REGION), check_id)
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(
            f"cannot read the health check of {primary} ({describe_error(exc)}): confirm the "
            f"outage yourself and {retry}",
            ExitCode.USAGE,
        ) from None
    if healthy:
        raise OpsError(
            f"the primary region {primary} passes its health check ({detail}): refusing to "
            f"split the database; {retry}",
            ExitCode.USAGE,
        )
    out(f"the primary region {primary} fails its health check ({detail})")


def is_promoted(instance: Mapping[str, Any]) -> bool:
    """Done: no source instance any more, and available again."""
    return not instance.get("ReadReplicaSourceDBInstanceIdentifier") and (
        _status(instance) == AVAILABLE
    )


def _wait(
    rds: Any,
    region: str,
    identifier: str,
    policy: WaitPolicy,
    out: Callable[[str], None],
    done: Callable[[Mapping[str, Any]], bool],
) -> dict[str, Any]:
    """Poll until `done`. Not boto3's db_instance_available waiter alone: right after
    PromoteReadReplica the instance can still read `available` (the promotion has not begun),
    and that waiter would return at once; the source reference going away is the sign."""
    last = ""
    for attempt in range(policy.max_attempts):
        instance = _read_instance(rds, region, identifier)
        if done(instance):
            return instance
        status = _status(instance)
        if status != last:
            out(f"    {identifier}: {status}")
            last = status
        if attempt + 1 < policy.max_attempts:
            policy.sleep(policy.delay_seconds)
    minutes = policy.delay_seconds * policy.max_attempts / 60
    raise OpsError(
        f"{identifier} in {region} is still {last or 'changing'} after {minutes:.0f} min: "
        "run the same `dr promote` again to keep waiting"
    )


def _read_instance(rds: Any, region: str, identifier: str) -> dict[str, Any]:
    try:
        instance = describe_instance(rds, identifier)
    except (ClientError, BotoCoreError) as exc:
        _stop_without_credentials(exc)
        raise OpsError(f"cannot read {identifier} in {region}: {describe_error(exc)}") from None
    if instance is None:
        raise OpsError(f"{region} has no database {identifier}: nothing to promote")
    return instance


def _report_lag(
    clients: ClientFactory, region: str, identifier: str, out: Callable[[str], None]
) -> None:
    """What the promotion may lose: best effort, it never stops the runbook."""
    try:
        lag = replica_lag(clients("cloudwatch", region), identifier)
        out(f"replica lag of {identifier} (writes it may lack): {lag}")
    except (ClientError, BotoCoreError) as exc:
        out(f"replica lag of {identifier}: unreadable ({describe_error(exc)})")


def _engine_step(what: str, stack: str, region: str, step: Callable[[], None]) -> None:
    try:
        step()
    except OpsError as exc:
        raise OpsError(
            f"{what} failed ({exc}); the promotion is done and recorded: fix the cause and run "
            f"`deploy.py dr promote --stack {stack} --region {region}` again",
            exc.exit_code,
        ) from None


# ------------------------------------------------------------------------- the stack file


def read_tap_config(stack_file: Path) -> dict[str, Any]:
    """The `tap:` keys of a stack file, without the namespace."""
    try:
        document = yaml_text.parse(stack_file.read_text()) or {}
    except OSError as exc:
        raise OpsError(f"cannot read {stack_file}: {exc.strerror}", ExitCode.USAGE) from None
    except yaml.YAMLError as exc:
        raise OpsError(
            f"{stack_file.name} is not valid YAML: {_first_line(exc)}", ExitCode.USAGE
        ) from None
    return _tap_keys(document)


def record_promotion(stack_file: Path, stack: str, region: str) -> bool:
    """Add `region` to `tap:database.promoted_regions` in the stack file; False when it is
    already there. The edit is textual, so comments and layout stay as they are (PyYAML cannot
    round-trip comments and ruamel.yaml is not a dependency); the result is checked to load
    as exactly the old document plus the region, and to pass the config model, before it
    replaces the file (atomically)."""
    try:
        text = stack_file.read_text()
    except OSError as exc:
        raise OpsError(f"cannot read {stack_file}: {exc.strerror}", ExitCode.USAGE) from None
    try:
        new_text = add_promoted_region(text, region)
    except ValueError as exc:
        raise OpsError(
            f"cannot record the promotion in {stack_file.name}: {exc}", ExitCode.USAGE
        ) from None
    if new_text == text:
        return False
    try:
        parse_stack_config(_tap_keys(yaml_text.parse(new_text)), stack)
    except ConfigError as exc:
        raise OpsError(
            f"{stack_file.name} with {region} promoted is not a valid config: {exc}", ExitCode.USAGE
        ) from None
    _replace(stack_file, new_text)
    return True


_DATABASE_KEY = f"{NAMESPACE}:database"
_PROMOTED_KEY = "promoted_regions"


def add_promoted_region(text: str, region: str) -> str:
    """`text` (a stack file) with `region` added to tap:database.promoted_regions; `text`
    itself when it is already there. Raises ValueError for a file it cannot edit safely."""
    before = _load(text)
    config = before.get("config")
    if not isinstance(config, dict):
        raise ValueError("it has no `config:` mapping")
    database = config.get(_DATABASE_KEY)
    if database is not None and not isinstance(database, dict):
        raise ValueError(f"{_DATABASE_KEY} is not a mapping")
    current = (database or {}).get(_PROMOTED_KEY) or []
    if not isinstance(current, list):
        raise ValueError(f"{_DATABASE_KEY}.{_PROMOTED_KEY} is not a list")
    if region in current:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    edited = _edit_lines(lines, current, region)
    result = newline.join(edited) + (newline if text.endswith(("\n", "\r")) or not text else "")
    expected = _with_region(before, region)
    if _load(result) != expected:
        raise ValueError("the file's layout is not one this edit understands; add it by hand")
    return result


def _edit_lines(lines: list[str], current: list[Any], region: str) -> list[str]:
    config_at = _find_key(lines, "config", 0, len(lines), indent=0)
    if config_at is None:
        raise ValueError("it has no top-level `config:` block")
    config_end = _block_end(lines, config_at, 0)
    key_indent = _child_indent(lines, config_at, config_end)
    if key_indent is None:
        raise ValueError("its `config:` block is empty")
    database_at = _find_key(lines, _DATABASE_KEY, config_at + 1, config_end, key_indent)
    if database_at is None:
        # No database section yet: append one at the end of the config block.
        at = _last_content(lines, config_at, config_end) + 1
        pad = " " * key_indent
        return [
            *lines[:at],
            f"{pad}{_DATABASE_KEY}:",
            f"{pad}  {_PROMOTED_KEY}:",
            f"{pad}    - {region}",
            *lines[at:],
        ]
    if _value_text(lines[database_at], _DATABASE_KEY):
        raise ValueError(f"{_DATABASE_KEY} is written inline")
    database_end = _block_end(lines, database_at, key_indent)
    field_indent = _child_indent(lines, database_at, database_end)
    pad = " " * (field_indent if field_indent is not None else key_indent + 2)
    promoted_at = (
        _find_key(lines, _PROMOTED_KEY, database_at + 1, database_end, field_indent)
        if field_indent is not None
        else None
    )
    if promoted_at is None:
        at = _last_content(lines, database_at, database_end) + 1
        return [*lines[:at], f"{pad}{_PROMOTED_KEY}:", f"{pad}  - {region}", *lines[at:]]
    if _value_text(lines[promoted_at], _PROMOTED_KEY):
        # A flow list (`[a]`, `[]`): written again with the region added, comment kept.
        comment = _trailing_comment(lines[promoted_at], _PROMOTED_KEY)
        flow = ", ".join(str(item) for item in [*current, region])
        return [
            *lines[:promoted_at],
            f"{pad}{_PROMOTED_KEY}: [{flow}]{comment}",
            *lines[promoted_at + 1 :],
        ]
    # A block list: one more item after the last, in the same style.
    items = [
        i
        for i in range(promoted_at + 1, database_end)
        if lines[i].lstrip().startswith("- ") and _indent(lines[i]) >= len(pad)
    ]
    if not items:
        return [*lines[: promoted_at + 1], f"{pad}  - {region}", *lines[promoted_at + 1 :]]
    item_pad = " " * _indent(lines[items[0]])
    at = items[-1] + 1
    return [*lines[:at], f"{item_pad}- {region}", *lines[at:]]


def _find_key(lines: list[str], key: str, start: int, end: int, indent: int | None) -> int | None:
    pattern = re.compile(rf"^ {{{indent or 0}}}{re.escape(key)}\s*:(\s|$)")
    for index in range(start, end):
        if pattern.match(lines[index]):
            return index
    return None


def _block_end(lines: list[str], key_at: int, key_indent: int) -> int:
    """First line after `key_at` at or left of its indentation (comments included: a comment
    there introduces the next key)."""
    for index in range(key_at + 1, len(lines)):
        line = lines[index]
        if line.strip() and _indent(line) <= key_indent:
            return index
    return len(lines)


def _child_indent(lines: list[str], key_at: int, end: int) -> int | None:
    for index in range(key_at + 1, end):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#"):
            return _indent(lines[index])
    return None


def _last_content(lines: list[str], key_at: int, end: int) -> int:
    last = key_at
    for index in range(key_at + 1, end):
        if lines[index].strip():
            last = index
    return last


def _value_text(line: str, key: str) -> str:
    """What follows `key:` on its line, without a trailing comment."""
    return line.split(f"{key}:", 1)[1].split(" #", 1)[0].strip()


def _trailing_comment(line: str, key: str) -> str:
    rest = line.split(f"{key}:", 1)[1]
    return f"  #{rest.split(' #', 1)[1]}" if " #" in rest else ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _with_region(document: dict[str, Any], region: str) -> dict[str, Any]:
    config = dict(document["config"])
    database = dict(config.get(_DATABASE_KEY) or {})
    database[_PROMOTED_KEY] = [*(database.get(_PROMOTED_KEY) or []), region]
    config[_DATABASE_KEY] = database
    return {**document, "config": config}


def _load(text: str) -> dict[str, Any]:
    try:
        document = yaml_text.parse(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {_first_line(exc)}") from None
    if not isinstance(document, dict):
        raise ValueError("it is not a YAML mapping")
    return document


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` in one step (a temporary file renamed over it, same mode)."""
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OpsError(f"cannot write {path}: {exc.strerror}") from None


def _tap_keys(document: Any) -> dict[str, Any]:
    config = document.get("config") if isinstance(document, Mapping) else None
    prefix = f"{NAMESPACE}:"
    return {
        key.removeprefix(prefix): value
        for key, value in (config or {}).items()
        if isinstance(key, str) and key.startswith(prefix)
    }


# --------------------------------------------------------------------------------- targets


def promotion_targets(stack: str, region: str, raw_config: Mapping[str, Any]) -> list[str]:
    """The URNs the DR `up` is limited to, from offline runs of the program before and after
    the promotion (tap_tooling.offline: the same program, under mocks). See `select_targets`."""
    from tap_tooling.offline import (  # the mock harness: only when promoting
        OfflineError,
        run_program,
    )

    database = dict(raw_config.get("database") or {})
    others = [r for r in database.get(_PROMOTED_KEY) or [] if r != region]
    runs = []
    try:
        for promoted in ([*others, region], others):
            config = {**raw_config, "database": {**database, _PROMOTED_KEY: promoted}}
            runs.append(run_program(stack, config).resources)
    except OfflineError as exc:
        raise OpsError(f"cannot work out what the promotion changes: {_first_line(exc)}") from None
    except Exception as exc:  # the program's own error (pulumi.RunError, a ValueError...)
        raise OpsError(f"cannot work out what the promotion changes: {_first_line(exc)}") from None
    return select_targets(stack, runs[0], runs[1])


def select_targets(stack: str, after: Sequence[Any], before: Sequence[Any]) -> list[str]:
    """The engine URNs the DR `up` is limited to: what differs between the program's resources
    once the region is promoted (`after`) and before it (`before`; each a
    tap_tooling.offline.Recorded).

    That is exactly what the promotion needs: the promoted instance (no replication source,
    the password write-only, a final snapshot name, Multi-AZ), its region's monitoring (the
    replica-lag alarm goes) and the failover records (PRIMARY moves to the promoted region).
    Nothing else of that region and nothing of the primary region, so the update neither
    needs the primary region nor applies unrelated changes pending in the program mid-outage.
    With them go:
    - their parents up to the root stack: the engine refuses to create a resource whose parent
      is not targeted ("depends on ... which was not specified in --target list",
      pulumi/pulumi#5869); the root stack is always targeted;
    - the explicit providers they use: current engines target providers implicitly
      (pulumi/pulumi#13591, #17746), older ones refused untargeted explicit providers
      (pulumi/pulumi#12628).

    A resource only `before` has must be targeted to be deleted, but the engine fails an update
    naming a literal URN that is neither in the state nor in the program (checkTargets,
    pkg/resource/deploy/deployment_executor.go), as on a re-run once it is gone. Such a
    resource is given as a URN glob (a trailing `*`, matching `[^:]*`), which checkTargets
    does not check; each glob is checked here to match nothing else of the program.
    """
    engine = {**engine_urns(stack, before), **engine_urns(stack, after)}
    olds = {r.urn: r for r in before}
    news = {r.urn: r for r in after}
    changed = [r for r in after if olds.get(r.urn) != r] + [r for r in before if r.urn not in news]
    chosen: set[str] = set()
    for resource in changed:
        index = news if resource.urn in news else olds
        if resource.provider_urn in index:
            chosen.add(resource.provider_urn)
        while resource is not None:
            chosen.add(resource.urn)
            resource = index.get(resource.parent_urn)
    every = {**olds, **news}

    def depth(urn: str) -> int:
        parent = every[urn].parent_urn
        return 1 + depth(parent) if parent in every else 0

    # Providers, then parents before children; sorted, as registration order is not stable.
    order = sorted(chosen, key=lambda u: (every[u].type != PROVIDER_TYPE, depth(u), engine[u]))
    targets = []
    for urn in order:
        if urn in news:
            targets.append(engine[urn])
            continue
        glob = f"{engine[urn]}*"
        matches = [other for other in engine.values() if _glob_matches(glob, other)]
        if matches != [engine[urn]]:
            raise OpsError(f"cannot target the removal of {engine[urn]} alone: {glob} matches more")
        targets.append(glob)
    return targets


def engine_urns(stack: str, resources: Sequence[Any], project: str = PROJECT) -> dict[str, str]:
    """The URN the engine gives each recorded resource, by the URN the mocks gave it.

    The engine's type part is the parent's whole qualified type (every ancestor's type but the
    root stack's, `$`-joined) plus the resource's own (Deployment.generateURN, pkg/resource/
    deploy/deployment.go); the mocks (pulumi.runtime.mocks.MockMonitor.make_urn) use only the
    parent's last type, the root stack's included. They agree below a top-level component
    once the root stack's type is dropped (tests/test_delegation.py), not deeper down: a
    component's bucket is `tap:compute:Compute$tap:bucket:SecureBucket$aws:s3/bucket:Bucket`
    to the engine, `tap:bucket:SecureBucket$aws:s3/bucket:Bucket` to the mocks.
    """
    index = {r.urn: r for r in resources}

    def chain(resource: Any) -> str:
        parent = index.get(resource.parent_urn)
        return f"{chain(parent)}${resource.type}" if parent is not None else resource.type

    return {r.urn: f"urn:pulumi:{stack}::{project}::{chain(r)}::{r.name}" for r in resources}


def _glob_matches(glob: str, urn: str) -> bool:
    """The engine's URN glob (pkg/resource/deploy: `**` any text, `*` any text but `:`)."""
    parts = [
        "[^:]*".join(re.escape(piece) for piece in segment.split("*"))
        for segment in glob.split("**")
    ]
    return re.fullmatch(".*".join(parts), urn) is not None


# ----------------------------------------------------------------------------------- misc


def _ordered(config: StackConfig) -> list[str]:
    return sorted(config.region_names, key=lambda name: name != config.primary_region)


def _status(instance: Mapping[str, Any]) -> str:
    return str(instance.get("DBInstanceStatus", "unknown"))


def _stop_without_credentials(exc: ClientError | BotoCoreError) -> None:
    """No credentials fails every call the same way: one line instead of a line per call."""
    if isinstance(exc, NoCredentialsError):
        raise OpsError(f"no AWS credentials: {describe_error(exc)}") from None


def _lenient(value: Value[T]) -> T | None:
    """An output's value; None when it is missing or of the wrong type (the caller falls back)."""
    try:
        return value.or_none()
    except OutputsError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
