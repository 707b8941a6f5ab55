from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from athena.catalog import meta
from athena.catalog.importers.okx_trades import DEFAULT_VENUE, FEED_LATENCY_FILE, import_okx_trades
from athena.catalog.reader import Catalog
from athena.errors import CatalogError
from athena.model.enums import Channel

MS = 1_000_000
# 2024-01-01T23:59:59.990Z: with the 20 ms feed latency its ts_recv falls on 2024-01-02.
T_MS = 1_704_153_599_990
CSV = f"""instrument_name,trade_id,side,price,size,created_time
BTC-USDT-SWAP,1000001,buy,42000.1,1.5,{T_MS}
BTC-USDT-SWAP,1000002,sell,42000,0.01,{T_MS + 20}
BTC-USDT-SWAP,1000003,sell,41999.9,12,{T_MS + 20}
"""


def test_rows_are_exact_ticks_and_lots_with_the_stated_latency(tmp_path: Path):
    src = tmp_path / "BTC-USDT-SWAP-trades-2024-01-02.csv"
    src.write_text(CSV)
    rep = import_okx_trades([src], tmp_path / "cat")
    t = Catalog(tmp_path / "cat").scan(DEFAULT_VENUE, Channel.TRADES, "BTC-USDT-SWAP").collect()
    assert t.select("trade_id", "price", "size", "side").rows() == [
        (1000001, 420001, 150, 0),  # BTC-USDT-SWAP spec fits: tick 0.1, lot 0.01 contracts
        (1000002, 420000, 1, 1),
        (1000003, 419999, 1200, 1),
    ]
    assert t["ts_event"].to_list() == [T_MS * MS, (T_MS + 20) * MS, (T_MS + 20) * MS]
    assert t["ts_recv"].to_list() == [(T_MS + 20) * MS, (T_MS + 40) * MS, (T_MS + 40) * MS]
    cat = Catalog(tmp_path / "cat")
    assert [d.isoformat() for d in cat.dates(DEFAULT_VENUE, Channel.TRADES, "BTC-USDT-SWAP")] == ["2024-01-02"]
    m = meta.read_instruments(tmp_path / "cat", DEFAULT_VENUE)["BTC-USDT-SWAP"]
    assert (m.price_decimals, m.size_decimals) == (1, 2) and m.spec is not None
    stated = json.loads((meta.meta_dir(tmp_path / "cat", DEFAULT_VENUE) / FEED_LATENCY_FILE).read_text())
    assert stated["BTC-USDT-SWAP"]["feed_latency_ns"] == 20 * MS
    assert rep.metadata["feed_latency_ns"] == 20 * MS and rep.total_rows() == 3


def test_zip_without_header_with_source_column_and_unknown_instrument(tmp_path: Path):
    # Rows as OKX's 2023 archive writes them (sizes with a trailing ".0", a source column).
    body = ("MATIC-USDT-SWAP,104136693,buy,0.5747,38.0,1692547262958,0\n"
            "MATIC-USDT-SWAP,104136697,sell,0.5748,391.0,1692547268461,0\n")
    src = tmp_path / "MATIC-USDT-SWAP-trades-2023-08-21.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("MATIC-USDT-SWAP-trades-2023-08-21.csv", body)
    import_okx_trades([src], tmp_path / "cat", venue="okx-archive", feed_latency_ns=5 * MS)
    t = Catalog(tmp_path / "cat").scan("okx-archive", Channel.TRADES, "MATIC-USDT-SWAP").collect()
    assert t.select("price", "size", "side").rows() == [(5747, 38, 0), (5748, 391, 1)]
    assert (t["ts_recv"] - t["ts_event"]).to_list() == [5 * MS, 5 * MS]
    m = meta.read_instruments(tmp_path / "cat", "okx-archive")["MATIC-USDT-SWAP"]
    assert (m.price_decimals, m.size_decimals, m.spec) == (4, 0, None)  # the most decimals seen


def test_a_bad_side_names_file_line_and_column(tmp_path: Path):
    src = tmp_path / "t.csv"
    src.write_text(CSV.replace("sell,42000,", "short,42000,"))
    with pytest.raises(CatalogError, match=r"t\.csv: line 3, column 'side': 'short' is not buy or sell"):
        import_okx_trades([src], tmp_path / "cat")
    assert not (tmp_path / "cat" / DEFAULT_VENUE).exists()


def test_wrong_header_is_refused(tmp_path: Path):
    src = tmp_path / "t.csv"
    src.write_text("instrument_name,px,sz\nBTC-USDT-SWAP,1,1\n")
    with pytest.raises(CatalogError, match=r"line 1: header .* expected instrument_name,trade_id,side,price,size"):
        import_okx_trades([src], tmp_path / "cat")
