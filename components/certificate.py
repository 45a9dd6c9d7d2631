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
    owns_validation_record: bool
    """Write the validation record. ACM asks for the same CNAME for the same name in every
    region of an account, so of the certificates for one name exactly one owns the record; the
    others wait for ACM to see it."""


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
        record_name = options.apply(lambda o: _first_option(o, "resource_record_name"))
        if args.owns_validation_record:
            # One owner per record (no allow_overwrite, nothing retained on delete): a destroy
            # leaves the zone empty, and no second resource fights over the same CNAME. Route53
            # is global, yet the record goes through this component's (regional) provider so no
            # region waits on another's.
            record = aws.route53.Record(
                f"{name}-validation",
                zone_id=args.zone_id,
                name=record_name,
                type=options.apply(lambda o: _first_option(o, "resource_record_type")),
                records=[options.apply(lambda o: _first_option(o, "resource_record_value"))],
                ttl=VALIDATION_TTL,
                opts=child,
            )
            fqdn: pulumi.Input[str] = record.fqdn
        else:
            # The owner's record has the same name; ACM polls for it (CertificateValidation
            # waits up to its create timeout), so no cross-region dependency is needed.
            fqdn = record_name.apply(lambda n: n.rstrip(".") if n else n)
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[fqdn],
            opts=child,
        )

        self.certificate_arn: pulumi.Output[str] = validation.certificate_arn
        self.certificate_domain: str = args.domain_name
        self.register_outputs(
            {"certificate_arn": self.certificate_arn, "certificate_domain": self.certificate_domain}
        )
