"""The layer table of DESIGN.md §2, enforced on the code's imports (read with ``ast``, nothing run).

Rules: each layer imports only the layers listed for it (longest path prefix decides a file's
layer; ``from athena import x`` is judged as ``athena.x``; relative imports are resolved);
``errors.py`` (and the bare ``athena`` package) may be imported by all; ``cli.py`` by nothing
but ``__main__.py``; the synchronous core (core but ``LiveClock``, model, book, oms, strategies,
sim but ``sim/server.py``) imports no asyncio/aiohttp/websockets/threading and reads no wall clock.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ANYTHING = "*"
EVERY_LAYER_BUT_CLI = frozenset(
    {
        "athena/model",
        "athena/core",
        "athena/config",
        "athena/book",
        "athena/catalog",
        "athena/oms",
        "athena/strategies",
        "athena/gateways/base.py",
        "athena/gateways/okx",
        "athena/gateways/sim",
        "athena/sim",
        "athena/report",
        "athena/app",
        "recorder",  # DESIGN.md §2: app wires every layer (the recording service included) but cli.py
    }
)

# layer (a path prefix) -> the layers it may import, DESIGN.md §2.
LAYERS: dict[str, frozenset[str] | str] = {
    "athena/errors.py": frozenset(),
    "athena/__init__.py": frozenset(),
    "athena/model": frozenset(),
    "athena/core": frozenset({"athena/model"}),
    "athena/config": frozenset({"athena/core", "athena/model"}),
    "athena/book": frozenset({"athena/core", "athena/model"}),
    "athena/catalog": frozenset({"athena/core", "athena/model", "athena/book", "athena/config"}),
    "athena/oms": frozenset({"athena/core", "athena/model", "athena/book", "athena/config"}),
    "athena/strategies": frozenset({"athena/core", "athena/model", "athena/book", "athena/config", "athena/oms"}),
    "athena/gateways/__init__.py": frozenset({"athena/core", "athena/model"}),
    "athena/gateways/base.py": frozenset({"athena/core", "athena/model"}),
    "athena/gateways/okx": frozenset(
        {
            "athena/gateways/base.py",
            "athena/core",
            "athena/model",
            "athena/book",
            "athena/config",
        }
    ),
    "athena/sim": frozenset({"athena/core", "athena/model", "athena/book", "athena/config", "athena/catalog"}),
    "athena/sim/server.py": frozenset(
        {
            "athena/sim",
            "athena/core",
            "athena/model",
            "athena/book",
            "athena/config",
            "athena/catalog",
            "athena/gateways/base.py",
            "athena/gateways/okx",
        }
    ),
    "athena/gateways/sim": frozenset(
        {
            "athena/gateways/base.py",
            "athena/sim",
            "athena/core",
            "athena/model",
            "athena/book",
            "athena/config",
        }
    ),
    "athena/report": frozenset({"athena/core", "athena/model", "athena/config", "athena/catalog"}),
    "recorder": frozenset(
        {
            "athena/core",
            "athena/model",
            "athena/book",
            "athena/config",
            "athena/catalog",
            "athena/gateways/base.py",
            "athena/gateways/okx",
        }
    ),
    "athena/app": EVERY_LAYER_BUT_CLI,
    "athena/cli.py": ANYTHING,
    "athena/__main__.py": ANYTHING,
}
EVERYONE = frozenset({"athena/errors.py", "athena/__init__.py"})
CLI = "athena/cli.py"

SYNC = ("athena/core", "athena/model", "athena/book", "athena/oms", "athena/strategies", "athena/sim")
SYNC_EXEMPT = ("athena/sim/server.py",)
LIVE_CLOCK = ("athena/core/clock.py", "LiveClock")  # the one wall-clock reader of core
ASYNC_MODULES = frozenset({"asyncio", "aiohttp", "websockets", "threading", "uvloop"})
WALL_CLOCK = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "time.clock_gettime",
        "time.clock_gettime_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def layer_of(rel: str) -> str | None:
    """The longest layer key that is ``rel`` itself or a folder holding it."""
    best = None
    for key in LAYERS:
        if (rel == key or rel.startswith(key + "/")) and (best is None or len(key) > len(best)):
            best = key
    return best


def module_layer(module: str) -> str | None:
    """'athena.oms.orders' -> 'athena/oms'; a name that is no module (athena.__version__) -> its package."""
    parts = module.split(".")
    if parts[0] not in ("athena", "recorder"):
        return None
    for n in range(len(parts), 1, -1):
        base = "/".join(parts[:n])
        # a file wins over a folder of the same prefix: athena.sim.server is sim/server.py, not sim
        for candidate in (base + ".py", base + "/__init__.py", base):
            key = layer_of(candidate)
            if key is not None:
                return key
    return "athena/__init__.py" if parts[0] == "athena" else "recorder"


def _may_import(own: str, target: str) -> bool:
    if target in EVERYONE or target == own:
        return True
    if target == CLI:
        return own == "athena/__main__.py"
    allowed = LAYERS[own]
    if allowed == ANYTHING:
        return True
    # a layer may use its own folder, and a layer listed covers the files inside it
    if own.startswith(target + "/") or target.startswith(own + "/"):
        return True
    return any(target == a or target.startswith(a + "/") for a in allowed)


class _Visitor(ast.NodeVisitor):
    def __init__(self, rel: str, out: list[Violation]) -> None:
        self.rel, self.out = rel, out
        self.own = layer_of(rel)
        self.sync = rel.startswith(SYNC) and not rel.startswith(SYNC_EXEMPT)
        self.classes: list[str] = []
        self.aliases: dict[str, str] = {}  # local name -> dotted module path it stands for

    def _clock_exempt(self) -> bool:
        return self.rel == LIVE_CLOCK[0] and LIVE_CLOCK[1] in self.classes

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def _package(self, level: int) -> list[str]:
        parts = self.rel.removesuffix(".py").split("/")
        return parts[:-level] if level <= len(parts) else []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            self._check_module(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = ".".join(self._package(node.level) + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            full = f"{base}.{alias.name}" if base else alias.name
            self.aliases[alias.asname or alias.name] = full
            self._check_module(full, node.lineno)
            if self.sync and not self._clock_exempt() and full in WALL_CLOCK:
                self._flag(node.lineno, f"imports {full} — the core's only time is clock.now_ns()")

    def visit_Call(self, node: ast.Call) -> None:
        if self.sync and not self._clock_exempt():
            name = self._dotted(node.func)
            if name in WALL_CLOCK:
                self._flag(node.lineno, f"calls {name}() — the core's only time is clock.now_ns()")
        self.generic_visit(node)

    def _dotted(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            owner = self._dotted(node.value)
            return f"{owner}.{node.attr}" if owner else None
        return None

    def _check_module(self, module: str, line: int) -> None:
        if self.sync and not self._clock_exempt() and module.split(".")[0] in ASYNC_MODULES:
            self._flag(line, f"imports {module} — the synchronous core has no async or threads")
        target = module_layer(module)
        if target is None or self.own is None:
            return
        if not _may_import(self.own, target):
            allowed = LAYERS[self.own]
            shown = "nothing of Athena's" if not allowed else ", ".join(sorted(allowed))
            why = "nothing may import cli.py" if target == CLI else f"layer {self.own} may import only {shown}"
            self._flag(line, f"imports {module} ({target}) — {why}")

    def _flag(self, line: int, what: str) -> None:
        self.out.append(Violation(self.rel, line, what))


def check_file(path: Path, root: Path) -> list[Violation]:
    rel = path.relative_to(root).as_posix()
    out: list[Violation] = []
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    except SyntaxError as err:
        return [Violation(rel, err.lineno or 0, f"does not parse: {err.msg}")]
    _Visitor(rel, out).visit(tree)
    return out


def check_tree(root: Path) -> list[Violation]:
    """Every broken rule in ``root``/athena and ``root``/recorder."""
    out: list[Violation] = []
    for folder in ("athena", "recorder"):
        if (root / folder).is_dir():
            for path in sorted((root / folder).rglob("*.py")):
                out.extend(check_file(path, root))
    return out


# ---- the project itself ------------------------------------------------------------------------


def test_project_imports_follow_the_layer_table():
    problems = check_tree(ROOT)
    assert [str(p) for p in problems] == []


def test_every_athena_folder_is_a_known_layer():
    folders = {p.relative_to(ROOT).as_posix() for p in (ROOT / "athena").rglob("*.py")}
    unknown = sorted(f for f in folders if layer_of(f) is None)
    assert unknown == []


# ---- the checker catches what it should ---------------------------------------------------------


def _plant(root: Path, rel: str, source: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if str(parent) != ".":
            (root / parent / "__init__.py").touch()
    path.write_text(source, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in (
        "athena/errors.py",
        "athena/oms/orders.py",
        "athena/model/enums.py",
        "athena/cli.py",
        "athena/gateways/base.py",
        "athena/gateways/okx/auth.py",
        "athena/sim/exchange.py",
        "athena/catalog/reader.py",
        "athena/core/clock.py",
        "athena/book/l2.py",
    ):
        _plant(tmp_path, rel, "")
    return tmp_path


def _whats(root: Path) -> list[tuple[str, int, str]]:
    return [(v.path, v.line, v.what.split(" — ")[0]) for v in check_tree(root)]


def test_model_importing_oms_is_caught(tree: Path):
    _plant(tree, "athena/model/bad.py", "from athena.oms.orders import x\n")
    assert _whats(tree) == [("athena/model/bad.py", 1, "imports athena.oms.orders.x (athena/oms)")]


def test_from_athena_import_name_is_judged_as_that_module(tree: Path):
    _plant(tree, "athena/book/bad.py", "from athena import oms, errors\n")
    assert _whats(tree) == [("athena/book/bad.py", 1, "imports athena.oms (athena/oms)")]


def test_relative_import_is_resolved_before_judging(tree: Path):
    _plant(tree, "athena/core/bad.py", "from ..catalog import reader\nfrom ..model import enums\n")
    assert _whats(tree) == [("athena/core/bad.py", 1, "imports athena.catalog.reader (athena/catalog)")]


def test_nothing_may_import_cli_not_even_app(tree: Path):
    _plant(tree, "athena/app/backtest.py", "from athena.oms import orders\nimport athena.cli\n")
    assert _whats(tree) == [("athena/app/backtest.py", 2, "imports athena.cli (athena/cli.py)")]


def test_only_sim_server_may_use_the_okx_gateway(tree: Path):
    _plant(tree, "athena/sim/server.py", "import asyncio\nfrom athena.gateways.okx import auth\n")
    _plant(tree, "athena/sim/queue.py", "from athena.gateways.okx import auth\n")
    assert _whats(tree) == [("athena/sim/queue.py", 1, "imports athena.gateways.okx.auth (athena/gateways/okx)")]


def test_sync_core_may_not_import_asyncio_or_threads(tree: Path):
    _plant(tree, "athena/oms/bad.py", "import asyncio\nfrom threading import Lock\nimport aiohttp.web\n")
    assert _whats(tree) == [
        ("athena/oms/bad.py", 1, "imports asyncio"),
        ("athena/oms/bad.py", 2, "imports threading.Lock"),
        ("athena/oms/bad.py", 3, "imports aiohttp.web"),
    ]


def test_sync_core_may_not_read_the_wall_clock(tree: Path):
    _plant(
        tree,
        "athena/strategies/bad.py",
        "import time as t\nfrom datetime import datetime\nfrom time import perf_counter\n"
        "def f():\n    return t.time(), datetime.now(), datetime.fromtimestamp(0)\n",
    )
    assert _whats(tree) == [
        ("athena/strategies/bad.py", 3, "imports time.perf_counter"),
        ("athena/strategies/bad.py", 5, "calls time.time()"),
        ("athena/strategies/bad.py", 5, "calls datetime.datetime.now()"),
    ]


def test_only_live_clock_in_core_clock_may_read_the_wall_clock(tree: Path):
    _plant(
        tree,
        "athena/core/clock.py",
        "import time\nclass SimClock:\n    def now(self):\n        return time.monotonic()\n"
        "class LiveClock:\n    def now(self):\n        import asyncio\n        return time.time_ns()\n",
    )
    assert _whats(tree) == [("athena/core/clock.py", 4, "calls time.monotonic()")]


def test_edges_outside_the_core_may_use_asyncio_and_the_clock(tree: Path):
    _plant(tree, "athena/gateways/okx/ws.py", "import asyncio\nimport time\nx = time.time()\n")
    _plant(tree, "recorder/service.py", "import asyncio\nfrom athena.gateways.okx import auth\n")
    assert _whats(tree) == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("athena.oms.orders", "athena/oms"),
        ("athena.sim.server", "athena/sim/server.py"),
        ("athena.sim.exchange", "athena/sim"),
        ("athena.gateways.base.BaseGateway", "athena/gateways/base.py"),
        ("athena.gateways", "athena/gateways/__init__.py"),
        ("athena.gateways.okx.auth", "athena/gateways/okx"),
        ("athena.errors", "athena/errors.py"),
        ("athena.__version__", "athena/__init__.py"),
        ("athena.cli", "athena/cli.py"),
        ("recorder.service", "recorder"),
        ("pydantic", None),
    ],
)
def test_a_module_name_maps_to_its_layer(module: str, layer: str | None):
    assert module_layer(module) == layer
