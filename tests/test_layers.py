"""The program never imports the tooling: what the engine runs stays apart from what runs or
judges it (STYLE.md, "Layout shows the architecture")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = [ROOT / "__main__.py", *sorted((ROOT / "components").glob("*.py"))]
PROGRAM += sorted((ROOT / "tap").glob("*.py"))
# What the program must never import: the tooling, and what only tooling needs.
FORBIDDEN = (
    "tap_tooling",
    "boto3",
    "botocore",
    "argparse",
    "moto",
    "pulumi.automation",
    "pulumi.runtime.mocks",
    "pulumi_policy",
    "tests",
)


def imported_modules(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def layer_violations(source: str) -> list[str]:
    """Forbidden modules `source` imports (anywhere in the file, functions included)."""
    return sorted(
        {
            name
            for name in imported_modules(source)
            for forbidden in FORBIDDEN
            if name == forbidden or name.startswith(f"{forbidden}.")
        }
    )


@pytest.mark.parametrize("path", PROGRAM, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_program_imports_no_tooling(path: Path) -> None:
    assert layer_violations(path.read_text()) == [], path.name


def test_a_tooling_import_in_a_component_is_caught() -> None:
    component = (ROOT / "components" / "database.py").read_text()
    assert layer_violations(component) == []
    mutated = component.replace(
        "import pulumi\n", "import pulumi\nfrom tap_tooling.offline import run_program\n", 1
    )
    assert layer_violations(mutated) == ["tap_tooling.offline", "tap_tooling.offline.run_program"]
    lazy = component + "\n\ndef f() -> None:\n    import boto3\n"
    assert layer_violations(lazy) == ["boto3"]


def test_the_program_list_covers_every_program_module() -> None:
    names = {p.name for p in PROGRAM}
    assert {"__main__.py", "database.py", "config.py", "providers.py"} <= names
    assert not any("tap_tooling" in str(p) for p in PROGRAM)
