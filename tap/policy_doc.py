"""IAM / KMS / bucket policy documents as deterministic JSON (sorted keys, no whitespace noise)."""

from __future__ import annotations

import json
from typing import Any

VERSION = "2012-10-17"


def document(*statements: dict[str, Any]) -> str:
    """A policy document from statements, serialised identically on every run."""
    return json.dumps({"Version": VERSION, "Statement": list(statements)}, sort_keys=True)


def assume_role(service: str, source_account: str | None = None) -> str:
    """Trust policy letting one AWS service assume a role (optionally only for this account)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        # Confused-deputy guard: the service may assume the role only on this account's behalf.
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document(statement)
