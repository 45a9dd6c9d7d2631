"""The database master credential: one random password for the whole stack, shared by the
primary and (through replication) its replicas, and stored by each region's Database in that
region's own Secrets Manager secret.

The value is drawn once by pulumi_random and lives in state as a secret; it is handed to RDS
and Secrets Manager only through write-only arguments (`password_wo`, `secret_string_wo`),
which the provider never reads back. Raising the version draws a new password and, through
the `*_wo_version` arguments, writes it to RDS and to every region's secret; nothing else
changes. The credential uses no cloud provider: it is global, built once before the regions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_random as random

# RDS CreateDBInstance, MasterUserPassword: "Can include any printable ASCII character except
# '/', '"', or '@'" (and no space); "RDS for PostgreSQL - Must contain from 8 to 128
# characters". The specials below also leave out what needs quoting in a shell, a libpq
# connection string or JSON (quotes, backslash, '$', '`', '&', ';', '%'), so an operator can
# paste the password anywhere without escaping.
PASSWORD_SPECIALS = "!#*+-.:=?^_~"
PASSWORD_LENGTH = 40  # 40 of 70 symbols: about 245 bits
FORBIDDEN_IN_PASSWORD = frozenset('/"@ ')
# RDS CreateDBInstance, MasterUsername: "Must be 1 to 16 letters, numbers, or underscores.
# First character must be a letter. Can't be a reserved word for the chosen database engine."
# PostgreSQL reserves the pg_ prefix for roles; rdsadmin and the rds_ roles are RDS's own.
_USERNAME_SHAPE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_RESERVED_USERNAMES = frozenset({"rdsadmin", "rdsrepladmin", "user", "public", "all"})
_RESERVED_PREFIXES = ("pg_", "rds_")


@dataclass(frozen=True)
class Credential:
    """The master credential as the databases take it."""

    username: str
    """The master user (set on the primary at creation)."""
    password: pulumi.Input[str]
    """The password, a secret: write-only to RDS and to every region's secret."""
    version: int
    """Its generation: a new one rewrites the password on the writable database and every
    region's secret, nothing else."""


@dataclass(frozen=True)
class DatabaseCredentialArgs:
    """Inputs of DatabaseCredential."""

    version: int
    """Generation of the password (tap:database.master_password_version); +1 rotates it."""
    username: str = "tap_admin"
    """The master user's name; fixed at the primary's creation (changing it later replaces
    nothing: RDS keeps the user it was created with)."""


class DatabaseCredential(pulumi.ComponentResource):
    """The master user name and its random password (a secret Output)."""

    def __init__(
        self,
        name: str,
        args: DatabaseCredentialArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("tap:db_credential:DatabaseCredential", name, None, opts)
        if (
            not _USERNAME_SHAPE.match(args.username)
            or args.username in _RESERVED_USERNAMES
            or args.username.startswith(_RESERVED_PREFIXES)
        ):
            raise ValueError(
                f"DatabaseCredentialArgs.username {args.username!r} must be 1-16 lower-case "
                "letters, digits or underscores, start with a letter, and not be reserved"
            )
        # One resource whose keepers carry the version: a new version replaces it (a new
        # draw), the same version never draws again. The logical name stays the same, so
        # the previous password is gone from state once the rotation is applied.
        password = random.RandomPassword(
            f"{name}-password",
            length=PASSWORD_LENGTH,
            special=True,
            override_special=PASSWORD_SPECIALS,
            # At least one of each class: some clients' password policies insist.
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            min_special=1,
            keepers={"version": str(args.version)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.username: str = args.username
        self.version: int = args.version
        # pulumi_random marks `result` secret itself; wrapping keeps it secret whatever
        # engine or mock answers the registration.
        self.password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        self.credential = Credential(self.username, self.password, self.version)
        self.register_outputs({"username": self.username, "version": self.version})
