"""infra/bicep as pycep parses it, and the few questions the infra tests ask of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
BICEP = ROOT / "infra" / "bicep"
MAIN = BICEP / "main.bicep"

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True, slots=True)
class Template:
    path: Path
    tree: dict[str, Any]

    @property
    def params(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.tree.get("parameters", {}))

    @property
    def required_params(self) -> set[str]:
        return {name for name, p in self.params.items() if p["default"] is None}

    @property
    def variables(self) -> dict[str, Any]:
        return {name: v["value"] for name, v in self.tree.get("variables", {}).items()}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.tree.get("outputs", {}))

    @property
    def modules(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.tree.get("modules", {}))

    def resources(self, *, existing: bool = False) -> dict[str, dict[str, Any]]:
        found = cast(dict[str, dict[str, Any]], self.tree.get("resources", {}))
        return {name: r for name, r in found.items() if r["existing"] == existing}


def resource_body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties, whether it is declared once or in a loop."""
    config = cast(dict[str, Any], resource["config"])
    return cast(dict[str, Any], config["config"]) if "loop_type" in config else config


@cache
def parse(path: Path) -> Template:
    return Template(path, cast(dict[str, Any], BicepParser().parse(file_path=path)))


def bicep_files() -> list[Path]:
    return sorted(BICEP.rglob("*.bicep"))


def module_template(main: Template, symbol: str) -> Template:
    return parse((BICEP / main.modules[symbol]["detail"]["path"]).resolve())


def accessor_path(node: Any) -> str | None:
    """`a.b.c` for a property-accessor chain as pycep nests it, else None."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and set(node) == {"operator"}:
        operator = node["operator"]
        if operator.get("type") == "property_accessor":
            left = accessor_path(operator["operands"]["operand_1"])
            right = accessor_path(operator["operands"]["operand_2"])
            if left is not None and right is not None:
                return f"{left}.{right}"
    return None


def references(node: Any) -> Iterator[str]:
    """Every dotted reference anywhere below ``node``, interpolations in strings included."""
    if isinstance(node, str):
        yield node
        for expression in _INTERPOLATION.findall(node):
            yield expression.strip()
    elif isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        path = accessor_path(node)
        if path is not None:
            yield path
        for value in node.values():
            yield from references(value)
