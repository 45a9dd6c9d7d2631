"""Declared dependency floors cover what the code imports from them."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The pulumi_policy release that introduced each name the pack imports (pulumi-policy
# CHANGELOG). A name missing here fails the test: look its release up before using it.
POLICY_SINCE: dict[str, tuple[int, int]] = {
    "EnforcementLevel": (1, 0),
    "PolicyPack": (1, 0),
    "ReportViolation": (1, 0),
    "ResourceValidationPolicy": (1, 0),
    "StackValidationPolicy": (1, 0),
    "StackValidationArgs": (1, 0),
    "ResourceValidationArgs": (1, 0),
    "PolicyResource": (1, 0),
    "Severity": (1, 18),
}


def imported_from_pulumi_policy() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "policy").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "pulumi_policy":
                names |= {alias.name for alias in node.names}
    return names


def floor(requirement: str) -> tuple[int, int]:
    match = re.search(r">=\s*(\d+)\.(\d+)", requirement)
    assert match, requirement
    return int(match.group(1)), int(match.group(2))


def declared(name: str) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [r for r in project["dependencies"] if r.startswith(name)]
    found += [
        line.strip()
        for line in (ROOT / "policy" / "requirements.txt").read_text().splitlines()
        if line.startswith(name)
    ]
    return found


def test_pulumi_policy_floor_has_every_name_the_pack_imports() -> None:
    names = imported_from_pulumi_policy()
    assert "PolicyPack" in names
    unknown = names - POLICY_SINCE.keys()
    assert not unknown, f"check which pulumi-policy release added {sorted(unknown)}"
    needed = max(POLICY_SINCE[n] for n in names)
    requirements = declared("pulumi-policy")
    assert len(requirements) == 2  # pyproject and the pack's own requirements.txt
    for requirement in requirements:
        assert floor(requirement) >= needed, (requirement, needed)
