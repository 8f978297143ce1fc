"""The cost model: the article's figures, break-even points and every price."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra_scaffold.capacity import CATALOGUE_AS_OF
from infra_scaffold.cost import (
    ASG_INSTANCES,
    PRICE_TABLE,
    PRICES_AS_OF,
    WAF_RULES,
    CostInputs,
    estimate,
    instance_types,
    price,
    price_option,
)

#: The article's profile, on the article's instance (one request of 200 ms at
#: 128 MB fits a t4g.small many times over, so it stays one instance or two).
ARTICLE = {
    "avg_duration_ms": 200, "memory_mb": 128, "architecture": "x86_64",
    "instance_type": "t4g.small",
}  # fmt: skip


def monthly(report, option_id):
    return report.option(option_id).monthly_usd


def test_article_one_million_requests():
    report = estimate(CostInputs(1_000_000, **ARTICLE, api_gateway="http", free_tier=False))
    assert monthly(report, "lambda") == pytest.approx(1.62, abs=0.005)
    assert monthly(report, "ec2-single") == pytest.approx(12.26, abs=0.005)
    assert dict(report.option("lambda").breakdown) == pytest.approx(
        {"requests": 0.20, "duration": 0.41667, "API Gateway HTTP API": 1.00}, abs=1e-4
    )


def test_article_ten_million_requests_ec2_single_is_cheaper():
    report = estimate(CostInputs(10_000_000, **ARTICLE, api_gateway="http", free_tier=False))
    assert monthly(report, "lambda") == pytest.approx(16.17, abs=0.01)
    assert monthly(report, "ec2-single") < monthly(report, "lambda")
    assert report.break_even_requests_per_month["ec2-single"] == pytest.approx(7.6e6, rel=0.01)


def test_lambda_alone_matches_the_brief():
    for volume, usd in ((1_000_000, 0.62), (10_000_000, 6.17)):
        report = estimate(CostInputs(volume, **ARTICLE, api_gateway="none"))
        assert monthly(report, "lambda") == pytest.approx(usd, abs=0.005)


def test_highly_available_topology_without_waf_breaks_even_near_26_million():
    inputs = CostInputs(1_000_000, **ARTICLE, api_gateway="http", waf=False)
    report = estimate(inputs)
    assert monthly(report, "ec2-asg") == pytest.approx(41, abs=0.5)
    assert report.break_even_requests_per_month["ec2-asg"] == pytest.approx(26e6, rel=0.05)


def test_waf_is_included_in_the_generated_topology_and_never_hidden():
    with_waf = estimate(CostInputs(1_000_000, **ARTICLE))
    without = estimate(CostInputs(1_000_000, **ARTICLE, waf=False))
    parts = dict(with_waf.option("ec2-asg").breakdown)
    assert parts["WAF"] == pytest.approx(5 + WAF_RULES * 1 + 0.60)
    assert parts[f"{ASG_INSTANCES} instances"] == pytest.approx(2 * 0.0168 * 730)
    assert parts["ALB"] == pytest.approx(0.0225 * 730)
    assert "WAF" not in dict(without.option("ec2-asg").breakdown)


def test_a_worker_has_no_load_balancer():
    report = estimate(CostInputs(1_000_000, **ARTICLE, load_balancer=False))
    assert [item for item, _ in report.option("ec2-asg").breakdown] == ["2 instances"]
    assert monthly(report, "ec2-asg") == pytest.approx(2 * 12.264)


def test_free_tier_and_arm64_lower_the_lambda_bill():
    base = CostInputs(5_000_000, 300, 512, "x86_64", "none")
    free = estimate(CostInputs(5_000_000, 300, 512, "x86_64", "none", free_tier=True))
    arm = estimate(CostInputs(5_000_000, 300, 512, "arm64", "none"))
    paid = monthly(estimate(base), "lambda")
    gb_seconds = 5_000_000 * 0.3 * 0.5
    assert monthly(free, "lambda") == pytest.approx(
        paid - 1_000_000 * 0.2e-6 - 400_000 * 0.0000166667
    )
    assert monthly(arm, "lambda") == pytest.approx(1.0 + gb_seconds * 0.0000133334)


def test_free_tier_covers_small_workloads_entirely():
    report = estimate(CostInputs(500_000, 100, 128, api_gateway="none", free_tier=True))
    assert monthly(report, "lambda") == 0


def test_provisioned_concurrency_is_billed_around_the_clock():
    report = estimate(CostInputs(0, 100, 1024, "arm64", "http", provisioned_concurrency=2))
    parts = dict(report.option("lambda").breakdown)
    assert parts["provisioned concurrency"] == pytest.approx(2 * 1 * 730 * 3600 * 0.0000033334)
    assert parts["duration on provisioned"] == 0


def test_break_even_is_zero_when_containers_always_win():
    report = estimate(CostInputs(0, 100, 10_240, provisioned_concurrency=100))
    assert report.break_even_requests_per_month["ec2-single"] == 0


def test_break_even_is_none_when_lambda_always_wins():
    # 1 ms at 128 MB with no API Gateway costs less per request than the
    # ALB's and WAF's own per-request charges.
    report = estimate(CostInputs(1_000_000, 1, 128, api_gateway="none"))
    assert report.break_even_requests_per_month["ec2-asg"] is None


@settings(max_examples=60, deadline=None)
@given(
    duration=st.integers(1, 60_000),
    memory=st.integers(128, 10_240),
    architecture=st.sampled_from(["arm64", "x86_64"]),
    gateway=st.sampled_from(["http", "rest", "none"]),
    free_tier=st.booleans(),
    option=st.sampled_from(["ec2-single", "ec2-asg", "fargate"]),
)
def test_break_even_separates_cheaper_lambda_from_cheaper_containers(
    duration, memory, architecture, gateway, free_tier, option
):
    report = estimate(CostInputs(1, duration, memory, architecture, gateway, free_tier))
    inputs = report.inputs  # the planned units: the curves keep them as the volume varies
    volume = report.break_even_requests_per_month[option]
    if volume in (0, None):
        return
    below, above = inputs.at(volume - 2), inputs.at(volume + 2)
    assert price_option(below, "lambda").monthly_usd <= price_option(below, option).monthly_usd
    assert price_option(above, "lambda").monthly_usd >= price_option(above, option).monthly_usd


def test_breakdowns_add_up_and_json_keeps_every_option():
    report = estimate(CostInputs(3_000_000, 250, 512, provisioned_concurrency=1))
    data = report.to_dict()
    assert [o["id"] for o in data["options"]] == ["lambda", "ec2-single", "ec2-asg", "fargate"]
    for option in data["options"]:
        assert sum(option["breakdown"].values()) == pytest.approx(option["monthly_usd"], abs=1e-3)
    assert set(data["break_even_requests_per_month"]) == {"ec2-single", "ec2-asg", "fargate"}
    assert data["assumptions"]["prices_as_of"] == PRICES_AS_OF
    assert data["assumptions"]["notes"], "assumptions must be printed, not hidden"


def test_every_price_has_a_unit_and_a_source():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_AS_OF)
    assert CATALOGUE_AS_OF == PRICES_AS_OF  # instance prices are re-checked with the rest
    keys = [row.key for row in PRICE_TABLE]
    assert len(keys) == len(set(keys))
    for row in PRICE_TABLE:
        assert row.usd >= 0
        assert row.unit
        assert row.source.startswith("https://aws.amazon.com/")


def test_prices_of_the_brief():
    assert price("lambda.requests") == 0.20
    assert price("lambda.gb_second.x86_64") == 0.0000166667
    assert price("lambda.gb_second.arm64") == 0.0000133334
    assert price("ec2.t4g.small") * 730 == pytest.approx(12.26, abs=0.01)
    assert price("alb.hour") * 730 == pytest.approx(16.43, abs=0.01)
    assert (price("fargate.vcpu.arm64"), price("fargate.gb.arm64")) == (0.03238, 0.00356)


def test_every_offered_instance_type_has_a_price(contract):
    offered = set(contract.question("instance_type").choice_values)
    assert offered == set(contract.table("instance_types")) == set(instance_types())


@pytest.mark.parametrize(
    ("field", "value"),
    [("requests_per_month", -1), ("avg_duration_ms", 0), ("memory_mb", 0),
     ("architecture", "sparc"), ("api_gateway", "soap"), ("instance_type", "m5.large")],
)  # fmt: skip
def test_inputs_reject_nonsense(field, value):
    fields = {"requests_per_month": 1, "avg_duration_ms": 1, "memory_mb": 128, field: value}
    with pytest.raises(ValueError, match=field):
        CostInputs(**fields)


def test_lambda_behind_a_websocket_api_pays_messages_and_connection_minutes():
    report = estimate(CostInputs(10_000_000, 50, 512, api_gateway="websocket"))
    parts = dict(report.option("lambda").breakdown)
    # One message received and one sent per request; about one a minute per connection.
    assert parts["WebSocket messages"] == pytest.approx(2 * 10 * price("apigw.websocket.messages"))
    assert parts["WebSocket connection minutes"] == pytest.approx(
        10 * price("apigw.websocket.connection_minutes")
    )
    assert "WebSocket API" in report.option("lambda").label
    assert report.assumptions["api_gateway"] == "websocket"


def test_a_gpu_workload_has_no_lambda_or_fargate_option():
    report = estimate(CostInputs(1_000_000, 300, 8192, api_gateway="none", gpu=True))
    assert report.option("lambda").unavailable_reason == "standard Lambda has no GPU"
    assert report.option("fargate").unavailable_reason == "Fargate has no GPUs"
    assert report.option("ec2-asg").available
    assert report.option("ec2-asg").fleet.size.startswith(("g4dn", "g5", "g6"))
    assert set(report.break_even_requests_per_month.values()) == {None}


def test_one_bare_instance_is_unavailable_once_it_cannot_hold_the_peak():
    inputs = CostInputs(1_000_000, 200, 128, instance_type="t4g.small")
    holds = estimate(inputs).option("ec2-single")
    assert holds.available
    per_instance = holds.fleet.requests_per_unit
    past = estimate(inputs.at(per_instance * 1.01)).option("ec2-single")
    assert not past.available
    assert "the planned peak needs 2 of them" in past.unavailable_reason
    assert (
        estimate(inputs.at(per_instance * 1.01)).break_even_requests_per_month["ec2-single"] is None
    )
