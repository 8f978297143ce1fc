"""The decision engine: every blocker and its edges, traffic patterns, workload defaults."""

from __future__ import annotations

import dataclasses

import pytest

from infra_scaffold.decision import (
    LAMBDA_WORKLOADS,
    WORKLOADS,
    WorkloadProfile,
    check_compute,
    find_blockers,
    recommend,
)
from infra_scaffold.errors import ComputeForbiddenError
from infra_scaffold.plan import recommend_for

BASE = WorkloadProfile(
    workload="sqs_consumer",
    max_duration_seconds=60,
    needs_websockets=False,
    needs_gpu=False,
    traffic_pattern="spiky",
    requests_per_month=1_000_000,
    avg_duration_ms=200,
    memory_mb=256,
)


def profile(**changes):
    return dataclasses.replace(BASE, **changes)


def blocker_ids(p):
    return [b.id for b in find_blockers(p)]


def cheaper_containers(rec):
    """The container compute the costs favour: EC2 on a tie, Fargate when it costs less."""
    asg, far = rec.costs.option("ec2-asg"), rec.costs.option("fargate")
    if far.available and (not asg.available or far.monthly_usd < asg.monthly_usd):
        return "fargate"
    return "container"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"max_duration_seconds": 899}, []),
        ({"max_duration_seconds": 900}, []),
        ({"max_duration_seconds": 901}, ["timeout"]),
        ({"workload": "http_api", "max_duration_seconds": 30}, []),
        ({"workload": "http_api", "max_duration_seconds": 31}, ["api_timeout"]),
        ({"workload": "webhook", "max_duration_seconds": 901}, ["timeout"]),
        ({"workload": "websocket", "needs_websockets": True},
         ["persistent_connections", "workload"]),
        ({"workload": "ml_inference", "needs_gpu": True}, ["gpu", "workload"]),
        ({"memory_mb": 10_240}, []),
        ({"memory_mb": 10_241}, ["memory"]),
        ({"max_payload_kb": 1024}, []),
        ({"max_payload_kb": 1025}, ["payload"]),
        ({"workload": "http_api", "max_duration_seconds": 10, "max_payload_kb": 6144}, []),
        ({"workload": "http_api", "max_duration_seconds": 10, "max_payload_kb": 6145},
         ["payload"]),
        ({"ephemeral_storage_mb": 10_240}, []),
        ({"ephemeral_storage_mb": 10_241}, ["storage"]),
        ({"workload": "worker"}, ["workload"]),
        ({"workload": "websocket"}, ["workload"]),
    ],
)  # fmt: skip
def test_blockers_and_their_edges(changes, expected):
    p = profile(**changes)
    assert blocker_ids(p) == expected
    rec = recommend(p)
    assert rec.compute == (cheaper_containers(rec) if expected else "lambda")


@pytest.mark.parametrize(
    ("changes", "fact"),
    [
        ({"max_duration_seconds": 901}, "900 s (15 minutes)"),
        ({"max_duration_seconds": 901}, "Durable functions"),
        ({"workload": "http_api", "max_duration_seconds": 31}, "30 s"),
        ({"workload": "websocket", "needs_websockets": True}, "10 minutes"),
        ({"workload": "websocket", "needs_websockets": True}, "2 hours"),
        ({"workload": "ml_inference", "needs_gpu": True}, "no"),
        ({"workload": "ml_inference", "needs_gpu": True}, "Managed Instances"),
        ({"memory_mb": 20_000}, "10,240 MB"),
        ({"max_payload_kb": 2048}, "6 MB"),
        ({"ephemeral_storage_mb": 20_000}, "10 GB"),
    ],
)  # fmt: skip
def test_each_blocker_cites_its_limit(changes, fact):
    assert any(fact in b.message for b in find_blockers(profile(**changes)))


def test_lambda_forbidden_by_a_blocker_is_refused_with_its_sentence():
    rec = recommend(profile(memory_mb=20_000))
    with pytest.raises(ComputeForbiddenError, match="10,240 MB") as error:
        check_compute(rec, "lambda")
    assert error.value.key == "compute"
    check_compute(rec, "container")
    check_compute(recommend(BASE), "container")  # EC2 containers are never forbidden


def test_spiky_traffic_keeps_lambda_even_at_high_volume():
    rec = recommend(profile(traffic_pattern="spiky", requests_per_month=500_000_000))
    assert rec.compute == "lambda"
    assert any("scales to zero" in reason for reason in rec.reasons)


def test_steady_traffic_above_the_break_even_moves_to_containers():
    steady = profile(traffic_pattern="steady", workload="http_api", max_duration_seconds=10)
    below = recommend(dataclasses.replace(steady, requests_per_month=1_000_000))
    even = below.costs.break_even_requests_per_month["ec2-asg"]
    # The fleet grows one instance at a time, so just past the break-even a new
    # instance can tip the balance back for a while; at twice the volume it cannot.
    at = recommend(dataclasses.replace(steady, requests_per_month=even))
    above = recommend(dataclasses.replace(steady, requests_per_month=2 * even))
    assert below.compute == "lambda"
    assert at.compute in ("container", "fargate")
    assert at.compute == cheaper_containers(at)
    assert above.compute == cheaper_containers(above)
    assert any("below the break-even" in reason for reason in below.reasons)
    assert any("above the break-even" in reason for reason in above.reasons)
    assert any(f"{even:,}" in reason for reason in below.reasons)


def test_every_reason_list_states_the_costs():
    for p in (BASE, profile(traffic_pattern="steady"), profile(memory_mb=20_000)):
        rec = recommend(p)
        assert any("Lambda costs $" in r and "EC2 Auto Scaling project" in r for r in rec.reasons)
        assert any("the Fargate project" in r for r in rec.reasons if "Lambda costs $" in r)


@pytest.mark.parametrize(
    "workload", ["sqs_consumer", "s3_events", "dynamodb_stream", "scheduled_job"]
)
def test_no_cold_start_advice_where_no_caller_waits(workload):
    rec = recommend(profile(workload=workload, latency_sensitive=True))
    assert rec.compute == "lambda"
    assert rec.mitigations == ()


def test_mitigations_only_for_lambda():
    api = profile(workload="http_api", max_duration_seconds=10)
    assert recommend(profile(workload="http_api", memory_mb=20_000)).mitigations == ()
    mitigations = " ".join(recommend(api).mitigations)
    assert "200 ms to 2 s" in mitigations
    assert "arm64" in mitigations
    assert "Small package" in mitigations
    assert "SnapStart" in mitigations


def test_latency_sensitive_api_gets_provisioned_concurrency_with_its_cost():
    rec = recommend(profile(workload="http_api", max_duration_seconds=10, latency_sensitive=True))
    warm = dict(rec.costs.option("lambda").breakdown)["provisioned concurrency"]
    assert warm > 0
    text = " ".join(rec.mitigations)
    assert f"${warm:,.2f}/month" in text
    assert "cannot be combined with provisioned concurrency" in text


def test_latency_sensitive_event_consumer_needs_no_provisioned_concurrency():
    rec = recommend(profile(latency_sensitive=True))
    assert "provisioned concurrency" not in dict(rec.costs.option("lambda").breakdown)
    assert not any(m.startswith("Provisioned concurrency") for m in rec.mitigations)


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_default_profile_recommends_its_table_compute(contract, workload):
    rec = recommend_for(contract, {"workload": workload})
    assert rec.compute == contract.workload_table(workload)["compute"]
    if workload in LAMBDA_WORKLOADS:
        assert rec.blockers == ()
    else:
        assert "workload" in [b.id for b in rec.blockers]


def test_json_shape():
    data = recommend(BASE).to_dict()
    assert set(data) == {"compute", "blockers", "reasons", "mitigations", "costs"}
    blocked = recommend(profile(needs_gpu=True, workload="ml_inference")).to_dict()
    assert {"id", "message"} == set(blocked["blockers"][0])


def test_record_is_what_projects_keep():
    record = recommend(BASE).record()
    assert record["recommended"] == "lambda"
    assert set(record["monthly_usd"]) == {"lambda", "ec2-single", "ec2-asg", "fargate"}
    assert set(record["break_even_requests_per_month"]) == {"ec2-single", "ec2-asg", "fargate"}


def test_spiky_is_not_a_rule_on_its_own_the_sized_costs_decide():
    # Spiky traffic whose bursts are only twice the average, at high volume:
    # the fleet that holds them costs less than Lambda, so containers win.
    bursty = profile(traffic_pattern="spiky", peak_to_average=2.0, requests_per_month=3 * 10**9)
    rec = recommend(bursty)
    assert rec.costs.option("ec2-asg").monthly_usd < rec.costs.option("lambda").monthly_usd
    assert rec.compute == cheaper_containers(rec)
    assert any("Traffic is spiky, but even sized for its peak" in r for r in rec.reasons)


@pytest.mark.parametrize(
    ("changes", "pulls_apart"),
    [
        ({"traffic_pattern": "spiky", "requests_per_month": 500_000_000}, True),  # ~190/s
        ({"traffic_pattern": "spiky", "requests_per_month": 100_000_000}, False),  # ~38/s
        ({"traffic_pattern": "steady", "requests_per_month": 500_000_000}, False),
        ({"traffic_pattern": "spiky", "requests_per_month": 500_000_000, "peak_to_average": 4.0},
         False),  # the user stated the peak: nothing to reconcile
    ],
)  # fmt: skip
def test_answers_that_contradict_each_other_are_pointed_out(changes, pulls_apart):
    reasons = recommend(profile(**changes)).reasons
    said = [r for r in reasons if r.startswith("These answers pull apart")]
    assert bool(said) == pulls_apart
    if said:
        assert "traffic_pattern=steady" in said[0]
        assert "peak_to_average" in said[0]


def test_an_unavailable_option_never_wins():
    gpu = recommend(profile(workload="ml_inference", needs_gpu=True, requests_per_month=10**9))
    assert not gpu.costs.option("lambda").available
    assert gpu.compute == "container"
    record = gpu.record()
    # No GPU on Lambda or Fargate, and one bare instance cannot hold a billion requests.
    assert set(record["unavailable"]) == {"lambda", "fargate", "ec2-single"}
    assert "GPU" in record["unavailable"]["fargate"]
    assert set(record["break_even_requests_per_month"].values()) == {None}


# --- Lambda, EC2 or Fargate: held-out profiles ---------------------------------------

#: A steady, mid-size JSON API without a GPU: 120 ms and 512 MB a request.
STEADY_API = profile(
    workload="http_api", traffic_pattern="steady", max_duration_seconds=10,
    avg_duration_ms=120, memory_mb=512,
)  # fmt: skip


@pytest.mark.parametrize("requests_per_month", [300_000_000, 1_000_000_000, 3_000_000_000])
def test_a_steady_mid_size_api_runs_on_the_cheaper_container_option_and_says_why(
    requests_per_month,
):
    """Past Lambda's break-even both container computes fit; the costs pick one, and the
    reasons name the other with both monthly figures."""
    rec = recommend(dataclasses.replace(STEADY_API, requests_per_month=requests_per_month))
    assert not find_blockers(STEADY_API)
    asg, fargate = rec.costs.option("ec2-asg"), rec.costs.option("fargate")
    assert asg.available
    assert fargate.available
    assert rec.compute in ("container", "fargate")
    assert rec.compute == cheaper_containers(rec)
    chosen, other = ("Fargate", "EC2") if rec.compute == "fargate" else ("EC2", "Fargate")
    (why,) = [r for r in rec.reasons if r.startswith(f"{chosen} rather than {other}")]
    assert f"${fargate.monthly_usd:,.2f}/month" in why
    assert f"${asg.monthly_usd:,.2f}" in why


def test_both_container_options_win_somewhere_on_the_same_api():
    """Neither is hard-coded: the per-unit prices decide, and at large steady scale the
    instances' per-unit price wins."""
    chosen = {
        recommend(dataclasses.replace(STEADY_API, requests_per_month=n)).compute
        for n in (300_000_000, 3_000_000_000)
    }
    assert chosen == {"fargate", "container"}


@pytest.mark.parametrize(
    "changes",
    [
        {"workload": "ml_inference", "needs_gpu": True, "traffic_pattern": "steady"},
        {"workload": "ml_inference", "needs_gpu": True, "requests_per_month": 10**10},
        {"workload": "ml_inference", "needs_gpu": True, "traffic_pattern": "steady",
         "max_duration_seconds": 10, "requests_per_month": 3_000_000_000, "memory_mb": 512},
    ],
)  # fmt: skip
def test_a_gpu_service_is_never_fargate_and_fargate_is_refused_with_the_reason(changes):
    rec = recommend(profile(**changes))
    assert rec.compute == "container"
    assert not rec.costs.option("fargate").available
    with pytest.raises(ComputeForbiddenError, match="fargate is ruled out: It needs a GPU"):
        check_compute(rec, "fargate")
    check_compute(rec, "container")
