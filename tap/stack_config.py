"""Read the stack's `tap:` config from the Pulumi runtime and validate it once."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from tap.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config


def raw_stack_config() -> dict[str, Any]:
    """Every `tap:` key the engine passed in, without the namespace.

    All keys are read (not only the known ones) so that a typo such as `tap:az_cont` is
    reported instead of silently ignored.
    """
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    return {k.removeprefix(prefix): v for k, v in sorted(merged.items()) if k.startswith(prefix)}


def load_stack_config() -> StackConfig:
    """The validated config; a problem stops the program with one line and no traceback."""
    try:
        return parse_stack_config(raw_stack_config(), pulumi.get_stack())
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
