#!/usr/bin/env python3
"""Operate TAP stacks: `python deploy.py --help`."""

import sys

from tap_tooling.cli import main

if __name__ == "__main__":
    sys.exit(main())
