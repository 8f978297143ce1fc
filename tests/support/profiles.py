"""A small, a large and a long-request profile of every workload.

The rendered projects' limits must equal the capacity plan of each (the
template tests read them back); the package tests check that the plan is
recorded as it is made.
"""

from __future__ import annotations

from typing import Any

from infra_scaffold.decision import CONTAINER_SHAPES, LAMBDA_WORKLOADS, WORKLOADS

#: Longest run each container shape may take (the ALB's drain, SQS's visibility).
LONGEST = {"service": 3600, "inference": 3600, "websocket": 86_400, "worker": 43_200}
#: Longest a Lambda project may run (HTTP APIs answer within 30 s).
LONGEST_ON_LAMBDA = {"http_api": 30, "webhook": 30}


def profiles(workload: str, compute: str | None = None) -> dict[str, dict[str, Any]]:
    """``{"small": answers, "large": answers, "long": answers}`` for ``workload``.

    The long profile runs as long as ``compute`` allows (``container``: what a load
    balancer or a queue holds; ``lambda``: Lambda's limits); without ``compute``, as
    long as the workload's usual compute allows. ``compute`` is not among the answers.
    """
    longest = LONGEST_ON_LAMBDA.get(workload, 900)
    on_containers = CONTAINER_SHAPES[workload] in ("websocket", "worker", "inference")
    if compute == "container" or (compute is None and on_containers):
        longest = LONGEST[CONTAINER_SHAPES[workload]]
    return {
        "small": {"workload": workload},
        "large": {"workload": workload, "traffic_pattern": "steady",
                  "requests_per_month": 2_000_000_000 if workload != "scheduled_job" else 40_000},
        "long": {"workload": workload, "max_duration_seconds": longest,
                 "avg_duration_ms": longest * 500},
    }  # fmt: skip


#: Every (workload, profile name, answers), for parametrized tests.
ALL = [(w, name, answers) for w in WORKLOADS for name, answers in profiles(w).items()]

#: Every (compute, workload, profile name, answers) a project can be rendered from.
RENDERED = [
    (compute, w, name, answers)
    for compute in ("lambda", "container")
    for w in (LAMBDA_WORKLOADS if compute == "lambda" else WORKLOADS)
    for name, answers in profiles(w, compute).items()
]
