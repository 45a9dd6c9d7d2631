"""Physical names of AWS resources: `<environment>-<service>-<region>`, always within AWS limits.

A name that would be too long is cut and given a short hash of the full name, so the result is
deterministic (same input, same name: no replacement on the next `pulumi up`) and two long names
that share a prefix still differ.
"""

from __future__ import annotations

import hashlib
import re

# Length limits AWS enforces on the names TAP sets.
ALB_NAME = 32
TARGET_GROUP_NAME = 32
NAME_PREFIX = 6  # ALB / target group name_prefix
IAM_ROLE_NAME = 64
IAM_INSTANCE_PROFILE_NAME = 128
DB_IDENTIFIER = 63
S3_BUCKET = 63
LOG_GROUP_NAME = 512
KMS_ALIAS = 256
SNS_TOPIC = 256
ALARM_NAME = 255
DEFAULT_LIMIT = 63

_HASH_LENGTH = 6
_INVALID = re.compile(r"[^a-z0-9-]+")


def short_hash(text: str, length: int = _HASH_LENGTH) -> str:
    """A stable lowercase hex digest of `text` (not for security, for uniqueness)."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, limit: int) -> str:
    """`name` unchanged when it fits; otherwise cut and suffixed with a hash of the whole name."""
    if limit <= _HASH_LENGTH + 1:
        raise ValueError(f"limit {limit} leaves no room for a name and its hash")
    if len(name) <= limit:
        return name
    head = name[: limit - _HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{short_hash(name)}"


def physical_name(environment: str, service: str, region: str, limit: int = DEFAULT_LIMIT) -> str:
    """`<environment>-<service>-<region>`, lowercase, hyphenated, within `limit` characters."""
    raw = f"{environment}-{service}-{region}".lower()
    cleaned = _INVALID.sub("-", raw).strip("-")
    cleaned = re.sub("-{2,}", "-", cleaned)
    return fit(cleaned, limit)


def global_name(environment: str, service: str, limit: int = DEFAULT_LIMIT) -> str:
    """`<environment>-<service>` for the stack's few resources that belong to no region."""
    cleaned = _INVALID.sub("-", f"{environment}-{service}".lower()).strip("-")
    return fit(re.sub("-{2,}", "-", cleaned), limit)
