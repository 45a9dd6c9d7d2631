"""Documentation rendered from code is current, and the rendering says what the code says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_tooling import docs, readiness, rules
from tap_tooling.offline import stack_names
from tests.conftest import planned


@pytest.fixture(autouse=True)
def _cached_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's cost table from the suite's cached plans (the same program runs)."""
    monkeypatch.setitem(
        docs.README_BLOCKS,
        "cost-table",
        lambda: docs.cost_table({stack: planned(stack) for stack in stack_names()}),
    )


def test_plan_doc_rule_tables_are_current() -> None:
    assert not docs.stale(), "docs/plan.md is stale: run make docs"


def test_every_rule_is_listed_once_with_its_source() -> None:
    text = docs.PLAN_DOC.read_text()
    for rule in rules.ALL_RULES:
        assert text.count(f"| `{rule.id}` |") == 1, rule.id
    for rule in readiness.READINESS_RULES:
        assert text.count(f"| `{rule.id}` |") == 1, rule.id
        assert rule.source and docs._cell(rule.source) in text, rule.id


def test_an_edited_description_makes_the_doc_stale(tmp_path: Path) -> None:
    copy = tmp_path / "plan.md"
    first = readiness.READINESS_RULES[0]
    copy.write_text(
        docs.PLAN_DOC.read_text().replace(docs._cell(first.description), "edited by hand", 1)
    )
    assert docs.stale(copy)
    docs.update(copy)
    assert not docs.stale(copy)


def test_a_missing_marker_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="policy-rules:start"):
        docs.render("no markers here")


def test_readme_counts_the_catalogues_as_they_are() -> None:
    readme = (docs.ROOT / "README.md").read_text()
    assert f"**{len(rules.ALL_RULES)} policy rules**" in readme
    assert f"**{len(readiness.READINESS_RULES)} deploy-readiness rules**" in readme


def test_readme_config_reference_is_current_and_complete() -> None:
    assert not docs.stale(docs.README), "README.md is stale: run make docs"
    readme = docs.README.read_text()
    for key in (
        "tap:regions[].cidr",
        "tap:database.master_password_version",
        "tap:edge.origin_secret_version",
        "tap:aws.assume_role_arn",
        "tap:production",
        "tap:compute.bastion.ssh_cidr",
    ):
        assert f"| `{key}` |" in readme, key


def test_an_edited_config_description_makes_the_readme_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tap.config import NetworkConfig

    copy = tmp_path / "README.md"
    copy.write_text(docs.README.read_text())
    assert not docs.stale(copy)
    field = NetworkConfig.model_fields["az_count"]
    monkeypatch.setattr(field, "description", "Zones, described differently.")
    assert docs.stale(copy)


def test_readme_cost_table_is_the_plans_and_dev_fits_150_a_month(tmp_path: Path) -> None:
    table = docs.cost_table({stack: planned(stack) for stack in stack_names()})
    assert table in docs.README.read_text()
    (dev,) = [line for line in table.splitlines() if line.startswith("| dev |")]
    cells = [cell.strip() for cell in dev.strip("|").split("|")]
    assert cells[1] == "instance" and float(cells[2].lstrip("$").replace(",", "")) <= 150
    # An edited figure is stale.
    copy = tmp_path / "README.md"
    copy.write_text(docs.README.read_text().replace(cells[2], "$1.00", 1))
    assert docs.stale(copy)
