"""Composition root of `athena sim-server`: catalog → SimExchange → the OKX wire emulator on 127.0.0.1.

Owns: choosing what is served (``--data`` and its range, or the embedded sample looping), building
the SimClock, the SimExchange and the ``SimServer`` with its credentials and fault script, running
it (``run_sim_server``, async) and ``serve`` (the blocking entry the CLI calls), which prints the
endpoint URL and the API key/secret/passphrase the emulator accepts. Those are generated per run
(or given) test credentials of a local emulator: printing them is the point. Real OKX secrets
never pass through here.
Never: holds trading logic, or binds anything but the host it is given (127.0.0.1 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from athena.catalog.reader import Catalog
from athena.catalog.stream import Window, merge_windows, sources_for
from athena.core.clock import SimClock
from athena.errors import SimulationError
from athena.model.enums import Channel
from athena.sim.exchange import SimExchange, SimExchangeConfig
from athena.sim.server import BookChecksumMode, Credentials, MarketSource, SimServer, SimServerConfig
from athena.sim.server_faults import Fault, load_fault_file

SERVED_CHANNELS = (Channel.TRADES, Channel.BOOKS, Channel.MARK_PRICE, Channel.FUNDING)
DEFAULT_SAMPLE = Path("data/sample")
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SimServerInfo:
    """Where the emulator listens and the key it accepts."""

    url: str
    api_key: str
    secret_key: str
    passphrase: str

    @property
    def ws_public(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/v5/public"

    @property
    def ws_private(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/v5/private"

    @property
    def ws_business(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/v5/business"

    def banner(self) -> str:
        return (
            f"athena sim-server: {self.url}\n"
            f"  WebSockets {self.ws_public} | /ws/v5/private | /ws/v5/business\n"
            f"  test credentials of this emulator (not OKX's): OKX_API_KEY={self.api_key} "
            f"OKX_API_SECRET={self.secret_key} OKX_API_PASSPHRASE={self.passphrase}"
        )

    def __repr__(self) -> str:
        return f"SimServerInfo(url={self.url!r}, api_key={self.api_key!r})"


def _ns(t: datetime | int | None) -> int | None:
    if t is None or isinstance(t, int):
        return t
    return int(t.timestamp()) * _NS + t.microsecond * 1000


def _sample_root() -> Path:
    if DEFAULT_SAMPLE.is_dir():
        return DEFAULT_SAMPLE
    beside = Path(__file__).resolve().parents[2] / DEFAULT_SAMPLE
    return beside if beside.is_dir() else DEFAULT_SAMPLE


def build_source(data: Path | None, start: datetime | int | None = None, end: datetime | int | None = None, *,
                 loop: bool | None = None, venue: str = "okx", batch_rows: int = 65_536) -> MarketSource:
    """The market data to serve: ``data`` (default: the embedded sample, looping) over [start, end)."""
    root = data if data is not None else _sample_root()
    catalog = Catalog(root)  # a clear CatalogError when the root is not a directory
    metas = catalog.instrument_meta(venue)
    insts = [i for i in sorted(metas) if catalog.dates(venue, Channel.BOOKS, i)]
    if not insts:
        raise SimulationError(
            f"{root}: no book data for venue {venue!r}; the emulator needs a catalog with books "
            "(`athena data ls --data DIR` lists what is there; with no --data it serves data/sample)"
        )
    start_ns, end_ns = _ns(start), _ns(end)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise SimulationError("the range is empty: --to must be after --from")
    sources, specs = sources_for(catalog, venue, insts, SERVED_CHANNELS, start_ns, end_ns)
    if not any(s.channel is Channel.BOOKS for s in sources):
        raise SimulationError(f"{root}: no book data in the asked range; widen --from/--to")

    def windows() -> Iterator[Window]:
        return merge_windows(sources, batch_rows=batch_rows, end_ns=end_ns)

    looping = (data is None) if loop is None else loop
    what = f"{root} ({', '.join(insts)})" + (", looping" if looping else "")
    return MarketSource([specs[i] for i in insts], windows, start_ns, looping, what)


async def run_sim_server(
    source: MarketSource,
    *,
    speed: float = 1.0,
    port: int = 0,
    host: str = "127.0.0.1",
    faults: list[Fault] | Path | None = None,
    book_checksum: BookChecksumMode | str = BookChecksumMode.ZERO,
    credentials: Credentials | None = None,
    exchange_config: SimExchangeConfig | None = None,
    server_config: SimServerConfig | None = None,
    ready: Callable[[SimServerInfo], None] | None = None,
    stop: asyncio.Event | None = None,
) -> SimServerInfo:
    """Run the emulator until ``stop`` is set (or the task is cancelled); ``ready`` gets the
    endpoint once it listens."""
    if speed < 0:
        raise SimulationError(f"--speed is {speed:g}; expected 0 (unpaced) or a positive factor")
    script = load_fault_file(faults) if isinstance(faults, Path) else list(faults or [])
    creds = credentials or Credentials.generate()
    clock = SimClock(0)
    exchange = SimExchange(clock, source.specs, config=exchange_config or SimExchangeConfig())
    base = server_config or SimServerConfig()
    cfg = SimServerConfig(**{**{f: getattr(base, f) for f in base.__dataclass_fields__},
                             "host": host, "port": port, "speed": speed,
                             "book_checksum": BookChecksumMode(book_checksum)})
    server = SimServer(exchange, clock, source, creds, cfg, script)
    url = await server.start()
    info = SimServerInfo(url, creds.api_key, creds.secret_key, creds.passphrase)
    try:
        if ready is not None:
            ready(info)
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await server.stop()
    return info


def serve(
    data: Path | None,
    start: datetime | int | None,
    end: datetime | int | None,
    speed: float,
    port: int,
    faults: Path | None,
    book_checksum: BookChecksumMode | str,
    host: str = "127.0.0.1",
    ready: Callable[[SimServerInfo], None] | None = None,
    *,
    loop: bool | None = None,
    credentials: Credentials | None = None,
) -> SimServerInfo | None:
    """Blocking entry of `athena sim-server`: serve until Ctrl-C. Prints the endpoint and the
    credentials (``ready`` replaces the printing); returns them once stopped."""
    source = build_source(data, start, end, loop=loop)
    script = load_fault_file(faults) if faults is not None else []
    got: list[SimServerInfo] = []

    def announce(info: SimServerInfo) -> None:
        got.append(info)
        if ready is not None:
            ready(info)
        else:
            print(info.banner(), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_sim_server(source, speed=speed, port=port, host=host, faults=script,
                                   book_checksum=book_checksum, credentials=credentials, ready=announce))
    return got[0] if got else None
