"""benchmarks/service_throughput.py compares like with like (its numbers are not tested).

Its ratios mean something only if the bare app gives the generated app's answers, byte
for byte, through the same server call. Checked here with the test environment's
packages (the generated requirements' pins, see test_dependencies.py), no load
generator and no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.render import REPO, plain_template, render

sys.path.insert(0, str(REPO / "benchmarks"))

import service_throughput as bench  # found through the path above


@pytest.mark.parametrize("workload", bench.WORKLOADS)
def test_the_bare_app_gives_the_generated_apps_answers_through_the_same_server(
    tmp_path: Path, workload: str
) -> None:
    project = render(
        plain_template(tmp_path / "template"),
        tmp_path / "project",
        workload=workload,
        compute="container",
    )
    python = Path(sys.executable)
    with bench.aws_endpoint(workload) as aws_url:
        env = bench.production_env(workload, bench.free_port(), aws_url)
        with bench.serve(python, project, env, tmp_path / "generated.log", None, False) as server:
            generated = bench.answers(server, workload)
            sent_one_at_a_time(server.port, workload)
        (tmp_path / "bare.py").write_text(bench.bare_app(generated))
        with bench.serve(python, project, env, tmp_path / "bare.log", None, True) as server:
            bare = bench.answers(server, workload)
            sent_one_at_a_time(server.port, workload)
    assert bare == generated
    names = [endpoint.name for endpoint in bench.endpoints(workload)]
    assert names[0] == "GET /health"
    assert len(names) == 2, "each service shape's main endpoint is measured too"
    assert len(generated.http) + bool(generated.websocket[0]) == 2
    # Neither server wrote a line per request: the load balancer logs every request.
    for log in ("generated.log", "bare.log"):
        assert "HTTP/1.1" not in (tmp_path / log).read_text(), log


def sent_one_at_a_time(port: int, workload: str) -> None:
    """--instructions' client gets each endpoint's status on one connection (it raises
    otherwise): a count of requests that were refused by mistake would mean nothing."""
    for endpoint in bench.endpoints(workload):
        bench.send_sequentially(port, endpoint, 3)


def test_the_instruction_count_is_callgrinds_total(tmp_path: Path) -> None:
    output = tmp_path / "callgrind.out"
    output.write_text("version: 1\ncmd: python -m app\nevents: Ir\nfl=x\n1 5\ntotals: 1234567\n")
    assert bench.callgrind_total(output) == 1234567
    output.write_text("version: 1\nevents: Ir\n")
    with pytest.raises(RuntimeError, match="no totals"):
        bench.callgrind_total(output)
