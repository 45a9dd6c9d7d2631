"""The application's public hosted zone: created by the stack, or an existing one looked up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.tags import name_tag


@dataclass(frozen=True)
class ZoneArgs:
    """Inputs of Zone."""

    domain: str
    """Apex domain of the zone, e.g. example.com (already validated and lowercased)."""
    environment: str
    """Environment name, for names and tags."""
    zone_id: str | None = None
    """Use this existing public zone (looked up, so a wrong id fails the plan)."""
    create: bool = False
    """Create the zone; with neither this nor zone_id, the public zone named `domain` is used."""
    is_production: bool = False
    """Keep a created zone's records on destroy (force_destroy only outside prod)."""


class Zone(pulumi.ComponentResource):
    """A public Route53 hosted zone: created, found by id, or found by name."""

    def __init__(
        self, name: str, args: ZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:zone:Zone", name, None, opts)
        if not args.domain:
            raise ValueError("ZoneArgs.domain is empty")
        if args.create and args.zone_id:
            raise ValueError(f"ZoneArgs.zone_id {args.zone_id!r} conflicts with create=True")

        self.name_servers: pulumi.Output[Sequence[str]] | None = None
        if args.create:
            label = naming.global_name(args.environment, "zone")
            zone = aws.route53.Zone(
                f"{name}-zone",
                name=args.domain,
                comment=f"TAP {args.environment}: {args.domain}",
                # Outside prod a destroy must not stall on records other tools added.
                force_destroy=not args.is_production,
                tags=name_tag(label),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.zone_id: pulumi.Output[str] = zone.zone_id
            self.name_servers = zone.name_servers
        else:
            lookup = pulumi.InvokeOutputOptions(parent=self)
            if args.zone_id:
                found = aws.route53.get_zone_output(zone_id=args.zone_id, opts=lookup)
            else:
                # private_zone=False: a split-horizon private zone of the same name must never
                # receive the public failover and validation records.
                found = aws.route53.get_zone_output(
                    name=args.domain, private_zone=False, opts=lookup
                )
            self.zone_id = found.zone_id
        self.register_outputs({"zone_id": self.zone_id, "name_servers": self.name_servers})
