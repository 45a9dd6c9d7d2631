"""The app instances' user data: valid shell, own-region settings, and the database role
bootstrap, run for real against fake `aws` and `psql` commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tap.user_data import (
    APP_DB_USER,
    BOOTSTRAP_SQL,
    bootstrap_script,
    encode,
    render_user_data,
)

REGION, OTHER = "us-west-2", "us-east-1"
ENDPOINT = "prod-db-replica-us-west-2.c0offline0000.us-west-2.rds.amazonaws.com:5432"
SECRET_ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:tap/prod/us-west-2/x-AbCdEf"
PASSWORD = "pw!#*+-.:=?^_~Zz9"

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _heredoc(script: str, path: str) -> str:
    """The body the user data writes to `path` with cat <<'SHEOF'."""
    match = re.search(rf"cat > {re.escape(path)} <<'SHEOF'\n(.*?)\nSHEOF\n", script, re.S)
    assert match, path
    return match.group(1)


def test_same_inputs_same_bytes() -> None:
    one = render_user_data("prod", REGION, 8080, "/tap/prod/app")
    assert one == render_user_data("prod", REGION, 8080, "/tap/prod/app")
    assert encode(one) == encode(render_user_data("prod", REGION, 8080, "/tap/prod/app"))


@needs_bash
def test_every_script_is_valid_bash() -> None:
    script = render_user_data("prod", REGION, 8080, "/tap/prod/app")
    for text in (
        script,
        _heredoc(script, "/opt/tap/refresh-db-env.sh"),
        _heredoc(script, "/opt/tap/bootstrap-db-role.sh"),
    ):
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)


def test_everything_is_read_in_the_instances_own_region() -> None:
    script = render_user_data("prod", REGION, 8080, "/tap/prod/app")
    assert OTHER not in script
    assert re.findall(r"--region (\S+)", script) == [REGION] * 3  # endpoint, secret ARN, secret
    assert "/tap/prod/us-west-2/database/endpoint" in script
    assert "/tap/prod/us-west-2/database/secret_arn" in script


def test_the_app_gets_no_secret_only_iam_sign_in_settings() -> None:
    refresh = _heredoc(render_user_data("prod", REGION, 8080, "/a"), "/opt/tap/refresh-db-env.sh")
    written = re.findall(r'echo "(TAP_DB_[A-Z_]+)=', refresh)
    assert written == [
        "TAP_DB_ENDPOINT",
        "TAP_DB_HOST",
        "TAP_DB_PORT",
        "TAP_DB_NAME",
        "TAP_DB_USER",
        "TAP_DB_REGION",
        "TAP_DB_AUTH",
    ]
    assert f'echo "TAP_DB_USER={APP_DB_USER}"' in refresh and "TAP_DB_AUTH=iam" in refresh
    assert "secretsmanager" not in refresh  # the app's environment never holds the credential


def test_bootstrap_sql_is_idempotent_and_least_privilege() -> None:
    assert "IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles" in BOOTSTRAP_SQL
    assert f"CREATE ROLE {APP_DB_USER} LOGIN;" in BOOTSTRAP_SQL
    assert f"GRANT rds_iam TO {APP_DB_USER};" in BOOTSTRAP_SQL
    assert "CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION" in BOOTSTRAP_SQL
    for power in ("SUPERUSER", "CREATEDB", "CREATEROLE", "rds_superuser", "PASSWORD", "BYPASSRLS"):
        assert power not in BOOTSTRAP_SQL.replace("NOT EXISTS", "")


# --- the bootstrap, run ------------------------------------------------------------------

_FAKE_AWS = """#!/bin/bash
echo "aws $*" >> "$FAKE_LOG"
case "$*" in
  *"ssm get-parameter"*secret_arn*) echo "$FAKE_SECRET_ARN" ;;
  *"secretsmanager get-secret-value"*) cat "$FAKE_SECRET_FILE" ;;
  *) exit 1 ;;
esac
"""
_FAKE_PSQL = """#!/bin/bash
echo "psql user=$PGUSER password=$PGPASSWORD host=$PGHOST port=$PGPORT db=$PGDATABASE \
ssl=$PGSSLMODE args=$*" >> "$FAKE_LOG"
if [[ "$*" == *pg_is_in_recovery* ]]; then echo "$FAKE_IN_RECOVERY"; exit 0; fi
cat >> "$FAKE_SQL"
"""


def _run(tmp_path: Path, in_recovery: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("aws", _FAKE_AWS), ("psql", _FAKE_PSQL)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    secret_file = tmp_path / "secret.json"
    secret_file.write_text(json.dumps({"username": "tap_admin", "password": PASSWORD}))
    script = tmp_path / "bootstrap.sh"
    script.write_text(bootstrap_script("prod", REGION))
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TAP_STATE_DIR": str(tmp_path / "state"),
        "FAKE_LOG": str(tmp_path / "log"),
        "FAKE_SQL": str(tmp_path / "sql"),
        "FAKE_SECRET_ARN": SECRET_ARN,
        "FAKE_SECRET_FILE": str(secret_file),
        "FAKE_IN_RECOVERY": in_recovery,
    }
    done = subprocess.run(
        ["bash", str(script), ENDPOINT], env=env, text=True, capture_output=True, check=False
    )
    return done, tmp_path / "log"


@needs_bash
def test_bootstrap_creates_the_role_once_on_the_writable_database(tmp_path: Path) -> None:
    done, log = _run(tmp_path, in_recovery="f")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr  # never printed
    calls = log.read_text().splitlines()
    assert calls[0].startswith(
        "aws ssm get-parameter --region us-west-2 --name /tap/prod/us-west-2/database/secret_arn"
    )
    assert calls[1].startswith(
        f"aws secretsmanager get-secret-value --region us-west-2 --secret-id {SECRET_ARN}"
    )
    host = ENDPOINT.rsplit(":", 1)[0]
    assert calls[2].startswith(
        f"psql user=tap_admin password={PASSWORD} host={host} port=5432 db=tap ssl=require"
    )
    assert (tmp_path / "sql").read_text().strip() == BOOTSTRAP_SQL
    # Run again (the timer does, every minute): nothing more is read or executed.
    again, _ = _run(tmp_path, in_recovery="f")
    assert again.returncode == 0 and log.read_text().splitlines() == calls


@needs_bash
def test_bootstrap_leaves_a_replica_alone(tmp_path: Path) -> None:
    done, log = _run(tmp_path, in_recovery="t")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "sql").exists()  # the role arrives by replication
    assert len(log.read_text().splitlines()) == 3
    (marker,) = (tmp_path / "state").iterdir()
    assert marker.read_text().strip() == "replica"


@needs_bash
def test_a_failed_bootstrap_is_retried(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, in_recovery="")  # psql could not connect
    assert done.returncode != 0
    assert not any((tmp_path / "state").iterdir())  # no marker: the next minute tries again
