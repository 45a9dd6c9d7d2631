#!/usr/bin/env python3
"""Benchmark the offline plan and the test suite.

The plan: time per stack, resources per second, the ratio against registering the same
number of bare resources under the same mocks, and the cost of judging:
the full `deploy.py plan` (rules, cost estimate, diagram, table and JSON) against the bare
mocked program run alone (target: at most 1.3x).

The suite (`--suite N`): the README's test command (`pytest -n auto`) run N times, each run's
wall and CPU seconds (CPU of every process it started: workers, fake CLIs, subprocesses), the
median, and where the time goes (summed test durations per module, slowest first).

Not a test (timings are machine-dependent): run it and quote the numbers.
    python scripts/benchmark.py [--repeat N] [--without-speedups]
    python scripts/benchmark.py --suite 3 [--against ../older-checkout]

--without-speedups runs the harness without its two speedups (the cyclic garbage collector
paused during a run, no source positions on registrations: tap_tooling/offline.py), to show
what they buy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
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


PROJECT = Path(__file__).resolve().parent.parent
DURATION = re.compile(r"^(\d+\.\d+)s (?:setup|call|teardown)\s+(\S+?)::")
PASSED = re.compile(r"(\d+) passed")


def suite_run(project: Path) -> tuple[float, float, int, dict[str, float]]:
    """One run of the README's test command in `project`: wall seconds, CPU seconds of
    everything it started, tests passed, summed durations per test module."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "auto", "--durations=0"],
        cwd=project, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        report = Path(tempfile.mkstemp(prefix="tap-suite-", suffix=".txt")[1])
        report.write_text(done.stdout + done.stderr)
        sys.exit(f"the suite failed (exit {done.returncode}): its whole output is in {report}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    modules: dict[str, float] = {}
    for line in done.stdout.splitlines():
        if match := DURATION.match(line):
            modules[match[2]] = modules.get(match[2], 0.0) + float(match[1])
    passed = PASSED.search(done.stdout)
    return wall, cpu, int(passed[1]) if passed else 0, modules


def suite(runs: int, projects: list[Path]) -> int:
    """`runs` rounds; in each, the suite of every project in turn (alternating, so a change in
    the machine's load falls on all of them alike)."""
    print(f"{'run':>3} {'project':24} {'tests':>6} {'wall s':>7} {'cpu s':>7}")
    walls: dict[Path, list[float]] = {project: [] for project in projects}
    last: dict[str, float] = {}
    for number in range(1, runs + 1):
        for project in projects:
            wall, cpu, passed, modules = suite_run(project)
            walls[project].append(wall)
            last = modules if project == PROJECT else last
            print(f"{number:3d} {str(project)[-24:]:24} {passed:6d} {wall:7.1f} {cpu:7.1f}")
    for project, samples in walls.items():
        median = statistics.median(samples)
        print(f"median wall {median:.1f} s on {os.cpu_count()} cores: {project}")
    print("slowest modules (summed durations, last run):")
    for module, seconds in sorted(last.items(), key=lambda item: -item[1])[:10]:
        print(f"  {seconds:6.1f} s  {module}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stacks", nargs="*", default=["dev", "staging", "prod"])
    parser.add_argument("--without-speedups", action="store_true")
    parser.add_argument("--suite", type=int, metavar="RUNS", help="time the test suite instead")
    parser.add_argument(
        "--against", type=Path, action="append", default=[], metavar="CHECKOUT",
        help="with --suite: also time the suite of another checkout (e.g. a git worktree of an "
        "older commit), alternating with this one, run by this interpreter",
    )  # fmt: skip
    args = parser.parse_args()
    if args.suite:
        return suite(args.suite, [PROJECT, *(p.resolve() for p in args.against)])
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
