"""Helpers that make moto-backed tests cheaper without making moto any kinder.

- `one_key_per_spec`: moto gives every KMS key, symmetric ones included, a freshly generated
  RSA-2048 private key (about 80 ms of CPU each), used only by Sign, Verify and GetPublicKey.
  No test using this calls those or compares key material, so each key spec's private key is
  generated once per process and shared. Key ids, ARNs, aliases, rotation and the symmetric
  key material stay per key.
- `MotoState`: moto keeps every account's resources in its global backends. A world built
  once with boto3 is captured (a deep copy of those backends) and copied back into each test's
  fresh, empty mock: the test gets exactly the state the build left, without the hundred API
  calls that made it, and may change it freely (the capture is never handed out).
- `fresh_account`: mock_aws() for one test, which drops moto's state itself on the way out:
  moto's reset would first rebuild every backend the test used (EC2's default VPCs, IAM's
  managed policies...) only to discard them.
- `new_session`: a new boto3 session per test (its own credentials, event handlers and
  clients) whose service models come from one loader for the process: parsing them again
  (S3's and EC2's are megabytes of JSON) cost more than most tests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict, BaseBackend
from moto.kms import models as kms_models
from moto.kms.utils import generate_private_key

_LOADER = botocore.loaders.create_loader()
_KEYS: dict[str, Any] = {}


def shared_models(core: botocore.session.Session) -> botocore.session.Session:
    """`core`, its service models read through the process's shared loader."""
    core.register_component("data_loader", _LOADER)
    return core


def new_session(core: botocore.session.Session | None = None, **kwargs: Any) -> boto3.Session:
    """`boto3.Session(**kwargs)` over `core` (a new botocore session unless given), with the
    process's shared loader of service models."""
    core = shared_models(core or botocore.session.get_session())
    session = boto3.Session(botocore_session=core, **kwargs)
    # Each boto3 session appends its resource models' directory to the loader's search path.
    _LOADER.search_paths[:] = list(dict.fromkeys(_LOADER.search_paths))
    return session


def _shared_private_key(key_spec: str) -> Any:
    if key_spec not in _KEYS:
        _KEYS[key_spec] = generate_private_key(key_spec)
    return _KEYS[key_spec]


@contextmanager
def one_key_per_spec() -> Iterator[None]:
    """While active, moto's CreateKey reuses one private key per key spec (see above)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kms_models, "generate_private_key", _shared_private_key)
        yield


@contextmanager
def fresh_account() -> Iterator[None]:
    """An empty moto account (a new mock_aws) for the block."""
    with mock_aws():
        try:
            yield
        finally:
            _drop_state()


def _drop_state() -> None:
    """What moto's reset does, less rebuilding each backend it then throws away: a backend
    with its own `reset` (S3's frees the shared bucket namespace and its temporary files)
    still runs it."""
    for backends in BackendDict._instances:
        for account in backends.values():
            for backend in account.values():
                if type(backend).reset is not BaseBackend.reset:
                    backend.reset()
        backends.clear()
    BackendDict._instances.clear()


def _copy(value: Any) -> Any:
    """A deep copy in which moto's registries (each service's BackendDict, a module-level
    object that moto looks backends up in) are referred to, never copied."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BackendDict, "__deepcopy__", lambda self, _memo: self, raising=False)
        return copy.deepcopy(value)


class MotoState:
    """All of moto's state at one moment, to be put back into an empty mock later."""

    def __init__(self) -> None:
        # One deep copy of every service together: backends refer to each other (an
        # autoscaling backend to its region's EC2 and ELBv2 backends), and one copy keeps
        # those references pointing into the same copy. A registry's own attributes are
        # state too (S3's shared bucket namespace).
        self._state = _copy(
            [
                (backends, dict(vars(backends)), dict(backends))
                for backends in BackendDict._instances
            ]
        )

    def restore(self) -> None:
        """Copy the captured state into moto, which must be empty (a fresh mock_aws that no
        call has touched yet): the test then sees the captured state and nothing else."""
        assert not BackendDict._instances, "restore into a fresh, untouched mock_aws only"
        for backends, attributes, accounts in _copy(self._state):
            vars(backends).update(attributes)
            backends.update(accounts)
            BackendDict._instances.append(backends)
