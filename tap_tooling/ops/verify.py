"""`deploy.py verify`: after an `up`, check the live account against the stack outputs.

`pulumi up` succeeding means AWS accepted every API call; it does not mean the ALB has healthy
targets, the ASG reached its desired capacity or the trail is logging. These checks read the
stack outputs (the contract documented in docs/operations.md) and ask AWS, region by region.
Read-only: nothing here changes the account.

`run` is the entry point of `deploy.py verify`: it refuses credentials of another account than
the stack's, stops with one line when the credentials do not work at all, then prints the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
from botocore.exceptions import BotoCoreError, ClientError

from tap.config import AwsConfig
from tap.outputs import (
    OutputsError,
    ParsedAudit,
    ParsedDatabase,
    ParsedDns,
    ParsedEdge,
    ParsedOutputs,
    ParsedRegion,
    ParsedSummary,
    parse,
)
from tap_tooling.ops.aws import ClientFactory, describe_error, error_code, require_account
from tap_tooling.ops.errors import ExitCode, OpsError

GLOBAL = "global"
"""Region column of checks that are not regional (DNS records, the trail, CloudFront)."""
_HEALTHY = "healthy"
# Target states that are transitions rather than faults: a target registering, leaving, or
# sitting in an AZ the ALB does not serve yet. Only "unhealthy" (and no healthy one) fails.
_BAD_TARGET_STATES = frozenset({"unhealthy"})

# RDS DB instance statuses ("Viewing Amazon RDS DB instance status", RDS user guide): routine
# work RDS starts or finishes by itself, after which the instance is `available` again without
# anyone acting. A check that runs during a backup window or right after an `up` that
# modified the instance passes, with the status in its detail.
DB_BUSY_STATUSES = frozenset(
    {
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "configuring-log-exports",
        "converting-to-vpc",
        "creating",
        "maintenance",
        "modifying",
        "moving-to-vpc",
        "rebooting",
        "renaming",
        "resetting-master-credentials",
        "starting",
        "storage-config-upgrade",
        "storage-initialization",
        "storage-optimization",
        "upgrading",
    }
)
# Statuses that need an operator (the RDS guide's remedies: add storage, fix the parameter or
# option group, the network or the KMS key, start the instance) or that end in no instance.
# Families (`incompatible-*`, `inaccessible-encryption-credentials*`) match by prefix, and a
# status this list does not know fails too, naming it: better a question than a false pass.
DB_FAILED_STATUSES = frozenset(
    {
        "delete-precheck",
        "deleting",
        "failed",
        "insufficient-capacity",
        "restore-error",
        "stopped",
        "stopping",
        "storage-full",
    }
)
_DB_FAILED_PREFIXES = ("incompatible-", "inaccessible-encryption-credentials")

# Credentials that are missing or no longer valid: every call would fail the same way, so verify
# stops with one line instead of failing each check. AccessDenied is not among them: a missing
# permission fails only the checks that need it.
_CREDENTIAL_ERRORS: tuple[type[Exception], ...] = tuple(
    getattr(botocore.exceptions, name)
    for name in (
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "UnknownCredentialError",
        "NoAuthTokenError",
        "TokenRetrievalError",
        "SSOError",
        "LoginTokenLoadError",
    )
    if hasattr(botocore.exceptions, name)
)
_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "RequestExpired",
    }
)


@dataclass(frozen=True)
class Check:
    """One row of the verify table."""

    region: str
    name: str
    passed: bool
    detail: str
    skipped: bool = False

    @property
    def status(self) -> str:
        if self.skipped:
            return "SKIP"
        return "PASS" if self.passed else "FAIL"


class MissingOutput(Exception):
    """A stack output the check needs is absent: reported as that check failing (values of the
    outputs raise OutputsError themselves; this is for a region's absent `db_*` keys)."""


def load_outputs_file(path: Path) -> dict[str, Any]:
    """Outputs as `pulumi stack output --json` (or `deploy.py outputs`) writes them."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise OpsError(f"cannot read outputs file {path}: {exc.strerror}", ExitCode.USAGE) from None
    except ValueError as exc:
        raise OpsError(f"outputs file {path} is not JSON: {exc}", ExitCode.USAGE) from None
    if not isinstance(data, dict):
        raise OpsError(f"outputs file {path} must hold a JSON object", ExitCode.USAGE)
    return data


def run(
    aws: AwsConfig,
    environment: str,
    stack: str,
    outputs: Mapping[str, Any],
    clients: ClientFactory,
    out: Callable[[str], None],
    production: bool | None = None,
) -> ExitCode:
    """`deploy.py verify` after the outputs are read: refuse outputs of another stack and
    credentials of another account (one line each, exit 2), stop on credentials that do not
    work (one line, exit 1), then print the table; exit 1 if any check failed.

    `aws`, `environment`: the stack's `tap:aws` and `tap:environment`; `production`: its
    `StackConfig.is_production` when the config validates, else None (read from the outputs).
    `clients`: `stack_client_factory(aws, profile, endpoint_url)`, or any factory (tests).
    """
    check_outputs_match(outputs, stack, environment)
    check_credentials(clients)
    require_account(clients, aws, stack)
    checks = verify(outputs, clients, production=production)
    out(render_table(checks).rstrip("\n"))
    return exit_code(checks)


def check_outputs_match(outputs: Mapping[str, Any], stack: str, environment: str) -> None:
    """Outputs of another stack would be verified against the wrong expectations."""
    try:
        actual = parse(outputs, complete=False).deployment_summary.environment.or_none()
    except OutputsError:
        return  # not a TAP stack's outputs at all: verify says so
    if actual is not None and actual != environment:
        raise OpsError(
            f"the outputs are of environment {actual}, but stack {stack} deploys {environment}; "
            "pass the matching --stack or --outputs file",
            ExitCode.USAGE,
        )


def check_credentials(clients: ClientFactory) -> None:
    """One STS call: OpsError (one line) when there are no usable credentials at all."""
    try:
        clients("sts", "us-east-1").get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        if is_credential_error(exc):
            raise credentials_error(exc) from None
        raise OpsError(f"cannot reach AWS STS: {describe_error(exc)}") from None


def is_credential_error(exc: Exception) -> bool:
    """Missing, expired or rejected credentials (not a missing permission)."""
    if isinstance(exc, ClientError):
        return error_code(exc) in _CREDENTIAL_CODES
    return isinstance(exc, _CREDENTIAL_ERRORS)


def credentials_error(exc: ClientError | BotoCoreError) -> OpsError:
    return OpsError(
        f"no usable AWS credentials ({describe_error(exc)}): set AWS_PROFILE or pass --profile, "
        "or renew the session (e.g. `aws sso login`)",
        ExitCode.FAILED,
    )


def verify(
    outputs: Mapping[str, Any], clients: ClientFactory, production: bool | None = None
) -> list[Check]:
    """Every check, in table order: each region (primary first), then the global ones.

    `production`: the stack config's `is_production` (prod-only checks such as Multi-AZ);
    None reads it from the outputs (`deployment_summary.production`, else environment `prod`,
    for outputs written before that key existed).
    Raises OpsError (one line) as soon as a call shows the credentials do not work, or when
    the outputs are not a TAP stack's.
    """
    parsed = read_outputs(outputs)
    try:
        return _checks(parsed, clients, production)
    except OutputsError as exc:  # a value every check depends on, of the wrong type
        raise OpsError(f"cannot verify: {exc}") from None


def read_outputs(outputs: Mapping[str, Any]) -> ParsedOutputs:
    """The outputs, typed (tap/outputs.py); OpsError when they are not a TAP stack's. A value
    they lack fails only the check that needs it."""
    try:
        parsed = parse(outputs, complete=False)
        primary = parsed.deployment_summary.primary_region.or_none()
    except OutputsError as exc:
        raise OpsError(f"cannot verify: {exc} (pass the right --outputs file)") from None
    if primary is None or not parsed.regions:
        raise OpsError(
            "the outputs have no deployment_summary/regions: is this a deployed TAP stack? "
            "(run `deploy.py up` first, or pass the right --outputs file)"
        )
    return parsed


def _checks(outputs: ParsedOutputs, clients: ClientFactory, production: bool | None) -> list[Check]:
    summary, regions = outputs.deployment_summary, outputs.regions
    primary = summary.primary_region.get()
    is_prod = is_production(summary) if production is None else production
    primary_database = regions[primary].database if primary in regions else None
    primary_db = primary_database.db_identifier.or_none() if primary_database else None
    checks: list[Check] = []
    for region in ordered_regions(summary, regions):
        if region not in regions:
            checks.append(
                Check(region, "outputs", False, f"stack output regions.{region} is missing")
            )
            continue
        checks += region_checks(
            clients,
            region,
            regions[region],
            summary,
            region == primary,
            is_prod,
            primary_db=(primary, primary_db) if primary_db else None,
        )
    checks += dns_checks(clients, outputs.dns, primary)
    checks.append(trail_check(clients, outputs.audit, primary))
    checks.append(edge_check(clients, outputs.edge, primary))
    return checks


def is_production(summary: ParsedSummary) -> bool:
    """Whether the outputs describe a production stack (StackConfig.is_production at `up`);
    outputs written before `deployment_summary.production` existed: environment `prod`."""
    production = summary.production.or_none()
    if production is not None:
        return production
    return summary.environment.or_none() == "prod"


def ordered_regions(summary: ParsedSummary, regions: Mapping[str, ParsedRegion]) -> list[str]:
    """The primary region first, then the others in the summary's order (or sorted)."""
    names = list(summary.regions.or_none() or sorted(regions))
    names += [name for name in sorted(regions) if name not in names]
    primary = summary.primary_region.or_none()
    return sorted(names, key=lambda name: name != primary)


def region_checks(
    clients: ClientFactory,
    region: str,
    out: ParsedRegion,
    summary: ParsedSummary,
    is_primary: bool,
    is_prod: bool,
    primary_db: tuple[str, str] | None = None,
) -> list[Check]:
    """`primary_db`: region and identifier of the stack's primary database, which a replica
    must replicate from."""
    ec2, elbv2 = clients("ec2", region), clients("elbv2", region)
    asg, rds = clients("autoscaling", region), clients("rds", region)
    checks = [
        run_check(region, "vpc", lambda: check_vpc(ec2, out)),
        run_check(region, "subnets", lambda: check_subnets(ec2, out, summary.az_count.or_none())),
        run_check(region, "load balancer", lambda: check_load_balancer(elbv2, out)),
        run_check(region, "healthy targets", lambda: check_targets(elbv2, out)),
        run_check(region, "auto scaling group", lambda: check_asg(asg, out)),
    ]
    # The outputs say which database a region has: after a DR promotion the secondary's
    # database is a writable primary (db_is_replica false) and is checked as one.
    database = out.database
    identifier = database.db_identifier.or_none() if database else None
    if database and identifier and database.db_is_replica.or_none():
        checks.append(
            run_check(region, "read replica", lambda: check_replica(rds, out, primary_db))
        )
    elif is_primary or identifier:
        checks.append(run_check(region, "database", lambda: check_primary_db(rds, out, is_prod)))
    else:
        checks.append(
            Check(region, "read replica", True, "DR replication off for this region", True)
        )
    if is_primary or identifier:
        # Every region with a database keeps its own copy of the master credential: the app of
        # a region never depends on another region's secret, before or after a promotion.
        secrets = clients("secretsmanager", region)
        checks.append(
            run_check(region, "database secret", lambda: check_db_secret(secrets, region, out))
        )
    return checks


def run_check(region: str, name: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    """Run one probe; an AWS error or a missing output fails that check, not the whole run."""
    try:
        passed, detail = probe()
    except MissingOutput as exc:
        return Check(region, name, False, f"stack output {exc} is missing")
    except OutputsError as exc:
        missing = f"{exc.key} is missing" if exc.missing else f"{exc.path}: {exc.problem}"
        return Check(region, name, False, f"stack output {missing}")
    except (ClientError, BotoCoreError) as exc:
        if is_credential_error(exc):
            raise credentials_error(exc) from None
        return Check(region, name, False, describe_error(exc))
    return Check(region, name, passed, detail)


def check_vpc(ec2: Any, out: ParsedRegion) -> tuple[bool, str]:
    vpc_id = out.vpc_id.get()
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    problems = []
    if vpc.get("State") != "available":
        problems.append(f"state {vpc.get('State')}")
    expected_cidr = out.vpc_cidr.or_none()
    if expected_cidr and vpc.get("CidrBlock") != expected_cidr:
        problems.append(f"CIDR {vpc.get('CidrBlock')}, outputs say {expected_cidr}")
    return _verdict(problems, f"{vpc_id} {vpc.get('CidrBlock')} available")


def check_subnets(ec2: Any, out: ParsedRegion, az_count: int | None) -> tuple[bool, str]:
    vpc_id = out.vpc_id.get()
    tiers = {
        "public": out.public_subnet_ids.get(),
        "private": out.private_subnet_ids.get(),
        "database": out.database_subnet_ids.get(),
    }
    wanted = [subnet for ids in tiers.values() for subnet in ids]
    # One call for all of them; an id that no longer exists fails the call with NotFound.
    found = ec2.describe_subnets(SubnetIds=wanted)["Subnets"] if wanted else []
    problems = [
        f"{s['SubnetId']} is in {s.get('VpcId')}" for s in found if s.get("VpcId") != vpc_id
    ]
    problems += [
        f"{s['SubnetId']} is {s.get('State')}" for s in found if s.get("State") != "available"
    ]
    if az_count is not None:
        problems += [
            f"{len(ids)} {tier} subnets for {az_count} AZs"
            for tier, ids in tiers.items()
            if len(ids) != az_count
        ]
    counts = ", ".join(f"{len(ids)} {tier}" for tier, ids in tiers.items())
    return _verdict(problems, f"{len(found)} subnets ({counts}) in {vpc_id}")


def check_load_balancer(elbv2: Any, out: ParsedRegion) -> tuple[bool, str]:
    arn = out.alb_arn.get()
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    state = balancer.get("State", {}).get("Code")
    return state == "active", f"{balancer.get('DNSName')} {state}"


def check_targets(elbv2: Any, out: ParsedRegion) -> tuple[bool, str]:
    """At least one healthy target and none reported unhealthy."""
    arn = out.target_group_arn.get()
    descriptions = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    states = [d.get("TargetHealth", {}).get("State", "unknown") for d in descriptions]
    healthy = states.count(_HEALTHY)
    detail = f"{healthy}/{len(states)} healthy"
    others = sorted({state for state in states if state != _HEALTHY})
    if others:
        detail += " (others: " + ", ".join(f"{states.count(s)} {s}" for s in others) + ")"
    return healthy > 0 and not _BAD_TARGET_STATES.intersection(states), detail


def check_asg(autoscaling: Any, out: ParsedRegion) -> tuple[bool, str]:
    name = out.asg_name.get()
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    if not groups:
        return False, f"{name} not found"
    group = groups[0]
    desired = int(group.get("DesiredCapacity", 0))
    in_service = sum(
        1
        for instance in group.get("Instances", [])
        if instance.get("LifecycleState") == "InService"
        and instance.get("HealthStatus") == "Healthy"
    )
    detail = f"{name}: {in_service}/{desired} in service"
    return desired > 0 and in_service >= desired, detail


def check_primary_db(rds: Any, out: ParsedRegion, is_prod: bool) -> tuple[bool, str]:
    instance = _db_instance(rds, _database(out).db_identifier.get())
    problems = _db_problems(instance)
    if is_prod and not instance.get("MultiAZ"):
        problems.append("not Multi-AZ (required in prod)")
    multi_az = "Multi-AZ" if instance.get("MultiAZ") else "single-AZ"
    name = instance["DBInstanceIdentifier"]
    return _verdict(problems, f"{name} {_db_status_detail(instance)}, encrypted, {multi_az}")


def check_replica(
    rds: Any, out: ParsedRegion, primary_db: tuple[str, str] | None = None
) -> tuple[bool, str]:
    """A read replica of the stack's primary (`primary_db`: its region and identifier)."""
    instance = _db_instance(rds, _database(out).db_identifier.get())
    problems = _db_problems(instance)
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    if not source:
        problems.append("not a read replica (no source instance)")
    elif primary_db is not None and not _is_instance(str(source), *primary_db):
        problems.append(f"replicates from {source}, not the primary {primary_db[1]}")
    status = _db_status_detail(instance)
    busy = "" if status == "available" else f", {status}"
    return _verdict(problems, f"{instance['DBInstanceIdentifier']} replicating from {source}{busy}")


def check_db_secret(secrets: Any, region: str, out: ParsedRegion) -> tuple[bool, str]:
    """The region's own master secret: in this region, under this region's key, not deleted.
    Its value is not read: verify needs no access to the credential."""
    arn = _database(out, "db_secret_arn").db_secret_arn.get()
    secret_region = arn.split(":")[3] if arn.count(":") >= 3 else "?"
    if secret_region != region:
        # Not even asked: this region's client cannot see another region's secret.
        return False, f"secret of region {secret_region}, not {region}"
    secret = secrets.describe_secret(SecretId=arn)
    problems = []
    key = out.kms_key_arn.or_none()
    if key and secret.get("KmsKeyId") not in (key, key.rsplit("/", 1)[-1]):
        problems.append(f"encrypted with {secret.get('KmsKeyId') or 'the default key'}, not {key}")
    if secret.get("DeletedDate"):
        problems.append("scheduled for deletion")
    return _verdict(problems, f"{secret.get('Name')} in {region}, region key")


def dns_checks(clients: ClientFactory, dns: ParsedDns | None, home_region: str) -> list[Check]:
    """Failover records and one health check per region; skipped when there is no domain."""
    if dns is None:
        return [Check(GLOBAL, "dns failover", True, "no domain configured (no dns output)", True)]
    route53 = clients("route53", home_region if home_region != GLOBAL else "us-east-1")
    checks = [run_check(GLOBAL, "failover records", lambda: check_failover_records(route53, dns))]
    health_checks = dns.health_check_ids.or_none() or {}
    if not health_checks:
        checks.append(Check(GLOBAL, "health checks", False, "dns.health_check_ids is empty"))
    for region, check_id in sorted(health_checks.items()):
        checks.append(run_check(region, "route53 health check", _health_probe(route53, check_id)))
    return checks


def _health_probe(route53: Any, check_id: str) -> Callable[[], tuple[bool, str]]:
    return lambda: check_health(route53, check_id)


def check_failover_records(route53: Any, dns: ParsedDns) -> tuple[bool, str]:
    zone_id = dns.zone_id.get()
    # Behind CloudFront the regions fail over at an origin name and app_fqdn points at the
    # distribution; the outputs name it failover_fqdn (absent: app_fqdn itself fails over).
    name = dns.failover_fqdn.or_none() or dns.app_fqdn.get()
    fqdn = name.rstrip(".") + "."
    records = [
        record
        for record in _record_sets(route53, zone_id, fqdn)
        if record["Name"] == fqdn and record.get("Failover")
    ]
    roles = sorted({record["Failover"] for record in records})
    problems = [f"no {role} record" for role in ("PRIMARY", "SECONDARY") if role not in roles]
    # Without a health check (or alias target health) the PRIMARY never fails over.
    problems += [
        f"{record['Failover']} record {record.get('SetIdentifier')} has no health check"
        for record in records
        if record["Failover"] == "PRIMARY"
        and not record.get("HealthCheckId")
        and not record.get("AliasTarget", {}).get("EvaluateTargetHealth")
    ]
    summary = ", ".join(f"{r['Failover']} {r.get('SetIdentifier', '')}".strip() for r in records)
    return _verdict(problems, f"{fqdn.rstrip('.')}: {summary or 'no failover records'}")


# Route53 considers an endpoint healthy when more than 18% of its checkers report it so.
HEALTHY_SHARE = 0.18


def check_health(route53: Any, check_id: str) -> tuple[bool, str]:
    """The region's health check exists and its checkers currently see the endpoint healthy."""
    config = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"]
    target = config.get("FullyQualifiedDomainName") or config.get("IPAddress", "")
    where = f"{check_id} {config.get('Type')} {target}{config.get('ResourcePath', '')}"
    observations = route53.get_health_check_status(HealthCheckId=check_id).get(
        "HealthCheckObservations", []
    )
    if not observations:
        return False, f"{where}: no checker has reported yet"
    healthy = sum(
        o.get("StatusReport", {}).get("Status", "").startswith("Success") for o in observations
    )
    share = healthy / len(observations)
    return share > HEALTHY_SHARE, f"{where}: {healthy}/{len(observations)} checkers healthy"


def trail_check(clients: ClientFactory, audit: ParsedAudit, primary: str) -> Check:
    def probe() -> tuple[bool, str]:
        # The ARN finds the trail from any region; the name only from its home region.
        trail = audit.trail_arn.or_none() or audit.trail_name.get()
        cloudtrail = clients("cloudtrail", audit.trail_region.or_none() or primary)
        logging = bool(cloudtrail.get_trail_status(Name=trail)["IsLogging"])
        name = audit.trail_name.or_none() or trail
        return logging, f"{name} {'logging' if logging else 'NOT logging'}"

    return run_check(GLOBAL, "cloudtrail logging", probe)


def edge_check(clients: ClientFactory, edge: ParsedEdge | None, primary: str) -> Check:
    if edge is None:
        return Check(GLOBAL, "cloudfront", True, "CloudFront off (no edge output)", True)
    cloudfront = clients("cloudfront", "us-east-1")

    def probe() -> tuple[bool, str]:
        distribution = cloudfront.get_distribution(Id=edge.distribution_id.get())
        status = distribution["Distribution"]["Status"]
        enabled = distribution["Distribution"]["DistributionConfig"].get("Enabled")
        detail = f"{edge.domain_name.or_none()} {status}{'' if enabled else ', disabled'}"
        return status == "Deployed" and bool(enabled), detail

    return run_check(GLOBAL, "cloudfront", probe)


def render_table(checks: Sequence[Check]) -> str:
    headers = ("REGION", "CHECK", "RESULT", "DETAIL")
    rows = [(c.region, c.name, c.status, c.detail) for c in checks]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip()
        for row in [headers, *rows]
    ]
    failed = sum(1 for c in checks if c.status == "FAIL")
    skipped = sum(1 for c in checks if c.skipped)
    passed = len(checks) - failed - skipped
    lines.append(f"{passed} passed, {failed} failed, {skipped} skipped")
    return "\n".join(lines) + "\n"


def exit_code(checks: Sequence[Check]) -> ExitCode:
    return ExitCode.FAILED if any(c.status == "FAIL" for c in checks) else ExitCode.OK


def _db_instance(rds: Any, identifier: str) -> dict[str, Any]:
    return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def db_status_fails(status: str) -> bool:
    """Whether an RDS DB instance status is a failure (see DB_BUSY_STATUSES)."""
    return not (status == "available" or status in DB_BUSY_STATUSES)


def _db_status_detail(instance: Mapping[str, Any]) -> str:
    status = str(instance.get("DBInstanceStatus"))
    return status if status == "available" else f"{status} (routine)"


def _db_problems(instance: Mapping[str, Any]) -> list[str]:
    problems = []
    status = str(instance.get("DBInstanceStatus"))
    if db_status_fails(status):
        known = status in DB_FAILED_STATUSES or status.startswith(_DB_FAILED_PREFIXES)
        problems.append(f"status {status}" + ("" if known else " (not a status verify knows)"))
    if not instance.get("StorageEncrypted"):
        problems.append("storage not encrypted")
    # The app signs in with IAM tokens in every region, on replicas before a promotion too.
    if not instance.get("IAMDatabaseAuthenticationEnabled"):
        problems.append("IAM database authentication off")
    return problems


def _is_instance(reference: str, region: str, identifier: str) -> bool:
    """Whether an RDS source reference (an identifier, or an ARN across regions) names
    `identifier` in `region`."""
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return len(parts) >= 7 and parts[3] == region and parts[5:7] == ["db", identifier]
    return reference == identifier


def _record_sets(route53: Any, zone_id: str, fqdn: str) -> Iterator[dict[str, Any]]:
    """The record sets named `fqdn`: listing starts there and stops once past that name."""
    paginator = route53.get_paginator("list_resource_record_sets")
    seen = False
    for page in paginator.paginate(HostedZoneId=zone_id, StartRecordName=fqdn):
        for record in page["ResourceRecordSets"]:
            if record["Name"] == fqdn:
                seen = True
                yield record
            elif seen:
                return


def _database(out: ParsedRegion, key: str = "db_identifier") -> ParsedDatabase:
    """The region's database outputs; MissingOutput(`key`) when it has none."""
    if out.database is None:
        raise MissingOutput(key)
    return out.database


def _verdict(problems: list[str], ok_detail: str) -> tuple[bool, str]:
    return (False, "; ".join(problems)) if problems else (True, ok_detail)
