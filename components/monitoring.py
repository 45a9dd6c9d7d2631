"""One region's alarms (to that region's alert topic) and its CloudWatch dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from tap import naming
from tap.config import ThresholdsConfig
from tap.tags import name_tag


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: what to watch and when it breaches."""

    key: str
    namespace: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    dimensions: dict[str, pulumi.Input[str]]
    missing_data: str
    description: str


@dataclass(frozen=True)
class MonitoringArgs:
    """Inputs of Monitoring."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider."""
    topic_arn: pulumi.Input[str]
    """This region's alert topic: every alarm's alarm and OK action."""
    asg_name: pulumi.Input[str]
    """Auto Scaling group of the app."""
    alb_arn_suffix: pulumi.Input[str]
    """ALB dimension value (app/<name>/<id>)."""
    target_group_arn_suffix: pulumi.Input[str]
    """Target group dimension value."""
    thresholds: ThresholdsConfig
    """Alarm thresholds of the environment."""
    db_identifier: pulumi.Input[str] | None = None
    """The region's database, if it has one."""
    db_is_replica: bool = False
    """Adds the replica-lag alarm."""


def alarm_specs(args: MonitoringArgs) -> list[AlarmSpec]:
    """Every alarm of the region, as data (the component turns each into a MetricAlarm)."""
    t = args.thresholds
    alb = {"LoadBalancer": args.alb_arn_suffix}
    specs = [
        AlarmSpec("app-cpu", "AWS/EC2", "CPUUtilization", "Average", "GreaterThanThreshold",
                  t.instance_cpu_percent, {"AutoScalingGroupName": args.asg_name}, "missing",
                  "App instances' average CPU is high (scaling is not keeping up)"),
        AlarmSpec("alb-5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum",
                  "GreaterThanThreshold", t.alb_5xx_count, alb, "notBreaching",
                  "The load balancer itself answers 5XX"),
        AlarmSpec("target-5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum",
                  "GreaterThanThreshold", t.alb_5xx_count, alb, "notBreaching",
                  "The app answers 5XX"),
        AlarmSpec("unhealthy-hosts", "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum",
                  "GreaterThanOrEqualToThreshold", t.unhealthy_hosts,
                  {**alb, "TargetGroup": args.target_group_arn_suffix}, "breaching",
                  "Targets fail their health check"),
        AlarmSpec("response-time", "AWS/ApplicationELB", "TargetResponseTime", "Average",
                  "GreaterThanThreshold", t.target_response_seconds, alb, "notBreaching",
                  "The app answers slowly"),
    ]  # fmt: skip
    if args.db_identifier is not None:
        db = {"DBInstanceIdentifier": args.db_identifier}
        specs += [
            AlarmSpec("db-cpu", "AWS/RDS", "CPUUtilization", "Average", "GreaterThanThreshold",
                      t.db_cpu_percent, db, "missing", "Database CPU is high"),
            AlarmSpec("db-free-storage", "AWS/RDS", "FreeStorageSpace", "Minimum",
                      "LessThanThreshold", t.db_free_storage_gb * 1024**3, db, "missing",
                      "Database storage is running out (autoscaling at its ceiling?)"),
            AlarmSpec("db-free-memory", "AWS/RDS", "FreeableMemory", "Minimum",
                      "LessThanThreshold", t.db_free_memory_mb * 1024**2, db, "missing",
                      "Database memory is low"),
            AlarmSpec("db-connections", "AWS/RDS", "DatabaseConnections", "Maximum",
                      "GreaterThanThreshold", t.db_connections, db, "missing",
                      "Database connections are near the limit"),
        ]  # fmt: skip
        if args.db_is_replica:
            specs.append(
                AlarmSpec("replica-lag", "AWS/RDS", "ReplicaLag", "Maximum",
                          "GreaterThanThreshold", t.replica_lag_seconds, db, "breaching",
                          "The DR replica lags the primary (or stopped replicating)")
            )  # fmt: skip
    return specs


def dashboard_body(region: str, values: dict[str, str]) -> str:
    """Dashboard JSON from resolved dimension values; sorted keys, so the same every run."""

    def widget(x: int, y: int, title: str, metrics: list[list[Any]]) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stat": "Average",
                "period": 60,
                "metrics": metrics,
            },
        }

    alb = values["alb"]
    widgets = [
        widget(0, 0, "Requests and errors", [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", alb, {"stat": "Sum"}],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", alb,
             {"stat": "Sum"}],
            ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", alb, {"stat": "Sum"}],
        ]),
        widget(12, 0, "Latency (s)", [
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", alb],
        ]),
        widget(0, 6, "App CPU (%) and instances", [
            ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", values["asg"]],
            ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", values["asg"]],
        ]),
    ]  # fmt: skip
    if values.get("db"):
        db = values["db"]
        widgets.append(
            widget(12, 6, "Database", [
                ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db],
                ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db],
                ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", db, {"yAxis": "right"}],
            ])
        )  # fmt: skip
    return json.dumps({"widgets": widgets}, sort_keys=True)


class Monitoring(pulumi.ComponentResource):
    """Alarms with alarm and OK actions to the region's topic, and a region dashboard."""

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:monitoring:Monitoring", name, None, opts)
        if args.db_is_replica and args.db_identifier is None:
            raise ValueError("MonitoringArgs.db_is_replica needs db_identifier")
        child = pulumi.ResourceOptions(parent=self)
        t = args.thresholds
        alarm_names = []
        for spec in alarm_specs(args):
            alarm_name = naming.physical_name(args.environment, spec.key, args.region, 255)
            alarm_names.append(alarm_name)
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.key}",
                name=alarm_name,
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                statistic=spec.statistic,
                comparison_operator=spec.comparison,
                threshold=float(spec.threshold),
                period=60,
                evaluation_periods=t.evaluation_periods,
                datapoints_to_alarm=t.evaluation_periods,
                dimensions=spec.dimensions,
                treat_missing_data=spec.missing_data,
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                tags=name_tag(alarm_name),
                opts=child,
            )
        dashboard_name = naming.physical_name(args.environment, "tap", args.region, 255)
        values = {
            "alb": args.alb_arn_suffix,
            "asg": args.asg_name,
            "db": args.db_identifier or "",
        }
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=pulumi.Output.all(**values).apply(
                lambda resolved: dashboard_body(args.region, resolved)
            ),
            opts=child,
        )
        self.dashboard_name: pulumi.Output[str] = dashboard.dashboard_name
        self.alarm_names: list[str] = alarm_names
        self.register_outputs({"dashboard_name": self.dashboard_name})
