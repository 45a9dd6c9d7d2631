#!/usr/bin/env python3
"""Regenerate the documentation blocks rendered from code (the rule catalogue in docs/plan.md).

python scripts/update_docs.py          # rewrite them
python scripts/update_docs.py --check  # exit 1 when one is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_tooling import docs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = [path for path in docs.GENERATED if docs.stale(path)]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(docs.ROOT)} (run make docs)")
        return 1 if stale else 0
    for path in docs.GENERATED:
        docs.update(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
