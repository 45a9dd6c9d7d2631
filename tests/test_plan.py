"""`deploy.py plan`: table, policy and cost sections, --json, --diagram and exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from pathlib import Path

import pulumi
import pytest

from tap_tooling import plan, rules
from tap_tooling.offline import PlanResult
from tests.conftest import STACKS, planned


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    plan.add_arguments(parser)
    return parser.parse_args(list(argv))


def run(monkeypatch: pytest.MonkeyPatch, result: PlanResult, *argv: str) -> tuple[int, str, str]:
    """plan.run on an already-mocked result (the program itself is tested elsewhere)."""
    monkeypatch.setattr(plan, "run_program", lambda stack: result)
    out, err = io.StringIO(), io.StringIO()
    code = plan.run(parse("--stack", result.stack, *argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_human_output_has_resources_policy_and_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(monkeypatch, planned("dev"))
    assert code == plan.EXIT_OK
    assert "region us-east-1 (primary):" in out and "total:" in out
    assert "policy (" in out and "mandatory:" not in out
    assert "estimated monthly cost (USD; on-demand list prices of us-east-1 as of" in out
    # A NAT instance: 730 h x ($0.0042 t4g.nano + $0.005 public IPv4) + 8 GB gp3 x $0.08.
    assert "    Network us-east-1-network: $7.36" in out


def test_json_output_for_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    result = planned("staging")
    code, out, _ = run(monkeypatch, result, "--json")
    assert code == plan.EXIT_OK
    document = json.loads(out)
    assert set(document) >= {"stack", "resources", "outputs", "violations", "cost", "warnings"}
    aws_resources = [r for r in result.resources if r.custom and r.type.startswith("aws:")]
    assert len(document["resources"]) == len(aws_resources)
    assert document["outputs"]["deployment_summary"]["environment"] == "staging"
    assert document["mandatory_violations"] == 0
    by_region = document["cost"]["by_region"]
    assert document["cost"]["total_monthly"] == pytest.approx(sum(by_region.values()), abs=0.02)
    vpc = next(r for r in document["resources"] if r["type"] == rules.VPC)
    assert vpc["component"].startswith("Network ") and vpc["region"]


def test_diagram_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "prod.md"
    code, out, _ = run(monkeypatch, planned("prod"), "--diagram", str(target))
    assert code == plan.EXIT_OK
    text = target.read_text()
    assert "```mermaid\nflowchart LR\n" in text and 'subgraph us_west_2["us-west-2"]' in text
    assert f"diagram written to {target}" in out


def _without(result: PlanResult, type_: str) -> PlanResult:
    return dataclasses.replace(result, resources=[r for r in result.resources if r.type != type_])


def test_a_mandatory_violation_fails_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(monkeypatch, _without(planned("dev"), rules.FLOW_LOG))
    assert code == plan.EXIT_FAILED
    assert "  mandatory: 2 violations" in out
    assert "TAP-VPC-1 [EC2.6] aws:ec2/vpc:Vpc us-west-2-network-vpc (us-west-2)" in out
    code, out, _ = run(monkeypatch, _without(planned("dev"), rules.FLOW_LOG), "--json")
    assert code == plan.EXIT_FAILED
    assert {v["rule"] for v in json.loads(out)["violations"]} >= {"TAP-VPC-1"}


def test_bad_config_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(stack: str) -> PlanResult:
        raise pulumi.RunError("invalid config tap:network.az_count = 9: too many")

    monkeypatch.setattr(plan, "run_program", broken)
    err = io.StringIO()
    assert plan.run(parse("--stack", "dev"), io.StringIO(), err) == plan.EXIT_BAD_INPUT
    assert err.getvalue() == "error: invalid config tap:network.az_count = 9: too many\n"


@pytest.mark.parametrize("stack", STACKS)
def test_component_index_matches_component_of(stack: str) -> None:
    result = planned(stack)
    index = plan.outermost_components(result)
    for resource in result.resources[:: max(len(result.resources) // 40, 1)]:
        assert index[resource.urn] == result.component_of(resource)


def test_handles_let_references_resolve() -> None:
    views = {r.name: r for r in plan.resource_views(planned("dev"))}
    log = views["us-east-1-network-flow-log"]
    assert rules.points_to(log, "vpcId", views["us-east-1-network-vpc"])
    assert not rules.points_to(log, "vpcId", views["us-west-2-network-vpc"])
    assert views["us-east-1-network-vpc"].provider_tags["Environment"] == "dev"


def test_the_plan_says_when_a_region_serves_http_only() -> None:
    import argparse
    import io

    from tap_tooling import plan as plan_module

    out = io.StringIO()
    code = plan_module.run(argparse.Namespace(stack="dev", json=False, diagram=None), out=out)
    text = out.getvalue()
    assert code == 0
    notices = text.split("\nnotices:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert notices == [
        f"  - {region}: no certificate configured, the ALB serves plain HTTP only "
        "(set tap:compute.certificate_arns or a tap:dns domain)"
        for region in ("us-east-1", "us-west-2")
    ]


def test_prod_plan_says_the_placeholder_domain_was_stood_in_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(monkeypatch, planned("prod"))
    assert code == plan.EXIT_OK
    notices = out.split("\nnotices:\n", 1)[1].split("\n\n", 1)[0]
    assert "tap:dns.domain is the placeholder replace-me.invalid" in notices
    assert "a real preview or up stops until you set a domain you own" in notices
    code, out, _ = run(monkeypatch, planned("prod"), "--json")
    assert json.loads(out)["notices"][0].startswith("tap:dns.domain is the placeholder")
    # A stack with a real domain (or none) has no such notice.
    code, out, _ = run(monkeypatch, planned("dev"), "--json")
    assert not [n for n in json.loads(out)["notices"] if "placeholder" in n]


def test_plan_takes_any_stack_with_a_stack_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tap_tooling import offline

    (tmp_path / "Pulumi.qa.yaml").write_text((offline.PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    monkeypatch.setattr(offline, "PROJECT_DIR", tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = plan.run(parse("--stack", "qa"), out, err)
    assert code == plan.EXIT_OK, err.getvalue()
    assert "TAP offline plan - stack qa (environment qa)" in out.getvalue()
    code = plan.run(parse("--stack", "uat"), out, err)
    assert code == plan.EXIT_BAD_INPUT
    assert err.getvalue().strip() == "error: no stack file Pulumi.uat.yaml (stacks: qa)"
