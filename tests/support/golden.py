"""Golden renders: a release's template against this one, file by file.

A refactor of the template proves itself by rendering the same answers from
the last release and from the working tree and finding no difference except
the ones it set out to make. :func:`compare_projects` is that comparison:

- the same files (``.tf`` files aside), with the same executable bits;
- every file byte for byte the same, after the declared :class:`Edit` s;
- ``.copier-answers.yml`` the same data, except where the template came from;
- Markdown rendering the same HTML with markdown-it-py, and its source lines
  differing only in backslash escapes and spacing;
- the ``.tf`` files of each folder, taken together, defining the same blocks
  (resources, data sources, variables, outputs, locals, providers, terraform
  settings) with the same bodies and the comments inside them, as python-hcl2
  parses them; comments between blocks may only lose section banners and the
  old file's opening lines, and gain the opening lines of the new files.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import yaml

from infra_scaffold.history import release_template
from support.markdown import render_markdown

REPO = Path(__file__).resolve().parents[2]

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BANNER = re.compile(r"^[=\-]{3,}$")


def template_of_release(version: str, dest: Path) -> Path:
    """Write release ``version``'s ``copier.yml`` and ``template/`` into ``dest``; return it.

    Read from the release history the package carries (checked against the
    digests of ``template-releases.txt`` by ``tests/test_history.py``), so it
    works in clones without history or tags.
    """
    return release_template(version, dest)


@dataclass(frozen=True, slots=True)
class Edit:
    """A change the new template means to make: ``old`` becomes ``new`` in some files."""

    paths: str
    """A glob (fnmatch) of the project paths it applies to."""
    old: str
    """Text of the old render (files without it are left as they are)."""
    new: str
    """What the new render has instead."""


@dataclass
class Comparison:
    """The differences found, and the edits that were needed to explain the rest."""

    differences: list[str]
    used: set[Edit]


def compare_projects(old: Path, new: Path, edits: Iterable[Edit] = ()) -> Comparison:
    """Compare two renders of the same answers (see the module docstring)."""
    result = Comparison([], set())
    old_files, new_files = _files(old), _files(new)
    plain_old = {p for p in old_files if not p.endswith(".tf")}
    plain_new = {p for p in new_files if not p.endswith(".tf")}
    result.differences += [f"{p}: only in the old render" for p in sorted(plain_old - plain_new)]
    result.differences += [f"{p}: only in the new render" for p in sorted(plain_new - plain_old)]
    result.differences += [f"{d}/: an empty folder" for d in _empty_folders(new)]
    for path in sorted(plain_old & plain_new):
        before, after = old / path, new / path
        if _executable(before) != _executable(after):
            result.differences.append(f"{path}: executable bit changed")
        text = before.read_bytes().decode("utf-8")
        for edit in edits:
            if fnmatch.fnmatch(path, edit.paths) and edit.old in text:
                text = text.replace(edit.old, edit.new)
                result.used.add(edit)
        result.differences += [f"{path}: {d}" for d in _compare_file(path, text, after)]
    folders = {str(Path(p).parent) for p in old_files | new_files if p.endswith(".tf")}
    for folder in sorted(folders):
        result.differences += [
            f"{folder}/*.tf: {d}" for d in compare_terraform(old / folder, new / folder)
        ]
    return result


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _empty_folders(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_dir() and ".git" not in p.relative_to(root).parts and not any(p.iterdir())
    )


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o111)


def _compare_file(path: str, old_text: str, new_file: Path) -> list[str]:
    new_text = new_file.read_bytes().decode("utf-8")
    if path.endswith(".copier-answers.yml"):
        return [] if _answers(old_text) == _answers(new_text) else ["different answers"]
    if path.endswith(".md"):
        return compare_markdown(old_text, new_text)
    if old_text != new_text:
        return [f"content differs at line {_first_difference(old_text, new_text)}"]
    return []


def _answers(text: str) -> Any:
    data = yaml.safe_load(text)
    data.pop("_src_path", None)  # the two templates live in different folders
    return data


def _first_difference(a: str, b: str) -> int:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            return number
    return min(len(a.splitlines()), len(b.splitlines())) + 1


# --- Markdown --------------------------------------------------------------------


def compare_markdown(old: str, new: str) -> list[str]:
    """Differences between two Markdown texts beyond escaping that renders the same.

    Lines may differ only in backslash escapes and spacing, and the whole text
    must render to the same HTML (spacing collapsed, as a browser shows it).
    """
    found = []
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if len(old_lines) != len(new_lines):
        found.append(f"{len(old_lines)} lines became {len(new_lines)}")
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=False), 1):
        if a != b and _unescaped(a) != _unescaped(b):
            found.append(f"line {number} changed beyond escaping: {a!r} -> {b!r}")
    if _collapsed(render_markdown(old)) != _collapsed(render_markdown(new)):
        found.append("renders differently")
    return found


def _unescaped(line: str) -> str:
    return " ".join(_ESCAPE.sub(r"\1", line).split())


def _collapsed(html: str) -> str:
    return " ".join(html.split())


# --- Terraform -------------------------------------------------------------------


def compare_terraform(old: Path, new: Path) -> list[str]:
    """Differences between the ``.tf`` files of two folders, taken together."""
    found = []
    old_blocks, new_blocks = terraform_blocks(old), terraform_blocks(new)
    for address in sorted(old_blocks.keys() - new_blocks.keys()):
        found.append(f"{address} is gone")
    for address in sorted(new_blocks.keys() - old_blocks.keys()):
        found.append(f"{address} is new")
    for address in sorted(old_blocks.keys() & new_blocks.keys()):
        if old_blocks[address] != new_blocks[address]:
            found.append(f"{address} changed")
    # Between blocks, only the old sections' banners and the old files' opening lines
    # may go, and only the new files' opening lines may come.
    replaced = {
        line
        for path in _tf_files(old)
        for line in (*_opening_comments(path), *_banner_titles(path))
    }
    lost = Counter(_between_blocks(old)) - Counter(_between_blocks(new))
    found += [f"comment lost: {c!r}" for c in lost if not (_BANNER.match(c) or c in replaced)]
    opening = {line for path in _tf_files(new) for line in _opening_comments(path)}
    gained = Counter(_between_blocks(new)) - Counter(_between_blocks(old))
    found += [f"comment added between blocks: {c!r}" for c in gained if c not in opening]
    return found


def terraform_blocks(folder: Path) -> dict[str, Any]:
    """Every top-level block of the folder's ``.tf`` files, by address, as python-hcl2 reads it.

    Raises ValueError when two files define the same address (Terraform would too).
    """
    blocks: dict[str, Any] = {}
    locals_comments: list[str] = []
    for path in _tf_files(folder):
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        for address, body in _addresses(parsed):
            if address in blocks:
                raise ValueError(f"{address} is defined twice ({path.name})")
            blocks[address] = body
        for block in parsed.get("locals", []):
            locals_comments += [c["value"] for c in block.get("__comments__", [])]
    # Locals share one namespace whatever block holds them; so do their comments.
    blocks["comments inside locals"] = sorted(locals_comments)
    return blocks


def _tf_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tf")) if folder.is_dir() else []


#: Block types addressed by their labels, and how many labels they have.
_LABELS = {"resource": 2, "data": 2, "variable": 1, "output": 1, "provider": 1, "module": 1}


def _addresses(parsed: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for kind, items in parsed.items():
        if kind == "__comments__":
            continue
        for item in items:
            if kind == "locals":
                yield from ((f"local.{k}", v) for k, v in item.items() if not k.startswith("__"))
            elif kind in _LABELS:
                yield from _labelled(kind, item, _LABELS[kind])
            else:  # terraform settings, check and moved blocks: by their content
                yield f"{kind} {json.dumps(item, sort_keys=True)}", item


def _labelled(prefix: str, item: dict[str, Any], depth: int) -> Iterator[tuple[str, Any]]:
    for label, body in item.items():
        address = f"{prefix}.{_label(label)}"
        if depth > 1:
            yield from _labelled(address, body, depth - 1)
        else:  # a provider's alias is part of its address
            yield f"{address}{body.get('alias', '')}", body


def _label(value: str) -> str:
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


def _between_blocks(folder: Path) -> list[str]:
    """The comments of the folder's ``.tf`` files that sit outside every block."""
    comments = []
    for path in _tf_files(folder):
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        comments += [c["value"].strip() for c in parsed.get("__comments__", [])]
    return comments


def _opening_comments(path: Path) -> list[str]:
    """The comment lines a ``.tf`` file opens with, before anything else."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return [line for line in lines if line]


def _banner_titles(path: Path) -> list[str]:
    """Titles of section banners: a comment between two ``# ====`` rules."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        lines[i].lstrip("#").strip()
        for i in range(1, len(lines) - 1)
        if _BANNER.match(lines[i - 1].lstrip("#").strip())
        and _BANNER.match(lines[i + 1].lstrip("#").strip())
    ]
