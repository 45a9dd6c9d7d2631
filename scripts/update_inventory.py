#!/usr/bin/env python3
"""Regenerate inventory/<stack>.json, the committed resource inventory of every stack.

python scripts/update_inventory.py                # rewrite every stack's inventory
python scripts/update_inventory.py --stack prod   # only prod's
python scripts/update_inventory.py --check        # exit 1 when one is stale

Run it deliberately (`make inventory`): the new file accepts whatever the program now
replaces or deletes, which tests/test_inventory.py would otherwise refuse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_tooling import inventory  # noqa: E402
from tap_tooling.offline import run_program, stack_names  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", action="append", choices=stack_names())
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for stack in args.stack or stack_names():
        path = inventory.path_of(stack)
        plan = run_program(stack)
        text = inventory.render(stack, inventory.snapshot(stack, plan.resources))
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if args.check:
            print(f"stale: {path.relative_to(ROOT)} (run {inventory.UPDATE_COMMAND})")
            continue
        committed = inventory.load(stack) if path.exists() else []
        for replaced in inventory.replacements(stack, committed, plan.resources):
            print(f"accepted: {stack}: {replaced.describe()}")
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
