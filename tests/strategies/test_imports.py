"""Strategies run unmodified live and in a backtest (DESIGN.md §1, §2): no strategy file may import a
gateway, the simulator, asyncio or a network library. Imports are read with ``ast``; nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRATEGIES = ROOT / "athena" / "strategies"
FORBIDDEN = ("athena.gateways", "athena.sim", "asyncio", "aiohttp", "websockets", "threading")
SCALPER_FILES = ("__init__.py", "config.py", "signal.py", "execution.py", "state.py", "strategy.py")


def imported_modules(source: str, package: str) -> list[str]:
    """Every module ``source`` imports, as an absolute dotted name (relative imports resolved
    against ``package``; ``from a import b`` yields both ``a`` and ``a.b``, since b may be a module)."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                mod = ".".join([*parts, node.module] if node.module else parts)
            else:
                mod = node.module or ""
            out.append(mod)
            out.extend(f"{mod}.{alias.name}" for alias in node.names)
    return out


def forbidden_in(source: str, package: str) -> list[str]:
    return [m for m in imported_modules(source, package) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]


def strategy_files() -> list[Path]:
    return sorted(STRATEGIES.rglob("*.py"))


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parts[:-1])


def test_every_scalper_v1_file_is_among_those_checked():
    names = {p.name for p in strategy_files() if p.parent.name == "scalper_v1"}
    assert set(SCALPER_FILES) <= names


@pytest.mark.parametrize("path", strategy_files(), ids=lambda p: str(p.relative_to(STRATEGIES)))
def test_strategy_file_imports_no_gateway_simulator_or_async_library(path: Path):
    assert forbidden_in(path.read_text(), package_of(path)) == []


def test_the_checker_catches_each_forbidden_form():
    source = (
        "import asyncio\n"
        "from aiohttp import web\n"
        "import websockets.client\n"
        "from athena import sim\n"
        "from athena.gateways.base import BaseGateway\n"
        "from ...gateways import okx\n"
        "from athena.core.clock import SimClock\n"
        "from .config import ScalperV1Config\n"
    )
    assert forbidden_in(source, "athena.strategies.scalper_v1") == [
        "asyncio",
        "aiohttp",
        "aiohttp.web",
        "websockets.client",
        "athena.sim",
        "athena.gateways.base",
        "athena.gateways.base.BaseGateway",
        "athena.gateways",
        "athena.gateways.okx",
    ]
