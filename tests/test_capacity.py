"""The capacity plan: fleets that serve the peak, and the limits a project follows.

Invariants over a table of profiles and over generated ones (hypothesis):
capacity offered covers the work, container cost grows with the work and past
the high-availability minimum, an unavailable option never wins and has no
break-even; and the limits recorded for a project hold its peak and its
longest request.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from support.profiles import ALL

from infra_scaffold import capacity
from infra_scaffold.capacity import (
    CATALOGUE,
    FACTS,
    HOURS_PER_MONTH,
    PEAK_TO_AVERAGE,
    SECONDS_PER_MONTH,
    Demand,
    duration_refusal,
    instance_fleet,
    lambda_limits,
    schedule_expression,
    timeouts,
)
from infra_scaffold.cost import CostInputs, estimate, monthly_at, price_option
from infra_scaffold.decision import CONTAINER_SHAPES, WORKLOADS, WorkloadProfile, recommend
from infra_scaffold.plan import make_plan

CONTAINERS = ("ec2-single", "ec2-asg", "fargate")

#: Profiles the way users answer: small, large, long-running, memory- and
#: GPU-hungry, spiky and steady, services and workers.
PROFILES = {
    "article 1M": CostInputs(1_000_000, 200, 128, "x86_64"),
    "article 10M": CostInputs(10_000_000, 200, 128, "x86_64"),
    "api 200M steady": CostInputs(200_000_000, 500, 256),
    "api 2B": CostInputs(2_000_000_000, 200, 128),
    "api 1B spiky": CostInputs(1_000_000_000, 120, 256, traffic_pattern="spiky"),
    "long requests": CostInputs(100_000, 300_000, 1024),
    "worker default": CostInputs(100_000, 120_000, 2048, load_balancer=False),
    "worker memory": CostInputs(50_000, 600_000, 10_240, load_balancer=False),
    "cpu heavy": CostInputs(5_000_000, 800, 512, vcpus_per_request=2.0),
    "gpu inference": CostInputs(1_000_000, 300, 8192, gpu=True, api_gateway="none"),
    "gpu at volume": CostInputs(300_000_000, 300, 8192, gpu=True, api_gateway="none"),
    "websocket": CostInputs(10_000_000, 50, 512, api_gateway="websocket"),
    "idle": CostInputs(0, 100, 128),
}

inputs_strategy = st.builds(
    CostInputs,
    requests_per_month=st.integers(0, 10**11),
    avg_duration_ms=st.integers(1, 900_000),
    memory_mb=st.integers(128, 10_240),
    architecture=st.sampled_from(["arm64", "x86_64"]),
    api_gateway=st.sampled_from(["http", "rest", "websocket", "none"]),
    load_balancer=st.booleans(),
    traffic_pattern=st.sampled_from(["steady", "spiky"]),
    peak_to_average=st.one_of(st.just(0.0), st.floats(1, 1000)),
    vcpus_per_request=st.one_of(st.just(0.0), st.floats(0.01, 8)),
    gpu=st.booleans(),
)


def job_hours(inputs: CostInputs) -> float:
    return inputs.requests_per_month * inputs.avg_duration_ms / 1000 / 3600


def check_capacity_covers_the_work(inputs: CostInputs) -> None:
    report = estimate(inputs)
    demand = report.inputs.demand
    for option_id in ("ec2-asg", "fargate"):
        option = report.option(option_id)
        if not option.available:
            continue
        unit = option.capacity
        assert unit is not None
        # Slots x hours hold the job-hours, at the planned peak.
        offered = unit["count"] * unit["concurrency_each"] * HOURS_PER_MONTH
        assert offered >= job_hours(inputs) * demand.peak_to_average * (1 - 1e-9)
        # The vCPUs at the planned utilisation hold the busy vCPU-hours.
        vcpu_hours = unit["count"] * unit["vcpus_each"] * demand.utilization * HOURS_PER_MONTH
        assert vcpu_hours >= job_hours(inputs) * demand.cpu_share * (1 - 1e-9)
        assert unit["memory_mb_each"] >= inputs.memory_mb
        assert unit["count"] >= capacity.fact("capacity.ha_minimum")


def check_unavailable_never_wins(inputs: CostInputs) -> None:
    report = estimate(inputs)
    lam = report.option("lambda")
    for option_id in CONTAINERS:
        option = report.option(option_id)
        even = report.break_even_requests_per_month[option_id]
        if not option.available or not lam.available:
            assert even is None, option_id
        assert option.available == (option.unavailable_reason is None)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_capacity_offered_covers_the_work_demanded(name):
    check_capacity_covers_the_work(PROFILES[name])


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_an_unavailable_option_never_has_a_break_even(name):
    check_unavailable_never_wins(PROFILES[name])


@settings(max_examples=150, deadline=None)
@given(inputs=inputs_strategy)
def test_capacity_invariants_hold_for_any_profile(inputs):
    check_capacity_covers_the_work(inputs)
    check_unavailable_never_wins(inputs)


@settings(max_examples=80, deadline=None)
@given(inputs=inputs_strategy, factor=st.floats(1.0, 1000.0))
def test_container_cost_never_falls_as_the_work_grows(inputs, factor):
    low = estimate(inputs)
    more = inputs.requests_per_month * factor + 1
    high = estimate(inputs.at(more))
    for option_id in ("ec2-asg", "fargate"):
        if low.option(option_id).available and high.option(option_id).available:
            # Re-planned at each volume (the cheapest fleet) ...
            assert high.option(option_id).monthly_usd >= low.option(option_id).monthly_usd - 1e-9
            # ... and along the curve of the planned units.
            here = monthly_at(low.inputs, low.option(option_id), inputs.requests_per_month)
            there = monthly_at(low.inputs, low.option(option_id), more)
            assert here is not None
            assert there is not None
            assert there >= here - 1e-9


@settings(max_examples=60, deadline=None)
@given(inputs=inputs_strategy, volume=st.integers(0, 10**11))
def test_the_curves_are_the_models(inputs, volume):
    report = estimate(inputs)
    probe = report.inputs.at(volume)
    for option in report.options:
        priced = price_option(probe, option.id)
        along = monthly_at(report.inputs, option, volume)
        if not option.available:  # an option that cannot serve this workload has no curve
            assert along is None
        elif along is None:  # one bare instance, past what it holds
            assert option.id == "ec2-single"
            assert not priced.available
        else:
            assert along == pytest.approx(priced.monthly_usd, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("load_balancer", [True, False], ids=["service", "worker"])
def test_cost_grows_past_the_high_availability_minimum(load_balancer):
    inputs = CostInputs(1_000_000, 200, 512, instance_type="m7g.large", load_balancer=load_balancer)
    small = estimate(inputs).option("ec2-asg")
    big = estimate(inputs.at(5_000_000_000)).option("ec2-asg")
    assert small.capacity["count"] == capacity.fact("capacity.ha_minimum")
    assert big.capacity["count"] > small.capacity["count"]
    instances = dict(big.breakdown)[f"{big.capacity['count']} instances"]
    assert instances == pytest.approx(big.capacity["count"] * 0.0816 * HOURS_PER_MONTH)
    assert big.monthly_usd > small.monthly_usd


def test_little_s_law_and_the_peak():
    demand = Demand.from_answers(
        requests_per_month=200_000_000, avg_duration_ms=500, memory_mb=256, traffic_pattern="steady"
    )
    assert demand.average_rps == pytest.approx(200_000_000 / SECONDS_PER_MONTH)  # about 76/s
    assert demand.average_concurrency == pytest.approx(demand.average_rps * 0.5)  # about 38
    assert demand.peak_rps == pytest.approx(demand.average_rps * PEAK_TO_AVERAGE["steady"])
    assert demand.cpu_share == pytest.approx(256 / 1769)
    assert Demand(1, 1, 4096).cpu_share == 1  # capped at one vCPU
    assert Demand(1, 1, 4096, vcpus_per_request=2.5).cpu_share == 2.5  # unless told otherwise


@pytest.mark.parametrize(
    ("memory_mb", "worker", "gpu"),
    [(128, False, False), (256, False, False), (512, True, False), (2048, True, False),
     (2048, False, False), (8192, False, True), (20_000, True, False), (100_000, False, True)],
)  # fmt: skip
def test_the_default_instance_type_is_the_cheapest_that_fits_one_request(memory_mb, worker, gpu):
    demand = Demand(0, 100, memory_mb, worker=worker, gpu=gpu)
    chosen = instance_fleet(demand)
    fitting = [t for t in CATALOGUE if t.gpu == gpu and capacity.misfit(t, demand) is None]
    assert chosen.size == min(fitting, key=lambda t: t.usd_per_hour).name
    assert chosen.count == 2


@pytest.mark.parametrize("requests", [2_000_000_000, 20_000_000_000])
def test_at_volume_the_cheapest_fleet_that_stays_a_group_wins(requests):
    demand = Demand(requests, 300, 3000, vcpus_per_request=1.0)
    fleet = instance_fleet(demand)
    ceiling = capacity.fact("capacity.max_size_ceiling")
    others = [
        instance_fleet(demand, row.name)
        for row in CATALOGUE
        if not row.gpu and capacity.misfit(row, demand) is None
    ]
    within = [other for other in others if capacity.max_size(other.count) <= ceiling]
    if within:
        assert capacity.max_size(fleet.count) <= ceiling
        assert fleet.usd_per_month == min(other.usd_per_month for other in within)
    else:  # nothing stays under the ceiling: the fewest instances
        assert fleet.count == min(other.count for other in others)
    assert fleet.size != CATALOGUE[0].name  # not hundreds of the smallest


def test_a_type_that_cannot_hold_one_request_is_refused_with_the_reason():
    with pytest.raises(capacity.NoFit, match=r"t4g.small cannot hold one request \(2048 MB"):
        instance_fleet(Demand(1, 1, 2048, worker=True), "t4g.small")
    with pytest.raises(capacity.NoFit, match="needs a GPU instance type"):
        instance_fleet(Demand(1, 1, 2048, gpu=True), "m7g.large")


# --- The limits a project follows -------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    requests=st.integers(0, 10**11),
    duration_ms=st.integers(1, 900_000),
    memory=st.integers(128, 10_240),
    pattern=st.sampled_from(["steady", "spiky"]),
    provisioned=st.integers(0, 50),
)
def test_lambda_limits_hold_the_planned_peak(requests, duration_ms, memory, pattern, provisioned):
    demand = Demand.from_answers(
        requests_per_month=requests,
        avg_duration_ms=duration_ms,
        memory_mb=memory,
        traffic_pattern=pattern,
    )
    limits = lambda_limits(demand, provisioned)
    if limits.reserved_concurrency == -1:
        assert limits.unreserved_reason
        assert math.ceil(demand.peak_concurrency * 2) > 900
    else:
        assert limits.reserved_concurrency >= demand.peak_concurrency
        assert limits.reserved_concurrency >= provisioned + 10
        assert limits.reserved_concurrency <= 900
    assert limits.throttling_rate_limit >= min(10_000, demand.peak_rps)
    assert limits.throttling_burst_limit >= min(5_000, limits.throttling_rate_limit)
    assert 2 <= limits.sqs_maximum_concurrency <= 1000
    assert limits.sqs_maximum_concurrency >= min(1000, demand.peak_concurrency)


def test_the_issue_s_api_is_no_longer_throttled():
    """200M requests/month of 500 ms, steady: about 76 requests/s arrive on average."""
    rec = recommend(WorkloadProfile("http_api", 10, False, False, "steady", 200_000_000, 500, 256))
    plan = rec.capacity.record()
    assert plan["lambda"]["throttling_rate_limit"] > plan["load"]["peak_requests_per_second"] > 76
    assert plan["lambda"]["reserved_concurrency"] > plan["load"]["peak_concurrency"] > 38


@pytest.mark.parametrize("shape", ["service", "inference", "websocket", "worker"])
@pytest.mark.parametrize("seconds", [1, 10, 55, 60, 300, 3599, 3600, 7200, 43_200])
def test_timeouts_let_the_longest_request_finish_within_the_limits(shape, seconds):
    if duration_refusal(shape, seconds):
        assert shape != "websocket"
        return
    limits = timeouts(shape, seconds)
    assert 1 <= limits.alb_idle_timeout_seconds <= 4000
    assert 0 <= limits.deregistration_delay_seconds <= 3600
    assert limits.stop_timeout_seconds > limits.graceful_shutdown_seconds
    if shape in ("service", "inference"):
        assert limits.alb_idle_timeout_seconds >= seconds
        assert limits.deregistration_delay_seconds >= seconds
        assert limits.graceful_shutdown_seconds >= seconds
    if shape == "worker":
        assert limits.graceful_shutdown_seconds == seconds  # the running job finishes first
    if shape == "websocket":  # connections ping: the lifetime is what a drain keeps
        assert limits.deregistration_delay_seconds == min(3600, max(300, seconds))


@pytest.mark.parametrize(
    ("shape", "seconds", "refused"),
    [("service", 3600, False), ("service", 3601, True), ("inference", 3601, True),
     ("websocket", 86_400, False), ("worker", 43_200, False), ("worker", 43_201, True)],
)  # fmt: skip
def test_answers_no_load_balancer_or_queue_can_hold_are_refused(shape, seconds, refused):
    reason = duration_refusal(shape, seconds)
    assert bool(reason) == refused
    if refused and shape != "worker":
        assert "4000 s" in reason
        assert "3600 s" in reason


@pytest.mark.parametrize(
    ("runs", "expected"),
    [(0, "rate(30 days)"), (1, "rate(30 days)"), (30, "rate(1 day)"), (730, "rate(1 hour)"),
     (43_800, "rate(1 minute)"), (10**9, "rate(1 minute)")],
)  # fmt: skip
def test_a_schedule_fires_about_as_often_as_answered(runs, expected):
    assert schedule_expression(runs) == expected


@settings(max_examples=300, deadline=None)
@given(runs=st.integers(1, 43_800))
def test_a_schedule_is_the_closest_or_within_a_tenth(runs):
    expression = schedule_expression(runs)
    value, unit = expression.removeprefix("rate(").removesuffix(")").split()
    minutes = int(value) * {"day": 1440, "hour": 60, "minute": 1}[unit.rstrip("s")]
    fired = SECONDS_PER_MONTH / 60 / minutes
    best = min(
        abs(SECONDS_PER_MONTH / 60 / (max(1, round(SECONDS_PER_MONTH / 60 / runs / n)) * n) - runs)
        for n in (1440, 60, 1)
    )
    assert abs(fired - runs) / runs <= 0.1 or abs(fired - runs) == pytest.approx(best)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_gets_a_complete_record(workload):
    websocket, gpu = workload == "websocket", workload == "ml_inference"
    profile = WorkloadProfile(workload, 60, websocket, gpu, "steady", 5_000_000, 250, 1024)
    rec = recommend(profile)
    record = rec.capacity.record()
    assert record["sized"] is True
    instances = record["instances"]
    assert instances["min_size"] == 2
    assert instances["max_size"] >= instances["count"] >= instances["min_size"]
    assert instances["instance_type"] == rec.costs.option("ec2-asg").capacity["size"]
    if CONTAINER_SHAPES[workload] == "worker":
        assert instances["concurrency_each"] >= 1  # worker processes per instance
    assert (record["fargate"] is None) == (workload == "ml_inference")


def test_the_facts_have_sources_and_units():
    keys = [row.key for row in FACTS]
    assert len(keys) == len(set(keys))
    for row in FACTS:
        assert row.unit
        assert row.source
    assert [row.usd_per_hour for row in CATALOGUE] == sorted(r.usd_per_hour for r in CATALOGUE)
    assert {row.architecture for row in CATALOGUE} == {"arm64", "x86_64"}
    families = {row.name.split(".")[0] for row in CATALOGUE}
    assert {"t4g", "m7g", "c7g", "r7g", "t3", "m7i", "c7i", "r7i", "g4dn", "g5", "g6"} <= families


def test_a_fargate_task_is_one_of_fargate_s_sizes():
    demand = Demand(50_000_000, 400, 3000, vcpus_per_request=1.5)
    fleet = capacity.fargate_fleet(demand, lambda vcpus, gb: vcpus * 0.04 + gb * 0.004)
    sizes = {(cpu, memory) for cpu, memories in capacity.FARGATE_SIZES for memory in memories}
    assert (round(fleet.vcpus_each * 1024), fleet.memory_mb_each) in sizes
    assert fleet.memory_mb_each >= 3000
    assert fleet.vcpus_each * 0.65 >= 1.5
    with pytest.raises(capacity.NoFit, match="no GPUs"):
        capacity.fargate_fleet(dataclasses.replace(demand, gpu=True), lambda v, g: 1.0)


@pytest.mark.parametrize(("workload", "name", "given"), ALL, ids=[f"{w}-{n}" for w, n, _ in ALL])
def test_the_plan_of_every_profile_survives_the_answers_file(contract, workload, name, given):
    """What a project records is what it was planned with, read back as copier reads it."""
    plan = make_plan(contract, {"project_name": "demo-svc", **given})
    record = plan.answers["capacity_plan"]
    assert yaml.safe_load(yaml.safe_dump(record)) == record
    load = record["load"]
    assert load["peak_requests_per_second"] >= load["average_requests_per_second"]
    if name == "long" and CONTAINER_SHAPES[workload] in ("service", "inference"):
        assert record["timeouts"]["alb_idle_timeout_seconds"] >= given["max_duration_seconds"]
        assert record["timeouts"]["deregistration_delay_seconds"] >= given["max_duration_seconds"]
    instances = record["instances"]
    assert instances["count"] * instances["concurrency_each"] >= load["peak_concurrency"] * 0.999
    if name == "large":
        lam = record["lambda"]
        assert lam["reserved_concurrency"] == -1 or lam["reserved_concurrency"] >= math.ceil(
            load["peak_concurrency"]
        )
