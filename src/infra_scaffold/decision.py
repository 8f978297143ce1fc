"""Lambda or not, and which containers: a pure decision over a workload profile.

:func:`recommend` takes a frozen :class:`WorkloadProfile` and returns a frozen
:class:`Recommendation` for one of three computes: ``lambda`` (the AWS SAM
project), ``container`` (containers on an EC2 Auto Scaling group) or
``fargate`` (containers on ECS Fargate). It carries its *blockers* (limits
standard Lambda cannot meet, each citing the limit), the *Fargate blockers*
(limits a Fargate task cannot meet: GPUs, task size, ephemeral storage), its
*reasons* (including the cost comparison and, for containers, why EC2 or
Fargate) and, when Lambda is chosen, the *cold-start mitigations* that apply.
Every side is sized for the peak the traffic pattern implies (the capacity
plan), and the cheapest one that meets its blockers wins. It prints nothing
and reads only :mod:`infra_scaffold.capacity` and :mod:`infra_scaffold.cost`.

The facts and their sources are listed in ``docs/decision.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from infra_scaffold.capacity import (
    HOURS_PER_MONTH,
    CapacityPlan,
    Demand,
    Fleet,
    Shape,
    fact,
    plan_project,
)
from infra_scaffold.cost import ApiGateway, CostInputs, CostReport, OptionCost, estimate, price
from infra_scaffold.errors import ComputeForbiddenError

__all__ = [
    "COMPUTES",
    "CONTAINER_SHAPES",
    "HTTP_API_TIMEOUT_SECONDS",
    "LAMBDA_MAX_EPHEMERAL_MB",
    "LAMBDA_MAX_MEMORY_MB",
    "LAMBDA_MAX_TIMEOUT_SECONDS",
    "LAMBDA_WORKLOADS",
    "OPTION_OF_COMPUTE",
    "PROFILE_KEYS",
    "SERVICE_WORKLOADS",
    "SYNCHRONOUS_WORKLOADS",
    "WORKLOADS",
    "Blocker",
    "Recommendation",
    "WorkloadProfile",
    "check_compute",
    "find_fargate_blockers",
    "recommend",
]

Compute = Literal["lambda", "container", "fargate"]
#: The computes a project may record: the SAM project, containers on EC2, on Fargate.
COMPUTES: Final = ("lambda", "container", "fargate")
#: The cost option that prices each compute's generated project.
OPTION_OF_COMPUTE: Final[Mapping[str, str]] = {
    "lambda": "lambda", "container": "ec2-asg", "fargate": "fargate",
}  # fmt: skip
#: What each container compute's project is called in reasons.
_PROJECT: Final[Mapping[str, str]] = {
    "container": "the EC2 Auto Scaling project",
    "fargate": "the Fargate project",
}

WORKLOADS: Final = (
    "http_api", "webhook", "s3_events", "sqs_consumer", "dynamodb_stream",
    "scheduled_job", "websocket", "worker", "ml_inference",
)  # fmt: skip
#: Workloads the Lambda project has a shape for.
LAMBDA_WORKLOADS: Final = WORKLOADS[:6]
#: Workloads whose caller waits for the answer (behind API Gateway on Lambda).
SYNCHRONOUS_WORKLOADS: Final = ("http_api", "webhook")
#: Workloads the container project serves behind a load balancer.
SERVICE_WORKLOADS: Final = ("http_api", "webhook", "websocket", "ml_inference")
#: The app each workload's container project runs (``container_shape`` in copier.yml).
CONTAINER_SHAPES: Final[Mapping[str, Shape]] = {
    "http_api": "service", "webhook": "service", "s3_events": "worker",
    "sqs_consumer": "worker", "dynamodb_stream": "worker", "scheduled_job": "worker",
    "websocket": "websocket", "worker": "worker", "ml_inference": "inference",
}  # fmt: skip

LAMBDA_MAX_TIMEOUT_SECONDS: Final = 900
HTTP_API_TIMEOUT_SECONDS: Final = 30
LAMBDA_MIN_MEMORY_MB: Final = 128
LAMBDA_MAX_MEMORY_MB: Final = 10_240
LAMBDA_MAX_SYNC_PAYLOAD_KB: Final = 6 * 1024
LAMBDA_MAX_ASYNC_PAYLOAD_KB: Final = 1024
LAMBDA_MAX_EPHEMERAL_MB: Final = 10_240
#: Lambda architecture and API Gateway the generated project uses.
LAMBDA_ARCHITECTURE: Final = "arm64"

#: The answers a profile is made of (all of them ``copier.yml`` questions).
PROFILE_KEYS: Final = (
    "workload", "max_duration_seconds", "needs_websockets", "needs_gpu",
    "traffic_pattern", "requests_per_month", "avg_duration_ms", "memory_mb",
    "max_payload_kb", "ephemeral_storage_mb", "latency_sensitive", "peak_to_average",
    "vcpus_per_request", "provisioned_concurrency", "instance_type",
)  # fmt: skip

_NO_LAMBDA_SHAPE: Final[Mapping[str, str]] = {
    "websocket": (
        "A WebSocket service keeps connections open; this template generates it on "
        "containers (API Gateway WebSocket APIs can drive Lambda only when all state "
        "lives outside the function)."
    ),
    "worker": (
        "The worker workload is a long-running process that polls its queue; a short "
        "queue job on Lambda is the sqs_consumer workload."
    ),
    "ml_inference": (
        "The ml_inference workload loads a model once and serves it from memory on "
        "instances; a small CPU model can be served by Lambda as an http_api workload."
    ),
}


@dataclass(frozen=True, slots=True)
class WorkloadProfile:
    """The checklist answers the decision is made from."""

    workload: str
    """One of :data:`WORKLOADS`."""
    max_duration_seconds: int
    """Longest run of one request, event or job."""
    needs_websockets: bool
    """Clients hold WebSocket connections with in-process state."""
    needs_gpu: bool
    """The workload needs a GPU."""
    traffic_pattern: Literal["spiky", "steady"]
    """Spiky/unpredictable, or steady around the clock."""
    requests_per_month: int
    """Requests, events or jobs per month."""
    avg_duration_ms: int
    """Average run time of one request, event or job."""
    memory_mb: int
    """Memory one request, event or job needs."""
    max_payload_kb: int = 256
    """Largest request or event payload."""
    ephemeral_storage_mb: int = 512
    """Scratch disk one request, event or job needs."""
    latency_sensitive: bool = False
    """A 200 ms-2 s cold start on some requests would hurt."""
    peak_to_average: float = 0.0
    """Peak over average request rate; 0: the traffic pattern's (see capacity)."""
    vcpus_per_request: float = 0.0
    """vCPUs one request keeps busy; 0: its Lambda-equivalent share of memory_mb."""
    provisioned_concurrency: int = 1
    """Warm environments to keep when provisioned concurrency applies."""
    instance_type: str | None = None
    """Instance type of the container options; None: the cheapest fleet that fits."""
    offered_instance_types: tuple[str, ...] = ()
    """The template's instance types to plan from (not an answer; empty: the catalogue)."""

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> WorkloadProfile:
        """Build a profile from resolved answers (extra keys are ignored)."""
        return cls(**{key: answers[key] for key in PROFILE_KEYS if key in answers})

    @property
    def synchronous(self) -> bool:
        """A caller waits for each response."""
        return self.workload in SYNCHRONOUS_WORKLOADS

    @property
    def wants_provisioned_concurrency(self) -> bool:
        """Cold starts would reach a waiting caller who minds them."""
        return self.latency_sensitive and self.synchronous

    @property
    def shape(self) -> Shape:
        """The app its container project runs."""
        return CONTAINER_SHAPES[self.workload]

    def cost_inputs(
        self, lambda_unavailable: str | None = None, fargate_unavailable: str | None = None
    ) -> CostInputs:
        """The cost model's inputs for this profile, as the projects are generated.

        ``lambda_unavailable`` and ``fargate_unavailable`` are the hard limits that
        rule Lambda or Fargate out, if any.
        """
        gateway: ApiGateway = "http" if self.synchronous else "none"
        return CostInputs(
            requests_per_month=self.requests_per_month,
            avg_duration_ms=self.avg_duration_ms,
            memory_mb=self.memory_mb,
            architecture=LAMBDA_ARCHITECTURE,
            api_gateway="websocket" if self.workload == "websocket" else gateway,
            free_tier=False,
            provisioned_concurrency=self.warm_environments,
            root_volume_gb=self.root_volume_gb,
            instance_type=self.instance_type,
            load_balancer=self.workload in SERVICE_WORKLOADS,
            traffic_pattern=self.traffic_pattern,
            peak_to_average=self.peak_to_average,
            vcpus_per_request=self.vcpus_per_request,
            gpu=self.needs_gpu,
            lambda_unavailable=lambda_unavailable,
            fargate_unavailable=fargate_unavailable,
            offered_instance_types=self.offered_instance_types,
        )

    @property
    def demand(self) -> Demand:
        """The load, as the capacity plan sees it."""
        return self.cost_inputs().demand

    @property
    def root_volume_gb(self) -> int:
        """GB of the EC2 project's gp3 root volume per instance: its default size (150 GB
        on GPU types, for the CUDA image), plus the scratch space (``variables.tf``)."""
        key = "ec2.gpu_root_volume_gb" if self.needs_gpu else "ec2.root_volume_gb"
        return int(fact(key)) + math.ceil(self.ephemeral_storage_mb / 1024)

    @property
    def warm_environments(self) -> int:
        """Provisioned concurrency the Lambda project keeps (0 when it does not apply)."""
        return self.provisioned_concurrency if self.wants_provisioned_concurrency else 0


@dataclass(frozen=True, slots=True)
class Blocker:
    """A limit standard Lambda (or a Fargate task) cannot meet for this workload."""

    id: str
    """Stable identifier. Lambda: timeout, api_timeout, persistent_connections,
    gpu, memory, payload, storage or workload. Fargate: gpu, workload,
    task_size or storage."""
    message: str
    """One sentence citing the limit."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Which compute fits, and why."""

    compute: Compute
    """``lambda``, ``container`` (EC2) or ``fargate``."""
    blockers: tuple[Blocker, ...]
    """Hard limits that rule Lambda out (empty when Lambda can serve it)."""
    reasons: tuple[str, ...]
    """Why this compute, cost comparison included."""
    mitigations: tuple[str, ...]
    """Cold-start mitigations that apply (Lambda only, where a caller waits:
    ``http_api`` and ``webhook``)."""
    costs: CostReport
    """The monthly cost of every option for this profile, each sized for its peak."""
    capacity: CapacityPlan | None = None
    """The capacity plan and the limits a project follows (None when no
    instance type can hold one request)."""
    fargate_blockers: tuple[Blocker, ...] = ()
    """Hard limits that rule Fargate out (empty when a Fargate task can serve it);
    the cost report's ``fargate`` option is unavailable with the first one."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``scaffold recommend --json`` prints."""
        return {
            "compute": self.compute,
            "blockers": [{"id": b.id, "message": b.message} for b in self.blockers],
            "reasons": list(self.reasons),
            "mitigations": list(self.mitigations),
            "costs": self.costs.to_dict(),
        }

    def record(self) -> dict[str, Any]:
        """The compact record a project keeps in its answers (``decision_record``).

        Mappings are sorted by key, as the answers file stores them, so a
        template iterating over them renders the same before and after a
        round trip through ``.copier-answers.yml``.
        """
        monthly = {o.id: round(o.monthly_usd, 2) for o in self.costs.options}
        unavailable = {o.id: o.unavailable_reason for o in self.costs.options if not o.available}
        return {
            "recommended": self.compute,
            "blockers": [{"id": b.id, "message": b.message} for b in self.blockers],
            "reasons": list(self.reasons),
            "mitigations": list(self.mitigations),
            "monthly_usd": dict(sorted(monthly.items())),
            "break_even_requests_per_month": dict(
                sorted(self.costs.break_even_requests_per_month.items())
            ),
            "prices_as_of": self.costs.assumptions["prices_as_of"],
            "labels": dict(sorted((o.id, o.label) for o in self.costs.options)),
            "unavailable": dict(sorted(unavailable.items())),
            "load": dict(sorted(self.costs.inputs.demand.record().items())),
        }


def recommend(profile: WorkloadProfile) -> Recommendation:
    """Decide between Lambda, containers on EC2 and containers on Fargate for ``profile``.

    Blockers first: a hard limit rules Lambda (or Fargate) out. The options
    left are priced for the peak the traffic pattern implies, and the cheapest
    wins: the cheaper of EC2 and Fargate is the containers' candidate (EC2 on
    a tie), and it beats Lambda when it costs less.
    """
    blockers = find_blockers(profile)
    fargate_blockers = find_fargate_blockers(profile)
    costs = estimate(profile.cost_inputs(_first(blockers), _first(fargate_blockers)))
    lam = costs.option("lambda")
    containers = _cheaper_containers(costs)
    if blockers:
        compute: Compute = containers or "container"
        reasons = [f"Lambda is ruled out by {len(blockers)} hard limit(s), listed above."]
    elif containers and costs.option(OPTION_OF_COMPUTE[containers]).monthly_usd < lam.monthly_usd:
        compute = containers
        reasons = [_container_reason(profile, costs, containers)]
    else:
        compute = "lambda"
        reasons = [_lambda_reason(profile, costs)]
    reasons.extend(_contradictions(profile, costs))
    if compute != "lambda":
        reasons.append(_ec2_or_fargate(costs))
    reasons.extend(_cost_reasons(costs))
    # Cold starts matter where a caller waits for the answer; an event or a
    # scheduled run does not notice 200 ms to 2 s more.
    waits = compute == "lambda" and profile.synchronous
    mitigations = _mitigations(profile, costs) if waits else ()
    return Recommendation(
        compute,
        blockers,
        tuple(reasons),
        tuple(mitigations),
        costs,
        _capacity(profile, costs),
        fargate_blockers,
    )


def _first(blockers: tuple[Blocker, ...]) -> str | None:
    return blockers[0].message if blockers else None


def _cheaper_containers(costs: CostReport) -> Compute | None:
    """The container compute that costs less (EC2 on a tie), of those that can serve it."""
    asg, far = costs.option("ec2-asg"), costs.option("fargate")
    if asg.available and (not far.available or asg.monthly_usd <= far.monthly_usd):
        return "container"
    return "fargate" if far.available else None


def _capacity(profile: WorkloadProfile, costs: CostReport) -> CapacityPlan | None:
    instances = costs.option("ec2-asg").fleet
    if instances is None:
        return None
    fargate = costs.option("fargate")
    return plan_project(
        costs.inputs.demand,
        shape=profile.shape,
        max_duration_seconds=profile.max_duration_seconds,
        instances=instances,
        fargate=fargate.fleet if fargate.available else None,
        provisioned_concurrency=profile.warm_environments,
        api=profile.synchronous,
    )


def check_compute(recommendation: Recommendation, compute: str) -> None:
    """Refuse an explicit ``compute`` that a hard blocker rules out (ComputeForbiddenError)."""
    if compute == "lambda" and recommendation.blockers:
        raise ComputeForbiddenError(compute, recommendation.blockers[0].message)
    if compute == "fargate" and recommendation.fargate_blockers:
        raise ComputeForbiddenError(compute, recommendation.fargate_blockers[0].message)


def find_blockers(profile: WorkloadProfile) -> tuple[Blocker, ...]:
    """Every hard limit of standard Lambda that ``profile`` exceeds."""
    found = [
        _timeout(profile),
        _api_timeout(profile),
        _persistent_connections(profile),
        _gpu(profile),
        _memory(profile),
        _payload(profile),
        _storage(profile),
        _workload(profile),
    ]
    return tuple(blocker for blocker in found if blocker is not None)


def _timeout(p: WorkloadProfile) -> Blocker | None:
    if p.max_duration_seconds <= LAMBDA_MAX_TIMEOUT_SECONDS:
        return None
    return Blocker(
        "timeout",
        f"One run may take {p.max_duration_seconds:,} s, but Lambda stops an invocation "
        f"after {LAMBDA_MAX_TIMEOUT_SECONDS} s (15 minutes). Durable functions can chain "
        "steps of up to 15 minutes into a long workflow, but a single long task needs a "
        "container.",
    )


def _api_timeout(p: WorkloadProfile) -> Blocker | None:
    if not p.synchronous or p.max_duration_seconds <= HTTP_API_TIMEOUT_SECONDS:
        return None
    if p.max_duration_seconds > LAMBDA_MAX_TIMEOUT_SECONDS:
        return None  # the timeout blocker already says more
    return Blocker(
        "api_timeout",
        f"A request may take {p.max_duration_seconds:,} s, but API Gateway HTTP API "
        f"integrations time out after {HTTP_API_TIMEOUT_SECONDS} s.",
    )


def _persistent_connections(p: WorkloadProfile) -> Blocker | None:
    if not p.needs_websockets:
        return None
    return Blocker(
        "persistent_connections",
        "Clients hold WebSocket connections with state in the process. API Gateway "
        "WebSocket APIs idle connections out after 10 minutes, end them after 2 hours, "
        "and keep no state in the function: all of it must live elsewhere.",
    )


def _gpu(p: WorkloadProfile) -> Blocker | None:
    if not p.needs_gpu:
        return None
    return Blocker(
        "gpu",
        "It needs a GPU and standard Lambda has none. (Lambda Managed Instances can "
        "attach GPUs, for container images on x86_64 only: a niche this template does "
        "not generate.)",
    )


def _memory(p: WorkloadProfile) -> Blocker | None:
    if p.memory_mb <= LAMBDA_MAX_MEMORY_MB:
        return None
    return Blocker(
        "memory",
        f"It needs {p.memory_mb:,} MB of memory; a Lambda function gets "
        f"{LAMBDA_MIN_MEMORY_MB} to {LAMBDA_MAX_MEMORY_MB:,} MB.",
    )


def _payload(p: WorkloadProfile) -> Blocker | None:
    limit = LAMBDA_MAX_SYNC_PAYLOAD_KB if p.synchronous else LAMBDA_MAX_ASYNC_PAYLOAD_KB
    if p.max_payload_kb <= limit:
        return None
    kind = "synchronous" if p.synchronous else "asynchronous"
    return Blocker(
        "payload",
        f"Payloads reach {p.max_payload_kb:,} KB; a {kind} Lambda invocation carries at "
        "most 6 MB when called synchronously and 1 MB asynchronously.",
    )


def _storage(p: WorkloadProfile) -> Blocker | None:
    if p.ephemeral_storage_mb <= LAMBDA_MAX_EPHEMERAL_MB:
        return None
    return Blocker(
        "storage",
        f"It needs {p.ephemeral_storage_mb:,} MB of scratch disk; Lambda's /tmp holds at "
        f"most {LAMBDA_MAX_EPHEMERAL_MB:,} MB (10 GB).",
    )


def _workload(p: WorkloadProfile) -> Blocker | None:
    hint = _NO_LAMBDA_SHAPE.get(p.workload)
    return Blocker("workload", hint) if hint else None


# --- Fargate's limits ------------------------------------------------------------------


def find_fargate_blockers(profile: WorkloadProfile) -> tuple[Blocker, ...]:
    """Every limit of an ECS task on Fargate that ``profile`` exceeds.

    Facts (``capacity.FACTS``): Fargate has no GPUs (ECS runs GPU tasks on EC2
    container instances only); its largest task has 16 vCPU and 120 GB; a task
    has at most 200 GiB of ephemeral storage, its image included. The
    ``ml_inference`` project is built for GPU instances, so it has no Fargate
    variant. ``copier.yml``'s ``compute`` validator says the same in Jinja.
    """
    found = [
        _fargate_gpu(profile),
        _fargate_workload(profile),
        _fargate_task_size(profile),
        _fargate_storage(profile),
    ]
    return tuple(blocker for blocker in found if blocker is not None)


def _fargate_gpu(p: WorkloadProfile) -> Blocker | None:
    if not p.needs_gpu:
        return None
    return Blocker(
        "gpu",
        "It needs a GPU and Fargate has none: ECS runs GPU tasks only on EC2 instances, "
        "which the EC2 Auto Scaling project (compute=container) provides.",
    )


def _fargate_workload(p: WorkloadProfile) -> Blocker | None:
    if p.shape != "inference":
        return None
    return Blocker(
        "workload",
        "The ml_inference project is built for GPU instances (an NVIDIA CUDA image with "
        "torch for CUDA); on Fargate, serve a CPU model as an http_api workload.",
    )


def _fargate_task_size(p: WorkloadProfile) -> Blocker | None:
    demand = p.demand
    vcpus = fact("fargate.max_vcpus")
    memory = int(fact("fargate.max_memory_mb"))
    usable = vcpus * demand.utilization
    if p.memory_mb <= memory and demand.cpu_share <= usable:
        return None
    return Blocker(
        "task_size",
        f"One request needs {p.memory_mb:,} MB and {demand.cpu_share:.2f} vCPU; the largest "
        f"Fargate task has {vcpus:g} vCPU and {memory:,} MiB (120 GB), {usable:g} vCPU of it "
        f"at the planned {demand.utilization:.0%} CPU.",
    )


def _fargate_storage(p: WorkloadProfile) -> Blocker | None:
    total = int(fact("fargate.max_ephemeral_storage_gib"))
    image = int(fact("fargate.image_storage_gib"))
    if p.ephemeral_storage_mb <= (total - image) * 1024:
        return None
    return Blocker(
        "storage",
        f"It needs {p.ephemeral_storage_mb:,} MB of scratch disk; a Fargate task has at most "
        f"{total} GiB of ephemeral storage, {image} GiB of which the project keeps for the "
        "image.",
    )


def _peak(costs: CostReport) -> str:
    demand = costs.inputs.demand
    return (
        f"{_rate(demand.peak_rps)} requests/s at the planned peak, "
        f"{demand.peak_to_average:g}x the average for {costs.inputs.traffic_pattern} traffic"
    )


def _container_reason(profile: WorkloadProfile, costs: CostReport, compute: Compute) -> str:
    option = costs.option(OPTION_OF_COMPUTE[compute])
    sized = f"sized for its peak ({_peak(costs)}: {_what(option)})"
    if profile.traffic_pattern == "steady":
        return (
            f"Traffic is steady and above the break-even: {_PROJECT[compute]}, {sized}, "
            "costs less running around the clock than paying per request."
        )
    return (
        f"Traffic is spiky, but even {sized} {_PROJECT[compute]} costs less than Lambda "
        "at this volume."
    )


def _ec2_or_fargate(costs: CostReport) -> str:
    """Why the containers run on EC2 instances or on Fargate: a limit, else the cost."""
    asg, far = costs.option("ec2-asg"), costs.option("fargate")
    if not far.available:
        return f"EC2 rather than Fargate: Fargate cannot serve it. {far.unavailable_reason}"
    if not asg.available or asg.fleet is None or far.fleet is None:
        return f"Fargate rather than EC2: no instance type can serve it ({asg.unavailable_reason})."
    ec2, fargate = asg.monthly_usd, far.monthly_usd
    task, instance = far.fleet, asg.fleet
    per_instance = instance.usd_per_hour_each * HOURS_PER_MONTH + costs.inputs.root_volume_gb * (
        price("ebs.gp3")
    )
    units = (
        f"{_what(far)} on Fargate cost {_usd(fargate)}/month, {_what(asg)} {_usd(ec2)}: one "
        f"task {_holds(task, costs)} for {_usd(task.usd_per_month / task.count)}/month, one "
        f"{instance.size} {_holds(instance, costs)} for {_usd(per_instance)} with its root volume"
    )
    if fargate < ec2:
        return f"Fargate rather than EC2: {units}; and there are no instances to patch or refresh."
    return (
        f"EC2 rather than Fargate: {units}. Fargate would spare patching and refreshing "
        f"instances, for {_usd(fargate - ec2)} a month more (compute=fargate)."
    )


def _holds(fleet: Fleet, costs: CostReport) -> str:
    count = fleet.concurrency_each
    if costs.inputs.load_balancer:
        return f"holds {count} request{'' if count == 1 else 's'} at once"
    return f"runs {count} job{'' if count == 1 else 's'} at a time"


def _lambda_reason(profile: WorkloadProfile, costs: CostReport) -> str:
    if profile.traffic_pattern == "steady":
        return (
            "Traffic is steady but below the break-even, so per-request billing is still "
            "cheaper; re-run the checklist (scaffold update --data requests_per_month=...) "
            "when it grows."
        )
    return (
        "Traffic is spiky or unpredictable: Lambda scales to zero between bursts and bills "
        f"per request, while instances are paid for around the clock and must hold the "
        f"peaks ({_peak(costs)})."
    )


def _contradictions(profile: WorkloadProfile, costs: CostReport) -> list[str]:
    """Answers that pull against each other, said so."""
    average = costs.inputs.demand.average_rps
    busy = fact("traffic.busy_spiky_rps")
    if profile.traffic_pattern != "spiky" or average < busy or profile.peak_to_average:
        return []
    return [
        f"These answers pull apart: traffic that averages {_rate(average)} requests/s is "
        f"never idle, yet it is called spiky. If it arrives at a similar rate around the "
        "clock, answer traffic_pattern=steady; if its bursts really reach "
        f"{costs.inputs.demand.peak_to_average:g}x that, keep it, or set peak_to_average "
        "to the ratio you see."
    ]


def _cost_reasons(costs: CostReport) -> list[str]:
    lam, asg, far, single = (
        costs.option(i) for i in ("lambda", "ec2-asg", "fargate", "ec2-single")
    )
    volume = costs.inputs.requests_per_month
    lambda_part = f"Lambda costs {_usd(lam.monthly_usd)}/month" + (
        "" if lam.available else " but cannot serve it"
    )
    fargate_part = (
        f"the Fargate project {_usd(far.monthly_usd)} ({_what(far)})"
        if far.available
        else "the Fargate project cannot serve it"
    )
    single_part = (
        f"one bare instance would cost {_usd(single.monthly_usd)} but is not highly available"
        if single.available
        else f"one bare instance cannot serve it ({single.unavailable_reason})"
    )
    reasons = [
        f"At {volume:,.0f} requests/month: {lambda_part}; the EC2 Auto Scaling project costs "
        f"{_usd(asg.monthly_usd)} ({_what(asg)}), {fargate_part}; {single_part}."
    ]
    if not lam.available:
        return reasons
    evens = costs.break_even_requests_per_month
    compared = [
        (name, evens[option])
        for name, option in (("the EC2 Auto Scaling project", "ec2-asg"), ("Fargate", "fargate"))
        if costs.option(option).available
    ]
    if all(even is None for _, even in compared):
        reasons.append(
            "Break-even: none; Lambda stays cheaper than the container projects at any volume."
        )
    else:
        single_part = (
            f" (one bare instance: above {_count(evens['ec2-single'])})" if single.available else ""
        )
        parts = [f"{name} above {_count(even)}" for name, even in compared]
        reasons.append(
            f"Break-even: cheaper than Lambda are {' and '.join(parts)} "
            f"requests/month{single_part}."
        )
    return reasons


def _what(option: OptionCost) -> str:
    fleet = option.fleet
    if fleet is None:
        return option.unavailable_reason or option.label
    return f"{fleet.count}x {fleet.size}"


def _mitigations(profile: WorkloadProfile, costs: CostReport) -> list[str]:
    lam = costs.option("lambda")
    items = [
        "Cold starts add roughly 200 ms to 2 s to the first request a new execution "
        "environment serves.",
        "arm64 (Graviton): 20% cheaper per GB-second than x86_64; the project uses it.",
        "Small package: the function needs only the standard library (boto3 comes with "
        "the runtime), so there is little to load at start-up.",
        "Python 3.13 runtime: starts fast compared with Java or .NET.",
    ]
    if profile.wants_provisioned_concurrency:
        warm = sum(usd for item, usd in lam.breakdown if item == "provisioned concurrency")
        demand = costs.inputs.demand
        items.append(
            f"Provisioned concurrency: {profile.provisioned_concurrency} warm environment(s) "
            f"on a live alias cost {_usd(warm)}/month on top of requests; average "
            f"concurrency here is {demand.average_concurrency:.2f} and "
            f"{demand.peak_concurrency:.2f} at the planned peak, so size it to your peak."
        )
        items.append(
            "SnapStart (Python 3.12+) cannot be combined with provisioned concurrency, so "
            "the project uses provisioned concurrency alone."
        )
    else:
        items.append(
            "SnapStart (Python 3.12+) can shorten cold starts if they start to matter; it "
            "cannot be combined with provisioned concurrency."
        )
    return items


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else "<$0.01"


def _count(value: int | None) -> str:
    return "never" if value is None else f"{value:,}"


def _rate(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"
