"""Documentation generated from the code it describes, so it cannot drift: the rule catalogue
(docs/plan.md) is rendered from rules.py and readiness.py. `make docs` rewrites the
marked blocks; tests/test_docs.py fails when one is stale."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tap.config import NAMESPACE, StackConfig
from tap_tooling import readiness, rules
from tap_tooling.cost import NAT_STRATEGIES

if TYPE_CHECKING:
    from tap_tooling.offline import PlanResult

ROOT = Path(__file__).resolve().parent.parent
PLAN_DOC = ROOT / "docs" / "plan.md"
README = ROOT / "README.md"


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


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The config section model a field holds (itself, or inside `X | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _default(field: object) -> str:
    default = getattr(field, "default", PydanticUndefined)
    factory = getattr(field, "default_factory", None)
    if default is PydanticUndefined and factory is None:
        return "required"
    if factory is not None:
        value = factory()
        return "—" if isinstance(value, BaseModel) else f"`{value!r}`"
    return "—" if default is None else f"`{default!r}`".replace("'", '"')


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for key, field in model.model_fields.items():
        path = f"{prefix}{key}"
        section = _model_of(field.annotation)
        if section is not None and section is not model:
            listed = getattr(field.annotation, "__origin__", None) is tuple
            meaning = _cell(field.description or section.__doc__ or "")
            rows.append(f"| `{NAMESPACE}:{path}` | {_default(field)} | {meaning} |")
            rows += _rows(section, f"{path}[]." if listed else f"{path}.")
        else:
            rows.append(
                f"| `{NAMESPACE}:{path}` | {_default(field)} | {_cell(field.description or '')} |"
            )
    return rows


def config_table(model: type[BaseModel] = StackConfig) -> str:
    """Every config key with its default and description, from the config model itself."""
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *_rows(model, "")])


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def cost_table(plans: Mapping[str, PlanResult] | None = None) -> str:
    """Each shipped stack's monthly estimate at list price, from its offline plan, and what it
    would cost under each NAT strategy (the plan's own comparison)."""
    from tap_tooling.offline import run_program, stack_names
    from tap_tooling.plan import judge

    plans = plans or {stack: run_program(stack) for stack in stack_names()}
    header = ["stack", "NAT strategy", "estimated monthly", *(f"with {s}" for s in NAT_STRATEGIES)]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for stack, result in plans.items():
        estimate = judge(result).estimate
        nat = estimate.nat
        assert nat is not None  # the plan always compares the strategies
        configured = nat.configured.monthly or 0.0
        alternatives = []
        for strategy in NAT_STRATEGIES:
            monthly = nat.option(strategy).monthly
            alternatives.append(
                _money(None if monthly is None else estimate.total - configured + monthly)
            )
        cells = [stack, nat.shape.nat_strategy, _money(estimate.total), *alternatives]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


BLOCKS = {"policy-rules": policy_table, "readiness-rules": readiness_table}
README_BLOCKS = {"config-reference": config_table, "cost-table": cost_table}


def render(text: str, blocks: dict | None = None) -> str:
    """`text` with every generated block (<!-- name:start --> ... <!-- name:end -->) rewritten."""
    for name, table in (BLOCKS if blocks is None else blocks).items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text:
            raise ValueError(f"no {start} marker")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{table()}\n{end}{tail}"
    return text


def _blocks_of(path: Path) -> dict:
    return README_BLOCKS if path.name == "README.md" else BLOCKS


def stale(path: Path = PLAN_DOC) -> bool:
    return render(path.read_text(), _blocks_of(path)) != path.read_text()


def update(path: Path = PLAN_DOC) -> None:
    path.write_text(render(path.read_text(), _blocks_of(path)))


GENERATED = (PLAN_DOC, README)
"""Every file with generated blocks (`make docs` rewrites them all)."""
