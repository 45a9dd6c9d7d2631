#!/usr/bin/env python3
"""Regenerate docs/prod-diagram.md and the diagram embedded in README.md from the prod plan.

python scripts/update_diagram.py          # rewrite both
python scripts/update_diagram.py --check  # exit 1 when either is stale (used by the tests)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_tooling import diagram  # noqa: E402
from tap_tooling.offline import PlanResult, run_program  # noqa: E402
from tap_tooling.plan import judge  # noqa: E402

README = ROOT / "README.md"
DOC = ROOT / "docs" / "prod-diagram.md"
START, END = "<!-- prod-diagram:start -->", "<!-- prod-diagram:end -->"


def expected(plan: PlanResult | None = None) -> tuple[str, str]:
    """(docs/prod-diagram.md text, README.md text) as they should be."""
    document = diagram.markdown("prod", judge(plan or run_program("prod")).diagram())
    chart = re.search(r"```mermaid\n.*?```\n", document, re.S).group(0)
    readme = README.read_text()
    block = f"{START}\n{chart}{END}"
    readme = re.sub(
        re.escape(START) + r".*?" + re.escape(END), lambda _m: block, readme, flags=re.S
    )
    return document, readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    document, readme = expected()
    stale = [
        p
        for p, text in ((DOC, document), (README, readme))
        if not p.exists() or p.read_text() != text
    ]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/update_diagram.py)")
        return 1 if stale else 0
    DOC.write_text(document)
    README.write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
