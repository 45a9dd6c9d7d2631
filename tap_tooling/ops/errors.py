"""Exit codes of deploy.py and the one error type that carries them.

Every exit code deploy.py can return is defined here and documented in docs/operations.md,
so CI scripts can tell "the stack drifted" from "someone else holds the lock" from "broken".
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of deploy.py (documented in docs/operations.md)."""

    OK = 0
    FAILED = 1
    """Engine failure, a mandatory policy violation in the preview, a failed verify check, an
    AWS error."""
    USAGE = 2
    """Bad arguments or config, no state backend given, a refused or unconfirmed destroy or up,
    credentials of another account than the stack's."""
    LOCKED = 3
    """Another update holds the stack's lock (Automation API ConcurrentUpdateError)."""
    DRIFT = 4
    """`preview --expect-no-changes` found changes: the live stack differs from the program."""
    NO_CLI = 5
    """The Pulumi CLI is not installed (or too old) for the engine subcommands."""
    DELEGATION_PENDING = 6
    """`up` of a stack that creates its hosted zone: the zone exists but public DNS does not
    delegate the domain to it yet. Set the printed name servers at the registrar, run again."""
    FORCED_STOP = 7
    """A second Ctrl-C killed the engine mid-operation: the stack's lock, pending operations in
    its state and orphaned resources may be left behind (the printed cleanup steps say how)."""
    DIVERGED = 8
    """`up` started a change its preview did not show; deploy.py cancelled the update gracefully
    (or it had already completed). Preview again and re-confirm."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT, the shell's convention): nothing was running, or the engine
    cancelled gracefully, finishing the operations in flight and releasing the lock."""


class OpsError(Exception):
    """A failure to report as one line on stderr, ending deploy.py with `exit_code`."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code
