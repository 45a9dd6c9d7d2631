"""tap_tooling/ops/delegation.py: the zone-only targets, the NS comparison and the public lookup.

The command flow (targeted update, exit code, full update once delegated) is tested through
deploy.py and the fake CLI in tests/test_deploy.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.resolver
import pytest
import yaml

from tap_tooling.ops import delegation
from tap_tooling.ops.delegation import NsAnswer
from tests.conftest import planned

REPO_ROOT = Path(__file__).resolve().parents[1]
ZONE_NS = (
    "ns-1536.awsdns-00.co.uk",
    "ns-0.awsdns-00.com",
    "ns-1024.awsdns-00.org",
    "ns-512.awsdns-00.net",
)


def test_zone_targets_are_the_provider_the_component_and_the_zone() -> None:
    assert delegation.zone_targets("prod") == [
        "urn:pulumi:prod::tap::pulumi:providers:aws::aws-global",
        "urn:pulumi:prod::tap::tap:zone:Zone::zone",
        "urn:pulumi:prod::tap::tap:zone:Zone$aws:route53/zone:Zone::zone-zone",
    ]
    assert delegation.zone_targets("dev")[2].startswith("urn:pulumi:dev::tap::")


def test_project_name_matches_pulumi_yaml() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["name"]
    assert project == delegation.PROJECT


def engine_urn(mock_urn: str) -> str:
    """The URN the engine gives what the mocks named `mock_urn`.

    pulumi.runtime.mocks.MockMonitor.make_urn prefixes a child's type with its parent's type
    even when the parent is the root stack; the engine (Deployment.generateURN) leaves the
    root stack's type out, so a top-level resource is `urn:...::<type>::<name>`.
    """
    return mock_urn.replace("::pulumi:pulumi:Stack$", "::") if mock_urn else mock_urn


def test_zone_targets_cover_everything_the_program_creates_the_zone_with() -> None:
    """Against the program itself: the zone, its whole parent chain up to the root stack, and
    its provider are targeted, so the engine creates the zone alone on a new stack."""
    plan = planned("prod")  # prod creates its zone (the offline plan stands in a domain)
    provider, component, zone_urn = delegation.zone_targets("prod")
    index = plan.by_urn()
    (zone,) = plan.of_type("aws:route53/zone:Zone")
    assert engine_urn(zone.urn) == zone_urn
    assert engine_urn(zone.provider_urn) == provider
    assert zone.provider_urn in index  # an explicit provider the program registers
    parent = index[zone.parent_urn]
    assert engine_urn(parent.urn) == component
    # Above the component only the root stack, which every targeted update includes.
    assert parent.parent_urn == "urn:pulumi:prod::tap::pulumi:pulumi:Stack::tap-prod"
    # Nothing else: no explicit dependency (its inputs are plain config values).
    assert zone.depends_on == () and parent.depends_on == ()


@pytest.mark.parametrize(
    "public",
    [
        ZONE_NS,
        tuple(reversed(ZONE_NS)),
        tuple(f"{name.upper()}." for name in ZONE_NS),
        (" NS-512.awsdns-00.net. ", *ZONE_NS[:3]),
    ],
)
def test_delegated_whatever_the_order_case_or_trailing_dot(public: tuple[str, ...]) -> None:
    assert delegation.is_delegated(NsAnswer(public), ZONE_NS)


@pytest.mark.parametrize(
    "answer",
    [
        NsAnswer(problem="the domain does not exist in public DNS (NXDOMAIN)"),
        NsAnswer(("ns1.registrar-parking.example.net", "ns2.registrar-parking.example.net")),
        NsAnswer(ZONE_NS[:2]),  # half set: the other half still answers from elsewhere
        NsAnswer((*ZONE_NS, "ns1.old-dns-host.example.net")),  # a leftover server
        NsAnswer(("ns-9.awsdns-09.com", "ns-10.awsdns-10.net")),  # another Route53 zone
    ],
)
def test_not_delegated_unless_exactly_the_zone_name_servers(answer: NsAnswer) -> None:
    assert not delegation.is_delegated(answer, ZONE_NS)


def test_no_zone_name_servers_is_never_delegated() -> None:
    assert not delegation.is_delegated(NsAnswer(()), ())


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({}, None),  # a new stack
        ({"dns": {"app_fqdn": "app.acme.io"}}, None),
        ({"dns": {"name_servers": None}}, None),  # zone looked up, not created
        ({"dns": {"name_servers": []}}, None),
        ({"dns": {"name_servers": list(ZONE_NS)}}, ZONE_NS),
        ({"dns": "[secret]"}, None),
    ],
)
def test_zone_name_servers_from_the_stack_outputs(
    outputs: dict[str, Any], expected: tuple[str, ...] | None
) -> None:
    assert delegation.zone_name_servers(outputs) == expected


def test_registrar_step_lists_the_name_servers_and_what_public_dns_says() -> None:
    lines = delegation.registrar_step(
        "acme.io", ZONE_NS, NsAnswer(problem="public DNS has no NS records for it"), "prod"
    )
    assert lines[0] == "delegation: acme.io is not delegated to the stack's hosted zone yet"
    assert lines[1] == "  public NS records now: none (public DNS has no NS records for it)"
    assert [line.strip() for line in lines[3:7]] == sorted(ZONE_NS)
    assert "`python deploy.py up --stack prod` again" in lines[7]
    assert "--skip-delegation-check" in lines[8]
    shown = delegation.registrar_step("acme.io", ZONE_NS, NsAnswer(("NS1.Parking.net.",)), "dev")
    assert shown[1] == "  public NS records now: ns1.parking.net"


class _Record:
    def __init__(self, target: str) -> None:
        self.target = dns.name.from_text(target)


@pytest.mark.parametrize(
    ("raised", "problem"),
    [
        (dns.resolver.NXDOMAIN(), "the domain does not exist in public DNS (NXDOMAIN)"),
        (dns.resolver.NoAnswer(), "public DNS has no NS records for it"),
        (dns.resolver.LifetimeTimeout(timeout=5.0, errors=[]), "the NS lookup timed out after 5 s"),
        (dns.resolver.NoNameservers(), "no resolver could answer the NS lookup (SERVFAIL)"),
    ],
)
def test_public_lookup_failures_mean_not_delegated(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, problem: str
) -> None:
    def resolve(*_args: Any, **_kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    answer = delegation.public_name_servers("acme.io")
    assert answer == NsAnswer((), problem)
    assert not delegation.is_delegated(answer, ZONE_NS)


def test_public_lookup_asks_for_ns_records_of_the_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[Any, ...]] = []

    def resolve(qname: str, rdtype: str, **kwargs: Any) -> list[_Record]:
        asked.append((qname, rdtype, kwargs))
        return [_Record(f"{name}.") for name in ZONE_NS]

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    answer = delegation.public_name_servers("acme.io", lifetime=2.0)
    assert asked == [("acme.io", "NS", {"lifetime": 2.0, "search": False})]
    assert answer.problem is None
    assert delegation.is_delegated(answer, ZONE_NS)
