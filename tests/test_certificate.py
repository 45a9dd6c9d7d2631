"""Certificate on its own: ACM with DNS validation, the record written by exactly one owner."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.certificate import VALIDATION_TTL, Certificate, CertificateArgs
from tests.harness import Built, build, in_region

CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
FQDN = "origin.app.acme.io"


def certificate(
    name: str, region: str, owns: bool, domain: str = FQDN, zone_id: str = ZONE_ID
) -> Certificate:
    return Certificate(
        name,
        CertificateArgs(
            domain_name=domain,
            zone_id=zone_id,
            environment="qa",
            region=region,
            owns_validation_record=owns,
        ),
        opts=in_region(region),
    )


def build_one(region: str = "eu-west-1", owns: bool = True, **changes: Any) -> Built:
    def program() -> dict[str, Any]:
        cert = certificate(f"{region}-certificate", region, owns, **changes)
        return {"arn": cert.certificate_arn, "domain": cert.certificate_domain}

    return build(program)


def test_one_name_validated_by_dns_in_the_providers_region() -> None:
    built = build_one("eu-west-1")
    (cert,) = built.of_type(CERT)
    assert cert.region == "eu-west-1"
    assert cert.inputs["domainName"] == FQDN
    assert cert.inputs["validationMethod"] == "DNS"
    assert not cert.inputs.get("subjectAlternativeNames")
    assert cert.inputs["tags"] == {"Name": f"qa-cert-{FQDN.replace('.', '-')}-eu-west-1"}
    assert built.outputs["domain"] == FQDN
    assert re.fullmatch(r"arn:aws:acm:eu-west-1:123456789012:certificate/[0-9a-f-]{36}",
                        built.outputs["arn"])  # fmt: skip


def test_the_owner_writes_the_record_acm_asks_for_and_validation_waits_for_it() -> None:
    built = build_one("us-west-2", owns=True)
    (record,) = built.of_type(RECORD)
    (validation,) = built.of_type(VALIDATION)
    (cert,) = built.of_type(CERT)
    # The harness answers like ACM: one CNAME per name, `_<hash>.<name>.` -> acm-validations.
    assert record.region == validation.region == "us-west-2"
    assert record.inputs["zoneId"] == ZONE_ID
    assert record.inputs["type"] == "CNAME"
    assert re.fullmatch(rf"_[0-9a-f]{{32}}\.{re.escape(FQDN)}\.", record.inputs["name"])
    (value,) = record.inputs["records"]
    assert value.endswith(".acm-validations.aws.")
    assert record.inputs["ttl"] == VALIDATION_TTL
    # One owner per record: nothing that would let a second resource take it over.
    assert not record.inputs.get("allowOverwrite") and not record.retain_on_delete
    assert re.fullmatch(r"arn:aws:acm:us-west-2:123456789012:certificate/[0-9a-f-]{36}",
                        validation.inputs["certificateArn"])  # fmt: skip
    assert cert.urn in validation.depends_on
    assert validation.inputs["validationRecordFqdns"] == [record.inputs["name"].rstrip(".")]
    assert record.urn in validation.depends_on
    # The ARN users get is the validation's: listeners using it wait for the certificate.
    assert built.outputs["arn"] == validation.inputs["certificateArn"]


def test_a_non_owner_writes_no_record_and_waits_for_the_owners() -> None:
    def program() -> dict[str, Any]:
        certificate("us-east-1-certificate", "us-east-1", owns=True)
        certificate("us-west-2-certificate", "us-west-2", owns=False)
        return {}

    built = build(program)
    (record,) = built.of_type(RECORD)
    assert record.name == "us-east-1-certificate-validation" and record.region == "us-east-1"
    validations = {v.region: v for v in built.of_type(VALIDATION)}
    assert set(validations) == {"us-east-1", "us-west-2"}
    # Same name in both regions (ACM asks the same CNAME of every region), and no
    # cross-region dependency: the west validation polls for the east record.
    owner_fqdn = record.inputs["name"].rstrip(".")
    for validation in validations.values():
        assert validation.inputs["validationRecordFqdns"] == [owner_fqdn]
    assert record.urn not in validations["us-west-2"].depends_on


def test_without_the_record_a_lone_non_owner_still_plans() -> None:
    built = build_one("eu-west-1", owns=False)
    assert built.of_type(RECORD) == []
    (validation,) = built.of_type(VALIDATION)
    (fqdn,) = validation.inputs["validationRecordFqdns"]
    assert fqdn.endswith(FQDN) and not fqdn.endswith(".")


def test_every_resource_sits_under_the_certificate_on_its_provider() -> None:
    built = build_one("ca-central-1")
    (component,) = built.components("tap:certificate:Certificate")
    children = built.under(component)
    assert sorted(r.type for r in children) == [CERT, VALIDATION, RECORD]
    assert {r.provider_urn for r in children if r.custom} == {
        built.provider_urn("aws-ca-central-1")
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"domain": "*.acme.io"}, "CertificateArgs.domain_name '*.acme.io'"),
        ({"domain": ""}, "CertificateArgs.domain_name ''"),
    ],
)
def test_a_wildcard_or_empty_name_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_one(**changes)


def test_an_empty_region_is_refused() -> None:
    with pytest.raises(ValueError, match=r"CertificateArgs\.region is empty"):
        build(lambda: {"arn": certificate("c", "", True).certificate_arn})
