"""What each compute option costs per month: a pure model with its prices in one table.

Every price is a row of :data:`PRICE_TABLE` (instance types: of
:data:`~infra_scaffold.capacity.CATALOGUE`) with its unit and source; every
assumption the model makes is listed in :attr:`CostReport.assumptions`. The
container options cost what the capacity plan says they need for the
planned peak, so their cost grows with the work. The options are:

- ``lambda``: requests + GB-seconds (+ API Gateway, + provisioned concurrency);
- ``ec2-single``: one bare instance, the article's comparison (not highly
  available; unavailable once one instance cannot hold the peak);
- ``ec2-asg``: the topology the container project (``compute=container``)
  generates: the Auto Scaling group's planned instances (at least two) with
  their EBS root volumes (when ``root_volume_gb`` is given), plus an ALB with a
  WAF web ACL for services;
- ``fargate``: the topology the ECS on Fargate project (``compute=fargate``)
  generates: the planned tasks (at least two, arm64) with the same ALB and WAF.

An option that cannot serve the workload (Lambda or Fargate for a GPU, one
bare instance past its capacity, Lambda or Fargate ruled out by a hard limit)
is marked unavailable with the reason: it never wins and has no break-even.

This module reads :mod:`infra_scaffold.capacity` and nothing else of the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from infra_scaffold.capacity import (
    CATALOGUE,
    HOURS_PER_MONTH,
    PEAK_TO_AVERAGE,
    SECONDS_PER_MONTH,
    Demand,
    Fleet,
    NoFit,
    fact,
    fargate_fleet,
    fargate_task,
    instance_fleet,
    instance_type,
)
from infra_scaffold.capacity import misfit as capacity_misfit

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
    "instance_types",
    "misfit",
    "monthly_at",
    "plan_units",
    "price",
    "price_option",
]

Architecture = Literal["arm64", "x86_64"]
ApiGateway = Literal["http", "rest", "websocket", "none"]
TrafficPattern = Literal["steady", "spiky"]
ARCHITECTURES: Final = ("arm64", "x86_64")
API_GATEWAYS: Final = ("http", "rest", "websocket", "none")

PRICES_AS_OF: Final = "2026-11-01"
REGION: Final = "us-east-1"
#: Instances the generated Auto Scaling group keeps running at least.
ASG_INSTANCES: Final = int(fact("capacity.ha_minimum"))
#: Rules in the generated WAF web ACL: rate limit, KnownBadInputs, AnonymousIpList.
WAF_RULES: Final = 3
#: New connections per second one ALB LCU covers.
ALB_NEW_CONNECTIONS_PER_LCU: Final = 25
#: API Gateway WebSocket messages billed per request: the one received and one reply.
WEBSOCKET_MESSAGES_PER_REQUEST: Final = 2
#: Connection minutes billed per request: a client sends about one message a minute.
WEBSOCKET_CONNECTION_MINUTES_PER_REQUEST: Final = 1
#: Break-even search range (requests per month).
BREAK_EVEN_CEILING: Final = 10**12

_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_ELB = "https://aws.amazon.com/elasticloadbalancing/pricing/"
_WAF = "https://aws.amazon.com/waf/pricing/"
_EBS = "https://aws.amazon.com/ebs/pricing/"


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
    Price("apigw.websocket.messages", 1.00, "1M messages (first 1B; 32 KB each)", _APIGW),
    Price("apigw.websocket.connection_minutes", 0.25, "1M connection minutes", _APIGW),
    Price("fargate.vcpu.x86_64", 0.04048, "vCPU-hour", _FARGATE),
    Price("fargate.vcpu.arm64", 0.03238, "vCPU-hour", _FARGATE),
    Price("fargate.gb.x86_64", 0.004445, "GB-hour", _FARGATE),
    Price("fargate.gb.arm64", 0.00356, "GB-hour", _FARGATE),
    Price("alb.hour", 0.0225, "ALB-hour", _ELB),
    Price("alb.lcu_hour", 0.008, "LCU-hour", _ELB),
    Price("waf.web_acl", 5.00, "web ACL-month", _WAF),
    Price("waf.rule", 1.00, "rule-month", _WAF),
    Price("waf.requests", 0.60, "1M requests", _WAF),
    Price("ebs.gp3", 0.08, "GB-month", _EBS),
    *(Price(f"ec2.{row.name}", row.usd_per_hour, "instance-hour", _EC2) for row in CATALOGUE),
)

_PRICES: Final[Mapping[str, float]] = {row.key: row.usd for row in PRICE_TABLE}


def price(key: str) -> float:
    """The price of ``key`` in :data:`PRICE_TABLE`."""
    return _PRICES[key]


def instance_types() -> tuple[str, ...]:
    """The EC2 instance types the model can price, cheapest first."""
    return tuple(row.name for row in CATALOGUE)


@dataclass(frozen=True, slots=True)
class CostInputs:
    """The workload and options a monthly estimate is made for."""

    requests_per_month: float
    """Requests (or events, or jobs) per month."""
    avg_duration_ms: int
    """Average run time of one request, in milliseconds."""
    memory_mb: int
    """Memory one request needs (a Lambda function's memory), in MB."""
    architecture: Architecture = "arm64"
    """Lambda and Fargate CPU architecture."""
    api_gateway: ApiGateway = "http"
    """API Gateway in front of Lambda: HTTP, REST or WebSocket API, or none (event sources)."""
    free_tier: bool = False
    """Subtract Lambda's always-free tier (it is shared by the whole account)."""
    provisioned_concurrency: int = 0
    """Lambda execution environments kept warm around the clock."""
    instance_type: str | None = None
    """EC2 instance type of the container options; None: the cheapest fleet that fits."""
    load_balancer: bool = True
    """Services sit behind an ALB; queue workers have none (and are sized as workers)."""
    waf: bool = True
    """A WAF web ACL guards the ALB (the generated project has one)."""
    root_volume_gb: float = 0.0
    """GB of gp3 root volume per instance of the Auto Scaling group (0: not priced;
    the decision passes the generated project's: 30 GB, 150 GB on GPU types, plus
    the scratch space). Fargate's price includes 20 GB of task storage."""
    traffic_pattern: TrafficPattern = "steady"
    """Steady or spiky: sets the assumed peak-to-average ratio."""
    peak_to_average: float = 0.0
    """Peak over average request rate; 0: the traffic pattern's."""
    vcpus_per_request: float = 0.0
    """vCPUs one request keeps busy; 0: its Lambda-equivalent share of ``memory_mb``."""
    gpu: bool = False
    """The workload needs a GPU (Lambda and Fargate have none)."""
    lambda_unavailable: str | None = None
    """A hard limit that rules Lambda out (from the decision): Lambda is unavailable."""
    fargate_unavailable: str | None = None
    """A hard limit that rules Fargate out (from the decision): Fargate is unavailable."""
    fargate_task: tuple[int, int] | None = None
    """Fargate task size (CPU units, MiB); None: the cheapest fleet that fits."""
    offered_instance_types: tuple[str, ...] = ()
    """The instance types the planned one is chosen from (empty: the whole catalogue)."""

    def __post_init__(self) -> None:
        for name in (
            "requests_per_month",
            "provisioned_concurrency",
            "vcpus_per_request",
            "root_volume_gb",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("avg_duration_ms", "memory_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}")
        if self.api_gateway not in API_GATEWAYS:
            raise ValueError(f"api_gateway must be one of {', '.join(API_GATEWAYS)}")
        if self.traffic_pattern not in PEAK_TO_AVERAGE:
            raise ValueError(f"traffic_pattern must be one of {', '.join(PEAK_TO_AVERAGE)}")
        if self.peak_to_average and self.peak_to_average < 1:
            raise ValueError("peak_to_average must be 0 (the pattern's) or at least 1")
        if self.instance_type is not None and f"ec2.{self.instance_type}" not in _PRICES:
            raise ValueError(f"instance_type must be one of {', '.join(instance_types())}")

    def at(self, requests_per_month: float) -> CostInputs:
        """The same inputs at another request volume."""
        return replace(self, requests_per_month=requests_per_month)

    @property
    def demand(self) -> Demand:
        """The load the container options are sized for."""
        return Demand.from_answers(
            requests_per_month=self.requests_per_month,
            avg_duration_ms=self.avg_duration_ms,
            memory_mb=self.memory_mb,
            traffic_pattern=self.traffic_pattern,
            peak_to_average=self.peak_to_average,
            vcpus_per_request=self.vcpus_per_request,
            worker=not self.load_balancer,
            gpu=self.gpu,
        )


@dataclass(frozen=True, slots=True)
class OptionCost:
    """The monthly cost of one option, with its parts and the capacity it buys."""

    id: str
    """``lambda``, ``ec2-single``, ``ec2-asg`` or ``fargate``."""
    label: str
    """What the option is, in a few words (the plan included)."""
    breakdown: tuple[tuple[str, float], ...]
    """``(item, USD per month)`` pairs that add up to :attr:`monthly_usd`."""
    unavailable_reason: str | None = None
    """Why the option cannot serve the workload (None: it can)."""
    capacity: Mapping[str, Any] | None = None
    """Containers: ``{size, count, vcpus_each, memory_mb_each, concurrency_each}``;
    Lambda: ``{peak_concurrency, peak_requests_per_second}``; None when it cannot
    be sized."""
    fleet: Fleet | None = field(default=None, compare=False, repr=False)
    """The sized units (containers)."""

    @property
    def available(self) -> bool:
        """Whether the option can serve the workload."""
        return self.unavailable_reason is None

    @property
    def monthly_usd(self) -> float:
        """Total USD per month (what it would cost, even when unavailable)."""
        return sum(usd for _, usd in self.breakdown)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``scaffold cost --json``."""
        return {
            "id": self.id,
            "label": self.label,
            "monthly_usd": round(self.monthly_usd, 4),
            "breakdown": {item: round(usd, 4) for item, usd in self.breakdown},
            "available": self.available,
            "unavailable_reason": self.unavailable_reason,
            "capacity": None if self.capacity is None else dict(self.capacity),
        }


@dataclass(frozen=True, slots=True)
class CostReport:
    """Every option's monthly cost for one set of inputs, and the break-even points."""

    inputs: CostInputs
    """What was estimated, with the planned instance type and task size filled in."""
    options: tuple[OptionCost, ...]
    """One entry per option, Lambda first."""
    break_even_requests_per_month: Mapping[str, int | None] = field(default_factory=dict)
    """Per container option: the lowest volume at which it costs less than Lambda
    (0: at any volume; None: never up to 10^12 requests per month, or it or
    Lambda cannot serve the workload)."""

    def option(self, option_id: str) -> OptionCost:
        """The option called ``option_id``."""
        return next(o for o in self.options if o.id == option_id)

    @property
    def assumptions(self) -> dict[str, Any]:
        """Every input and assumption behind the figures."""
        return _assumptions(self.inputs, self.option("ec2-asg"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``scaffold cost --json`` prints."""
        return {
            "assumptions": self.assumptions,
            "options": [option.to_dict() for option in self.options],
            "break_even_requests_per_month": dict(self.break_even_requests_per_month),
        }


def estimate(inputs: CostInputs) -> CostReport:
    """Plan the units for ``inputs``, price every option, find each break-even."""
    planned = plan_units(inputs)
    options = tuple(model(planned) for model in _MODELS)
    return CostReport(
        inputs=planned,
        options=options,
        break_even_requests_per_month={
            option.id: break_even(planned, option.id) for option in options[1:]
        },
    )


def plan_units(inputs: CostInputs) -> CostInputs:
    """``inputs`` with the instance type and Fargate task size the plan chooses.

    Pinning them keeps the unit while the volume varies (the break-even and
    the chart): only the number of units grows with the work.
    """
    demand = inputs.demand
    changes: dict[str, Any] = {}
    if inputs.instance_type is None:
        with suppress(NoFit):  # if none fits, the EC2 options say why they are unavailable
            offered = inputs.offered_instance_types
            changes["instance_type"] = instance_fleet(demand, offered=offered).size
    if inputs.fargate_task is None:
        try:
            task = fargate_fleet(_cpu_demand(demand), _fargate_hourly(inputs.architecture))
        except NoFit:
            pass
        else:
            changes["fargate_task"] = (round(task.vcpus_each * 1024), task.memory_mb_each)
    return replace(inputs, **changes) if changes else inputs


def monthly_at(inputs: CostInputs, option: OptionCost, requests: float) -> float | None:
    """What ``option`` (priced for ``inputs``) costs at another volume, with the same units.

    None where it cannot serve the load. The curves of the chart and the
    break-even: the same sums as the option models, without building reports.
    """
    if not option.available:
        return None
    if option.id == "lambda":
        return sum(usd for _, usd in _lambda_parts(inputs, requests))
    fleet = option.fleet
    if fleet is None:
        return None
    count = fleet.count_at(requests)
    units = count * fleet.usd_per_hour_each * HOURS_PER_MONTH
    if option.id == "ec2-single":  # one bare instance: no load balancer, no second one
        return None if count > 1 else units
    if option.id == "ec2-asg":
        units += _root_volumes(inputs, count)
    return units + sum(usd for _, usd in _edge(inputs, requests))


def misfit(inputs: CostInputs) -> str | None:
    """Why the given ``instance_type`` cannot hold one request (None: it can, or none given)."""
    if inputs.instance_type is None:
        return None
    return capacity_misfit(instance_type(inputs.instance_type), inputs.demand)


def price_option(inputs: CostInputs, option_id: str) -> OptionCost:
    """The monthly cost of one option (without break-even points)."""
    return _MODELS_BY_ID[option_id](inputs)


def break_even(inputs: CostInputs, option_id: str) -> int | None:
    """The lowest requests per month at which ``option_id`` costs less than Lambda.

    Lambda's cost is convex in the volume (free tier, provisioned capacity,
    then linear). A container option costs a fixed part, a part linear in the
    volume (ALB capacity units, WAF requests) and one unit price per unit,
    whose number steps up by one every ``requests_per_unit`` requests. So the
    gap is convex within each step and, taken at the end of each step, convex
    across steps: a bisection over steps, then within the step, finds the
    first volume where the option is cheaper. Just past it, where one more
    unit is added, the two may trade places again by up to one unit's price.
    None when the option or Lambda cannot serve the workload, or when the
    option stays dearer up to 10^12 requests (or, for one bare instance, up to
    what it can hold).
    """
    lam, here = _lambda(inputs), _MODELS_BY_ID[option_id](inputs)
    if not (lam.available and here.available) or here.fleet is None:
        return None

    def gap(requests: float) -> float:
        option = monthly_at(inputs, here, requests)
        if option is None:
            return -math.inf
        lambda_usd = monthly_at(inputs, lam, requests)
        return (lambda_usd or 0.0) - option

    if gap(0) >= 0:
        return 0
    fleet, top = here.fleet, float(BREAK_EVEN_CEILING)
    first_end = min(top, fleet.minimum * fleet.requests_per_unit * _INSIDE)
    if gap(first_end) >= 0:
        return _first_whole_volume(gap, 0, first_end)
    if option_id == "ec2-single" or first_end >= top:
        return None
    return _break_even_past_the_minimum(gap, fleet)


#: Just below the end of a step, where one more unit is added.
_INSIDE: Final = 1 - 1e-12


def _break_even_past_the_minimum(gap: Callable[[float], float], fleet: Fleet) -> int | None:
    """The crossing once the fleet has grown past its minimum (see :func:`break_even`)."""
    top, step = float(BREAK_EVEN_CEILING), fleet.requests_per_unit

    def at_step_end(units: int) -> float:
        return gap(min(top, units * step * _INSIDE))

    last = math.ceil(top / step)
    if at_step_end(last) < 0:
        return None
    units = _first_not_below(fleet.minimum, last, lambda n: at_step_end(n) < 0)
    return _first_whole_volume(gap, (units - 1) * step / _INSIDE, min(top, units * step * _INSIDE))


def _first_whole_volume(gap: Callable[[float], float], low: float, high: float) -> int:
    """The smallest whole volume in (low, high] where ``gap`` is at least 0.

    ``gap(low) < 0 <= gap(high)`` and ``gap`` crosses zero once in between.
    """
    low_n, high_n = math.floor(low), math.floor(high)
    if high_n <= low_n or gap(high_n) < 0:  # the crossing lies in the last fraction
        return math.ceil(high)
    return _first_not_below(low_n, high_n, lambda n: gap(n) < 0)


def _first_not_below(low: int, high: int, below: Callable[[int], bool]) -> int:
    """The smallest whole number in (low, high] that is not ``below``.

    ``below(low)`` holds, ``below(high)`` does not, and ``below`` holds up to
    some point and not after it (a bisection).
    """
    while high - low > 1:
        middle = (low + high) // 2
        if below(middle):
            low = middle
        else:
            high = middle
    return high


# --- The options ------------------------------------------------------------------


def _lambda(inputs: CostInputs) -> OptionCost:
    gateway = "" if inputs.api_gateway == "none" else f" + {_gateway_name(inputs.api_gateway)}"
    count = inputs.provisioned_concurrency
    warm = f" + {count} provisioned" if count else ""
    demand = inputs.demand
    reason = inputs.lambda_unavailable or ("standard Lambda has no GPU" if inputs.gpu else None)
    return OptionCost(
        "lambda",
        f"Lambda {inputs.architecture}{gateway}{warm}; peak {_amount(demand.peak_rps)} "
        f"requests/s, {_amount(demand.peak_concurrency)} at once",
        tuple(_lambda_parts(inputs, inputs.requests_per_month)),
        unavailable_reason=reason,
        capacity={
            "peak_concurrency": round(demand.peak_concurrency, 4),
            "peak_requests_per_second": round(demand.peak_rps, 4),
        },
    )


def _lambda_parts(inputs: CostInputs, requests: float) -> list[tuple[str, float]]:
    arch = inputs.architecture
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
    parts.extend(_api_gateway(inputs, requests))
    return parts


def _api_gateway(inputs: CostInputs, requests: float) -> list[tuple[str, float]]:
    if inputs.api_gateway == "none":
        return []
    if inputs.api_gateway == "websocket":
        messages = requests * WEBSOCKET_MESSAGES_PER_REQUEST
        minutes = requests * WEBSOCKET_CONNECTION_MINUTES_PER_REQUEST
        return [
            ("WebSocket messages", messages / 1e6 * price("apigw.websocket.messages")),
            (
                "WebSocket connection minutes",
                minutes / 1e6 * price("apigw.websocket.connection_minutes"),
            ),
        ]
    name = _gateway_name(inputs.api_gateway)
    return [(f"API Gateway {name}", requests / 1e6 * price(f"apigw.{inputs.api_gateway}"))]


def _gateway_name(api_gateway: str) -> str:
    return "WebSocket API" if api_gateway == "websocket" else f"{api_gateway.upper()} API"


def _ec2_single(inputs: CostInputs) -> OptionCost:
    fleet, reason = _instances(inputs, minimum=1)
    if fleet is None:
        return OptionCost("ec2-single", "1 bare instance", (), unavailable_reason=reason)
    if fleet.count > 1:
        reason = (
            f"one {fleet.size} holds {_holds(fleet, inputs)}; the planned peak needs "
            f"{fleet.count} of them"
        )
        fleet = replace(fleet, count=1)
    return OptionCost(
        "ec2-single",
        f"one bare {fleet.size}{_each(fleet, inputs, 'holds')}, not highly available",
        (("instance", fleet.usd_per_month),),
        unavailable_reason=reason,
        capacity=fleet.to_dict(),
        fleet=fleet,
    )


def _ec2_asg(inputs: CostInputs) -> OptionCost:
    fleet, reason = _instances(inputs, minimum=ASG_INSTANCES)
    if fleet is None:
        return OptionCost("ec2-asg", "Auto Scaling group", (), unavailable_reason=reason)
    parts = [(f"{fleet.count} instances", fleet.usd_per_month)]
    if inputs.root_volume_gb:
        parts.append(("EBS root volumes", _root_volumes(inputs, fleet.count)))
    parts.extend(_edge(inputs, inputs.requests_per_month))
    return OptionCost(
        "ec2-asg",
        f"{fleet.count}x {fleet.size}{_each(fleet, inputs)}{_front(inputs)}: "
        "the project we generate",
        tuple(parts),
        capacity=fleet.to_dict(),
        fleet=fleet,
    )


def _fargate(inputs: CostInputs) -> OptionCost:
    arch = inputs.architecture
    demand = _cpu_demand(inputs.demand)
    reason = inputs.fargate_unavailable or ("Fargate has no GPUs" if inputs.gpu else None)
    fleet = None
    if inputs.fargate_task is not None:
        cpu_units, memory = inputs.fargate_task
        fleet = fargate_task(demand, cpu_units, memory, _fargate_hourly(arch))
    if fleet is None:
        try:
            fleet = fargate_fleet(demand, _fargate_hourly(arch))
        except NoFit as error:
            return OptionCost("fargate", "Fargate tasks", (), unavailable_reason=str(error))
    parts = [
        (f"{fleet.count} tasks", fleet.usd_per_month),
        *_edge(inputs, inputs.requests_per_month),
    ]
    return OptionCost(
        "fargate",
        f"{fleet.count}x Fargate {fleet.size} {arch}{_each(fleet, inputs)}{_front(inputs)}: "
        "the Fargate project we generate",
        tuple(parts),
        unavailable_reason=reason,
        capacity=fleet.to_dict(),
        fleet=fleet,
    )


def _instances(inputs: CostInputs, minimum: int) -> tuple[Fleet | None, str | None]:
    try:
        fleet = instance_fleet(
            inputs.demand,
            inputs.instance_type,
            minimum=minimum,
            offered=inputs.offered_instance_types,
        )
        return fleet, None
    except NoFit as error:
        return None, str(error)


def _root_volumes(inputs: CostInputs, count: int) -> float:
    """The gp3 root volumes of ``count`` instances, per month."""
    return count * inputs.root_volume_gb * price("ebs.gp3")


def _cpu_demand(demand: Demand) -> Demand:
    """The demand without its GPU: what Fargate would need (it has none to offer)."""
    return replace(demand, gpu=False) if demand.gpu else demand


def _fargate_hourly(architecture: str) -> Callable[[float, float], float]:
    vcpu, gb = price(f"fargate.vcpu.{architecture}"), price(f"fargate.gb.{architecture}")
    return lambda vcpus, memory_gb: vcpus * vcpu + memory_gb * gb


def _holds(fleet: Fleet, inputs: CostInputs) -> str:
    """What one unit holds: requests at once, or a worker's jobs at a time."""
    count = fleet.concurrency_each
    if inputs.load_balancer:
        return f"{count} at once"
    return f"{count} job{'' if count == 1 else 's'} at a time"


def _each(fleet: Fleet, inputs: CostInputs, verb: str = "") -> str:
    return f" ({verb} {_holds(fleet, inputs)})" if verb else f" ({_holds(fleet, inputs)} each)"


def _edge(inputs: CostInputs, requests: float) -> list[tuple[str, float]]:
    """ALB and WAF in front of a container service (nothing for a worker)."""
    if not inputs.load_balancer:
        return []
    new_connections_per_second = requests / SECONDS_PER_MONTH
    lcus = new_connections_per_second / ALB_NEW_CONNECTIONS_PER_LCU
    parts = [
        ("ALB", price("alb.hour") * HOURS_PER_MONTH),
        ("ALB LCUs", lcus * price("alb.lcu_hour") * HOURS_PER_MONTH),
    ]
    if inputs.waf:
        waf = (
            price("waf.web_acl")
            + WAF_RULES * price("waf.rule")
            + requests / 1e6 * price("waf.requests")
        )
        parts.append(("WAF", waf))
    return parts


def _front(inputs: CostInputs) -> str:
    if not inputs.load_balancer:
        return ", no load balancer"
    return " + ALB + WAF" if inputs.waf else " + ALB"


def _amount(value: float) -> str:
    if 0 < value < 0.01:
        return "<0.01"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


_MODELS: Final = (_lambda, _ec2_single, _ec2_asg, _fargate)
_MODELS_BY_ID: Final = dict(
    zip(("lambda", "ec2-single", "ec2-asg", "fargate"), _MODELS, strict=True)
)


def _assumptions(inputs: CostInputs, asg: OptionCost) -> dict[str, Any]:
    demand = inputs.demand
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
        "asg_instances": asg.fleet.count if asg.fleet else 0,
        "root_volume_gb": inputs.root_volume_gb,
        "waf": inputs.load_balancer and inputs.waf,
        "waf_rules": WAF_RULES if inputs.load_balancer and inputs.waf else 0,
        "traffic_pattern": inputs.traffic_pattern,
        "peak_to_average": demand.peak_to_average,
        "vcpus_per_request": round(demand.cpu_share, 4),
        "target_cpu_utilization": demand.utilization,
        "gpu": inputs.gpu,
        "notes": [
            "On-demand prices; no Savings Plans, reserved or spot capacity.",
            "Lambda bills every request for its average duration and memory.",
            "Containers are sized for the planned peak (peak_to_average times the average "
            "rate; Little's law gives the requests in flight) and paid for around the clock: "
            "scaling in between peaks would lower that.",
            "One request keeps vcpus_per_request busy (by default its Lambda-equivalent "
            "share: 1,769 MB = 1 vCPU, at most 1) and needs its memory_mb; services run their "
            "instances at target_cpu_utilization, burstable types at most at their baseline, "
            "and an instance keeps 512 MB (at least 10%) for the OS, Docker and agents.",
            "Provisioned concurrency is assumed to serve up to its full capacity.",
            "API Gateway and WAF request prices are first-tier prices at every volume.",
            "WebSocket API: each request is one message received and one sent, and a "
            "connection carries about one message a minute.",
            "ALB LCUs assume one new connection per request (no keep-alive).",
            "The Lambda free tier is off unless asked for: it is shared by the whole account.",
            "Fargate tasks run on arm64 (Graviton), like the Fargate project; their first 20 "
            "GB of ephemeral storage is included in the task price.",
            "The Auto Scaling group's instances each have a gp3 root volume of root_volume_gb "
            "(0: not counted; the generated project's: 30 GB, 150 GB on GPU types, plus the "
            "scratch space); one bare instance is priced without one, as the article does.",
            "Not included anywhere: data transfer, CloudWatch logs and metrics, KMS keys "
            "($1 per key-month), Fargate ephemeral storage beyond 20 GB, NAT gateways, ECR "
            "storage.",
        ],
    }
