"""How much capacity a workload needs: a pure plan, with its facts in data tables.

From the answers it derives the load: the average rate (requests per second),
the peak rate (the average times a stated, overridable peak-to-average ratio
per traffic pattern) and, by Little's law, the requests in flight
(concurrency = arrival rate times duration). One request keeps its
Lambda-equivalent CPU share busy (1,769 MB = 1 vCPU, at most 1 vCPU) unless
the answers say otherwise.

Out of it come, for each container option, the unit and the number of units
that serve the peak (:class:`Fleet`: an EC2 instance type and count, never
below the high-availability minimum, or a Fargate task size and count, with
the requests each unit holds at once), the Lambda side's peak concurrency, and
every limit a generated project follows (:class:`CapacityPlan`, recorded in
the project's answers as ``capacity_plan``).

Every fact is a row of :data:`FACTS` or :data:`CATALOGUE` with its source.
This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

__all__ = [
    "CATALOGUE",
    "FACTS",
    "FARGATE_SIZES",
    "HOURS_PER_MONTH",
    "PEAK_TO_AVERAGE",
    "SECONDS_PER_MONTH",
    "CapacityPlan",
    "Demand",
    "Fact",
    "Fleet",
    "InstanceType",
    "Shape",
    "duration_refusal",
    "fact",
    "fargate_fleet",
    "instance_fleet",
    "instance_type",
    "lambda_limits",
    "max_size",
    "misfit",
    "nothing_fits",
    "plan_project",
    "schedule_expression",
    "timeouts",
]

Architecture = Literal["arm64", "x86_64"]
#: The app a container project runs: a web service, a WebSocket service, a queue
#: worker or a model server (``container_shape`` in ``copier.yml``).
Shape = Literal["service", "websocket", "worker", "inference"]

HOURS_PER_MONTH: Final = 730
SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600

_LAMBDA_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
_LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_LAMBDA_RESERVED = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
_SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
_APIGW_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
_ALB_IDLE = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html"
_TG_DEREGISTRATION = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html"
_SQS_VISIBILITY = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"
_SCHEDULER = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html"
_EC2_TYPES = "https://aws.amazon.com/ec2/instance-types/"
_EC2_PRICES = "https://aws.amazon.com/ec2/pricing/on-demand/"
_BURSTABLE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html"
)
_FARGATE_SIZES = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html"
)
_FARGATE_STORAGE = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-storage.html"
)
_ECS_STOP_TIMEOUT = (
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html"
)
_ECS_GPU = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-gpu.html"
_EBS_ROOT = "the container project's root_volume_size_gb default (terraform/variables.tf)"
_ARTICLE = "the article's Terraform ASG (target tracking on 65 % average CPU)"
_BRIEF = "product brief, capacity facts"
_ASSUMPTION = "assumption of this model"
_OVERRIDABLE = "assumption of this model; the peak_to_average answer overrides it"


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact the plan uses, with where it comes from."""

    key: str
    """Lookup key, e.g. ``lambda.mb_per_vcpu``."""
    value: float
    """The figure, in :attr:`unit`."""
    unit: str
    """What the figure counts."""
    source: str
    """Where the figure comes from (a URL, or why it is assumed)."""


FACTS: Final[tuple[Fact, ...]] = (
    Fact("lambda.mb_per_vcpu", 1769, "MB of function memory per vCPU", _LAMBDA_MEMORY),
    Fact("lambda.max_vcpus_per_request", 1, "vCPU one request uses at most (by default)", _BRIEF),
    Fact("lambda.account_concurrency", 1000, "concurrent executions per region (default)",
         _LAMBDA_QUOTAS),
    Fact("lambda.unreserved_minimum", 100, "concurrent executions AWS keeps unreserved",
         _LAMBDA_RESERVED),
    Fact("lambda.reserved_floor", 10, "reserved concurrency at least (today's default)", _BRIEF),
    Fact("sqs.poller_min_concurrency", 2, "MaximumConcurrency at least", _SQS_SCALING),
    Fact("sqs.poller_max_concurrency", 1000, "MaximumConcurrency at most", _SQS_SCALING),
    Fact("sqs.unreserved_poller_concurrency", 5, "MaximumConcurrency when ReservedConcurrency is "
         "set to -1 at deploy time (a new account has 10 executions in all)", _ASSUMPTION),
    Fact("sqs.max_visibility_seconds", 43_200, "seconds a received message stays hidden at most",
         _SQS_VISIBILITY),
    Fact("apigw.http.account_rate", 10_000, "requests/s per region (HTTP API, default)",
         _APIGW_QUOTAS),
    Fact("apigw.http.account_burst", 5_000, "requests in a burst per region (default)",
         _APIGW_QUOTAS),
    Fact("apigw.throttling_rate_floor", 50, "requests/s a stage allows at least", _BRIEF),
    Fact("apigw.throttling_burst_floor", 100, "requests a stage's burst allows at least", _BRIEF),
    Fact("alb.max_idle_timeout_seconds", 4000, "seconds an ALB keeps an idle connection at most",
         _ALB_IDLE),
    Fact("alb.default_idle_timeout_seconds", 60, "seconds (ALB default)", _ALB_IDLE),
    Fact("tg.max_deregistration_delay_seconds", 3600, "seconds a target group drains at most",
         _TG_DEREGISTRATION),
    Fact("service.drain_floor_seconds", 30, "seconds a leaving instance drains at least", _BRIEF),
    Fact("websocket.idle_timeout_seconds", 3600, "seconds a WebSocket may stay silent (clients "
         "ping more often)", _ALB_IDLE),
    Fact("websocket.drain_floor_seconds", 300, "seconds a leaving instance keeps connections at "
         "least", _TG_DEREGISTRATION),
    Fact("timeout.margin_seconds", 5, "seconds added to the longest request", _BRIEF),
    Fact("timeout.stop_margin_seconds", 10, "seconds Docker waits beyond uvicorn's graceful "
         "shutdown", _BRIEF),
    Fact("timeout.worker_stop_margin_seconds", 60, "seconds Docker waits beyond a worker's job "
         "timeout", _BRIEF),
    Fact("scheduler.min_rate_minutes", 1, "minutes between runs at least", _SCHEDULER),
    Fact("scheduler.rate_tolerance", 0.1, "share by which a schedule's runs may miss the "
         "answer to use a larger unit", _ASSUMPTION),
    Fact("capacity.target_cpu_utilization", 0.65, "average CPU a service's instances are "
         "planned at", _ARTICLE),
    Fact("capacity.worker_cpu_utilization", 1.0, "CPU a worker's processes may keep busy (a "
         "queue absorbs the wait)", _BRIEF),
    Fact("capacity.os_reserve_mb", 512, "MB of an instance kept for the OS, Docker and agents, "
         "at least", _BRIEF),
    Fact("capacity.os_reserve_share", 0.10, "share of an instance's memory kept for them, "
         "at least", _BRIEF),
    Fact("capacity.ha_minimum", 2, "instances or tasks a project keeps running at least", _BRIEF),
    Fact("capacity.limit_headroom", 2, "times the planned peak that limits allow (max_size, "
         "reserved concurrency, throttling)", _ASSUMPTION),
    Fact("capacity.max_size_floor", 4, "instances max_size allows at least", _ASSUMPTION),
    Fact("capacity.max_size_ceiling", 100, "instances a chosen type's max_size may reach (the "
         "generated group's limit); past it, larger types", _ASSUMPTION),
    Fact("traffic.peak_to_average.steady", 1.5, "peak over average rate, steady traffic",
         _OVERRIDABLE),
    Fact("traffic.peak_to_average.spiky", 10, "peak over average rate, spiky traffic",
         _OVERRIDABLE),
    Fact("traffic.busy_spiky_rps", 100, "average requests/s above which spiky traffic is "
         "never idle", _ASSUMPTION),
    Fact("fargate.max_vcpus", 16, "vCPUs of the largest Fargate task (Linux)", _FARGATE_SIZES),
    Fact("fargate.max_memory_mb", 122_880, "MiB of the largest Fargate task (120 GB)",
         _FARGATE_SIZES),
    Fact("fargate.gpus", 0, "GPUs a Fargate task can have (GPUs need EC2 container instances)",
         _ECS_GPU),
    Fact("fargate.included_ephemeral_storage_gib", 20, "GiB of ephemeral storage every task "
         "gets (its image included)", _FARGATE_STORAGE),
    Fact("fargate.max_ephemeral_storage_gib", 200, "GiB of ephemeral storage a task may have "
         "at most", _FARGATE_STORAGE),
    Fact("fargate.image_storage_gib", 4, "GiB of a task's ephemeral storage kept for its "
         "image (pulled and unpacked there)", _ASSUMPTION),
    Fact("fargate.max_stop_timeout_seconds", 120, "seconds a Fargate task's container gets "
         "after SIGTERM at most", _ECS_STOP_TIMEOUT),
    Fact("ec2.root_volume_gb", 30, "GB of gp3 root volume per instance", _EBS_ROOT),
    Fact("ec2.gpu_root_volume_gb", 150, "GB of gp3 root volume per GPU instance", _EBS_ROOT),
)  # fmt: skip

_FACTS: Final[Mapping[str, float]] = {row.key: row.value for row in FACTS}


def fact(key: str) -> float:
    """The value of ``key`` in :data:`FACTS`."""
    return _FACTS[key]


#: Peak over average request rate assumed for each ``traffic_pattern``.
PEAK_TO_AVERAGE: Final[Mapping[str, float]] = {
    "steady": fact("traffic.peak_to_average.steady"),
    "spiky": fact("traffic.peak_to_average.spiky"),
}


@dataclass(frozen=True, slots=True)
class InstanceType:
    """One EC2 instance type of the catalogue (us-east-1, Linux, on-demand)."""

    name: str
    """The type, e.g. ``t4g.small``."""
    vcpus: int
    """vCPUs."""
    memory_mb: int
    """Memory, in MiB."""
    architecture: Architecture
    """CPU architecture (Graviton types are arm64)."""
    usd_per_hour: float
    """On-demand price per instance-hour (see :data:`CATALOGUE_SOURCE`)."""
    baseline: float | None = None
    """Burstable types: the share of each vCPU sustained without surplus charges."""
    gpus: int = 0
    """GPUs attached."""
    gpu_model: str = ""
    """Which GPU (empty without one)."""

    @property
    def gpu(self) -> bool:
        """Whether it has a GPU."""
        return self.gpus > 0

    @property
    def usable_memory_mb(self) -> int:
        """Memory left for the app after the OS, Docker and agents."""
        reserve = max(int(fact("capacity.os_reserve_mb")), self.memory_mb // 10)
        return self.memory_mb - reserve

    def sustained_share(self, utilization: float) -> float:
        """The share of each vCPU the app may keep busy (burstable: at most the baseline)."""
        return utilization if self.baseline is None else min(utilization, self.baseline)

    def sustained_vcpus(self, utilization: float) -> float:
        """vCPUs the app may keep busy at ``utilization``."""
        return self.vcpus * self.sustained_share(utilization)


#: Date and sources of the catalogue's prices and sizes.
CATALOGUE_AS_OF: Final = "2026-11-01"
CATALOGUE_SOURCE: Final = f"{_EC2_PRICES} (prices), {_EC2_TYPES} (sizes), {_BURSTABLE} (baselines)"

_T4, _A10G, _L4 = "NVIDIA T4", "NVIDIA A10G", "NVIDIA L4"

_I = InstanceType
#: Every instance type a container project may use, cheapest first.
CATALOGUE: Final[tuple[InstanceType, ...]] = tuple(
    sorted(
        (
            # Burstable Graviton (arm64) and Intel (x86_64): baseline per vCPU.
            _I("t4g.micro", 2, 1024, "arm64", 0.0084, baseline=0.10),
            _I("t4g.small", 2, 2048, "arm64", 0.0168, baseline=0.20),
            _I("t4g.medium", 2, 4096, "arm64", 0.0336, baseline=0.20),
            _I("t4g.large", 2, 8192, "arm64", 0.0672, baseline=0.30),
            _I("t4g.xlarge", 4, 16384, "arm64", 0.1344, baseline=0.40),
            _I("t4g.2xlarge", 8, 32768, "arm64", 0.2688, baseline=0.40),
            _I("t3.micro", 2, 1024, "x86_64", 0.0104, baseline=0.10),
            _I("t3.small", 2, 2048, "x86_64", 0.0208, baseline=0.20),
            _I("t3.medium", 2, 4096, "x86_64", 0.0416, baseline=0.20),
            _I("t3.large", 2, 8192, "x86_64", 0.0832, baseline=0.30),
            _I("t3.xlarge", 4, 16384, "x86_64", 0.1664, baseline=0.40),
            _I("t3.2xlarge", 8, 32768, "x86_64", 0.3328, baseline=0.40),
            # Graviton general purpose, compute and memory optimised.
            _I("m7g.medium", 1, 4096, "arm64", 0.0408),
            _I("m7g.large", 2, 8192, "arm64", 0.0816),
            _I("m7g.xlarge", 4, 16384, "arm64", 0.1632),
            _I("m7g.2xlarge", 8, 32768, "arm64", 0.3264),
            _I("m7g.4xlarge", 16, 65536, "arm64", 0.6528),
            _I("c7g.medium", 1, 2048, "arm64", 0.0363),
            _I("c7g.large", 2, 4096, "arm64", 0.0725),
            _I("c7g.xlarge", 4, 8192, "arm64", 0.145),
            _I("c7g.2xlarge", 8, 16384, "arm64", 0.29),
            _I("c7g.4xlarge", 16, 32768, "arm64", 0.58),
            _I("r7g.medium", 1, 8192, "arm64", 0.0536),
            _I("r7g.large", 2, 16384, "arm64", 0.1071),
            _I("r7g.xlarge", 4, 32768, "arm64", 0.2142),
            _I("r7g.2xlarge", 8, 65536, "arm64", 0.4284),
            _I("r7g.4xlarge", 16, 131072, "arm64", 0.8568),
            _I("r7g.8xlarge", 32, 262144, "arm64", 1.7136),
            _I("r7g.16xlarge", 64, 524288, "arm64", 3.4272),
            # Their x86_64 equivalents (Intel, 7th generation).
            _I("m7i.large", 2, 8192, "x86_64", 0.1008),
            _I("m7i.xlarge", 4, 16384, "x86_64", 0.2016),
            _I("m7i.2xlarge", 8, 32768, "x86_64", 0.4032),
            _I("m7i.4xlarge", 16, 65536, "x86_64", 0.8064),
            _I("c7i.large", 2, 4096, "x86_64", 0.0893),
            _I("c7i.xlarge", 4, 8192, "x86_64", 0.1785),
            _I("c7i.2xlarge", 8, 16384, "x86_64", 0.357),
            _I("c7i.4xlarge", 16, 32768, "x86_64", 0.714),
            _I("r7i.large", 2, 16384, "x86_64", 0.1323),
            _I("r7i.xlarge", 4, 32768, "x86_64", 0.2646),
            _I("r7i.2xlarge", 8, 65536, "x86_64", 0.5292),
            _I("r7i.4xlarge", 16, 131072, "x86_64", 1.0584),
            # GPU (x86_64, one NVIDIA GPU each).
            _I("g4dn.xlarge", 4, 16384, "x86_64", 0.526, gpus=1, gpu_model=_T4),
            _I("g4dn.2xlarge", 8, 32768, "x86_64", 0.752, gpus=1, gpu_model=_T4),
            _I("g4dn.4xlarge", 16, 65536, "x86_64", 1.204, gpus=1, gpu_model=_T4),
            _I("g5.xlarge", 4, 16384, "x86_64", 1.006, gpus=1, gpu_model=_A10G),
            _I("g5.2xlarge", 8, 32768, "x86_64", 1.212, gpus=1, gpu_model=_A10G),
            _I("g5.4xlarge", 16, 65536, "x86_64", 1.624, gpus=1, gpu_model=_A10G),
            _I("g5.8xlarge", 32, 131072, "x86_64", 2.448, gpus=1, gpu_model=_A10G),
            _I("g6.xlarge", 4, 16384, "x86_64", 0.8048, gpus=1, gpu_model=_L4),
            _I("g6.2xlarge", 8, 32768, "x86_64", 0.9776, gpus=1, gpu_model=_L4),
            _I("g6.4xlarge", 16, 65536, "x86_64", 1.3232, gpus=1, gpu_model=_L4),
        ),
        key=lambda row: row.usd_per_hour,
    )
)
_BY_NAME: Final[Mapping[str, InstanceType]] = {row.name: row for row in CATALOGUE}

#: Fargate task sizes: CPU units (1,024 = 1 vCPU) and the memory (MiB) each allows
#: (Linux). Source: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_SIZES: Final[tuple[tuple[int, tuple[int, ...]], ...]] = (
    (256, (512, 1024, 2048)),
    (512, tuple(range(1024, 4097, 1024))),
    (1024, tuple(range(2048, 8193, 1024))),
    (2048, tuple(range(4096, 16385, 1024))),
    (4096, tuple(range(8192, 30721, 1024))),
    (8192, tuple(range(16384, 61441, 4096))),
    (16384, tuple(range(32768, 122881, 8192))),
)


def instance_type(name: str) -> InstanceType:
    """The catalogue's row for ``name``; KeyError when it has none."""
    return _BY_NAME[name]


# --- The load -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Demand:
    """The work to be served, as the plan sees it."""

    requests_per_month: float
    """Requests, events or jobs per month."""
    avg_duration_ms: float
    """Average run time of one, in ms."""
    memory_mb: int
    """Memory one needs while it runs, in MB."""
    peak_to_average: float = PEAK_TO_AVERAGE["steady"]
    """Peak over average request rate (at least 1)."""
    vcpus_per_request: float = 0.0
    """vCPUs one keeps busy while it runs; 0: its Lambda-equivalent share."""
    worker: bool = False
    """Queue workers run one job per process with no latency target; services
    keep their instances at the target CPU utilisation."""
    gpu: bool = False
    """It needs a GPU."""

    @classmethod
    def from_answers(
        cls,
        *,
        requests_per_month: float,
        avg_duration_ms: float,
        memory_mb: int,
        traffic_pattern: str = "steady",
        peak_to_average: float = 0.0,
        vcpus_per_request: float = 0.0,
        worker: bool = False,
        gpu: bool = False,
    ) -> Demand:
        """The demand of checklist answers; a 0 override means "derive it"."""
        return cls(
            requests_per_month=requests_per_month,
            avg_duration_ms=avg_duration_ms,
            memory_mb=memory_mb,
            peak_to_average=peak_to_average or PEAK_TO_AVERAGE[traffic_pattern],
            vcpus_per_request=vcpus_per_request,
            worker=worker,
            gpu=gpu,
        )

    def record(self) -> dict[str, float]:
        """The load as a project records it (``capacity_plan.load``, and the
        ``load`` of a decision record): rates in requests/s, concurrency in
        requests in flight, CPU in vCPU, utilisation as a share."""
        return {
            "average_requests_per_second": _round(self.average_rps),
            "peak_to_average": self.peak_to_average,
            "peak_requests_per_second": _round(self.peak_rps),
            "peak_concurrency": _round(self.peak_concurrency),
            "vcpus_per_request": _round(self.cpu_share),
            "target_cpu_utilization": self.utilization,
        }

    @property
    def average_rps(self) -> float:
        """Average arrivals per second."""
        return self.requests_per_month / SECONDS_PER_MONTH

    @property
    def peak_rps(self) -> float:
        """Arrivals per second at the planned peak."""
        return self.average_rps * self.peak_to_average

    @property
    def average_concurrency(self) -> float:
        """Requests in flight on average (Little's law)."""
        return self.average_rps * self.avg_duration_ms / 1000

    @property
    def peak_concurrency(self) -> float:
        """Requests in flight at the planned peak (Little's law)."""
        return self.peak_rps * self.avg_duration_ms / 1000

    @property
    def cpu_share(self) -> float:
        """vCPUs one request keeps busy while it runs."""
        return self.vcpus_per_request or lambda_equivalent_vcpus(self.memory_mb)

    @property
    def utilization(self) -> float:
        """The CPU utilisation units are planned at."""
        key = "worker_cpu_utilization" if self.worker else "target_cpu_utilization"
        return fact(f"capacity.{key}")


def lambda_equivalent_vcpus(memory_mb: int) -> float:
    """The CPU a Lambda function of ``memory_mb`` gets (1,769 MB = 1 vCPU), at most 1 vCPU."""
    return min(fact("lambda.max_vcpus_per_request"), memory_mb / fact("lambda.mb_per_vcpu"))


# --- Units and fleets ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fleet:
    """Units of one size that serve a demand: EC2 instances or Fargate tasks."""

    size: str
    """The unit: an instance type (``t4g.small``) or a task size (``0.5 vCPU/1 GB``)."""
    count: int
    """Units that serve the planned peak (at least :attr:`minimum`)."""
    vcpus_each: float
    """vCPUs of one unit."""
    memory_mb_each: int
    """Memory of one unit, in MiB."""
    concurrency_each: int
    """Requests one unit holds at once (for workers: job processes per unit)."""
    minimum: int
    """Units kept running at least."""
    usd_per_hour_each: float
    """What one unit costs per hour."""
    requests_per_unit: float
    """Requests per month one unit serves at the planned peak: ``count`` is
    ``max(minimum, ceil(requests_per_month / requests_per_unit))``."""

    def count_at(self, requests_per_month: float) -> int:
        """Units needed at another volume (same unit, same peak ratio)."""
        needed = math.ceil(requests_per_month / self.requests_per_unit - 1e-9)
        return max(self.minimum, needed)

    def at(self, requests_per_month: float) -> Fleet:
        """The same fleet sized for another volume."""
        return replace(self, count=self.count_at(requests_per_month))

    @property
    def usd_per_month(self) -> float:
        """The fleet's cost around the clock."""
        return self.count * self.usd_per_hour_each * HOURS_PER_MONTH

    def to_dict(self) -> dict[str, Any]:
        """``{"size", "count", "vcpus_each", "memory_mb_each", "concurrency_each"}``."""
        return {
            "size": self.size,
            "count": self.count,
            "vcpus_each": self.vcpus_each,
            "memory_mb_each": self.memory_mb_each,
            "concurrency_each": self.concurrency_each,
        }


class NoFit(ValueError):
    """No unit can hold one request of the demand; the message says why."""


def misfit(
    instance: InstanceType, demand: Demand, catalogue: Iterable[InstanceType] = CATALOGUE
) -> str | None:
    """Why ``instance`` cannot hold one request of ``demand`` (None when it can).

    ``catalogue`` names the GPU types to offer instead. ``copier.yml``'s
    ``instance_type`` validator says the same in Jinja.
    """
    if demand.gpu and not instance.gpu:
        gpus = ", ".join(sorted(row.name for row in catalogue if row.gpu))
        return f"a GPU workload needs a GPU instance type ({gpus})"
    usable = instance.usable_memory_mb
    sustained = instance.sustained_vcpus(demand.utilization)
    if demand.memory_mb <= usable and demand.cpu_share <= sustained:
        return None
    return (
        f"{instance.name} cannot hold one request ({demand.memory_mb} MB, "
        f"{demand.cpu_share:.2f} vCPU): it offers {usable} MB after the OS and "
        f"{sustained:.2f} vCPU ({instance.vcpus} vCPUs at "
        f"{round(instance.sustained_share(demand.utilization) * 100)}% CPU)"
    )


def nothing_fits(demand: Demand, catalogue: Iterable[InstanceType] = CATALOGUE) -> str | None:
    """Why no type of ``catalogue`` (GPU types for a GPU demand) holds one request."""
    rows = [row for row in catalogue if row.gpu == demand.gpu]
    if not rows or any(misfit(row, demand) is None for row in rows):
        return None
    kind = "GPU instance type" if demand.gpu else "instance type"
    largest = max(rows, key=lambda row: row.usable_memory_mb)
    return (
        f"no {kind} offered holds one request of {demand.memory_mb} MB and "
        f"{demand.cpu_share:.2f} vCPU (the largest, {largest.name}, has "
        f"{largest.usable_memory_mb} MB after the OS)"
    )


def _per_unit(memory_mb: float, vcpus: float, demand: Demand) -> int:
    """Requests a unit with ``memory_mb`` free and ``vcpus`` sustained holds at once."""
    by_memory = math.floor(memory_mb / demand.memory_mb)
    by_cpu = math.floor(vcpus / demand.cpu_share + 1e-9)
    return max(0, min(by_memory, by_cpu))


def _requests_per_unit(concurrency_each: int, demand: Demand) -> float:
    per_second = concurrency_each / (demand.avg_duration_ms / 1000) / demand.peak_to_average
    return per_second * SECONDS_PER_MONTH


def _fleet(
    size: str,
    vcpus: float,
    memory_mb: int,
    concurrency: int,
    usd_per_hour: float,
    demand: Demand,
    minimum: int,
) -> Fleet:
    per_unit = _requests_per_unit(concurrency, demand)
    draft = Fleet(size, minimum, vcpus, memory_mb, concurrency, minimum, usd_per_hour, per_unit)
    return draft.at(demand.requests_per_month)


def instance_fleet(
    demand: Demand,
    name: str | None = None,
    *,
    minimum: int | None = None,
    offered: Iterable[str] = (),
) -> Fleet:
    """EC2 instances for ``demand``: of type ``name``, or the cheapest fleet that fits.

    Without ``name`` the candidates are the catalogue's types (those
    ``offered``, when given: a fork's template may offer fewer) that fit one
    request (GPU types for a GPU demand, the others otherwise); the one whose
    fleet costs least wins (at small volumes every fleet is at its minimum, so
    that is the cheapest type that fits). Raises :class:`NoFit` (a ValueError)
    when ``name`` cannot hold one request or none can; KeyError for an unknown
    ``name``.
    """
    minimum = int(fact("capacity.ha_minimum")) if minimum is None else minimum
    if name is not None:
        row = instance_type(name)
        reason = misfit(row, demand)
        if reason:
            raise NoFit(reason)
        return _instance_fleet(row, demand, minimum)
    allowed = set(offered) or set(_BY_NAME)
    candidates = [
        row
        for row in CATALOGUE
        if row.name in allowed and row.gpu == demand.gpu and misfit(row, demand) is None
    ]
    if not candidates:
        raise NoFit(nothing_fits(demand) or "no instance type fits")
    return _cheapest_runnable([_instance_fleet(row, demand, minimum) for row in candidates])


def _cheapest_runnable(fleets: list[Fleet]) -> Fleet:
    """The cheapest fleet whose max_size stays within the ceiling, else the smallest.

    Hundreds of the smallest units may cost a little less, but a group (or an ECS
    service) past the ceiling is not one to run: larger units are preferred there.
    """
    ceiling = fact("capacity.max_size_ceiling")
    within = [fleet for fleet in fleets if max_size(fleet.count) <= ceiling]
    if not within:
        return min(fleets, key=lambda f: (f.count, f.usd_per_month))
    return min(within, key=lambda f: (f.usd_per_month, f.count))


def max_size(count: int) -> int:
    """A group's max_size for ``count`` planned instances: room above the plan."""
    headroom = fact("capacity.limit_headroom")
    return max(int(fact("capacity.max_size_floor")), math.ceil(count * headroom))


def _instance_fleet(row: InstanceType, demand: Demand, minimum: int) -> Fleet:
    concurrency = _per_unit(row.usable_memory_mb, row.sustained_vcpus(demand.utilization), demand)
    return _fleet(
        row.name, row.vcpus, row.memory_mb, concurrency, row.usd_per_hour, demand, minimum
    )


def fargate_fleet(demand: Demand, hourly: Callable[[float, float], float]) -> Fleet:
    """Fargate tasks for ``demand``: the task size whose fleet costs least (among those
    whose ``max_count`` stays within the max_size ceiling, as for instances).

    ``hourly(vcpus, memory_gb)`` prices one task for an hour. Raises
    :class:`NoFit` for a GPU demand (Fargate has no GPUs) or when no task size
    holds one request.
    """
    if demand.gpu:
        raise NoFit("Fargate has no GPUs")
    fleets = []
    for cpu_units, memories in FARGATE_SIZES:
        for memory in memories:
            fleet = fargate_task(demand, cpu_units, memory, hourly)
            if fleet is not None:
                fleets.append(fleet)
    if not fleets:
        raise NoFit(
            f"no Fargate task size holds one request of {demand.memory_mb} MB and "
            f"{demand.cpu_share:.2f} vCPU (the largest is 16 vCPU/120 GB)"
        )
    return _cheapest_runnable(fleets)


def fargate_task(
    demand: Demand, cpu_units: int, memory_mb: int, hourly: Callable[[float, float], float]
) -> Fleet | None:
    """Tasks of one size for ``demand``, or None when one request does not fit.

    Fargate runs only the task's containers, so no memory is set aside for an OS.
    """
    vcpus = cpu_units / 1024
    concurrency = _per_unit(memory_mb, vcpus * demand.utilization, demand)
    if concurrency < 1:
        return None
    minimum = int(fact("capacity.ha_minimum"))
    size = f"{vcpus:g} vCPU/{memory_mb / 1024:g} GB"
    price = hourly(vcpus, memory_mb / 1024)
    return _fleet(size, vcpus, memory_mb, concurrency, price, demand, minimum)


# --- The limits a project follows ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Connection and shutdown limits of a container project, in seconds."""

    alb_idle_timeout_seconds: int
    """How long the load balancer keeps a silent connection open."""
    deregistration_delay_seconds: int
    """How long a leaving instance keeps serving its open requests."""
    graceful_shutdown_seconds: int
    """How long in-flight work may run after SIGTERM (a worker: its job timeout)."""
    stop_timeout_seconds: int
    """How long Docker waits after SIGTERM before it kills the container."""


def timeouts(shape: Shape, max_duration_seconds: int) -> Timeouts:
    """The limits that let the longest request (or job) finish.

    Services: the idle timeout, the drain and the graceful shutdown are at
    least the longest request (plus a margin), within the ALB's limits (see
    :func:`duration_refusal`). WebSocket services: connections are not silent
    (clients ping), so the idle timeout is fixed and the drain is the
    connection's lifetime, at most the target group's maximum. Workers: the
    running job finishes first. ``copier.yml``'s ``capacity_plan`` default
    computes the same for plain copier.
    """
    margin = int(fact("timeout.margin_seconds"))
    idle_default = int(fact("alb.default_idle_timeout_seconds"))
    drain_floor = int(fact("service.drain_floor_seconds"))
    max_idle = int(fact("alb.max_idle_timeout_seconds"))
    max_drain = int(fact("tg.max_deregistration_delay_seconds"))
    stop_margin = int(fact("timeout.stop_margin_seconds"))
    if shape == "worker":
        return Timeouts(
            idle_default,
            drain_floor,
            max_duration_seconds,
            max_duration_seconds + int(fact("timeout.worker_stop_margin_seconds")),
        )
    if shape == "websocket":
        drain = min(
            max_drain, max(int(fact("websocket.drain_floor_seconds")), max_duration_seconds)
        )
        return Timeouts(
            int(fact("websocket.idle_timeout_seconds")),
            drain,
            drain_floor,
            drain_floor + stop_margin,
        )
    longest = max_duration_seconds + margin
    graceful = max(drain_floor, longest)
    return Timeouts(
        min(max_idle, max(idle_default, longest)),
        min(max_drain, max(drain_floor, longest)),
        graceful,
        graceful + stop_margin,
    )


def duration_refusal(shape: Shape, max_duration_seconds: int) -> str | None:
    """Why no generated project can run requests or jobs this long (None when it can).

    A request behind an ALB must end before a leaving instance stops draining
    (target groups drain at most 3,600 s; ALBs close connections idle for over
    4,000 s); a queue job must end before SQS shows its message again (12 hours
    at most). ``copier.yml``'s ``max_duration_seconds`` validator says the same.
    """
    if shape in ("service", "inference"):
        limit = int(fact("tg.max_deregistration_delay_seconds"))
        if max_duration_seconds > limit:
            return (
                f"a load-balanced service must answer within {limit} s (a target group drains "
                f"a leaving instance for at most {limit} s and an ALB closes connections idle "
                f"for over {int(fact('alb.max_idle_timeout_seconds'))} s); run longer work as "
                "a queue job (workload=worker)"
            )
    if shape == "worker":
        limit = int(fact("sqs.max_visibility_seconds"))
        if max_duration_seconds > limit:
            return (
                f"a queue job must finish within {limit} s (SQS hides a received message for "
                "at most 12 hours); split longer work into steps"
            )
    return None


def schedule_expression(runs_per_month: float) -> str:
    """The EventBridge Scheduler ``rate()`` whose runs per month are close to ``runs_per_month``.

    The largest unit (days, then hours, then minutes) whose runs are within
    ``scheduler.rate_tolerance`` of the answer wins (30 runs: ``rate(1 day)``,
    not ``rate(1460 minutes)``); otherwise the closest. At least one run a
    month, at most one a minute (Scheduler's finest rate). ``copier.yml``'s
    ``capacity_plan`` default computes the same for plain copier.
    """
    target = max(1.0, float(runs_per_month))
    minutes = SECONDS_PER_MONTH / 60 / target
    options = []
    for unit, length in (("day", 1440), ("hour", 60), ("minute", 1)):
        value = max(1, round(minutes / length))
        runs = SECONDS_PER_MONTH / 60 / (value * length)
        options.append((abs(runs - target) / target, value, unit))
    close = [option for option in options if option[0] <= fact("scheduler.rate_tolerance")]
    _, value, unit = close[0] if close else min(options, key=lambda option: option[0])
    return f"rate({value} {unit}{'' if value == 1 else 's'})"


@dataclass(frozen=True, slots=True)
class LambdaLimits:
    """Concurrency and throttling limits of a Lambda project."""

    reserved_concurrency: int
    """ReservedConcurrency: at or above the planned peak (with headroom); -1: none."""
    unreserved_reason: str
    """Why nothing is reserved (empty when something is)."""
    throttling_rate_limit: int
    """HTTP API stage: requests per second before 429s."""
    throttling_burst_limit: int
    """HTTP API stage: requests in a burst above the rate."""
    sqs_maximum_concurrency: int
    """The SQS poller's MaximumConcurrency (2 to 1,000): the reservation, or the planned
    need when nothing is reserved."""
    sqs_maximum_concurrency_unreserved: int
    """The poller's MaximumConcurrency when a deployment sets ReservedConcurrency to -1:
    :attr:`sqs_maximum_concurrency` when the plan reserves nothing itself; otherwise a
    share a new account's few unreserved executions hold (-1 is what such an account
    must use)."""
    notes: tuple[str, ...] = ()
    """Sentences for the Lambda project's README: account quotas the plan exceeds."""


def lambda_limits(
    demand: Demand, provisioned_concurrency: int = 0, *, api: bool = False
) -> LambdaLimits:
    """Reserved concurrency, API throttling and SQS poller concurrency for ``demand``.

    Each sits at twice the planned peak (``capacity.limit_headroom``), at
    least today's defaults. A reservation the default account cannot grant
    (more than 1,000 minus the 100 AWS keeps unreserved) is left out, and the
    reason says what to do. ``api``: an HTTP API fronts the function (its
    throttling then matters to the notes).
    """
    headroom = fact("capacity.limit_headroom")
    needed = math.ceil(demand.peak_concurrency * headroom - 1e-9)
    reserved = max(int(fact("lambda.reserved_floor")) + provisioned_concurrency, needed)
    ceiling = int(fact("lambda.account_concurrency") - fact("lambda.unreserved_minimum"))
    reason = ""
    if reserved > ceiling:
        reason = (
            f"the planned peak needs about {needed:,} concurrent executions: more than a "
            f"default account can reserve ({ceiling:,} of its "
            f"{int(fact('lambda.account_concurrency')):,}); ask AWS for a higher concurrency "
            "quota, then reserve"
        )
        reserved = -1
    # The poller may use the whole reservation; without one, the planned need.
    poller = _clamp(
        reserved if reserved > 0 else needed,
        fact("sqs.poller_min_concurrency"),
        fact("sqs.poller_max_concurrency"),
    )
    rate = _clamp(
        math.ceil(demand.peak_rps * headroom - 1e-9),
        fact("apigw.throttling_rate_floor"),
        fact("apigw.http.account_rate"),
    )
    burst = _clamp(2 * rate, fact("apigw.throttling_burst_floor"), fact("apigw.http.account_burst"))
    unreserved = poller if reserved < 0 else int(fact("sqs.unreserved_poller_concurrency"))
    notes = tuple(_lambda_notes(demand, api=api))
    return LambdaLimits(reserved, reason, rate, burst, poller, unreserved, notes)


def _lambda_notes(demand: Demand, *, api: bool) -> Iterable[str]:
    account = int(fact("lambda.account_concurrency"))
    if demand.peak_concurrency > account:
        yield (
            f"On Lambda the planned peak holds {demand.peak_concurrency:,.0f} executions at "
            f"once: more than the default regional quota of {account:,}."
        )
    rate = int(fact("apigw.http.account_rate"))
    if api and demand.peak_rps * fact("capacity.limit_headroom") > rate:
        yield (
            f"The API's throttling stops at the regional HTTP API quota of {rate:,} "
            "requests/s; ask AWS for more before the peak reaches it."
        )


def _clamp(value: int, low: float, high: float) -> int:
    return int(min(high, max(low, value)))


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """The capacity a project is planned for, and every limit it follows."""

    demand: Demand
    """The load."""
    instances: Fleet
    """The Auto Scaling group (container projects)."""
    architecture: Architecture
    """The instance type's architecture."""
    fargate: Fleet | None
    """Fargate tasks for the same load (None: Fargate cannot serve it)."""
    lambda_: LambdaLimits
    """Lambda's limits (Lambda projects)."""
    timeouts: Timeouts
    """Connection and shutdown limits (container projects)."""
    schedule_expression: str
    """A scheduled job's default schedule."""
    instance_notes: tuple[str, ...] = ()
    """Sentences for the container project's README (limits the group reaches)."""
    notes: tuple[str, ...] = ()
    """Sentences about the plan as a whole (none for a plan made by scaffold)."""

    def record(self) -> dict[str, Any]:
        """The ``capacity_plan`` answer a project records (shape in docs/template-authoring.md)."""
        fleet, fargate = self.instances, self.fargate
        return {
            "sized": True,
            "load": self.demand.record(),
            "instances": {
                "instance_type": fleet.size,
                "architecture": self.architecture,
                "vcpus_each": int(fleet.vcpus_each),
                "memory_mb_each": fleet.memory_mb_each,
                "concurrency_each": fleet.concurrency_each,
                "count": fleet.count,
                "min_size": fleet.minimum,
                "max_size": max_size(fleet.count),
                "notes": list(self.instance_notes),
            },
            "fargate": None
            if fargate is None
            else {
                "cpu": round(fargate.vcpus_each * 1024),
                "memory": fargate.memory_mb_each,
                "concurrency_each": fargate.concurrency_each,
                "count": fargate.count,
                "min_count": fargate.minimum,
                "max_count": max_size(fargate.count),
            },
            "lambda": {
                "reserved_concurrency": self.lambda_.reserved_concurrency,
                "unreserved_reason": self.lambda_.unreserved_reason,
                "throttling_rate_limit": self.lambda_.throttling_rate_limit,
                "throttling_burst_limit": self.lambda_.throttling_burst_limit,
                "sqs_maximum_concurrency": self.lambda_.sqs_maximum_concurrency,
                "sqs_maximum_concurrency_unreserved": (
                    self.lambda_.sqs_maximum_concurrency_unreserved
                ),
                "notes": list(self.lambda_.notes),
            },
            "timeouts": {
                "alb_idle_timeout_seconds": self.timeouts.alb_idle_timeout_seconds,
                "deregistration_delay_seconds": self.timeouts.deregistration_delay_seconds,
                "graceful_shutdown_seconds": self.timeouts.graceful_shutdown_seconds,
                "stop_timeout_seconds": self.timeouts.stop_timeout_seconds,
            },
            "schedule_expression": self.schedule_expression,
            "notes": list(self.notes),
        }


def plan_project(
    demand: Demand,
    *,
    shape: Shape,
    max_duration_seconds: int,
    instances: Fleet,
    fargate: Fleet | None,
    provisioned_concurrency: int = 0,
    api: bool = False,
) -> CapacityPlan:
    """Every limit of a project that serves ``demand`` with ``instances``.

    ``api``: on Lambda, an HTTP API fronts the function (``http_api``, ``webhook``).
    """
    return CapacityPlan(
        demand=demand,
        instances=instances,
        architecture=instance_type(instances.size).architecture,
        fargate=fargate,
        lambda_=lambda_limits(demand, provisioned_concurrency, api=api),
        timeouts=timeouts(shape, max_duration_seconds),
        schedule_expression=schedule_expression(demand.requests_per_month),
        instance_notes=tuple(_instance_notes(instances)),
    )


def _instance_notes(instances: Fleet) -> Iterable[str]:
    ceiling = int(fact("capacity.max_size_ceiling"))
    if max_size(instances.count) > ceiling:
        yield (
            f"The group's max_size ({max_size(instances.count)}) passes {ceiling}: a larger "
            "instance type would need fewer instances."
        )


def _round(value: float) -> float:
    """Four significant digits: enough to read, stable through YAML."""
    return float(f"{value:.4g}")
