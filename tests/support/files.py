"""Parse every structured file of a rendered project, and find free text in it."""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import yaml


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) kept as data."""


def _tagged(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tagged)


def hcl_string(literal: str) -> str:
    """Decode a string as python-hcl2 8.x returns it (quoted, escapes kept)."""
    if len(literal) >= 2 and literal[0] == literal[-1] == '"':
        unescaped = literal.replace("$${", "${").replace("%%{", "%{")
        try:
            return str(json.loads(unescaped))
        except json.JSONDecodeError:  # an escape JSON lacks: keep the text as written
            return literal[1:-1]
    return literal


def parse(path: Path) -> Any:
    """Parse one YAML, JSON, TOML, HCL or Python file (raises if it does not parse)."""
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix
    if suffix in (".yml", ".yaml"):
        return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix in (".tf", ".tfvars") or path.name.endswith(".tfvars.example"):
        return _decode_hcl(hcl2.loads(text))
    if suffix == ".py":
        return ast.parse(text)
    raise ValueError(f"no parser for {path}")


STRUCTURED = (".yml", ".yaml", ".json", ".toml", ".tf", ".tfvars", ".py")


def structured_files(root: Path) -> Iterator[Path]:
    """Every file of a project that one of :func:`parse`'s parsers reads."""
    for path in sorted(root.rglob("*")):
        if ".git" in path.parts or not path.is_file():
            continue
        if path.suffix in STRUCTURED or path.name.endswith(".tfvars.example"):
            yield path


def strings(data: Any) -> Iterator[str]:
    """Every string value (and key) in parsed data; string constants of Python code."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(data, list | tuple):
        for item in data:
            yield from strings(item)
    elif isinstance(data, ast.AST):
        for node in ast.walk(data):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.value


def _decode_hcl(data: Any) -> Any:
    if isinstance(data, str):
        return hcl_string(data)
    if isinstance(data, dict):
        return {k: _decode_hcl(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_decode_hcl(v) for v in data]
    return data
