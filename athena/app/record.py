"""Composition root of `athena record`: config + arguments → instrument specs → the recording service.

Owns: resolving what to record (instruments: ``--inst`` or the config's symbols; channels; the
catalog root: ``--data`` or ``catalog_root``; the endpoint: ``--endpoint`` or ``okx.endpoint``),
fetching the instruments' specs (OKX's public instruments endpoint, else the catalog's ``_meta``,
else the specs Athena ships), running ``recorder.service.Recorder`` (``record``, async) and
``run_record``, the blocking entry the CLI calls: Ctrl-C (SIGINT) or SIGTERM stops it cleanly —
sockets closed, everything received flushed to the journal and the catalog — and a second Ctrl-C
interrupts the flush.
Never: holds recording logic (the service does), prints (the CLI prints the report), or needs
credentials (public data only; the API key in the config is not used or logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from athena.catalog.importers.stand_ins import known_okx_spec
from athena.config.models import AthenaConfig, OkxConfig
from athena.errors import ConfigError
from athena.gateways.okx.rest import OkxRest
from athena.model.enums import Channel
from recorder.service import Recorder, RecorderSettings, RecordReport, load_specs, parse_channels

__all__ = ["DEFAULT_CHANNELS", "build_settings", "record", "run_record"]

DEFAULT_CHANNELS = (Channel.TRADES, Channel.BOOKS, Channel.FUNDING, Channel.MARK_PRICE)


def _insts(inst_ids: Sequence[str] | str | None, config: AthenaConfig) -> tuple[str, ...]:
    if inst_ids is None or (not isinstance(inst_ids, str) and not inst_ids):
        return tuple(config.symbols)
    items = [inst_ids] if isinstance(inst_ids, str) else list(inst_ids)
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            p = part.strip().upper()
            if p and p not in out:
                out.append(p)
    if not out:
        raise ConfigError("--inst is empty; give instrument ids such as BTC-USDT-SWAP,ETH-USDT-SWAP")
    return tuple(out)


def _okx(endpoint: str | None, config: AthenaConfig) -> OkxConfig:
    if endpoint is None:
        return config.okx
    try:
        return OkxConfig(endpoint=endpoint)
    except ValidationError:
        raise ConfigError(
            f"--endpoint {endpoint!r}: expected 'production', 'demo' or an http(s) URL of an OKX-compatible "
            f"server such as `athena sim-server` (e.g. http://127.0.0.1:8443)"
        ) from None


def build_settings(
    inst_ids: Sequence[str] | str | None,
    channels: Sequence[str | Channel] | str | None,
    data_root: Path | None,
    okx: OkxConfig,
    config: AthenaConfig,
    **limits: Any,
) -> RecorderSettings:
    """The service's settings from the CLI's arguments (None = the config's value)."""
    if isinstance(channels, str):
        channels = [c for c in channels.split(",") if c.strip()]
    try:
        chans = parse_channels(channels if channels else DEFAULT_CHANNELS)
    except ConfigError as err:
        raise ConfigError(f"--channels: {err}") from None
    return RecorderSettings(
        inst_ids=_insts(inst_ids, config),
        channels=chans,
        data_root=Path(data_root) if data_root is not None else config.catalog_root,
        ws_public_url=okx.ws_public_url,
        ws_business_url=okx.ws_business_url,
        **limits,
    )


async def record(
    inst_ids: Sequence[str] | str | None,
    channels: Sequence[str | Channel] | str | None,
    data_root: Path | None,
    endpoint: str | None,
    config: AthenaConfig | None = None,
    *,
    stop_event: asyncio.Event | None = None,
    status: bool = True,
    limits: Mapping[str, Any] | None = None,
) -> RecordReport:
    """Record until ``stop_event`` is set (or the task is cancelled); returns what was recorded.

    ``limits`` overrides ``RecorderSettings`` fields (flush periods, backlog budgets, socket
    timings); ``status`` shows the live status line when stdout is a terminal."""
    cfg = config if config is not None else AthenaConfig()
    okx = _okx(endpoint, cfg)
    settings = build_settings(inst_ids, channels, data_root, okx, cfg, **dict(limits or {}))
    rest = OkxRest(okx, credentials=None, max_retries=1, timeout_s=10.0)
    try:
        specs = await load_specs(lambda: rest.instruments("SWAP"), settings.inst_ids, settings.data_root,
                                 settings.venue, known_okx_spec)  # fmt: skip
    finally:
        await rest.close()
    recorder = Recorder(settings, specs, status=status)
    return await recorder.run(stop_event if stop_event is not None else asyncio.Event())


def run_record(
    inst_ids: Sequence[str] | str | None,
    channels: Sequence[str | Channel] | str | None,
    data_root: Path | None,
    endpoint: str | None,
    config: AthenaConfig | None = None,
    *,
    status: bool = True,
    limits: Mapping[str, Any] | None = None,
) -> RecordReport | None:
    """Blocking entry of `athena record`: records until Ctrl-C / SIGTERM, then flushes and returns
    the report (None when a second Ctrl-C cut the flush short)."""

    async def main() -> RecordReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def first_signal(sig: signal.Signals) -> None:
            stop.set()
            # A second Ctrl-C falls through to Python's default: KeyboardInterrupt.
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, first_signal, sig)
        return await record(inst_ids, channels, data_root, endpoint, config, stop_event=stop, status=status,
                            limits=limits)  # fmt: skip

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return None
