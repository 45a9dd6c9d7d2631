"""Instance user data of the application tier: a small web server and the CloudWatch agent.

Rendered from plain values only, so the same config always yields the same bytes (a new
launch-template version, and so an instance refresh, happens only when something changed).
"""

from __future__ import annotations

import base64
import json
import textwrap

APP_LOG = "/var/log/tap/app.log"

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
    parameter_path = f"/tap/{environment}/{region}/database"
    return (
        textwrap.dedent(
            f"""\
        #!/bin/bash
        # TAP application instance bootstrap ({environment}, {region}).
        set -euo pipefail
        dnf install -y amazon-cloudwatch-agent python3
        useradd --system --no-create-home --shell /sbin/nologin tap || true
        install -d -o tap -g tap /var/log/tap /opt/tap /etc/tap
        cat > /opt/tap/server.py <<'PYEOF'
        {{server}}
        PYEOF
        # The database tier publishes its endpoint and secret ARN as SSM parameters. They may
        # not exist yet when the first instances boot (RDS takes longer than the instances),
        # and they change when a replica is promoted: a timer re-reads them every minute and
        # restarts the app only when they changed.
        cat > /opt/tap/refresh-db-env.sh <<'SHEOF'
        #!/bin/bash
        set -uo pipefail
        next=$(mktemp)
        for name in endpoint secret_arn; do
          value=$(aws ssm get-parameter --region {region} --name "{parameter_path}/$name" \\
            --query Parameter.Value --output text 2>/dev/null || true)
          if [ -n "$value" ] && [ "$value" != "None" ]; then
            echo "TAP_DB_${{name^^}}=$value" >> "$next"
          fi
        done
        if ! cmp -s "$next" /etc/tap/app.env; then
          install -m 0644 "$next" /etc/tap/app.env
          systemctl try-restart tap-app.service
        fi
        rm -f "$next"
        SHEOF
        chmod 0755 /opt/tap/refresh-db-env.sh
        touch /etc/tap/app.env
        cat > /etc/systemd/system/tap-db-env.service <<'UNITEOF'
        [Unit]
        Description=TAP: read the database endpoint and secret ARN from SSM
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
        .replace("{agent}", cloudwatch_agent_config(log_group_name))
    )


def encode(script: str) -> str:
    """Launch templates take user data base64-encoded."""
    return base64.b64encode(script.encode()).decode()
