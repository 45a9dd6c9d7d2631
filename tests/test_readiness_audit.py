"""Deploy-readiness rules of the trail's CloudWatch Logs delivery and its metric filters
(TAP-AWS-TRAIL-2, TAP-AWS-IAM-2, TAP-AWS-LOG-4, TAP-AWS-LOG-5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tap_tooling import readiness as p
from tap_tooling import rules
from tap_tooling.graph import Resource
from tap_tooling.rules import Context

CTX = Context(environment="dev")
ACCOUNT = "123456789012"
BY_ID = p.CATALOGUE_BY_ID
GROUP = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/tap/dev/cloudtrail"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev-trail-logs"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TRUST = {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "sts:AssumeRole"}  # fmt: skip
CASES = [
    # TAP-AWS-TRAIL-2: the ':*' gotcha, and group and role go together.
    ("TAP-AWS-TRAIL-2", rules.TRAIL,
     {"cloudWatchLogsGroupArn": f"{GROUP}:*", "cloudWatchLogsRoleArn": ROLE},
     {"cloudWatchLogsGroupArn": GROUP, "cloudWatchLogsRoleArn": ROLE}),
    ("TAP-AWS-TRAIL-2", rules.TRAIL, {"name": "dev-trail"}, {"cloudWatchLogsRoleArn": ROLE}),
    ("TAP-AWS-TRAIL-2", rules.TRAIL,
     {"cloudWatchLogsGroupArn": f"{GROUP}:*", "cloudWatchLogsRoleArn": ROLE},
     {"cloudWatchLogsGroupArn": f"{GROUP}:*"}),
    ("TAP-AWS-TRAIL-2", rules.TRAIL,
     {"cloudWatchLogsGroupArn": f"{GROUP}:*", "cloudWatchLogsRoleArn": ROLE},
     {"cloudWatchLogsGroupArn": "arn:aws:s3:::bucket:*", "cloudWatchLogsRoleArn": ROLE}),
    # TAP-AWS-IAM-2: CloudTrail's trust without confused-deputy keys; other services keep them.
    ("TAP-AWS-IAM-2", rules.IAM_ROLE, {"assumeRolePolicy": _policy(TRUST)},
     {"assumeRolePolicy": _policy(
         {**TRUST, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}})}),
    ("TAP-AWS-IAM-2", rules.IAM_ROLE,
     {"assumeRolePolicy": _policy({**TRUST, "Principal": {"Service": "ec2.amazonaws.com"},
                                   "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}})},
     {"assumeRolePolicy": _policy({**TRUST, "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
                                   "Condition": {"ArnLike": {
                                       "aws:SourceArn": "arn:aws:cloudtrail:*"}}})}),
    # TAP-AWS-LOG-4: filter names, pattern length, metric names and namespaces.
    ("TAP-AWS-LOG-4", p.METRIC_FILTER, {"name": "dev-cis-root-usage"}, {"name": "cis:root"}),
    ("TAP-AWS-LOG-4", p.METRIC_FILTER, {"name": "x" * 512}, {"name": "x" * 513}),
    ("TAP-AWS-LOG-4", p.METRIC_FILTER, {"pattern": "{" + "x" * 1022 + "}"},
     {"pattern": "{" + "x" * 1023 + "}"}),
    ("TAP-AWS-LOG-4", p.METRIC_FILTER,
     {"metricTransformation": {"name": "RootAccountUsage", "namespace": "TAP/dev/CIS",
                               "value": "1"}},
     {"metricTransformation": {"name": "Root$Usage", "namespace": "TAP:dev", "value": "1"}}),
]  # fmt: skip


@pytest.mark.parametrize(("rule_id", "type_", "good", "bad"), CASES)
def test_fires_on_what_aws_refuses_only(rule_id: str, type_: str, good: dict, bad: dict) -> None:
    rule = BY_ID[rule_id]
    assert rule.check(type_, good, CTX) == []
    assert rule.check(type_, bad, CTX), f"{rule_id} missed {bad}"
    assert rule.check(type_, {}, CTX) == []  # unknown values are not judged


def test_the_wildcard_message_says_what_to_do() -> None:
    [message] = BY_ID["TAP-AWS-TRAIL-2"].check(
        rules.TRAIL, {"cloudWatchLogsGroupArn": GROUP, "cloudWatchLogsRoleArn": ROLE}, CTX
    )
    assert "':*'" in message and GROUP in message


def view(type_: str, name: str, props: dict[str, Any], region: str = "eu-west-1") -> Resource:
    return Resource(type=type_, name=name, props=props, urn=f"urn:{type_}::{name}",
                    region=region, handles=frozenset({f"{name}-id"}))  # fmt: skip


def test_at_most_one_hundred_filters_per_group() -> None:
    rule = BY_ID["TAP-AWS-LOG-5"]

    def filters(n: int, group: str = "/tap/dev/cloudtrail") -> list[Resource]:
        return [view(p.METRIC_FILTER, f"{group}-{i}", {"logGroupName": group}) for i in range(n)]

    assert rule.check(filters(100) + filters(100, "/other"), CTX) == []
    [(resource, message)] = rule.check(filters(101), CTX)
    assert "101 metric filters" in message and resource is not None
