"""Zone on its own: created by the stack, or an existing public zone found by id or by name."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.zone import Zone, ZoneArgs
from tap.global_provider import GLOBAL_PROVIDER_NAME, GLOBAL_REGION
from tests.harness import Built, build, in_region

ZONE = "aws:route53/zone:Zone"
GET_ZONE = "aws:route53/getZone:getZone"
DOMAIN = "acme.io"
ZONE_ID = "Z0123456789ABCDEFGHIJ"


def build_zone(
    zone_id: str | None = None, create: bool = False, retain_on_delete: bool = False
) -> Built:
    def program() -> dict[str, Any]:
        zone = Zone(
            "zone",
            ZoneArgs(
                domain=DOMAIN,
                environment="qa",
                zone_id=zone_id,
                create=create,
                retain_on_delete=retain_on_delete,
            ),
            opts=in_region(GLOBAL_REGION, GLOBAL_PROVIDER_NAME),
        )
        return {"zone_id": zone.zone_id, "name_servers": zone.name_servers}

    return build(program)


@pytest.mark.parametrize(("retain_on_delete", "force_destroy"), [(True, False), (False, True)])
def test_a_created_zone_is_public_and_emptied_on_destroy_only_when_not_retained(
    retain_on_delete: bool, force_destroy: bool
) -> None:
    built = build_zone(create=True, retain_on_delete=retain_on_delete)
    (zone,) = built.of_type(ZONE)
    assert zone.inputs["name"] == DOMAIN
    assert zone.inputs["forceDestroy"] is force_destroy
    # Public: no VPC association (a private zone would hide the records from the internet).
    assert not zone.inputs.get("vpcs")
    assert zone.inputs["comment"] == f"TAP qa: {DOMAIN}"
    assert zone.inputs["tags"] == {"Name": "qa-zone"}
    assert zone.provider_urn == built.provider_urn(GLOBAL_PROVIDER_NAME)
    assert built.lookups_of(GET_ZONE) == []
    assert built.outputs["zone_id"] == built.id_of(zone)
    servers = built.outputs["name_servers"]
    assert len(servers) == 4 and all(re.fullmatch(r"ns-\d+\.awsdns-\d\d\.[a-z.]+", s)
                                     for s in servers)  # fmt: skip


def test_an_existing_zone_is_looked_up_by_id_not_created() -> None:
    built = build_zone(zone_id=ZONE_ID)
    assert built.of_type(ZONE) == []
    assert built.lookups_of(GET_ZONE) == [{"zoneId": ZONE_ID}]
    # The lookup runs through the component's provider (a wrong id fails the plan there).
    assert (GET_ZONE, GLOBAL_REGION) in built.invokes
    assert built.outputs == {"zone_id": ZONE_ID, "name_servers": None}


def test_without_an_id_the_public_zone_of_the_domain_is_looked_up_by_name() -> None:
    built = build_zone()
    assert built.of_type(ZONE) == []
    # Never a split-horizon private zone of the same name.
    assert built.lookups_of(GET_ZONE) == [{"name": DOMAIN, "privateZone": False}]
    zone_id = built.outputs["zone_id"]
    assert re.fullmatch(r"Z[A-Z0-9]{20}", zone_id) and zone_id != ZONE_ID
    assert built.outputs["name_servers"] is None


def test_the_zone_component_has_only_the_zone_below_it() -> None:
    built = build_zone(create=True)
    (component,) = built.components("tap:zone:Zone")
    assert [r.type for r in built.under(component)] == [ZONE]
