#!/usr/bin/env python3
"""Operate TAP stacks: `python deploy.py --help`."""

import gc
import sys

from tap_tooling.cli import main

# What the imports built (pulumi_aws's classes, botocore's models) lives until the process
# exits: kept out of the collector's generations, the full collections (and the one at exit)
# skip it.
gc.freeze()

if __name__ == "__main__":
    sys.exit(main())
