"""An ACM certificate for one name, validated through a DNS record in the stack's zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.tags import name_tag

VALIDATION_TTL = 60


@dataclass(frozen=True)
class CertificateArgs:
    """Inputs of Certificate."""

    domain_name: str
    """The one name the certificate is for (no wildcard, no alternative names)."""
    zone_id: pulumi.Input[str]
    """Public hosted zone that receives the validation record."""
    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider (where ACM issues the certificate)."""


def _first_option(options: Sequence[Any] | None, field: str) -> str:
    """One field of the certificate's only validation option.

    A certificate for a single name has exactly one option. Until the provider reports it
    (offline runs that compute no options) the field stays unset, as the engine leaves an
    unknown, so the record is still planned.
    """
    if not options:
        return cast(str, None)
    return str(getattr(options[0], field))


class Certificate(pulumi.ComponentResource):
    """ACM certificate -> DNS validation record -> validation; `certificate_arn` is only known
    once ACM has issued the certificate, so listeners and distributions using it wait."""

    def __init__(
        self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:certificate:Certificate", name, None, opts)
        if not args.domain_name or args.domain_name.startswith("*."):
            raise ValueError(f"CertificateArgs.domain_name {args.domain_name!r}")
        if not args.region:
            raise ValueError("CertificateArgs.region is empty")
        child = pulumi.ResourceOptions(parent=self)

        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain_name,
            validation_method="DNS",
            # The name is in the Name tag: us-east-1 can hold both an ALB and a CloudFront one.
            tags=name_tag(
                naming.physical_name(args.environment, f"cert-{args.domain_name}", args.region)
            ),
            opts=child,
        )
        options = certificate.domain_validation_options
        # ACM asks for the same CNAME for the same name in every region and account-wide, so a
        # second regional certificate for the failover name writes an identical record: overwrite
        # instead of failing on "already exists". Route53 is global, yet the record goes through
        # this component's (regional) provider so no region waits on another's.
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.zone_id,
            name=options.apply(lambda o: _first_option(o, "resource_record_name")),
            type=options.apply(lambda o: _first_option(o, "resource_record_type")),
            records=[options.apply(lambda o: _first_option(o, "resource_record_value"))],
            ttl=VALIDATION_TTL,
            allow_overwrite=True,
            # Shared with the other regions' certificates for the same name, which still need it
            # for ACM's automatic renewal: removing one region must not delete it.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )

        self.certificate_arn: pulumi.Output[str] = validation.certificate_arn
        self.certificate_domain: str = args.domain_name
        self.register_outputs(
            {"certificate_arn": self.certificate_arn, "certificate_domain": self.certificate_domain}
        )
