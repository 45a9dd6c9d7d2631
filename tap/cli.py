"""Command line of deploy.py: one subcommand per operation."""

from __future__ import annotations

import argparse
import sys

from tap import plan


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploy.py", description="Operate the TAP stacks.")
    commands = parser.add_subparsers(dest="command", required=True)
    plan.add_arguments(
        commands.add_parser("plan", help="offline plan under mocks (no cloud account needed)")
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "plan":
        return plan.run(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
