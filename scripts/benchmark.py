#!/usr/bin/env python3
"""Benchmark the offline plan: time per stack, resources per second, the ratio against
registering the same number of bare resources under the same mocks, and the cost of judging:
the full `deploy.py plan` (rules, cost estimate, diagram, table and JSON) against the bare
mocked program run alone (target: at most 1.3x).

Not a test (timings are machine-dependent): run it and quote the numbers.
    python scripts/benchmark.py [--repeat N] [--without-speedups]

--without-speedups runs the harness without its two speedups (the cyclic garbage collector
paused during a run, no source positions on registrations: tap_tooling/offline.py), to show
what they buy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_tooling import offline, plan, sdk
from tap_tooling.offline import run_program

BARE_PROGRAM = """
import pulumi, pulumi_aws as aws
provider = aws.Provider("bare", region="us-east-1")
for i in range({count}):
    aws.ec2.Eip(f"bare-{{i}}", domain="vpc", opts=pulumi.ResourceOptions(provider=provider))
"""


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def full_plan(stack: str) -> tuple[float, float]:
    """Everything `deploy.py plan --json --diagram` computes, without the file writes.

    Returns (program seconds, judging seconds) of the same run: the ratio of one run's own
    phases is immune to the run-to-run noise of the mocked engine (threads, GC), which is
    larger than the judging itself.
    """
    start = time.perf_counter()
    result = run_program(stack)
    ran = time.perf_counter()
    report = plan.judge(result)
    plan.render(result, report)
    json.dumps(report.as_dict())
    report.diagram()
    return ran - start, time.perf_counter() - ran


def full_plan_ratio(stack: str, repeat: int) -> tuple[float, float]:
    """Median full-plan seconds and median ratio of full plan to bare program run."""
    samples = [full_plan(stack) for _ in range(repeat)]
    totals = [program + judging for program, judging in samples]
    ratios = [(program + judging) / program for program, judging in samples]
    return statistics.median(totals), statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stacks", nargs="*", default=["dev", "staging", "prod"])
    parser.add_argument("--without-speedups", action="store_true")
    args = parser.parse_args()
    if args.without_speedups:
        for module, speedup in ((offline, "without_cyclic_gc"), (sdk, "without_source_positions")):
            setattr(module, speedup, contextlib.nullcontext)
    run_program("dev")  # warm-up: imports and lazy pulumi_aws modules
    header = f"{'stack':8} {'resources':>9} {'plan s':>8} {'res/s':>8} {'bare s':>8} {'ratio':>6}"
    print(f"{header} {'full s':>8} {'full/plan':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for stack in args.stacks:
            count = len(run_program(stack).resources)
            plan_s = timed(lambda s=stack: run_program(s), args.repeat)
            bare = Path(tmp) / f"bare_{stack}.py"
            bare.write_text(BARE_PROGRAM.format(count=count - 1))
            bare_s = timed(lambda b=bare, s=stack: run_program(s, program=b), args.repeat)
            full_s, full_ratio = full_plan_ratio(stack, args.repeat)
            print(
                f"{stack:8} {count:9d} {plan_s:8.3f} {count / plan_s:8.0f} "
                f"{bare_s:8.3f} {plan_s / bare_s:6.2f} {full_s:8.3f} {full_ratio:9.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
