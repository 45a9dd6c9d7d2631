"""Runs tests/programs/global_program.py under the offline harness, with the few computed
outputs of Route53, ACM, CloudFront and WAF that the engine would report filled in."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any
from unittest import mock

import tap.offline
from tap.offline import MOCK_ACCOUNT_ID, PlanResult, read_stack_file, run_program

PROGRAM = Path(__file__).resolve().parent / "global_program.py"
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # the one hosted zone of every CloudFront distribution
GET_ZONE = "aws:route53/getZone:getZone"
# The harness's hook for computed outputs (renamed public while this module was written).
STATE_HOOK = "computed_state" if hasattr(tap.offline, "computed_state") else "_computed_state"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def global_state(type_: str, name: str, region: str | None, inputs: dict[str, Any]) -> dict:
    """Computed outputs of the global pieces (the code proposed for tap.offline's state hook).

    ACM asks for the same validation CNAME for the same name in every region, as it does in AWS.
    """
    state: dict[str, Any] = {}
    if type_ == "aws:route53/zone:Zone":
        state["zoneId"] = f"Z0{_digest(inputs.get('name', name), 16).upper()}"
        state["nameServers"] = [
            "ns-1024.awsdns-00.org",
            "ns-1536.awsdns-00.co.uk",
            "ns-512.awsdns-00.net",
            "ns-0.awsdns-00.com",
        ]
    elif type_ == "aws:route53/record:Record":
        state["fqdn"] = str(inputs.get("name", name)).rstrip(".")
    elif type_ == "aws:acm/certificate:Certificate":
        domain = inputs.get("domainName", name)
        state["domainValidationOptions"] = [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_digest('name' + domain, 32)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest('value' + domain, 32)}.acm-validations.aws.",
            }
        ]
    elif type_ == "aws:cloudfront/distribution:Distribution":
        state["arn"] = f"arn:aws:cloudfront::{MOCK_ACCOUNT_ID}:distribution/{name}-id"
        state["domainName"] = f"d{_digest(name, 13)}.cloudfront.net"
        state["hostedZoneId"] = CLOUDFRONT_ZONE_ID
    elif type_ == "aws:cloudwatch/logDeliverySource:LogDeliverySource":
        state["arn"] = (
            f"arn:aws:logs:{region}:{MOCK_ACCOUNT_ID}:delivery-source:{inputs.get('name', name)}"
        )
    elif type_ == "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination":
        state["arn"] = (
            f"arn:aws:logs:{region}:{MOCK_ACCOUNT_ID}:"
            f"delivery-destination:{inputs.get('name', name)}"
        )
    elif type_ == "aws:wafv2/webAcl:WebAcl":
        state["arn"] = (
            f"arn:aws:wafv2:{region}:{MOCK_ACCOUNT_ID}:global/webacl/"
            f"{inputs.get('name', name)}/{name}-id"
        )
    return state


_CACHE: dict[str, tuple[PlanResult, list[dict[str, Any]]]] = {}


def stack_with(stack: str, **changes: Any) -> dict[str, Any]:
    """A stack file's `tap:` config with whole keys replaced (None removes a key)."""
    config = copy.deepcopy(read_stack_file(stack))
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def run_global(
    stack: str = "dev", *, engine_outputs: bool = True, **changes: Any
) -> tuple[PlanResult, list[dict[str, Any]]]:
    """Plan the global program for `stack` with `changes`; also the args of each getZone.

    Cached per arguments: the program is pure, and most tests read the same few plans.
    engine_outputs=False leaves out the computed outputs above (inputs-only mocks).
    """
    config = stack_with(stack, **changes)
    key = json.dumps([stack, engine_outputs, config], sort_keys=True)
    if key not in _CACHE:
        zone_lookups: list[dict[str, Any]] = []
        original_state = getattr(tap.offline, STATE_HOOK)
        original_lookup = tap.offline._LOOKUPS[GET_ZONE]

        def computed(type_: str, name: str, region: str | None, inputs: dict) -> dict:
            extra = global_state(type_, name, region, inputs) if engine_outputs else {}
            return {**original_state(type_, name, region, inputs), **extra}

        def get_zone(region: str, args: dict) -> dict:
            zone_lookups.append(dict(args))
            return original_lookup(region, args)

        with (
            mock.patch.object(tap.offline, STATE_HOOK, computed),
            mock.patch.dict(tap.offline._LOOKUPS, {GET_ZONE: get_zone}),
        ):
            plan = run_program(stack, config, program=PROGRAM)
        _CACHE[key] = (plan, zone_lookups)
    return _CACHE[key]


def plan_of(stack: str = "dev", **changes: Any) -> PlanResult:
    return run_global(stack, **changes)[0]
