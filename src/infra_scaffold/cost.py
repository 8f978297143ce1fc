"""What each compute option costs per month: a pure model with its prices in one table.

Every price is a row of :data:`PRICE_TABLE` with its unit and source; every
assumption the model makes is listed in :attr:`CostReport.assumptions`. The
options are:

- ``lambda``: requests + GB-seconds (+ API Gateway, + provisioned concurrency);
- ``ec2-single``: one bare instance, the article's comparison (not highly available);
- ``ec2-asg``: the topology the container project generates: two instances
  (the Auto Scaling group's minimum), plus an ALB with a WAF web ACL for services;
- ``fargate``: two Fargate tasks with the same load balancer, for reference.

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

__all__ = [
    "API_GATEWAYS",
    "ARCHITECTURES",
    "ASG_INSTANCES",
    "PRICES_AS_OF",
    "PRICE_TABLE",
    "WAF_RULES",
    "CostInputs",
    "CostReport",
    "OptionCost",
    "Price",
    "break_even",
    "estimate",
    "price",
    "price_option",
]

Architecture = Literal["arm64", "x86_64"]
ApiGateway = Literal["http", "rest", "none"]
ARCHITECTURES: Final = ("arm64", "x86_64")
API_GATEWAYS: Final = ("http", "rest", "none")

PRICES_AS_OF: Final = "2026-11-01"
REGION: Final = "us-east-1"
HOURS_PER_MONTH: Final = 730
SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600
#: Instances the generated Auto Scaling group keeps running at minimum.
ASG_INSTANCES: Final = 2
#: Fargate tasks in the reference option (same high availability as the ASG).
FARGATE_TASKS: Final = 2
#: Rules in the generated WAF web ACL: rate limit, KnownBadInputs, AnonymousIpList.
WAF_RULES: Final = 3
#: New connections per second one ALB LCU covers.
ALB_NEW_CONNECTIONS_PER_LCU: Final = 25
#: Break-even search range (requests per month).
BREAK_EVEN_CEILING: Final = 10**12

_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_ELB = "https://aws.amazon.com/elasticloadbalancing/pricing/"
_WAF = "https://aws.amazon.com/waf/pricing/"


@dataclass(frozen=True, slots=True)
class Price:
    """One row of the price table (us-east-1, on-demand)."""

    key: str
    """Lookup key, e.g. ``lambda.gb_second.arm64``."""
    usd: float
    """Price in US dollars per ``unit``."""
    unit: str
    """What the price is for."""
    source: str
    """Where the figure comes from."""


PRICE_TABLE: Final[tuple[Price, ...]] = (
    Price("lambda.requests", 0.20, "1M requests", _LAMBDA),
    Price("lambda.gb_second.x86_64", 0.0000166667, "GB-second", _LAMBDA),
    Price("lambda.gb_second.arm64", 0.0000133334, "GB-second", _LAMBDA),
    Price("lambda.free_requests", 1_000_000, "requests/month free (always-free tier)", _LAMBDA),
    Price("lambda.free_gb_seconds", 400_000, "GB-seconds/month free (always-free tier)", _LAMBDA),
    Price("lambda.provisioned.x86_64", 0.0000041667, "GB-second provisioned", _LAMBDA),
    Price("lambda.provisioned.arm64", 0.0000033334, "GB-second provisioned", _LAMBDA),
    Price("lambda.provisioned_duration.x86_64", 0.0000097222, "GB-second run warm", _LAMBDA),
    Price("lambda.provisioned_duration.arm64", 0.0000077778, "GB-second run warm", _LAMBDA),
    Price("apigw.http", 1.00, "1M requests (first 300M)", _APIGW),
    Price("apigw.rest", 3.50, "1M requests (first 333M)", _APIGW),
    Price("apigw.none", 0.0, "1M requests", _APIGW),
    Price("ec2.t4g.micro", 0.0084, "instance-hour", _EC2),
    Price("ec2.t4g.small", 0.0168, "instance-hour", _EC2),
    Price("ec2.t4g.medium", 0.0336, "instance-hour", _EC2),
    Price("ec2.g4dn.xlarge", 0.526, "instance-hour", _EC2),
    Price("ec2.g5.xlarge", 1.006, "instance-hour", _EC2),
    Price("fargate.vcpu.x86_64", 0.04048, "vCPU-hour", _FARGATE),
    Price("fargate.vcpu.arm64", 0.03238, "vCPU-hour", _FARGATE),
    Price("fargate.gb.x86_64", 0.004445, "GB-hour", _FARGATE),
    Price("fargate.gb.arm64", 0.00356, "GB-hour", _FARGATE),
    Price("alb.hour", 0.0225, "ALB-hour", _ELB),
    Price("alb.lcu_hour", 0.008, "LCU-hour", _ELB),
    Price("waf.web_acl", 5.00, "web ACL-month", _WAF),
    Price("waf.rule", 1.00, "rule-month", _WAF),
    Price("waf.requests", 0.60, "1M requests", _WAF),
)

_PRICES: Final[Mapping[str, float]] = {row.key: row.usd for row in PRICE_TABLE}
#: Fargate CPU sizes and the largest memory (GB) each allows.
_FARGATE_SIZES: Final = ((0.25, 2), (0.5, 4), (1, 8), (2, 16), (4, 30), (8, 60), (16, 120))


def price(key: str) -> float:
    """The price of ``key`` in :data:`PRICE_TABLE`."""
    return _PRICES[key]


def instance_types() -> tuple[str, ...]:
    """The EC2 instance types the model can price."""
    return tuple(row.key.removeprefix("ec2.") for row in PRICE_TABLE if row.key.startswith("ec2."))


@dataclass(frozen=True, slots=True)
class CostInputs:
    """The workload and options a monthly estimate is made for."""

    requests_per_month: float
    """Requests (or events, or jobs) per month."""
    avg_duration_ms: int
    """Average run time of one request, in milliseconds."""
    memory_mb: int
    """Memory of one Lambda function / the sizing of a Fargate task, in MB."""
    architecture: Architecture = "arm64"
    """Lambda and Fargate CPU architecture."""
    api_gateway: ApiGateway = "http"
    """API Gateway in front of Lambda: HTTP API, REST API or none (event sources)."""
    free_tier: bool = False
    """Subtract Lambda's always-free tier (it is shared by the whole account)."""
    provisioned_concurrency: int = 0
    """Lambda execution environments kept warm around the clock."""
    instance_type: str = "t4g.small"
    """EC2 instance type of the container options."""
    load_balancer: bool = True
    """Services sit behind an ALB; workers have none."""
    waf: bool = True
    """A WAF web ACL guards the ALB (the generated project has one)."""

    def __post_init__(self) -> None:
        for name in ("requests_per_month", "provisioned_concurrency"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("avg_duration_ms", "memory_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}")
        if self.api_gateway not in API_GATEWAYS:
            raise ValueError(f"api_gateway must be one of {', '.join(API_GATEWAYS)}")
        if f"ec2.{self.instance_type}" not in _PRICES:
            raise ValueError(f"instance_type must be one of {', '.join(instance_types())}")

    def at(self, requests_per_month: float) -> CostInputs:
        """The same inputs at another request volume."""
        return replace(self, requests_per_month=requests_per_month)


@dataclass(frozen=True, slots=True)
class OptionCost:
    """The monthly cost of one option, with its parts."""

    id: str
    """``lambda``, ``ec2-single``, ``ec2-asg`` or ``fargate``."""
    label: str
    """What the option is, in a few words."""
    breakdown: tuple[tuple[str, float], ...]
    """``(item, USD per month)`` pairs that add up to :attr:`monthly_usd`."""

    @property
    def monthly_usd(self) -> float:
        """Total USD per month."""
        return sum(usd for _, usd in self.breakdown)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``scaffold cost --json``."""
        return {
            "id": self.id,
            "label": self.label,
            "monthly_usd": round(self.monthly_usd, 4),
            "breakdown": {item: round(usd, 4) for item, usd in self.breakdown},
        }


@dataclass(frozen=True, slots=True)
class CostReport:
    """Every option's monthly cost for one set of inputs, and the break-even points."""

    inputs: CostInputs
    """What was estimated."""
    options: tuple[OptionCost, ...]
    """One entry per option, Lambda first."""
    break_even_requests_per_month: Mapping[str, int | None] = field(default_factory=dict)
    """Per container option: the volume above which it is cheaper than Lambda
    (0: always cheaper; None: never, up to 10^12 requests per month)."""

    def option(self, option_id: str) -> OptionCost:
        """The option called ``option_id``."""
        return next(o for o in self.options if o.id == option_id)

    @property
    def assumptions(self) -> dict[str, Any]:
        """Every input and assumption behind the figures."""
        return _assumptions(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``scaffold cost --json`` prints."""
        return {
            "assumptions": self.assumptions,
            "options": [option.to_dict() for option in self.options],
            "break_even_requests_per_month": dict(self.break_even_requests_per_month),
        }


def estimate(inputs: CostInputs) -> CostReport:
    """Price every option for ``inputs`` and find each container option's break-even."""
    options = tuple(model(inputs) for model in _MODELS)
    lambda_model = _MODELS[0]
    return CostReport(
        inputs=inputs,
        options=options,
        break_even_requests_per_month={
            model(inputs).id: break_even(inputs, lambda_model, model) for model in _MODELS[1:]
        },
    )


def price_option(inputs: CostInputs, option_id: str) -> OptionCost:
    """The monthly cost of one option (without break-even points)."""
    return _MODELS_BY_ID[option_id](inputs)


def break_even(
    inputs: CostInputs,
    lambda_model: Callable[[CostInputs], OptionCost],
    other: Callable[[CostInputs], OptionCost],
) -> int | None:
    """Requests per month above which ``other`` costs less than Lambda.

    Lambda's cost is convex in the request volume (free tier, then linear) and
    every other option's is linear, so their difference crosses zero at most
    once from below: a bisection finds it.
    """

    def gap(requests: float) -> float:
        probe = inputs.at(requests)
        return lambda_model(probe).monthly_usd - other(probe).monthly_usd

    if gap(0) >= 0:
        return 0
    if gap(BREAK_EVEN_CEILING) <= 0:
        return None
    low, high = 0.0, float(BREAK_EVEN_CEILING)
    while high - low > 1:
        middle = (low + high) / 2
        if gap(middle) < 0:
            low = middle
        else:
            high = middle
    return math.ceil(low)


# --- The options ------------------------------------------------------------------


def _lambda(inputs: CostInputs) -> OptionCost:
    arch = inputs.architecture
    requests = inputs.requests_per_month
    memory_gb = inputs.memory_mb / 1024
    gb_seconds = requests * inputs.avg_duration_ms / 1000 * memory_gb
    free_requests = price("lambda.free_requests") if inputs.free_tier else 0
    free_gb_seconds = price("lambda.free_gb_seconds") if inputs.free_tier else 0
    parts: list[tuple[str, float]] = [
        ("requests", max(0.0, requests - free_requests) / 1e6 * price("lambda.requests")),
    ]
    if inputs.provisioned_concurrency:
        warm_gb_seconds = inputs.provisioned_concurrency * memory_gb * SECONDS_PER_MONTH
        served_warm = min(gb_seconds, warm_gb_seconds)
        warm_fee = warm_gb_seconds * price(f"lambda.provisioned.{arch}")
        parts.append(("provisioned concurrency", warm_fee))
        parts.append(
            ("duration on provisioned", served_warm * price(f"lambda.provisioned_duration.{arch}"))
        )
        gb_seconds -= served_warm
    parts.append(
        ("duration", max(0.0, gb_seconds - free_gb_seconds) * price(f"lambda.gb_second.{arch}"))
    )
    if inputs.api_gateway != "none":
        parts.append(
            (
                f"API Gateway {inputs.api_gateway.upper()} API",
                requests / 1e6 * price(f"apigw.{inputs.api_gateway}"),
            )
        )
    gateway = "" if inputs.api_gateway == "none" else f" + {inputs.api_gateway.upper()} API"
    count = inputs.provisioned_concurrency
    warm = f" + {count} provisioned" if count else ""
    return OptionCost("lambda", f"Lambda {arch}{gateway}{warm}", tuple(parts))


def _ec2_single(inputs: CostInputs) -> OptionCost:
    hourly = price(f"ec2.{inputs.instance_type}")
    return OptionCost(
        "ec2-single",
        f"one bare {inputs.instance_type}, not highly available",
        (("instance", hourly * HOURS_PER_MONTH),),
    )


def _ec2_asg(inputs: CostInputs) -> OptionCost:
    hourly = price(f"ec2.{inputs.instance_type}")
    parts = [(f"{ASG_INSTANCES} instances", ASG_INSTANCES * hourly * HOURS_PER_MONTH)]
    parts.extend(_edge(inputs))
    return OptionCost(
        "ec2-asg",
        f"{ASG_INSTANCES}x {inputs.instance_type}{_front(inputs)}: the project we generate",
        tuple(parts),
    )


def _fargate(inputs: CostInputs) -> OptionCost:
    arch = inputs.architecture
    vcpu, memory_gb = _fargate_size(inputs.memory_mb)
    hourly = vcpu * price(f"fargate.vcpu.{arch}") + memory_gb * price(f"fargate.gb.{arch}")
    parts = [(f"{FARGATE_TASKS} tasks", FARGATE_TASKS * hourly * HOURS_PER_MONTH)]
    parts.extend(_edge(inputs))
    return OptionCost(
        "fargate",
        f"{FARGATE_TASKS}x Fargate {vcpu:g} vCPU/{memory_gb:g} GB {arch}"
        f"{_front(inputs)}, for comparison",
        tuple(parts),
    )


def _edge(inputs: CostInputs) -> list[tuple[str, float]]:
    """ALB and WAF in front of a container service (nothing for a worker)."""
    if not inputs.load_balancer:
        return []
    new_connections_per_second = inputs.requests_per_month / SECONDS_PER_MONTH
    lcus = new_connections_per_second / ALB_NEW_CONNECTIONS_PER_LCU
    parts = [
        ("ALB", price("alb.hour") * HOURS_PER_MONTH),
        ("ALB LCUs", lcus * price("alb.lcu_hour") * HOURS_PER_MONTH),
    ]
    if inputs.waf:
        waf = (
            price("waf.web_acl")
            + WAF_RULES * price("waf.rule")
            + inputs.requests_per_month / 1e6 * price("waf.requests")
        )
        parts.append(("WAF", waf))
    return parts


def _front(inputs: CostInputs) -> str:
    if not inputs.load_balancer:
        return ", no load balancer"
    return " + ALB + WAF" if inputs.waf else " + ALB"


def _fargate_size(memory_mb: int) -> tuple[float, float]:
    """The smallest Fargate size that fits ``memory_mb`` (at least 1 GB)."""
    memory_gb = max(1, math.ceil(memory_mb / 1024))
    for vcpu, max_gb in _FARGATE_SIZES:
        if memory_gb <= max_gb:
            return vcpu, memory_gb
    return _FARGATE_SIZES[-1][0], memory_gb


_MODELS: Final = (_lambda, _ec2_single, _ec2_asg, _fargate)
_MODELS_BY_ID: Final = dict(
    zip(("lambda", "ec2-single", "ec2-asg", "fargate"), _MODELS, strict=True)
)


def _assumptions(inputs: CostInputs) -> dict[str, Any]:
    return {
        "region": REGION,
        "prices_as_of": PRICES_AS_OF,
        "hours_per_month": HOURS_PER_MONTH,
        "requests_per_month": inputs.requests_per_month,
        "avg_duration_ms": inputs.avg_duration_ms,
        "memory_mb": inputs.memory_mb,
        "architecture": inputs.architecture,
        "api_gateway": inputs.api_gateway,
        "free_tier": inputs.free_tier,
        "provisioned_concurrency": inputs.provisioned_concurrency,
        "instance_type": inputs.instance_type,
        "load_balancer": inputs.load_balancer,
        "asg_instances": ASG_INSTANCES,
        "waf": inputs.load_balancer and inputs.waf,
        "waf_rules": WAF_RULES if inputs.load_balancer and inputs.waf else 0,
        "notes": [
            "On-demand prices; no Savings Plans, reserved or spot capacity.",
            "Lambda bills every request for its average duration and memory.",
            "Provisioned concurrency is assumed to serve up to its full capacity.",
            "API Gateway and WAF request prices are first-tier prices at every volume.",
            "ALB LCUs assume one new connection per request (no keep-alive).",
            "The Lambda free tier is off unless asked for: it is shared by the whole account.",
            "Not included anywhere: data transfer, CloudWatch logs and metrics, KMS keys "
            "($1 per key-month), EBS volumes of the instances, NAT gateways, ECR storage.",
        ],
    }
