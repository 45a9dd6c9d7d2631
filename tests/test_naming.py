"""Physical names: the convention, AWS length limits, determinism, no collisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap import naming
from tap.config import KNOWN_REGIONS
from tap.tags import name_tag

environments = st.from_regex(r"[a-z][a-z0-9-]{1,15}", fullmatch=True)
services = st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True)
regions = st.sampled_from(sorted(KNOWN_REGIONS))
limits = st.sampled_from([naming.ALB_NAME, naming.TARGET_GROUP_NAME, naming.IAM_ROLE_NAME, 63])


def test_convention_when_it_fits() -> None:
    assert naming.physical_name("prod", "alb", "us-east-1", naming.ALB_NAME) == "prod-alb-us-east-1"


@given(env=environments, service=services, region=regions, limit=limits)
def test_names_fit_their_limit_and_are_stable(
    env: str, service: str, region: str, limit: int
) -> None:
    name = naming.physical_name(env, service, region, limit)
    assert len(name) <= limit
    assert name == naming.physical_name(env, service, region, limit)
    assert not name.startswith("-") and not name.endswith("-")


@given(
    env=environments,
    region=regions,
    a=st.from_regex(r"[a-z]{30,40}", fullmatch=True),
    b=st.from_regex(r"[a-z]{30,40}", fullmatch=True),
)
def test_truncated_names_do_not_collide(env: str, region: str, a: str, b: str) -> None:
    if a == b:
        return
    assert naming.physical_name(env, a, region, 32) != naming.physical_name(env, b, region, 32)


def test_long_names_are_cut_with_a_hash() -> None:
    name = naming.physical_name("staging-blue", "target-group", "ap-southeast-4", 32)
    assert len(name) == 32
    assert name.startswith("staging-blue-target-group-")


def test_fit_refuses_a_limit_too_small_for_the_hash() -> None:
    with pytest.raises(ValueError, match="limit 6"):
        naming.fit("abcdefghij", naming.NAME_PREFIX)


def test_name_tag_is_sorted_with_extras() -> None:
    assert list(name_tag("x", Tier="public", Az="a").items()) == [
        ("Az", "a"),
        ("Name", "x"),
        ("Tier", "public"),
    ]
