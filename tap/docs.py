"""Documentation generated from the code it describes, so it cannot drift: the rule catalogue
(docs/plan.md) is rendered from tap/rules.py and tap/readiness.py. `make docs` rewrites the
marked blocks; tests/test_docs.py fails when one is stale."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tap import readiness, rules

ROOT = Path(__file__).resolve().parent.parent
PLAN_DOC = ROOT / "docs" / "plan.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


Rule = rules.ResourceRule | rules.StackRule


def _scope(rule: Rule) -> str:
    return "stack" if isinstance(rule, rules.StackRule) else "resource"


def policy_table(
    catalogue: Iterable[rules.ResourceRule | rules.StackRule] = rules.ALL_RULES,
) -> str:
    """The policy rules: id, severity, FSBP control, scope, what they require."""
    lines = ["| id | severity | FSBP | scope | rule |", "|---|---|---|---|---|"]
    for rule in catalogue:
        lines.append(
            f"| `{rule.id}` | {rule.severity} | {rule.fsbp or '—'} | {_scope(rule)} "
            f"| {_cell(rule.description)} |"
        )
    return "\n".join(lines)


def readiness_table(catalogue: Iterable[Rule] = readiness.READINESS_RULES) -> str:
    """The deploy-readiness rules: AWS's own constraints, each with the document it comes from."""
    lines = ["| id | scope | constraint | source |", "|---|---|---|---|"]
    for rule in catalogue:
        lines.append(
            f"| `{rule.id}` | {_scope(rule)} | {_cell(rule.description)} | {_cell(rule.source)} |"
        )
    return "\n".join(lines)


BLOCKS = {"policy-rules": policy_table, "readiness-rules": readiness_table}


def render(text: str) -> str:
    """`text` with every generated block (<!-- name:start --> ... <!-- name:end -->) rewritten."""
    for name, table in BLOCKS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text:
            raise ValueError(f"docs/plan.md has no {start} marker")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{table()}\n{end}{tail}"
    return text


def stale(path: Path = PLAN_DOC) -> bool:
    return render(path.read_text()) != path.read_text()


def update(path: Path = PLAN_DOC) -> None:
    path.write_text(render(path.read_text()))
