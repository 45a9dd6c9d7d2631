"""One region's application tier: ALB (HTTPS when a certificate exists), launch template,
Auto Scaling group in the private subnets, CPU target tracking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs, Statements
from components.failover import HEALTH_PATH
from components.origin_secret import ORIGIN_SECRET_HEADER
from components.security_rules import tcp_rule
from tap import naming
from tap.config import ComputeConfig
from tap.policy_doc import assume_role
from tap.protection import Protection
from tap.tags import name_tag
from tap.user_data import encode, render_user_data

# TLS 1.3 policy family (TLS 1.3 and 1.2, forward-secret ciphers only): FSBP ELB.17.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
AL2023_PARAMETER = {
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
}
MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
)
ASG_METRICS = (
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupMaxSize",
    "GroupMinSize",
    "GroupPendingInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
)
# Behind the edge: listener rules in evaluation order (1-50000, lowest first; the default
# action comes last: ELB User Guide, "Listener rules"). A rule holds at most 5 condition values
# and a condition at most 3 (ELB quotas, "Condition values per rule"; "Condition types for
# listener rules"): the header rule takes the accepted secrets (1-3), the health rule 3.
ORIGIN_RULE_PRIORITY = 10
HEALTH_RULE_PRIORITY = 20
MAX_VALUES_PER_CONDITION = 3
# Route53 health checks send GET; HEAD is routed with it, as the ELB guide recommends ("HTTP
# request method conditions"). The method match is case-sensitive and exact.
HEALTH_METHODS = ("GET", "HEAD")
# Account ids Elastic Load Balancing writes access logs from, in regions opened before
# August 2022; newer regions use the log-delivery service principal instead.
ELB_LOG_ACCOUNTS = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}


def architecture_of(instance_type: str) -> str:
    """arm64 for Graviton families (t4g, m7g, c8g...), x86_64 otherwise."""
    family = instance_type.split(".")[0]
    generation_suffix = family.lstrip("abcdefghijklmnopqrstuvwxyz").lstrip("0123456789")
    return "arm64" if "g" in generation_suffix else "x86_64"


def elb_log_statements(region: str) -> Statements:
    """Bucket-policy statements admitting only ELB log delivery of this account."""

    def statements(bucket_arn: str, account: str) -> list[dict]:
        principal = (
            {"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS[region]}:root"}
            if region in ELB_LOG_ACCOUNTS
            else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        )
        return [
            {
                "Sid": "ElbLogDelivery",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/alb/AWSLogs/{account}/*",
            }
        ]

    return statements


@dataclass(frozen=True)
class Exposure:
    """Who reaches a region's ALB, and over what. Build it with `direct` or `behind_edge`."""

    certificate_arn: pulumi.Input[str] | None
    """ACM certificate of this region: HTTPS with it, HTTP redirecting to it. None: HTTP only."""
    allowed_cidrs: Sequence[str]
    """Sources admitted directly on 80 and 443; none behind the edge."""
    origin_secrets: Sequence[pulumi.Input[str]]
    """Behind the edge: the origin header values the ALB accepts (the current one and, during a
    rotation, the previous one). Empty: the ALB serves its allowed sources directly."""
    health_checked: bool
    """Route53 health-checks the ALB: its checkers are admitted on 443 whatever else is, and
    behind the edge GET/HEAD /health is forwarded without the header they cannot send."""

    @classmethod
    def direct(
        cls,
        allowed_cidrs: Sequence[str],
        certificate_arn: pulumi.Input[str] | None,
        health_checked: bool,
    ) -> Exposure:
        """Served to `allowed_cidrs` on 80 and 443 (HTTP only without a certificate)."""
        return cls(certificate_arn, tuple(allowed_cidrs), (), health_checked)

    @classmethod
    def behind_edge(
        cls, certificate_arn: pulumi.Input[str], origin_secrets: Sequence[pulumi.Input[str]]
    ) -> Exposure:
        """Only CloudFront (with an accepted origin secret) and the Route53 health checkers:
        nobody can bypass the edge and its WAF. The edge needs a domain, and a domain brings
        the failover health checks."""
        return cls(certificate_arn, (), tuple(origin_secrets), True)

    @property
    def edge_only(self) -> bool:
        return bool(self.origin_secrets)

    def __post_init__(self) -> None:
        if not self.edge_only:
            if not self.allowed_cidrs:
                raise ValueError(
                    "Exposure needs allowed source CIDRs, or origin secrets behind the edge"
                )
            return
        if self.certificate_arn is None:
            raise ValueError(
                "Exposure behind the edge needs a certificate: CloudFront reaches the origin "
                "over HTTPS only, and the origin secret must never travel in clear"
            )
        if len(self.origin_secrets) > MAX_VALUES_PER_CONDITION:
            raise ValueError(
                f"Exposure behind the edge accepts 1 to {MAX_VALUES_PER_CONDITION} origin "
                f"secrets (current, then previous), not {len(self.origin_secrets)}"
            )
        if self.allowed_cidrs:
            raise ValueError("Exposure behind the edge admits no direct sources")


@dataclass(frozen=True)
class ComputeArgs:
    """Inputs of Compute."""

    environment: str
    """Environment name, for names and tags."""
    region: str
    """Region of the component's provider."""
    vpc_id: pulumi.Input[str]
    """VPC of the region."""
    public_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the internet-facing ALB."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Subnets of the instances (no public IPs)."""
    kms_key_arn: pulumi.Input[str]
    """Region key: EBS volumes and the app log group."""
    account_id: pulumi.Input[str]
    """Account id (bucket names, policies)."""
    tags: Mapping[str, str]
    """Stack tags, copied onto instances and volumes (provider default tags do not reach
    instances launched by Auto Scaling)."""
    settings: ComputeConfig
    """tap:compute: instance type and group sizes, app port, AMI, root volume, log retention
    (validated there). Its allowed_cidrs and certificate_arns are read only through `exposure`;
    its bastion is a component of its own."""
    exposure: Exposure
    """Who reaches the ALB, and over what."""
    protection: Protection
    """ALB deletion protection, log bucket kept on destroy, share kept in service during an
    instance refresh."""


class Compute(pulumi.ComponentResource):
    """Internet-facing ALB -> target group -> Auto Scaling group of hardened instances."""

    def __init__(
        self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:compute:Compute", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)

        alb_sg, app_sg = self._security_groups()
        alb_groups = [alb_sg.id, *self._managed_source_groups()]
        logs = SecureBucket(
            f"{name}-alb-logs",
            SecureBucketArgs(
                environment=args.environment,
                region=args.region,
                service="alb-logs",
                account_id=args.account_id,
                expiration_days=args.settings.alb_log_retention_days,
                retain_on_delete=args.protection.retain_on_delete,
                policy_statements=elb_log_statements(args.region),
            ),
            opts=self._child,
        )
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=self._label("alb", naming.ALB_NAME),
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=alb_groups,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.protection.deletion_protection,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=logs.bucket_name, prefix="alb", enabled=True
            ),
            tags=name_tag(self._label("alb")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=logs.ready),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            # The port is in the name: a port change replaces the group, and the new one must
            # not collide with the old one's name while both exist.
            name=self._label(f"app{args.settings.app_port}", naming.TARGET_GROUP_NAME),
            port=args.settings.app_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=HEALTH_PATH,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=name_tag(self._label("tg")),
            opts=self._child,
        )
        self.https_enabled = args.exposure.certificate_arn is not None
        self.origin_listener_rules: list[pulumi.Resource] = self._listeners(alb, target_group)
        """Behind the edge: the rules admitting CloudFront (build the edge after them)."""
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-app-logs",
            name=f"/tap/{args.environment}/{args.region}/app",
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=name_tag(self._label("app-logs")),
            opts=self._child,
        )
        role, profile = self._instance_role()
        template = self._launch_template(app_sg, profile, log_group)
        group = self._auto_scaling_group(template, target_group)

        scheme = "https" if self.https_enabled else "http"
        self.alb_arn: pulumi.Output[str] = alb.arn
        self.alb_arn_suffix: pulumi.Output[str] = alb.arn_suffix
        self.alb_dns_name: pulumi.Output[str] = alb.dns_name
        self.alb_zone_id: pulumi.Output[str] = alb.zone_id
        self.alb_security_group_id: pulumi.Output[str] = alb_sg.id
        self.app_security_group_id: pulumi.Output[str] = app_sg.id
        self.instance_role_name: pulumi.Output[str] = role.name
        self.target_group_arn: pulumi.Output[str] = target_group.arn
        self.target_group_arn_suffix: pulumi.Output[str] = target_group.arn_suffix
        self.asg_name: pulumi.Output[str] = group.name
        self.app_log_group_name: pulumi.Output[str] = log_group.name
        self.alb_log_bucket: pulumi.Output[str] = logs.bucket_name
        self.url: pulumi.Output[str] = alb.dns_name.apply(lambda dns: f"{scheme}://{dns}")
        self.register_outputs(
            {
                "alb_arn": self.alb_arn,
                "alb_dns_name": self.alb_dns_name,
                "alb_zone_id": self.alb_zone_id,
                "target_group_arn": self.target_group_arn,
                "asg_name": self.asg_name,
                "url": self.url,
            }
        )

    def _label(self, service: str, limit: int = naming.DEFAULT_LIMIT) -> str:
        return naming.physical_name(self._args.environment, service, self._args.region, limit)

    def _managed_source_groups(self) -> list[pulumi.Output[str]]:
        """One group per AWS-managed prefix list admitted on 443: CloudFront's origin-facing
        list weighs 55 rules and the health checkers' 25 (Amazon VPC User Guide, "AWS-managed
        prefix lists", weights table: a reference counts as the list's weight against the
        group's rule quota), more than the 60 inbound rules one group holds (Amazon VPC quotas,
        "Inbound or outbound rules per security group"), hence a group each.

        The prefix lists admit every CloudFront distribution and every account's health checks:
        the listener rules (see _edge_rules) are what keeps other distributions out."""
        args = self._args
        sources = []
        if args.exposure.edge_only:
            sources.append(("edge", "com.amazonaws.global.cloudfront.origin-facing"))
        if args.exposure.health_checked:
            sources.append(("health", f"com.amazonaws.{args.region}.route53-healthchecks"))
        groups = []
        for key, list_name in sources:
            prefix_list = aws.ec2.get_managed_prefix_list_output(
                name=list_name, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            group = aws.ec2.SecurityGroup(
                f"{self._name}-alb-{key}-sg",
                name=self._label(f"alb-{key}-sg"),
                description=f"ALB: HTTPS from {list_name}",
                vpc_id=args.vpc_id,
                tags=name_tag(self._label(f"alb-{key}-sg")),
                opts=self._child,
            )
            tcp_rule(
                f"{self._name}-alb-{key}-in",
                "ingress",
                group_id=group.id,
                port=443,
                prefix_list_id=prefix_list.id,
                description=f"HTTPS from {list_name}",
                tag=self._label(f"alb-{key}-in"),
                parent=self,
            )
            groups.append(group.id)
        return groups

    def _security_groups(self) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        name, args = self._name, self._args
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            name=self._label("alb-sg"),
            description="ALB: HTTP and HTTPS from the allowed sources",
            vpc_id=args.vpc_id,
            tags=name_tag(self._label("alb-sg")),
            opts=self._child,
        )
        app_sg = aws.ec2.SecurityGroup(
            f"{name}-app-sg",
            name=self._label("app-sg"),
            description="App instances: app port from the ALB only",
            vpc_id=args.vpc_id,
            tags=name_tag(self._label("app-sg")),
            opts=self._child,
        )
        for port in () if args.exposure.edge_only else (80, 443):
            for index, cidr in enumerate(args.exposure.allowed_cidrs):
                tcp_rule(
                    f"{name}-alb-in-{port}-{index}",
                    "ingress",
                    group_id=alb_sg.id,
                    port=port,
                    cidr=cidr,
                    description=f"HTTP{'S' if port == 443 else ''} from {cidr}",
                    tag=self._label(f"alb-in-{port}-{index}"),
                    parent=self,
                )
        tcp_rule(
            f"{name}-alb-to-app",
            "egress",
            group_id=alb_sg.id,
            port=args.settings.app_port,
            peer_group_id=app_sg.id,
            description="To the app instances",
            tag=self._label("alb-to-app"),
            parent=self,
        )
        tcp_rule(
            f"{name}-app-from-alb",
            "ingress",
            group_id=app_sg.id,
            port=args.settings.app_port,
            peer_group_id=alb_sg.id,
            description="App port from the ALB",
            tag=self._label("app-from-alb"),
            parent=self,
        )
        # HTTPS out: SSM Session Manager, CloudWatch, package repositories (S3 goes through
        # the gateway endpoint). Nothing else leaves the instances.
        tcp_rule(
            f"{name}-app-https-out",
            "egress",
            group_id=app_sg.id,
            port=443,
            cidr="0.0.0.0/0",
            description="HTTPS to AWS APIs and package repositories",
            tag=self._label("app-https-out"),
            parent=self,
        )
        return alb_sg, app_sg

    def _listeners(
        self, alb: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup
    ) -> list[pulumi.Resource]:
        name, args = self._name, self._args
        forward = aws.lb.ListenerDefaultActionArgs(
            type="forward", target_group_arn=target_group.arn
        )
        if args.exposure.certificate_arn is None:
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[forward],
                tags=name_tag(self._label("http")),
                opts=self._child,
            )
            return []
        # Behind the edge, what no rule admits is refused, as the CloudFront guide ("Restrict
        # access to Application Load Balancers") sets up the default rule.
        deny = aws.lb.ListenerDefaultActionArgs(
            type="fixed-response",
            fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                content_type="text/plain", message_body="Access denied", status_code="403"
            ),
        )
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=args.exposure.certificate_arn,
            default_actions=[deny if args.exposure.edge_only else forward],
            tags=name_tag(self._label("https")),
            opts=self._child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            tags=name_tag(self._label("http")),
            opts=self._child,
        )
        return self._edge_rules(https, target_group) if args.exposure.edge_only else []

    def _edge_rules(
        self, https: aws.lb.Listener, target_group: aws.lb.TargetGroup
    ) -> list[pulumi.Resource]:
        """Forward what carries an accepted origin secret; and GET/HEAD /health without it, for
        the Route53 health checkers, which cannot send custom headers (Route 53 API Reference,
        HealthCheckConfig: no header setting). Everything else gets the default 403."""
        name, args = self._name, self._args
        forward = aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group.arn)
        rules: list[pulumi.Resource] = [
            aws.lb.ListenerRule(
                f"{name}-edge-origin",
                listener_arn=https.arn,
                priority=ORIGIN_RULE_PRIORITY,
                conditions=[
                    aws.lb.ListenerRuleConditionArgs(
                        http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                            http_header_name=ORIGIN_SECRET_HEADER,
                            values=list(args.exposure.origin_secrets),
                        )
                    )
                ],
                actions=[forward],
                tags=name_tag(self._label("edge-origin")),
                opts=self._child,
            )
        ]
        if args.exposure.health_checked:
            # No wildcard: the path matches exactly (case-sensitive, query string excluded).
            rules.append(
                aws.lb.ListenerRule(
                    f"{name}-edge-health",
                    listener_arn=https.arn,
                    priority=HEALTH_RULE_PRIORITY,
                    conditions=[
                        aws.lb.ListenerRuleConditionArgs(
                            path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(
                                values=[HEALTH_PATH]
                            )
                        ),
                        aws.lb.ListenerRuleConditionArgs(
                            http_request_method=aws.lb.ListenerRuleConditionHttpRequestMethodArgs(
                                values=list(HEALTH_METHODS)
                            )
                        ),
                    ],
                    actions=[forward],
                    tags=name_tag(self._label("edge-health")),
                    opts=self._child,
                )
            )
        return rules

    def _instance_role(self) -> tuple[aws.iam.Role, aws.iam.InstanceProfile]:
        name, args = self._name, self._args
        role_name = self._label("app", naming.IAM_ROLE_NAME)
        role = aws.iam.Role(
            f"{name}-role",
            name=role_name,
            description=f"TAP app instances, {args.environment} {args.region}",
            assume_role_policy=assume_role("ec2.amazonaws.com"),
            tags=name_tag(role_name),
            opts=self._child,
        )
        for policy_arn in MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{policy_arn.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=policy_arn,
                opts=self._child,
            )
        profile = aws.iam.InstanceProfile(
            f"{name}-profile",
            name=role_name,
            role=role.name,
            tags=name_tag(role_name),
            opts=self._child,
        )
        return role, profile

    def _launch_template(
        self,
        app_sg: aws.ec2.SecurityGroup,
        profile: aws.iam.InstanceProfile,
        log_group: aws.cloudwatch.LogGroup,
    ) -> aws.ec2.LaunchTemplate:
        name, args = self._name, self._args
        # "resolve:ssm:" lets EC2 read the public parameter at each launch: the latest AL2023
        # without a lookup in the program, so the template (and the plan) stays the same
        # between runs; pin ami_id for a fixed image.
        image = (
            args.settings.ami_id
            or f"resolve:ssm:{AL2023_PARAMETER[architecture_of(args.settings.instance_type)]}"
        )
        instance_tags = {**args.tags, **name_tag(self._label("app"))}
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name=self._label("app-lt"),
            description=f"TAP app, {args.environment} {args.region}",
            image_id=image,
            instance_type=args.settings.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            vpc_security_group_ids=[app_sg.id],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.settings.root_volume_gb,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.kms_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            user_data=log_group.name.apply(
                lambda group: encode(
                    render_user_data(args.environment, args.region, args.settings.app_port, group)
                )
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            update_default_version=True,
            tags=name_tag(self._label("app-lt")),
            opts=self._child,
        )

    def _auto_scaling_group(
        self, template: aws.ec2.LaunchTemplate, target_group: aws.lb.TargetGroup
    ) -> aws.autoscaling.Group:
        name, args = self._name, self._args
        group = aws.autoscaling.Group(
            f"{name}-asg",
            name=self._label("app-asg", 255),
            vpc_zone_identifiers=args.private_subnet_ids,
            min_size=args.settings.min_size,
            max_size=args.settings.max_size,
            desired_capacity=args.settings.desired_capacity,
            health_check_type="ELB",
            health_check_grace_period=300,
            default_instance_warmup=120,
            target_group_arns=[target_group.arn],
            # The template's own latest version number: a template change is a change of the
            # group, which starts the rolling instance refresh ("$Latest" would hide it).
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=args.protection.min_healthy_percent,
                    instance_warmup="120",
                ),
            ),
            enabled_metrics=[aws.autoscaling.Metric(metric) for metric in ASG_METRICS],
            metrics_granularity="1Minute",
            # Provider default tags never reach a group: carry the stack's tags explicitly
            # (instances get theirs from the launch template, hence no propagation).
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=False)
                for key, value in sorted({**args.tags, **name_tag(self._label("app-asg"))}.items())
            ],
            # Scaling owns the desired capacity after creation; a later `pulumi up` must not
            # snap it back to the configured starting value.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        aws.autoscaling.Policy(
            f"{name}-cpu-target",
            name=self._label("cpu-target", 255),
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=120,
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ASGAverageCPUUtilization"
                ),
                target_value=float(args.settings.cpu_target_percent),
            ),
            opts=self._child,
        )
        return group
