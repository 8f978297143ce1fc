"""`scaffold new` in a real terminal (pexpect), and interrupted while rendering."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest
import yaml
from support.render import REPO, template_trees

DOWN, UP, ENTER = "\x1b[B", "\x1b[A", "\r"


def spawn(*args: str, cwd: Path) -> pexpect.spawn:
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "120", "TERM": "xterm"}
    return pexpect.spawn(
        sys.executable, ["-m", "infra_scaffold", *args], cwd=str(cwd), env=env,
        encoding="utf-8", timeout=90, dimensions=(60, 120),
    )  # fmt: skip


def answer(child: pexpect.spawn, prompt: str, keys: str = ENTER) -> None:
    child.expect(prompt)
    child.send(keys)


def test_the_whole_conversation_ends_in_a_project(tmp_path):
    child = spawn("new", cwd=tmp_path)
    answer(child, "Project name", "queue-worker\r")
    answer(child, "What kind of service", DOWN * 3 + ENTER)  # SQS queue consumer
    answer(child, "Longest time", ENTER)
    answer(child, "How does the traffic arrive", DOWN + ENTER)  # steady
    answer(child, "Requests, events or jobs per month", "\b" * 10 + "2000000\r")
    answer(child, "Average time", ENTER)
    answer(child, "Memory", "\b" * 5 + "512\r")
    answer(child, "Largest request", ENTER)
    child.expect("Recommendation: AWS Lambda")
    child.expect("Break-even")
    answer(child, "Where should it run", ENTER)  # the recommendation is the default
    answer(child, "One sentence", "\b" * 60 + 'Bills "orders" #1\r')
    answer(child, "AWS region", ENTER)
    child.expect("Summary:")
    answer(child, r"Create .*queue-worker\?", ENTER)
    child.expect("Created queue-worker")
    child.expect("Next steps:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    answers = yaml.safe_load((tmp_path / "queue-worker" / ".copier-answers.yml").read_text())
    assert answers["workload"] == "sqs_consumer"
    assert answers["traffic_pattern"] == "steady"
    assert answers["requests_per_month"] == 2_000_000
    assert answers["memory_mb"] == 512
    assert answers["compute"] == "lambda"
    assert answers["description"] == 'Bills "orders" #1'
    assert answers["max_duration_seconds"] == 60  # the workload's default, accepted


class Screen:
    """What a user sees: pexpect's output fed to pyte, a VT100 emulator.

    prompt_toolkit redraws with cursor moves and erases, so the raw output
    holds text that is no longer (or never was) on screen; pyte replays the
    escape sequences into the 24 visible lines, scrolling as a terminal does.
    """

    def __init__(self, rows: int, columns: int) -> None:
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)

    def write(self, text: str) -> None:
        self.stream.feed(text)

    def flush(self) -> None:
        """pexpect's logfile interface."""

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]


def test_on_an_80x24_terminal_the_recommendation_is_on_screen_at_the_compute_menu(tmp_path):
    screen = Screen(24, 80)
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "COLUMNS": "80",
           "LINES": "24"}  # fmt: skip
    child = pexpect.spawn(
        sys.executable, ["-m", "infra_scaffold", "new", "small-screen"], cwd=str(tmp_path),
        env=env, encoding="utf-8", timeout=90, dimensions=(24, 80),
    )  # fmt: skip
    child.logfile_read = screen
    answer(child, "Project name", ENTER)
    answer(child, "What kind of service", ENTER)  # HTTP API
    answer(child, "Longest time", ENTER)
    answer(child, "How does the traffic arrive", ENTER)
    answer(child, "Requests, events or jobs per month", "\b" * 10 + "2M\r")  # 2,000,000
    for prompt in ("Average time", "Memory", "Largest request", "cold start"):
        answer(child, prompt, ENTER)
    child.expect("Containers on EC2")  # the menu's last choice: drawn
    child.expect(pexpect.TIMEOUT, timeout=1)  # let prompt_toolkit finish the redraw
    shown = screen.lines
    text = "\n".join(shown)
    assert all(len(line) <= 80 for line in shown)
    # The summary is whole on screen: headline, why, costs, break-even...
    headline = shown.index("Recommendation: AWS Lambda")
    summary = text[text.index("Recommendation: AWS Lambda") :]
    assert "Traffic is spiky" in summary
    assert "At 2,000,000 requests/month: Lambda costs" in summary
    assert "Break-even" in summary
    # ...and below it the menu, which repeats the verdict and marks its choice.
    menu = next(i for i, line in enumerate(shown) if "Where should it run?" in line)
    assert headline < menu
    assert shown[menu] == "? Where should it run? Recommendation: AWS Lambda"
    assert any("AWS Lambda (AWS SAM project) (recommended)" in line for line in shown[menu:])
    assert not any("Containers on EC2" in line and "recommended" in line for line in shown)

    child.send(DOWN + ENTER)  # containers, against the recommendation
    answer(child, "One sentence", ENTER)
    answer(child, "AWS region", ENTER)
    answer(child, "EC2 instance type", ENTER)
    answer(child, r"Create .*small-screen\?", ENTER)
    child.expect("Created small-screen")
    child.expect("Note: this project uses Containers")
    child.expect("although the checklist")
    child.expect("recommends AWS Lambda")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    answers = yaml.safe_load((tmp_path / "small-screen" / ".copier-answers.yml").read_text())
    assert answers["requests_per_month"] == 2_000_000
    assert answers["compute"] == "container"


def test_a_compute_a_blocker_rules_out_is_refused_with_its_sentence(tmp_path):
    child = spawn("new", "long-jobs", "--data", "description=Batch", cwd=tmp_path)
    answer(child, "Project name", ENTER)  # default: the folder name
    answer(child, "What kind of service", DOWN * 7 + ENTER)  # long-running queue worker
    for prompt in ("Longest time", "traffic", "per month", "Average time", "Memory", "Scratch"):
        answer(child, prompt, ENTER)
    child.expect("Recommendation: Containers")
    answer(child, "Where should it run", UP * 2 + ENTER)  # Fargate is recommended: Lambda
    child.expect("lambda is ruled out: One run may take 3,600 s")
    answer(child, "Where should it run", ENTER)  # asked again, the recommendation first
    answer(child, "AWS region", ENTER)
    answer(child, r"Create .*long-jobs\?", ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    answers = yaml.safe_load((tmp_path / "long-jobs" / ".copier-answers.yml").read_text())
    assert answers["compute"] == "fargate"
    assert answers["workload"] == "worker"


def test_fargate_for_a_gpu_service_is_refused_with_its_reason(tmp_path):
    child = spawn("new", "gpu-api", "--data", "description=Scores", cwd=tmp_path)
    answer(child, "Project name", ENTER)
    answer(child, "What kind of service", DOWN * 8 + ENTER)  # ML inference service
    for prompt in ("Longest time", "GPU", "traffic", "per month", "Average time", "Memory",
                   "Largest request", "cold start"):  # fmt: skip
        answer(child, prompt, ENTER)
    child.expect(r"Recommendation: Containers \(EC2 Auto Scaling group\)")
    answer(child, "Where should it run", DOWN + ENTER)  # Fargate, just below EC2
    child.expect("fargate is ruled out: It needs a GPU and Fargate has none")
    answer(child, "Where should it run", ENTER)  # asked again: EC2, the recommendation
    answer(child, "AWS region", ENTER)
    answer(child, "EC2 instance type", ENTER)
    answer(child, r"Create .*gpu-api\?", ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    answers = yaml.safe_load((tmp_path / "gpu-api" / ".copier-answers.yml").read_text())
    assert answers["compute"] == "container"


@pytest.mark.parametrize("stop_at", ["What kind of service", "Memory", "Create"])
def test_ctrl_c_at_any_prompt_writes_nothing(tmp_path, stop_at):
    child = spawn("new", "half-done", "--data", "workload=http_api", cwd=tmp_path)
    prompts = ["Project name", "Longest time", "traffic", "per month", "Average time", "Memory",
               "Largest", "cold start", "Where should it run", "One sentence", "AWS region",
               "authenticate", "Create"]  # fmt: skip
    if stop_at == "What kind of service":
        child.close(force=True)
        child = spawn("new", "half-done", cwd=tmp_path)
        prompts = ["Project name", "What kind of service"]
    for prompt in prompts:
        child.expect(prompt)
        if prompt == stop_at:
            child.sendcontrol("c")
            break
        child.send(ENTER)
    child.expect("Cancelled: nothing was written.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert list(tmp_path.iterdir()) == []


def _slow_fork(root: Path) -> Path:
    """This template plus one file that takes seconds to render."""
    shutil.copytree(REPO / "template", root / "template")
    shutil.copy2(REPO / "copier.yml", root / "copier.yml")
    for tree in template_trees(root):
        (tree / "slow.txt.jinja").write_text(
            "{% for i in range(100000) %}{% for j in range(300) %}{% endfor %}{% endfor %}done\n"
        )
    return root


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_killed_while_rendering_leaves_no_destination(tmp_path, sig, code):
    fork = _slow_fork(tmp_path / "fork")
    parent = tmp_path / "projects"
    parent.mkdir()
    dest = parent / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra_scaffold", "new", str(dest), "--defaults",
         "--data", "workload=http_api", "--template", str(fork)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".interrupted.scaffold-") for p in parent.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.5)  # well inside the render: the slow file takes seconds
    assert proc.poll() is None
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "nothing was written" in err
    assert list(parent.iterdir()) == []


def test_an_instance_type_that_cannot_hold_a_job_is_asked_again(tmp_path):
    """Refused with the reason, asked again; the costs follow the type finally chosen."""
    from infra_scaffold.capacity import Demand, instance_type, misfit
    from infra_scaffold.contract import load_contract
    from infra_scaffold.plan import make_plan

    contract = load_contract(REPO)
    choices = list(contract.question("instance_type").choice_values)
    given = {"project_name": "long-jobs", "workload": "worker", "description": "Batch",
             "compute": "container"}  # fmt: skip
    planned = make_plan(contract, given).answers["instance_type"]
    job = Demand(0, 1, contract.workload_table("worker")["memory_mb"], worker=True)
    fits = [misfit(instance_type(name), job) is None for name in choices]
    at = choices.index(planned)
    too_small = max(i for i in range(at) if not fits[i])  # the nearest cheaper type that fails
    other = next(i for i in range(at + 1, len(choices)) if fits[i])  # dearer, but it fits
    chosen = choices[other]

    child = spawn("new", "long-jobs", "--data", "description=Batch", cwd=tmp_path)
    answer(child, "Project name", ENTER)
    answer(child, "What kind of service", DOWN * 7 + ENTER)  # long-running queue worker
    for prompt in ("Longest time", "traffic", "per month", "Average time", "Memory", "Scratch"):
        answer(child, prompt, ENTER)
    child.expect(r"Recommendation: Containers \(ECS on Fargate\)")  # cheaper for these jobs
    child.expect(f"{planned}")  # the panel names the planned fleet
    answer(child, "Where should it run", UP + ENTER)  # EC2, just above it
    answer(child, "AWS region", ENTER)
    answer(child, "EC2 instance type", UP * (at - too_small) + ENTER)
    child.expect(f"{choices[too_small]} cannot hold one request")
    answer(child, "EC2 instance type", DOWN * (other - at) + ENTER)  # asked again
    child.expect("Monthly cost with the answers as given:")  # the panel's figures changed
    child.expect(chosen)
    answer(child, r"Create .*long-jobs\?", ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    project = tmp_path / "long-jobs"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["instance_type"] == chosen
    assert answers["capacity_plan"]["instances"]["instance_type"] == chosen
    final = make_plan(contract, {**given, "instance_type": chosen}).answers
    assert answers["decision_record"] == final["decision_record"]
    assert answers["capacity_plan"] == final["capacity_plan"]
    record, fleet = final["decision_record"], final["capacity_plan"]["instances"]
    usd = f"{record['monthly_usd']['ec2-asg']:.2f}"
    readme = (project / "README.md").read_text()
    adr = (project / "docs" / "adr" / "0001-compute-platform.md").read_text()
    # The figures of the type finally chosen, not of the one refused or first planned.
    assert f"**${usd} a month**" in readme
    assert f"{fleet['count']} {chosen} instances" in readme
    assert f"each holding {fleet['concurrency_each']} job" in readme
    assert f"`max_size` {fleet['max_size']}" in readme
    assert f"| `ec2-asg` | {record['labels']['ec2-asg']} | {usd} |" in adr
    assert f"{fleet['count']}x {chosen}" in record["labels"]["ec2-asg"]
    costs = readme.split("## What it costs", 1)[1].split("\n## ", 1)[0]
    for other in {planned, choices[too_small]} - {chosen}:
        assert other not in costs
        assert f"x {other} " not in adr
