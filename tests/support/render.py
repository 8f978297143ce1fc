"""Render projects from this repository's template, as `scaffold new` plans them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy

from infra_scaffold.contract import load_contract
from infra_scaffold.plan import make_plan

REPO = Path(__file__).resolve().parents[2]


def plain_template(dest: Path) -> Path:
    """A copy of the template without git (what the wheel bundles)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "copier.yml", dest / "copier.yml")
    shutil.copytree(REPO / "template", dest / "template", dirs_exist_ok=True)
    return dest


def template_tree(root: Path, compute: str) -> Path:
    """The folder of ``root``'s template that projects of ``compute`` are rendered from."""
    layout = yaml.safe_load((root / "copier.yml").read_text(encoding="utf-8"))["project_layout"]
    return root / "template" / layout["default"]["trees"][compute]


def template_trees(root: Path) -> list[Path]:
    """Every project tree of ``root``'s template (a file every project gets goes in each)."""
    layout = yaml.safe_load((root / "copier.yml").read_text(encoding="utf-8"))["project_layout"]
    return [root / "template" / tree for tree in sorted(set(layout["default"]["trees"].values()))]


def answers_for(**given: Any) -> dict[str, Any]:
    """Complete answers (compute recommended unless given, decision_record filled)."""
    given.setdefault("project_name", "demo-svc")
    return dict(make_plan(load_contract(REPO), given).answers)


def render(template: Path, dest: Path, **given: Any) -> Path:
    """Render one project with copier from ``template`` into ``dest``."""
    run_copy(str(template), dest, data=answers_for(**given), defaults=True, quiet=True)
    return dest
