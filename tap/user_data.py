"""Instance user data of the application tier: a small web server, the CloudWatch agent, and
the database settings the app reads from its own region.

Rendered from plain values only, so the same config always yields the same bytes (a new
launch-template version, and so an instance refresh, happens only when something changed).

Database access (issue 11, part A): the app signs in as APP_DB_USER with IAM database
authentication (a 15-minute token signed with the instance role, `aws rds
generate-db-auth-token`), to its own region's instance. The role is created once per database
by a root-only bootstrap that reads the master credential from the region's own secret, on the
writable database only: replicas receive it through replication and keep it when promoted.
"""

from __future__ import annotations

import base64
import json
import textwrap

APP_LOG = "/var/log/tap/app.log"
APP_DB_USER = "tap_app"
"""The application's database role: LOGIN, rds_iam, its own schema; no other privilege."""
DB_NAME = "tap"
"""The database the primary is created with."""
APP_SCHEMA = "app"
"""The schema the app owns and works in."""
STATE_DIR = "/var/lib/tap"
"""Where the bootstrap records which databases it has handled."""
# The PostgreSQL client for the bootstrap (Amazon Linux 2023 ships psql as postgresql<major>).
PSQL_PACKAGE = "postgresql16"

# Idempotent: every statement can run again on a database that has it all already. No
# password for the role: with rds_iam it signs in with IAM tokens only (RDS User Guide,
# "Creating a database account using IAM authentication").
BOOTSTRAP_SQL = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{APP_DB_USER}') THEN
    CREATE ROLE {APP_DB_USER} LOGIN;
  END IF;
END
$$;
GRANT rds_iam TO {APP_DB_USER};
REVOKE ALL ON DATABASE {DB_NAME} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {DB_NAME} TO {APP_DB_USER};
CREATE SCHEMA IF NOT EXISTS {APP_SCHEMA} AUTHORIZATION {APP_DB_USER};
ALTER ROLE {APP_DB_USER} SET search_path = {APP_SCHEMA};
""".strip()

_BOOTSTRAP = """#!/bin/bash
# TAP: create the app's database role, once per database, on the writable one only.
# Run as root by refresh-db-env.sh with the endpoint it read from SSM. Reads the master
# credential from this region's own secret; never prints it.
set -euo pipefail
endpoint="$1"
state_dir="${TAP_STATE_DIR:-__STATE_DIR__}"
install -d -m 0700 "$state_dir"
marker="$state_dir/db-role-$(printf '%s' "$endpoint" | sha256sum | cut -c1-16)"
[ -e "$marker" ] && exit 0
param="__PARAMS__/secret_arn"
secret_arn=$(aws ssm get-parameter --region __REGION__ --name "$param" --query Parameter.Value \\
  --output text)
secret=$(aws secretsmanager get-secret-value --region __REGION__ --secret-id "$secret_arn" \\
  --query SecretString --output text)
field() {
  printf '%s' "$secret" | python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"
}
PGUSER=$(field username)
PGPASSWORD=$(field password)
unset secret
export PGUSER PGPASSWORD PGHOST="${endpoint%:*}" PGPORT="${endpoint##*:}" \\
  PGDATABASE=__DB_NAME__ PGSSLMODE=require PGCONNECT_TIMEOUT=10
in_recovery=$(psql -X -A -t -q -c 'SELECT pg_is_in_recovery()')
case "$in_recovery" in
  f) ;;
  t)
    # A read replica: the role arrives from the primary by replication, stays on promotion.
    echo replica > "$marker"
    exit 0
    ;;
  *)
    echo "tap: cannot tell whether $PGHOST is writable; not bootstrapped" >&2
    exit 1
    ;;
esac
psql -X -q -v ON_ERROR_STOP=1 <<'SQLEOF'
__SQL__
SQLEOF
echo writable > "$marker"
"""


def bootstrap_script(environment: str, region: str) -> str:
    """The root-only, idempotent role bootstrap (bash), reading this region's secret."""
    return (
        _BOOTSTRAP.replace("__STATE_DIR__", STATE_DIR)
        .replace("__REGION__", region)
        .replace("__PARAMS__", parameter_path(environment, region))
        .replace("__DB_NAME__", DB_NAME)
        .replace("__SQL__", BOOTSTRAP_SQL)
    )


def parameter_path(environment: str, region: str) -> str:
    """The SSM path the database component publishes under, in this region."""
    return f"/tap/{environment}/{region}/database"


_SERVER = """
import html, http.server, logging, os

ENVIRONMENT, REGION, PORT = {environment!r}, {region!r}, {port}
logging.basicConfig(filename={app_log!r}, level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(message)s")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self._send(200, "text/plain", "ok")
        elif self.path == "/":
            database = os.environ.get("TAP_DB_ENDPOINT", "not configured")
            page = (f"<html><head><title>TAP {{ENVIRONMENT}}</title></head><body>"
                    f"<h1>TAP {{html.escape(ENVIRONMENT)}}</h1>"
                    f"<p>Served from {{html.escape(REGION)}}.</p>"
                    f"<p>Database: {{html.escape(database)}}</p></body></html>")
            self._send(200, "text/html; charset=utf-8", page)
        else:
            self._send(404, "text/plain", "not found")

    def _send(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        logging.info("%s %s", self.address_string(), fmt % args)


http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
"""


def cloudwatch_agent_config(log_group_name: str) -> str:
    """Agent config shipping the app log to its log group, one stream per instance."""
    config = {
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": APP_LOG,
                            "log_group_name": log_group_name,
                            "log_stream_name": "{instance_id}",
                            "retention_in_days": -1,
                        }
                    ]
                }
            }
        }
    }
    return json.dumps(config, sort_keys=True, indent=2)


def render_user_data(environment: str, region: str, port: int, log_group_name: str) -> str:
    """The cloud-init shell script, as text."""
    server = _SERVER.format(environment=environment, region=region, port=port, app_log=APP_LOG)
    parameters = parameter_path(environment, region)
    db_name, app_user = DB_NAME, APP_DB_USER
    return (
        textwrap.dedent(
            f"""\
        #!/bin/bash
        # TAP application instance bootstrap ({environment}, {region}).
        set -euo pipefail
        dnf install -y amazon-cloudwatch-agent python3 {PSQL_PACKAGE}
        useradd --system --no-create-home --shell /sbin/nologin tap || true
        install -d -o tap -g tap /var/log/tap /opt/tap /etc/tap
        cat > /opt/tap/server.py <<'PYEOF'
        {{server}}
        PYEOF
        # The database tier publishes its endpoint (and its own region's secret) as SSM
        # parameters of this region. They may not exist yet when the first instances boot (RDS
        # takes longer than the instances), and they change when a database is replaced: a
        # timer re-reads them every minute, runs the role bootstrap for a database it has not
        # handled yet, and restarts the app only when its settings changed. The app's settings
        # hold no secret: it signs in with IAM tokens of the instance role.
        cat > /opt/tap/refresh-db-env.sh <<'SHEOF'
        #!/bin/bash
        set -uo pipefail
        endpoint=$(aws ssm get-parameter --region {region} --name "{parameters}/endpoint" \\
          --query Parameter.Value --output text 2>/dev/null || true)
        next=$(mktemp)
        if [ -n "$endpoint" ] && [ "$endpoint" != "None" ]; then
          {{
            echo "TAP_DB_ENDPOINT=$endpoint"
            echo "TAP_DB_HOST=${{endpoint%:*}}"
            echo "TAP_DB_PORT=${{endpoint##*:}}"
            echo "TAP_DB_NAME={db_name}"
            echo "TAP_DB_USER={app_user}"
            echo "TAP_DB_REGION={region}"
            echo "TAP_DB_AUTH=iam"
          }} >> "$next"
          /opt/tap/bootstrap-db-role.sh "$endpoint" \\
            || echo "tap: database role bootstrap failed; retried in a minute" >&2
        fi
        if ! cmp -s "$next" /etc/tap/app.env; then
          install -m 0644 "$next" /etc/tap/app.env
          systemctl try-restart tap-app.service
        fi
        rm -f "$next"
        SHEOF
        chmod 0755 /opt/tap/refresh-db-env.sh
        cat > /opt/tap/bootstrap-db-role.sh <<'SHEOF'
        {{bootstrap}}
        SHEOF
        chmod 0700 /opt/tap/bootstrap-db-role.sh
        touch /etc/tap/app.env
        cat > /etc/systemd/system/tap-db-env.service <<'UNITEOF'
        [Unit]
        Description=TAP: read the database settings from SSM, bootstrap the app's role
        [Service]
        Type=oneshot
        ExecStart=/opt/tap/refresh-db-env.sh
        UNITEOF
        cat > /etc/systemd/system/tap-db-env.timer <<'UNITEOF'
        [Unit]
        Description=TAP: refresh the database settings every minute
        [Timer]
        OnBootSec=0
        OnUnitActiveSec=60
        [Install]
        WantedBy=timers.target
        UNITEOF
        cat > /etc/systemd/system/tap-app.service <<'UNITEOF'
        [Unit]
        Description=TAP application
        After=network-online.target
        [Service]
        User=tap
        EnvironmentFile=-/etc/tap/app.env
        ExecStart=/usr/bin/python3 /opt/tap/server.py
        Restart=always
        [Install]
        WantedBy=multi-user.target
        UNITEOF
        cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<'CWEOF'
        {{agent}}
        CWEOF
        systemctl daemon-reload
        /opt/tap/refresh-db-env.sh || true
        systemctl enable --now tap-app.service tap-db-env.timer
        /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 \\
          -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
        """
        )
        .replace("{server}", server.strip())
        .replace("{bootstrap}", bootstrap_script(environment, region).strip())
        .replace("{agent}", cloudwatch_agent_config(log_group_name))
    )


def encode(script: str) -> str:
    """Launch templates take user data base64-encoded."""
    return base64.b64encode(script.encode()).decode()
