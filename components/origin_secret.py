"""The edge's origin secret: a random value CloudFront sends to the ALBs in a custom header and
the ALBs require, so that nobody reaches the app except through the distribution and its WAF
(CloudFront Developer Guide, "Restrict access to Application Load Balancers").

One value per generation. Raising the version creates the next value and keeps the previous
one: the ALBs accept both while CloudFront, whose deployments take minutes, moves to the new
one; the value two generations back is deleted. The values live only in state, as secrets
(pulumi_random draws them once, at create): never in config, logs or outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

# Not a header CloudFront refuses to add (Cache-Control, Host, X-Amz-*, X-Edge-*, ...: CloudFront
# Developer Guide, "Custom headers that CloudFront can't add to origin requests"); 15
# characters, within the ALB's 40 for an http-header condition name and CloudFront's 256.
ORIGIN_SECRET_HEADER = "X-Origin-Verify"
# ALB http-header condition values: at most 128 characters each, compared case-insensitively,
# with '*' and '?' as wildcards (ELB User Guide, "HTTP header conditions"; CloudFormation
# ListenerRule HttpHeaderConfig). CloudFront allows 1,783 characters per header value
# (CloudFront quotas on headers). Hence lower-case letters and digits only, no specials:
# 64 of 36 symbols, about 330 bits that survive the case-insensitive comparison.
SECRET_LENGTH = 64


@dataclass(frozen=True)
class OriginSecretArgs:
    """Inputs of OriginSecret."""

    version: int = 1
    """Generation of the current value (tap:edge.origin_secret_version); +1 rotates it."""


class OriginSecret(pulumi.ComponentResource):
    """The current origin secret and, from version 2 on, the previous one."""

    def __init__(
        self, name: str, args: OriginSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tap:origin_secret:OriginSecret", name, None, opts)
        if args.version < 1:
            raise ValueError(f"OriginSecretArgs.version {args.version} must be 1 or more")
        child = pulumi.ResourceOptions(parent=self)
        generations = [args.version] if args.version == 1 else [args.version, args.version - 1]
        # The logical name carries the generation: a new version is a new resource and the one
        # two generations back leaves the program, so the engine deletes it.
        values = {
            generation: random.RandomPassword(
                f"{name}-{generation}",
                length=SECRET_LENGTH,
                lower=True,
                numeric=True,
                upper=False,
                special=False,
                keepers={"generation": str(generation)},
                opts=child,
            ).result
            for generation in generations
        }
        self.version: int = args.version
        self.current: pulumi.Output[str] = pulumi.Output.secret(values[args.version])
        """The value CloudFront sends."""
        self.accepted: list[pulumi.Output[str]] = [
            pulumi.Output.secret(values[generation]) for generation in generations
        ]
        """The values the ALBs accept: the current one first, then the previous one."""
        self.register_outputs({"version": self.version})
