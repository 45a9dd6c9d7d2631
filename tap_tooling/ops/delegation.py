"""First deploy of a stack that creates its hosted zone: is the domain delegated to it yet?

ACM validates the stack's certificates through DNS records in the zone, which only the public
internet's view of the domain reaches once the registrar (or the parent zone) names the zone's
name servers. Before that, the full `up` would wait on validation until it times out. So
`deploy.py up` first creates the zone alone (a targeted update), prints its name servers for
the registrar and stops; run again, it continues once the public NS records match the zone.

The pure pieces live here (which URNs the targeted update needs, the NS comparison, the text
for the operator); tap_tooling/cli.py runs them against the engine. Public DNS is a seam
(`Resolver`): the real one asks the system's recursive resolver through dnspython, tests pass
a fake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from tap.global_provider import GLOBAL_PROVIDER_NAME
from tap.outputs import OutputsError, parse

PROJECT = "tap"
"""`name` in Pulumi.yaml: the project part of every URN."""
ZONE_COMPONENT = "zone"
"""Name of the Zone component in __main__.py; its created zone is `<name>-zone`."""
LOOKUP_SECONDS = 5.0
"""How long one public NS lookup may take before the domain counts as not delegated."""


@dataclass(frozen=True)
class NsAnswer:
    """What public DNS says about the domain's NS records."""

    name_servers: tuple[str, ...] = ()
    """The NS targets as answered (any case, maybe with the trailing dot)."""
    problem: str | None = None
    """Why there are none: NXDOMAIN, no NS records, a timeout (for the operator's message)."""


Resolver = Callable[[str], NsAnswer]
"""Looks up the public NS records of a domain; never raises for "not there (yet)"."""


def public_name_servers(domain: str, lifetime: float = LOOKUP_SECONDS) -> NsAnswer:
    """The domain's NS records as the system's recursive resolver sees them (dnspython).

    A recursive resolver may serve a cached answer until its TTL runs out (up to two days for
    NS records under .com): a registrar change can take that long to show here.
    """
    try:
        answer = dns.resolver.resolve(domain, "NS", lifetime=lifetime, search=False)
    except dns.resolver.NXDOMAIN:
        return NsAnswer(problem="the domain does not exist in public DNS (NXDOMAIN)")
    except dns.resolver.NoAnswer:
        return NsAnswer(problem="public DNS has no NS records for it")
    except dns.exception.Timeout:
        return NsAnswer(problem=f"the NS lookup timed out after {lifetime:g} s")
    except dns.resolver.NoNameservers:
        return NsAnswer(problem="no resolver could answer the NS lookup (SERVFAIL)")
    except dns.exception.DNSException as exc:
        return NsAnswer(problem=f"the NS lookup failed: {exc}")
    return NsAnswer(tuple(str(record.target) for record in answer))


def normalise(name_servers: Iterable[str]) -> frozenset[str]:
    """Name servers compared as DNS compares names: no case, no trailing dot, no order."""
    return frozenset(name.strip().rstrip(".").lower() for name in name_servers if name.strip())


def is_delegated(answer: NsAnswer, zone_name_servers: Iterable[str]) -> bool:
    """True when the public NS records are exactly the zone's name servers.

    Exactly, not "some of them": a leftover server of the previous DNS host would answer part
    of the queries without the stack's records (ACM validation, failover) in it.
    """
    public = normalise(answer.name_servers)
    return bool(public) and public == normalise(zone_name_servers)


def zone_targets(stack: str, project: str = PROJECT) -> list[str]:
    """The URNs a targeted update needs to create the hosted zone alone on a new stack.

    The engine refuses to create a targeted resource whose parent, provider or dependency
    would be created but is not targeted (diagnostic 2013 "Resource '...' depends on '...'
    which was was not specified in --target list", pkg/resource/deploy/step_generator.go), so
    the Zone component, the zone's parent, is targeted with it. Providers are implicitly
    targeted by current engines (pulumi/pulumi#13591, #17746), older ones refused an untargeted
    explicit provider (pulumi/pulumi#12628): it is listed too. The root stack resource is
    always implicitly targeted.
    """
    prefix = f"urn:pulumi:{stack}::{project}::"
    zone_type = "tap:zone:Zone"
    return [
        f"{prefix}pulumi:providers:aws::{GLOBAL_PROVIDER_NAME}",
        f"{prefix}{zone_type}::{ZONE_COMPONENT}",
        f"{prefix}{zone_type}$aws:route53/zone:Zone::{ZONE_COMPONENT}-zone",
    ]


def zone_name_servers(outputs: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The created zone's name servers from the stack outputs (`dns.name_servers`), or None
    while the stack has no zone yet (a new stack, or one that never got that far) or outputs
    that do not say (a zone looked up rather than created, unreadable outputs)."""
    try:
        dns = parse(outputs, complete=False).dns
        names = dns.name_servers.or_none() if dns and dns.name_servers else None
    except OutputsError:
        return None
    return names or None


def registrar_step(
    domain: str, zone_name_servers: Iterable[str], answer: NsAnswer, stack: str
) -> list[str]:
    """What the operator reads when the domain is not delegated yet: one line each."""
    public = sorted(normalise(answer.name_servers))
    seen = ", ".join(public) if public else f"none ({answer.problem or 'no answer'})"
    return [
        f"delegation: {domain} is not delegated to the stack's hosted zone yet",
        f"  public NS records now: {seen}",
        f"  set exactly these name servers for {domain} at its registrar (or parent zone):",
        *(f"    {name}" for name in sorted(normalise(zone_name_servers))),
        f"  then run `python deploy.py up --stack {stack}` again: it continues once public DNS "
        "shows them (minutes, up to 48 hours while resolvers cache the old records)",
        "  (--skip-delegation-check when the domain is delegated in a way this check cannot "
        "see, e.g. split-horizon DNS)",
    ]
