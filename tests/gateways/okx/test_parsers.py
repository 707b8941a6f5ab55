"""OKX frames and REST bodies decode into typed structs that keep OKX's exact strings.

Every file in ../shared/fixtures/okx has an explicit test here (``@covers``) asserting values taken
from that payload; ``test_every_fixture_file_has_an_explicit_test`` fails when a new fixture
arrives without one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from athena.gateways.okx.parsers import (
    PONG,
    AccountPush,
    AlgoOrdersPush,
    BalanceAndPositionPush,
    BooksPush,
    CandlesPush,
    FundingRatePush,
    IndexTickersPush,
    InstrumentsPush,
    MarkPricePush,
    OkxChannel,
    OkxParseError,
    OpResponse,
    OrdersPush,
    PositionsPush,
    RestKind,
    StatusPush,
    TickersPush,
    TradesPush,
    UnknownPush,
    WsChannelConnCount,
    WsChannelConnCountError,
    WsError,
    WsLogin,
    WsNotice,
    WsSubscribe,
    WsUnknownEvent,
    WsUnsubscribe,
    _parse_by_head,
    parse_rest,
    parse_ws,
)
from athena.model.enums import Side
from tests.conftest import FIXTURES, NO_SHARED, REAL_DATA

COVERED: set[str] = set()
F = TypeVar("F", bound=Callable[..., Any])


def covers(*names: str) -> Callable[[F], F]:
    """Register the fixture files a test asserts on (checked by the guard test below)."""

    def mark(fn: F) -> F:
        COVERED.update(names)
        return fn

    return mark


def raw(name: str) -> bytes:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(NO_SHARED)
    return path.read_bytes()


def raw_lines(name: str) -> list[bytes]:
    return [line for line in raw(name).splitlines() if line.strip()]


def ws(name: str) -> Any:
    return parse_ws(raw(name))


# ---------------------------------------------------------------------------------------------
# WebSocket control events
# ---------------------------------------------------------------------------------------------


@covers("ws_subscribe_ack.json")
def test_subscribe_ack_names_channel_instrument_and_connection():
    msg = ws("ws_subscribe_ack.json")
    assert isinstance(msg, WsSubscribe)
    assert (msg.arg.channel, msg.arg.inst_id, msg.conn_id) == ("books", "BTC-USD", "94d38802")


@covers("ws_subscribe_ack_2022.json")
def test_subscribe_ack_of_2022_without_conn_id_decodes_with_empty_conn_id():
    msg = ws("ws_subscribe_ack_2022.json")
    assert isinstance(msg, WsSubscribe)
    assert (msg.arg.channel, msg.arg.inst_id, msg.conn_id) == ("books", "BTC-USDT", "")


@covers("ws_subscribe_ack_2026.json")
def test_subscribe_ack_of_2026_books5_swap():
    msg = ws("ws_subscribe_ack_2026.json")
    assert isinstance(msg, WsSubscribe)
    assert (msg.arg.channel, msg.arg.inst_id, msg.conn_id) == ("books5", "BTC-USDT-SWAP", "a5ee8533")


@covers("ws_error_subscribe.json")
def test_subscribe_error_keeps_code_60018_and_message():
    msg = ws("ws_error_subscribe.json")
    assert isinstance(msg, WsError)
    assert msg.code == "60018"
    assert msg.msg.startswith("Wrong URL or channel:index-tickers, instId:NEAR-USDT-SWAP doesn't exist.")
    assert msg.conn_id == "94d38802"


@covers("ws_error_login.json")
def test_login_error_is_60032_api_key_does_not_exist():
    msg = ws("ws_error_login.json")
    assert isinstance(msg, WsError)
    assert (msg.code, msg.msg, msg.conn_id) == ("60032", "API key doesn't exist", "f9ab6f3c")


@covers("ws_notice_service_upgrade.json")
def test_service_upgrade_notice_is_64008():
    msg = ws("ws_notice_service_upgrade.json")
    assert isinstance(msg, WsNotice)
    assert msg.code == "64008"
    assert msg.msg == "The connection will soon be closed for a service upgrade. Please reconnect."
    assert msg.conn_id == "8517149b"


@covers("ws_channel_conn_count.json")
def test_channel_conn_count_event():
    msg = ws("ws_channel_conn_count.json")
    assert type(msg) is WsChannelConnCount
    assert (msg.channel, msg.conn_count, msg.conn_id) == ("account", "1", "4adc328c")


def test_login_ok_event_in_the_documented_shape():
    msg = parse_ws('{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}')
    assert isinstance(msg, WsLogin)
    assert (msg.code, msg.msg, msg.conn_id) == ("0", "", "a4d3ae55")


def test_unsubscribe_ack_and_error_with_request_id():
    unsub = parse_ws('{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"connId":"c1"}')
    assert isinstance(unsub, WsUnsubscribe)
    assert (unsub.arg.channel, unsub.arg.inst_id) == ("books", "BTC-USDT-SWAP")
    err = parse_ws('{"id":"1512","event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}')
    assert isinstance(err, WsError)
    assert (err.id, err.code) == ("1512", "60012")


def test_channel_conn_count_error_is_its_own_type():
    msg = parse_ws('{"event":"channel-conn-count-error","channel":"orders","connCount":"31","connId":"x1"}')
    assert type(msg) is WsChannelConnCountError
    assert (msg.channel, msg.conn_count) == ("orders", "31")


def test_unknown_event_is_kept_not_raised():
    msg = parse_ws('{"event":"something-new","code":"1","msg":"m","connId":"c"}')
    assert isinstance(msg, WsUnknownEvent)
    assert (msg.event, msg.code, msg.msg) == ("something-new", "1", "m")


def test_pong_text_frame_as_str_and_bytes():
    assert parse_ws("pong") is PONG
    assert parse_ws(b"pong") is PONG


# ---------------------------------------------------------------------------------------------
# Order books
# ---------------------------------------------------------------------------------------------


@covers("ws_books_snapshot.json")
def test_books_snapshot_400_levels_keep_exact_strings():
    msg = ws("ws_books_snapshot.json")
    assert isinstance(msg, BooksPush)
    assert (msg.arg.channel, msg.arg.inst_id, msg.action, msg.is_snapshot) == ("books", "BTC-USDT", "snapshot", True)
    book = msg.data[0]
    assert (len(book.asks), len(book.bids)) == (400, 400)
    assert book.asks[0] == ("30243.5", "1.44679", "0", "6")
    assert book.asks[-1] == ("30650.2", "0.00102749", "0", "1")
    assert book.bids[0] == ("30243.4", "0.0012029", "0", "1")
    assert book.bids[-1] == ("29999.7", "0.00276686", "0", "3")
    assert (book.ts, book.checksum) == ("1652459225381", 47640993)
    assert (book.seq_id, book.prev_seq_id) == (None, None)  # 2022: before seqId existed


@covers("ws_books_update.json")
def test_books_update_keeps_zero_size_deletes():
    msg = ws("ws_books_update.json")
    assert isinstance(msg, BooksPush)
    assert (msg.action, msg.is_snapshot) == ("update", False)
    book = msg.data[0]
    assert (len(book.asks), len(book.bids)) == (26, 17)
    assert book.asks[0] == ("30243.5", "1.2112", "0", "4")
    assert book.asks[-1] == ("30651", "0", "0", "0")
    assert book.bids[0] == ("30237.2", "0", "0", "0")
    assert (book.ts, book.checksum) == ("1652459225453", -652563973)


@covers("ws_books_snapshot_2022b.json")
def test_books_snapshot_with_space_after_arg_key_takes_the_general_path():
    # this capture is written '{"arg": {' (a space), so the channel prefix sniff does not apply
    data = raw("ws_books_snapshot_2022b.json")
    assert data.startswith(b'{"arg": {')
    msg = parse_ws(data)
    assert isinstance(msg, BooksPush)
    book = msg.data[0]
    assert (len(book.asks), len(book.bids)) == (37, 39)
    assert book.asks[0] == ("0.07026", "5", "0", "1")
    assert book.bids[0] == ("0.07014", "56", "0", "2")
    assert book.bids[-1] == ("0.04363", "1", "0", "1")
    assert (book.ts, book.checksum) == ("1659792392540", -1462286744)


@covers("ws_books_l2_tbt_snapshot_data_2021.json")
def test_books_l2_tbt_data_element_of_2021_in_a_push():
    # the fixture is the data element only: put it back into the push it came from
    frame = b'{"arg":{"channel":"books-l2-tbt","instId":"X"},"action":"snapshot","data":['
    frame += raw("ws_books_l2_tbt_snapshot_data_2021.json").strip() + b"]}"
    msg = parse_ws(frame)
    assert isinstance(msg, BooksPush)
    assert (msg.arg.channel, msg.is_snapshot) == ("books-l2-tbt", True)
    book = msg.data[0]
    assert (len(book.asks), len(book.bids)) == (42, 42)
    assert book.asks[0] == ("157.57", "10.575051", "0", "2")
    assert book.bids[0] == ("157.29", "1.302", "0", "1")
    assert book.bids[-1] == ("0.01", "924.587716", "0", "2")
    assert (book.ts, book.checksum) == ("1639321410682", -552318686)


@covers("ws_books_snapshot_seqid_trimmed.json")
def test_books_snapshot_with_seq_id_and_prev_seq_id_minus_one():
    msg = ws("ws_books_snapshot_seqid_trimmed.json")
    assert isinstance(msg, BooksPush)
    book = msg.data[0]
    assert (msg.arg.inst_id, msg.action) == ("NEAR-USDT", "snapshot")
    assert (book.seq_id, book.prev_seq_id, book.checksum) == (9690930615, -1, -1197821412)
    assert book.asks == [
        ("1.783", "411.15719291", "0", "3"),
        ("1.784", "5842.06737585", "0", "13"),
        ("2.194", "1.02075576", "0", "1"),
    ]
    assert book.bids[2] == ("1.32", "541.81794985", "0", "4")


@covers("ws_books_update_seqid_trimmed.json")
def test_books_update_chains_prev_seq_id_to_the_snapshot():
    msg = ws("ws_books_update_seqid_trimmed.json")
    assert isinstance(msg, BooksPush)
    book = msg.data[0]
    assert (book.seq_id, book.prev_seq_id, book.checksum) == (9690930617, 9690930615, 1923732318)
    assert book.asks == []
    assert book.bids == [("1.781", "14694.07509503", "0", "31"), ("1.78", "12102.991384", "0", "32")]


@covers("ws_books_sequence_2022.jsonl")
def test_books_sequence_of_290_frames_decodes_per_instrument():
    msgs = [parse_ws(line) for line in raw_lines("ws_books_sequence_2022.jsonl")]
    assert len(msgs) == 290
    assert all(isinstance(m, BooksPush) for m in msgs)
    counts = Counter((m.arg.inst_id, m.action) for m in msgs)
    assert counts == {
        ("BTC-USDT", "snapshot"): 1,
        ("BTC-USDT", "update"): 97,
        ("UNI-USD-SWAP", "snapshot"): 1,
        ("UNI-USD-SWAP", "update"): 92,
        ("BTC-USD-220527", "snapshot"): 1,
        ("BTC-USD-220527", "update"): 98,
    }
    snapshot_checksums = {m.arg.inst_id: m.data[0].checksum for m in msgs if m.is_snapshot}
    assert snapshot_checksums == {"BTC-USD-220527": 1054815633, "UNI-USD-SWAP": 555605283, "BTC-USDT": 47640993}
    assert sum(len(m.data[0].asks) + len(m.data[0].bids) for m in msgs) == 8264
    last = msgs[-1].data[0]
    assert (msgs[-1].arg.inst_id, last.ts, last.checksum) == ("BTC-USD-220527", "1652459236119", 664471393)


@covers("ws_books5.json")
def test_books5_is_a_snapshot_without_action_or_checksum():
    msg = ws("ws_books5.json")
    assert isinstance(msg, BooksPush)
    assert (msg.arg.channel, msg.action, msg.is_snapshot) == ("books5", "", True)
    book = msg.data[0]
    assert (book.inst_id, book.ts, book.checksum, book.seq_id) == ("PERP-USDT", "1656326389967", 0, None)
    assert book.asks[0] == ("0.773", "2.160647", "0", "2")
    assert book.asks[4] == ("0.777", "192", "0", "1")
    assert book.bids[1] == ("0.77", "727.91547", "0", "3")


@covers("ws_books5_swap_2026.json")
def test_books5_swap_of_2026_carries_seq_id():
    msg = ws("ws_books5_swap_2026.json")
    assert isinstance(msg, BooksPush)
    book = msg.data[0]
    assert (book.inst_id, book.ts, book.seq_id, book.prev_seq_id) == (
        "BTC-USDT-SWAP",
        "1786541241006",
        333794734980,
        None,
    )
    assert book.asks[0] == ("63921.5", "790.41", "0", "42")
    assert book.bids[0] == ("63921.4", "421.93", "0", "28")


@covers("ws_bbo_tbt.json")
def test_bbo_tbt_one_level_each_side():
    msg = ws("ws_bbo_tbt.json")
    assert isinstance(msg, BooksPush)
    assert (msg.arg.channel, msg.arg.inst_id, msg.is_snapshot) == ("bbo-tbt", "LTC-USDC", True)
    book = msg.data[0]
    assert book.asks == [("83.81", "11.93175", "0", "1")]
    assert book.bids == [("83.8", "11.93317", "0", "1")]
    assert (book.ts, book.seq_id) == ("1765201257149", 378617009)


def test_books_numbers_sent_as_strings_decode_to_the_same_ints():
    frame = (
        '{"arg":{"channel":"books","instId":"A"},"action":"update","data":[{"asks":[],"bids":[],'
        '"ts":"1","checksum":"-5","prevSeqId":"7","seqId":"9"}]}'
    )
    book = parse_ws(frame).data[0]
    assert (book.checksum, book.prev_seq_id, book.seq_id) == (-5, 7, 9)


def test_books_keep_alive_update_with_equal_seq_ids():
    frame = '{"arg":{"channel":"books","instId":"A"},"action":"update","data":[{"asks":[],"bids":[],"ts":"5","checksum":0,"prevSeqId":42,"seqId":42}]}'  # noqa: E501
    book = parse_ws(frame).data[0]
    assert (book.seq_id, book.prev_seq_id, book.asks, book.bids, book.checksum) == (42, 42, [], [], 0)


# ---------------------------------------------------------------------------------------------
# Trades, tickers, candles, funding, index, status, instruments
# ---------------------------------------------------------------------------------------------


@covers("ws_trades.json")
def test_trades_2025_with_count_source_and_seq_id():
    msg = ws("ws_trades.json")
    assert isinstance(msg, TradesPush)
    (t,) = msg.data
    assert (t.inst_id, t.trade_id, t.px, t.sz, t.side, t.ts) == (
        "BTC-USDT-SWAP",
        "2005639579",
        "91467.1",
        "0.03",
        Side.SELL,
        "1765201257145",
    )
    assert (t.count, t.source, t.seq_id) == ("1", "0", 279183506666)


@covers("ws_trades_swap_2026.json")
def test_trades_2026_aggregating_ten_maker_fills():
    (t,) = ws("ws_trades_swap_2026.json").data
    assert (t.trade_id, t.px, t.sz, t.side, t.count, t.seq_id) == (
        "2832749645",
        "63913.4",
        "34.95",
        Side.SELL,
        "10",
        333793118093,
    )


@covers("ws_trades_2022.json")
def test_trades_2022_without_count_or_seq_id():
    msg = ws("ws_trades_2022.json")
    assert isinstance(msg, TradesPush)
    (t,) = msg.data
    assert (t.inst_id, t.trade_id, t.px, t.sz, t.side, t.ts) == (
        "BTC-USDT",
        "338476307",
        "30236",
        "0.0002",
        Side.BUY,
        "1652459224818",
    )
    assert (t.count, t.source, t.seq_id) == ("", "", None)


@covers("ws_trades_swap_2022.json")
def test_trades_swap_2022_size_in_contracts():
    (t,) = ws("ws_trades_swap_2022.json").data
    assert (t.inst_id, t.trade_id, t.px, t.sz, t.side) == ("UNI-USD-SWAP", "12883020", "5.123", "100", Side.SELL)


@covers("ws_tickers.json")
def test_tickers_spot_2025():
    msg = ws("ws_tickers.json")
    assert isinstance(msg, TickersPush)
    (t,) = msg.data
    assert (t.inst_type, t.inst_id, t.last, t.last_sz) == ("SPOT", "BTC-USD", "91517.2", "0.00269444")
    assert (t.ask_px, t.ask_sz, t.bid_px, t.bid_sz) == ("91527.3", "1.54613591", "91527.2", "0.0135")
    assert (t.vol_ccy24h, t.vol24h, t.ts) == ("30744587.593360288", "338.86622649", "1765201256914")


@covers("ws_tickers_swap_2026.json")
def test_tickers_swap_2026():
    (t,) = ws("ws_tickers_swap_2026.json").data
    assert (t.inst_type, t.inst_id, t.last, t.ask_px, t.bid_px) == (
        "SWAP",
        "BTC-USDT-SWAP",
        "63921",
        "63921.1",
        "63921",
    )
    assert (t.open24h, t.high24h, t.low24h, t.sod_utc0, t.sod_utc8) == (
        "64297.6",
        "64466",
        "63162.7",
        "63566",
        "63584.6",
    )
    assert (t.vol_ccy24h, t.vol24h) == ("73998.8786", "7399887.86")


@covers("ws_tickers_spot_2022.json")
def test_tickers_spot_2022():
    (t,) = ws("ws_tickers_spot_2022.json").data
    assert (t.inst_id, t.last, t.ask_px, t.ask_sz, t.bid_px, t.ts) == (
        "BTC-USDT",
        "30236",
        "30228.7",
        "1.55896972",
        "30228.6",
        "1652459224956",
    )


@covers("ws_tickers_swap_2022.json")
def test_tickers_swap_2022():
    (t,) = ws("ws_tickers_swap_2022.json").data
    assert (t.inst_type, t.inst_id, t.last, t.last_sz, t.bid_sz, t.vol24h) == (
        "SWAP",
        "UNI-USD-SWAP",
        "5.123",
        "100",
        "96",
        "289425",
    )


@covers("ws_candle1m.json")
def test_candle1m_row_maps_to_named_fields():
    msg = ws("ws_candle1m.json")
    assert isinstance(msg, CandlesPush)
    assert (msg.arg.channel, msg.arg.inst_id) == ("candle1m", "BTC-USDT")
    (c,) = msg.data
    assert (c.ts, c.open, c.high, c.low, c.close) == ("1757076060000", "112600.1", "112631.9", "112477.1", "112477.1")
    assert (c.vol, c.vol_ccy, c.vol_ccy_quote, c.confirm) == ("3.10944629", "349947.335430728", "349947.335430728", "0")


@covers("ws_candle1m_swap_2026.json")
def test_candle1m_swap_keeps_trailing_zero_strings():
    (c,) = ws("ws_candle1m_swap_2026.json").data
    assert (c.ts, c.open, c.high, c.close) == ("1786540440000", "63913.0", "63951.8", "63951.8")
    assert (c.vol, c.vol_ccy, c.vol_ccy_quote, c.confirm) == ("1803.61", "18.0361", "1153203.99426000", "0")


def test_candle_channel_with_a_bar_not_in_the_list_still_decodes():
    msg = parse_ws('{"arg":{"channel":"candle7D","instId":"A"},"data":[["1","2","3","4","5","6","7","8","1"]]}')
    assert isinstance(msg, CandlesPush)
    assert (msg.data[0].close, msg.data[0].confirm) == ("5", "1")


@covers("ws_funding_rate.json")
def test_funding_rate_current_field_set():
    msg = ws("ws_funding_rate.json")
    assert isinstance(msg, FundingRatePush)
    (f,) = msg.data
    assert (f.inst_id, f.funding_rate, f.funding_time, f.next_funding_time) == (
        "LTC-USDT-SWAP",
        "0.0001000000000000",
        "1765209600000",
        "1765238400000",
    )
    assert (f.method, f.sett_state, f.sett_funding_rate, f.next_funding_rate) == (
        "current_period",
        "settled",
        "0.0000697725497563",
        "",
    )
    assert (f.max_funding_rate, f.min_funding_rate, f.premium, f.ts) == (
        "0.015",
        "-0.015",
        "-0.0004021053670636",
        "1765201461438",
    )


@covers("ws_funding_rate_2022.json")
def test_funding_rate_2022_field_set_leaves_the_new_fields_empty():
    (f,) = ws("ws_funding_rate_2022.json").data
    assert (f.inst_id, f.funding_rate, f.funding_time, f.next_funding_rate) == (
        "BTC-USD-SWAP",
        "-0.00006384",
        "1642665600000",
        "-0.00005",
    )
    assert (f.ts, f.method, f.next_funding_time) == ("", "", "")


@covers("ws_index_tickers.json")
def test_index_tickers():
    msg = ws("ws_index_tickers.json")
    assert isinstance(msg, IndexTickersPush)
    (i,) = msg.data
    assert (i.inst_id, i.idx_px, i.open24h, i.high24h, i.low24h, i.ts) == (
        "BTC-USDT",
        "41756.7",
        "42427.3",
        "42560.7",
        "41147.5",
        "1642643951284",
    )


def test_mark_price_in_the_documented_shape():
    msg = parse_ws(
        '{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},'
        '"data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"63921.3","ts":"1786540471710"}]}'
    )
    assert isinstance(msg, MarkPricePush)
    assert (msg.data[0].mark_px, msg.data[0].ts) == ("63921.3", "1786540471710")


@covers("ws_status.json")
def test_status_maintenance_record():
    msg = ws("ws_status.json")
    assert isinstance(msg, StatusPush)
    (s,) = msg.data
    assert (s.title, s.state, s.begin, s.end) == (
        "Copy trading system scheduled maintenance",
        "completed",
        "1764666600000",
        "1764667800000",
    )
    assert (s.service_type, s.system, s.maint_type, s.env, s.ts) == ("11", "unified", "1", "1", "1764667948527")


@covers("ws_instruments_push.json")
def test_instruments_push_of_spot_records():
    msg = ws("ws_instruments_push.json")
    assert isinstance(msg, InstrumentsPush)
    assert msg.arg.inst_type == "SPOT"
    assert [i.inst_id for i in msg.data] == ["BCD-BTC", "MDT-USDT", "API3-OKB"]
    first = msg.data[0]
    assert (first.base_ccy, first.quote_ccy, first.tick_sz, first.lot_sz, first.min_sz) == (
        "BCD",
        "BTC",
        "0.0000001",
        "0.0001",
        "1",
    )
    assert (first.inst_id_code, first.ct_val, first.state) == (None, "", "live")


def test_unknown_channel_is_kept_as_raw_records():
    msg = parse_ws('{"arg":{"channel":"open-interest","instId":"A"},"data":[{"oi":"5","ts":"1"}]}')
    assert isinstance(msg, UnknownPush)
    assert (msg.arg.channel, msg.data) == ("open-interest", [{"oi": "5", "ts": "1"}])


# ---------------------------------------------------------------------------------------------
# Private pushes
# ---------------------------------------------------------------------------------------------


@covers("ws_orders_live.json")
def test_orders_live_spot_limit():
    msg = ws("ws_orders_live.json")
    assert isinstance(msg, OrdersPush)
    assert (msg.arg.channel, msg.arg.inst_type, msg.arg.uid) == ("orders", "ANY", "474527194543234199")
    (o,) = msg.data
    assert (o.inst_id, o.ord_id, o.cl_ord_id, o.side, o.ord_type) == (
        "BTC-USDT",
        "641972610108518410",
        "X4BAEA772BXLWAABAAAAAAAA",
        Side.BUY,
        "limit",
    )
    assert (o.px, o.sz, o.state, o.acc_fill_sz, o.avg_px) == ("34500", "0.0001", "live", "0", "0")
    assert (o.fill_px, o.fill_sz, o.trade_id, o.exec_type, o.fee, o.fee_ccy) == ("", "0", "", "", "0", "BTC")
    assert (o.reduce_only, o.is_reduce_only, o.code, o.c_time, o.u_time) == (
        "false",
        False,
        "0",
        "1699330197524",
        "1699330197524",
    )
    assert (o.last_px, o.notional_usd, o.td_mode) == ("34910", "3.4517940000000005", "cross")


@covers("ws_orders_live_futures_2021.json")
def test_orders_live_futures_2021_long_isolated():
    (o,) = ws("ws_orders_live_futures_2021.json").data
    assert (o.inst_type, o.inst_id, o.ord_id, o.cl_ord_id) == (
        "FUTURES",
        "BTC-USD-220325",
        "393890002618445825",
        "abcABC125",
    )
    assert (o.px, o.sz, o.pos_side, o.td_mode, o.lever, o.state) == ("39919.4", "1", "long", "isolated", "10", "live")
    assert (o.cancel_source, o.amend_source, o.fill_pnl, o.algo_id) == ("", "", "", "")  # not sent in 2021


@covers("ws_orders_swap_fill.json")
def test_orders_swap_market_fill_with_fee():
    (o,) = ws("ws_orders_swap_fill.json").data
    assert (o.inst_id, o.ord_id, o.cl_ord_id, o.side, o.pos_side, o.ord_type) == (
        "BTC-USDT-SWAP",
        "2497956918703120384",
        "001BTCUSDT20250106001",
        Side.BUY,
        "long",
        "market",
    )
    assert (o.state, o.px, o.sz, o.acc_fill_sz, o.avg_px) == ("filled", "", "0.03", "0.03", "103698.9")
    assert (o.fill_px, o.fill_sz, o.fill_time, o.trade_id, o.exec_type) == (
        "103698.9",
        "0.03",
        "1746947317402",
        "1518905529",
        "M",
    )
    assert (o.fee, o.fee_ccy, o.stp_mode, o.lever, o.is_tp_limit) == (
        "-0.021776769",
        "USDT",
        "cancel_maker",
        "2.0",
        "false",
    )
    assert o.attach_algo_ords == []
    assert o.linked_algo_ord is not None and o.linked_algo_ord.algo_id == ""


@covers("ws_orders_spot_sequence.jsonl")
def test_orders_market_sequence_ends_filled_with_fill_sz_zero():
    msgs = [parse_ws(line) for line in raw_lines("ws_orders_spot_sequence.jsonl")]
    orders = [m.data[0] for m in msgs]
    assert [o.state for o in orders] == ["filled", "live", "partially_filled", "filled"]
    maker = orders[0]
    assert (maker.ord_id, maker.exec_type, maker.fill_px, maker.fill_sz, maker.fill_fee, maker.trade_id) == (
        "452197707845865472",
        "M",
        "31527.1",
        "0.001",
        "-0.02522168",
        "242589207",
    )
    live, partial, final = orders[1:]
    assert live.ord_id == partial.ord_id == final.ord_id == "620258920632008725"
    assert (live.sz, live.tgt_ccy, live.acc_fill_sz) == ("10", "quote_ccy", "0")
    assert (partial.fill_sz, partial.acc_fill_sz, partial.trade_id, partial.exec_type) == (
        "0.00038128",
        "0.00038128",
        "435550732",
        "T",
    )
    assert (final.fill_sz, final.acc_fill_sz, final.fee, final.trade_id) == ("0", "0.00038128", "-0.010000249968", "")


@covers("ws_positions.json")
def test_positions_net_long_one_contract():
    msg = ws("ws_positions.json")
    assert isinstance(msg, PositionsPush)
    (p,) = msg.data
    assert (p.inst_id, p.pos_side, p.pos, p.avg_px, p.mark_px) == (
        "BTC-USDT-SWAP",
        "net",
        "1",
        "43684",
        "43691.043152768407",
    )
    assert (p.upl, p.imr, p.mgn_mode, p.lever, p.pos_id, p.trade_id) == (
        "0.0704315276840498",
        "43.69104315276841",
        "cross",
        "10",
        "325382268437037058",
        "186646171",
    )
    assert (p.liq_px, p.adl, p.delta_bs, p.p_time) == ("23739.456120525683", "1", "", "1644330793928")


@covers("ws_account.json")
def test_account_2021_three_currencies():
    msg = ws("ws_account.json")
    assert isinstance(msg, AccountPush)
    (a,) = msg.data
    assert (a.total_eq, a.iso_eq, a.u_time) == ("596.187389493646", "0", "1640151696581")
    assert [d.ccy for d in a.details] == ["BTC", "EOS", "OMG"]
    btc = a.details[0]
    assert (btc.eq, btc.cash_bal, btc.avail_eq, btc.coin_usd_price, btc.eq_usd) == (
        "0.0121475",
        "0.0121475",
        "0.0121475",
        "49079",
        "596.1871525",
    )


@covers("ws_account_2025.json")
def test_account_2025_with_boolean_collateral_flags():
    (a,) = ws("ws_account_2025.json").data
    assert (a.total_eq, a.upl, a.u_time) == ("100.56089404807182", "", "1751531646836")
    usdt = a.details[0]
    assert (usdt.ccy, usdt.eq, usdt.avail_bal, usdt.coin_usd_price, usdt.collateral_enabled) == (
        "USDT",
        "100.52768569797846",
        "100.52768569797846",
        "1.00032",
        False,
    )
    assert [d.ccy for d in a.details] == ["USDT", "BTC", "ETH"]
    assert a.details[1].cash_bal == "0.0000000051"


@covers("ws_balance_and_position.json")
def test_balance_and_position_snapshot():
    msg = ws("ws_balance_and_position.json")
    assert isinstance(msg, BalanceAndPositionPush)
    (bp,) = msg.data
    assert (bp.event_type, bp.p_time) == ("snapshot", "1644330371092")
    (bal,) = bp.bal_data
    assert (bal.ccy, bal.cash_bal, bal.u_time) == ("USDT", "200.5137143201668551", "1644330337903")
    (pos,) = bp.pos_data
    assert (pos.inst_id, pos.pos, pos.avg_px, pos.pos_side, pos.mgn_mode, pos.trade_id) == (
        "BTC-USDT-SWAP",
        "1",
        "43684",
        "net",
        "cross",
        "186646171",
    )
    assert bp.trades == []


def test_orders_algo_push_in_the_documented_shape():
    msg = parse_ws(
        '{"arg":{"channel":"orders-algo","instType":"SWAP"},"data":[{"algoId":"7","algoClOrdId":"athenaSL1",'
        '"instId":"BTC-USDT-SWAP","ordType":"conditional","state":"live","side":"sell","sz":"0.01",'
        '"slTriggerPx":"59000","slOrdPx":"-1","reduceOnly":"true","cTime":"1","uTime":"2"}]}'
    )
    assert isinstance(msg, AlgoOrdersPush)
    (a,) = msg.data
    assert (a.algo_id, a.algo_cl_ord_id, a.state, a.sl_trigger_px, a.sl_ord_px, a.reduce_only) == (
        "7",
        "athenaSL1",
        "live",
        "59000",
        "-1",
        "true",
    )


# ---------------------------------------------------------------------------------------------
# WebSocket trading-op answers
# ---------------------------------------------------------------------------------------------


@covers("ws_op_order_ok.json")
def test_op_order_ok_2021_without_timestamps():
    msg = ws("ws_op_order_ok.json")
    assert isinstance(msg, OpResponse)
    assert (msg.id, msg.op, msg.code, msg.msg, msg.in_time, msg.out_time) == ("1000001", "order", "0", "", "", "")
    (r,) = msg.data
    assert (r.s_code, r.s_msg, r.ord_id, r.cl_ord_id, r.ts) == ("0", "", "393513242072608785", "abcABC123", "")


@covers("ws_op_order_fail.json")
def test_op_order_fail_duplicated_cl_ord_id_51016():
    msg = ws("ws_op_order_fail.json")
    assert isinstance(msg, OpResponse)
    assert (msg.id, msg.op, msg.code) == ("2000001", "order", "1")
    (r,) = msg.data
    assert (r.s_code, r.s_msg, r.ord_id, r.cl_ord_id) == ("51016", "Duplicated client order ID", "", "abcABC125")


@covers("ws_op_order_fail_51008_2025.json")
def test_op_order_fail_insufficient_balance_51008_with_in_out_time():
    msg = ws("ws_op_order_fail_51008_2025.json")
    assert isinstance(msg, OpResponse)
    assert (msg.id, msg.op, msg.code, msg.in_time, msg.out_time) == (
        "2",
        "order",
        "1",
        "1753714603720755",
        "1753714603721942",
    )
    (r,) = msg.data
    assert (r.s_code, r.s_msg, r.tag, r.ts) == (
        "51008",
        "Order failed. Insufficient USDT balance in account.",
        "159881cb7207BCDE",
        "1753714603721",
    )


@covers("ws_op_order_fail_51010_2025.json")
def test_op_order_fail_account_mode_51010():
    msg = ws("ws_op_order_fail_51010_2025.json")
    (r,) = msg.data
    assert (msg.code, r.s_code, r.ts) == ("1", "51010", "1753714567149")
    assert r.s_msg == "You can't complete this request under your current account mode."


@covers("ws_op_cancel_ok.json")
def test_op_cancel_ok():
    msg = ws("ws_op_cancel_ok.json")
    assert isinstance(msg, OpResponse)
    (r,) = msg.data
    assert (msg.op, msg.id, msg.code, r.s_code, r.ord_id, r.cl_ord_id) == (
        "cancel-order",
        "2000003",
        "0",
        "0",
        "393940260828377089",
        "3MAAF2IDAAAQAAGSKMZCT5A3",
    )


@covers("ws_op_cancel_fail_51400_2025.json")
def test_op_cancel_fail_51400():
    msg = ws("ws_op_cancel_fail_51400_2025.json")
    (r,) = msg.data
    assert (msg.op, msg.code, r.s_code, r.ord_id, r.ts) == (
        "cancel-order",
        "1",
        "51400",
        "2510789768709120",
        "1753714393003",
    )
    assert r.s_msg.startswith("Order cancellation failed as the order has been filled")


@covers("ws_op_amend_ok.json")
def test_op_amend_ok_with_empty_req_id():
    msg = ws("ws_op_amend_ok.json")
    (r,) = msg.data
    assert (msg.op, msg.id, msg.code, r.s_code, r.ord_id, r.cl_ord_id, r.req_id) == (
        "amend-order",
        "2000002",
        "0",
        "0",
        "393936310213439488",
        "CMAAF2IDAAAQAAFQDIHPD4Y3",
        "",
    )


def test_op_request_format_error_has_empty_data():
    msg = parse_ws(
        '{"id":"1512","op":"order","data":[],"code":"60013","msg":"Invalid args","inTime":"1","outTime":"2"}'
    )
    assert isinstance(msg, OpResponse)
    assert (msg.code, msg.msg, msg.data) == ("60013", "Invalid args", [])


# ---------------------------------------------------------------------------------------------
# REST
# ---------------------------------------------------------------------------------------------


def rest(kind: RestKind, name: str) -> Any:
    return parse_rest(kind, raw(name))


@covers("rest_instruments_swap.json")
def test_rest_instruments_2025_btc_usdt_swap_spec():
    resp = rest(RestKind.INSTRUMENTS, "rest_instruments_swap.json")
    assert (resp.code, resp.ok) == ("0", True)
    by_id = {i.inst_id: i for i in resp.data}
    assert list(by_id) == ["BTC-USD-SWAP", "ETH-USDT-SWAP", "BTC-USDT-SWAP"]
    btc = by_id["BTC-USDT-SWAP"]
    assert (btc.inst_id_code, btc.ct_val, btc.tick_sz, btc.lot_sz, btc.min_sz) == (10459, "0.01", "0.1", "0.01", "0.01")
    assert (btc.ct_type, btc.settle_ccy, btc.inst_family, btc.lever, btc.max_mkt_sz) == (
        "linear",
        "USDT",
        "BTC-USDT",
        "100",
        "12000",
    )
    assert (btc.future_settlement, btc.trade_quote_ccy_list) == (False, [])
    assert by_id["BTC-USD-SWAP"].inst_id_code == 10458


@covers("rest_instruments_swap_2022.json")
def test_rest_instruments_2022_had_lot_size_one():
    resp = rest(RestKind.INSTRUMENTS, "rest_instruments_swap_2022.json")
    assert len(resp.data) == 166
    btc = next(i for i in resp.data if i.inst_id == "BTC-USDT-SWAP")
    assert (btc.lot_sz, btc.min_sz, btc.lever, btc.tick_sz, btc.ct_val) == ("1", "1", "125", "0.1", "0.01")
    assert (btc.inst_id_code, btc.inst_family) == (None, "")
    assert (resp.data[0].inst_id, resp.data[-1].inst_id) == ("BTC-USD-SWAP", "ZRX-USDT-SWAP")


def test_rest_instrument_code_sent_as_string_decodes_to_int():
    resp = parse_rest(
        RestKind.INSTRUMENTS, '{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"A","instIdCode":"77"}]}'
    )
    assert resp.data[0].inst_id_code == 77


@covers("rest_place_order_ok.json")
def test_rest_place_order_ok_order_placed():
    resp = rest(RestKind.PLACE_ORDER, "rest_place_order_ok.json")
    assert (resp.code, resp.msg, resp.in_time, resp.out_time) == ("0", "", "1758827099511856", "1758827099513562")
    (r,) = resp.data
    assert (r.s_code, r.s_msg, r.ord_id, r.cl_ord_id, r.tag, r.ts) == (
        "0",
        "Order placed",
        "2896576259728695296",
        "6b9ad766b55dBCDE63969a1144bfb943",
        "6b9ad766b55dBCDE",
        "1758827099512",
    )


@covers("rest_place_order_rejected.json")
def test_rest_place_order_rejected_all_operations_failed_54109():
    resp = rest(RestKind.PLACE_ORDER, "rest_place_order_rejected.json")
    assert (resp.code, resp.msg, resp.ok) == ("1", "All operations failed", False)
    (r,) = resp.data
    assert (r.s_code, r.cl_ord_id, r.ord_id, r.ts) == ("54109", "Ousdcnotactive1", "", "1790000000000")
    assert r.s_msg.startswith("You haven't activated trading for this pair.")


@covers("rest_place_algo_order_ok.json")
def test_rest_place_algo_order_ok():
    resp = rest(RestKind.PLACE_ALGO_ORDER, "rest_place_algo_order_ok.json")
    (r,) = resp.data
    assert (resp.code, r.s_code, r.algo_id, r.algo_cl_ord_id, r.tag) == (
        "0",
        "0",
        "2896574163517353984",
        "6b9ad766b55dBCDEd524d810f42296b8",
        "6b9ad766b55dBCDE",
    )


@covers("rest_orders_pending.json")
def test_rest_orders_pending_is_order_records():
    resp = rest(RestKind.ORDERS_PENDING, "rest_orders_pending.json")
    (o,) = resp.data
    assert (o.ord_id, o.cl_ord_id, o.inst_id, o.side, o.pos_side, o.px, o.sz, o.state) == (
        "393890002618445825",
        "abcABC125",
        "BTC-USD-220325",
        Side.BUY,
        "long",
        "39919.4",
        "1",
        "live",
    )
    assert (o.acc_fill_sz, o.avg_px, o.fill_px, o.c_time) == ("0", "", "", "1640182694746")


@covers("rest_account_balance.json")
def test_rest_account_balance_usdt_detail():
    resp = rest(RestKind.ACCOUNT_BALANCE, "rest_account_balance.json")
    (a,) = resp.data
    assert (a.total_eq, a.iso_eq, a.u_time) == ("99.88870288820581", "5.4682385526666675", "1744499648556")
    (usdt,) = a.details
    assert (usdt.ccy, usdt.eq, usdt.cash_bal, usdt.avail_bal, usdt.frozen_bal, usdt.iso_upl) == (
        "USDT",
        "99.89469657000001",
        "94.42612990333333",
        "94.42612990333333",
        "5.468566666666667",
        "-0.0273000000000002",
    )
    assert usdt.coin_usd_price == ""  # absent from this body


@covers("rest_trades.json")
def test_rest_trades():
    resp = rest(RestKind.TRADES, "rest_trades.json")
    assert [(t.trade_id, t.px, t.sz, t.side) for t in resp.data] == [
        ("734864333", "102537.9", "0.00013669", Side.SELL),
        ("734864332", "102537.9", "0.0000125", Side.BUY),
    ]
    assert resp.data[0].ts == "1747087163557"


@covers("rest_candles.json")
def test_rest_candles_newest_first():
    resp = rest(RestKind.CANDLES, "rest_candles.json")
    assert [c.ts for c in resp.data] == ["1757076060000", "1757076000000", "1757058180000", "1757058120000"]
    assert [c.confirm for c in resp.data] == ["0", "1", "1", "1"]
    assert (resp.data[1].open, resp.data[1].high, resp.data[1].low, resp.data[1].close) == (
        "112691.9",
        "112762",
        "112628",
        "112628",
    )
    assert (resp.data[3].vol, resp.data[3].vol_ccy_quote) == ("0", "0")


@covers("rest_funding_rate_history.json")
def test_rest_funding_rate_history():
    resp = rest(RestKind.FUNDING_RATE_HISTORY, "rest_funding_rate_history.json")
    assert [(f.funding_rate, f.realized_rate, f.funding_time) for f in resp.data] == [
        ("0.0001515032", "0.00015", "1704067200000"),
        ("-0.0000236017", "-0.00002", "1704038400000"),
    ]


@covers("rest_error_invalid_access_key_http401.json")
def test_rest_401_body_without_data():
    resp = rest(RestKind.ACCOUNT_BALANCE, "rest_error_invalid_access_key_http401.json")
    assert (resp.code, resp.msg, resp.data, resp.ok) == ("50111", "Invalid OK-ACCESS-KEY", [], False)


@covers("rest_error_not_found_http404.json")
def test_rest_404_body_with_numeric_code_and_object_data():
    resp = rest(RestKind.ORDER, "rest_error_not_found_http404.json")
    assert (resp.code, resp.msg, resp.data) == ("404", "Not Found", [])
    assert (resp.error_code, resp.error_message, resp.detail_msg) == ("404", "Not Found", "")


@covers("rest_error_rate_limit.json")
def test_rest_rate_limit_body_50011():
    resp = rest(RestKind.PLACE_ORDER, "rest_error_rate_limit.json")
    assert (resp.code, resp.msg, resp.data) == ("50011", "Too Many Requests", [])


def test_rest_business_error_with_empty_data():
    body = '{"code":"51001","data":[],"msg":"Instrument ID, Instrument ID code, or Spread ID doesn\'t exist."}'
    resp = parse_rest(RestKind.TICKER, body)
    assert (resp.code, resp.data) == ("51001", [])


def test_rest_fills_record():
    body = (
        '{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","tradeId":"9","ordId":"8",'
        '"clOrdId":"a1","billId":"7","side":"buy","fillPx":"60000.1","fillSz":"0.02","execType":"T",'
        '"fee":"-0.840001","feeCcy":"USDT","fillPnl":"0","ts":"1","fillTime":"1"}]}'
    )
    (f,) = parse_rest(RestKind.FILLS, body).data
    assert (f.trade_id, f.ord_id, f.side, f.fill_px, f.fill_sz, f.fee, f.exec_type) == (
        "9",
        "8",
        Side.BUY,
        "60000.1",
        "0.02",
        "-0.840001",
        "T",
    )


def test_rest_success_body_of_the_wrong_kind_raises_parse_error():
    with pytest.raises(OkxParseError, match="orders_pending answer does not have the expected shape"):
        parse_rest(RestKind.ORDERS_PENDING, '{"code":"0","msg":"","data":[{"foo":"1"}]}')


def test_rest_body_that_is_not_json_raises_parse_error():
    with pytest.raises(OkxParseError, match="not JSON"):
        parse_rest(RestKind.TIME, b"<html>502 Bad Gateway</html>")


# ---------------------------------------------------------------------------------------------
# Dispatch: robustness and equivalence of the two paths
# ---------------------------------------------------------------------------------------------


def test_frame_as_text_bytes_bytearray_and_memoryview_decode_equal():
    data = raw("ws_trades.json")
    expected = parse_ws(data)
    assert expected.data[0].px == "91467.1"
    assert parse_ws(data.decode()) == expected
    assert parse_ws(bytearray(data)) == expected
    assert parse_ws(memoryview(data)) == expected


def test_key_order_does_not_matter():
    frame = json.loads(raw("ws_books_update_seqid_trimmed.json"))
    reordered = json.dumps({"data": frame["data"], "action": frame["action"], "arg": frame["arg"]})
    assert parse_ws(reordered) == ws("ws_books_update_seqid_trimmed.json")


def test_fast_channel_path_and_general_path_agree_on_every_ws_fixture():
    names = sorted(p.name for p in FIXTURES.glob("ws_*.json*")) if FIXTURES.is_dir() else []
    if not names:
        pytest.skip(NO_SHARED)
    frames = [line for name in names if name != "ws_books_l2_tbt_snapshot_data_2021.json" for line in raw_lines(name)]
    assert len(frames) == 338  # 44 single-frame ws files (the data-only one aside) + 290 + 4 jsonl lines
    for frame in frames:
        assert parse_ws(frame) == _parse_by_head(frame)


def test_push_with_a_wrong_record_shape_raises_parse_error_naming_the_channel():
    with pytest.raises(OkxParseError, match=r"channel 'trades' push .*missing required field `tradeId`"):
        parse_ws('{"arg":{"channel":"trades","instId":"A"},"data":[{"instId":"A","px":"1"}]}')


@pytest.mark.parametrize("frame", ["not json", '{"foo":1}', "[1,2]"])
def test_frames_that_are_not_okx_messages_raise_parse_error(frame: str):
    with pytest.raises(OkxParseError):
        parse_ws(frame)


def test_channel_enum_compares_equal_to_the_wire_string():
    msg = ws("ws_trades.json")
    assert msg.arg.channel == OkxChannel.TRADES


# ---------------------------------------------------------------------------------------------
# Real captures (../shared/data/real/okx): every received frame decodes to its typed struct
# ---------------------------------------------------------------------------------------------

EXPECTED_TYPE = {"books": BooksPush, "books-l2-tbt": BooksPush, "trades": TradesPush, "tickers": TickersPush}


@pytest.mark.parametrize(
    "capture",
    ["okx_v5_ws_2022-05-13_books_trades_tickers.jsonl", "okx_v5_ws_2021-07-22_books-l2-tbt_trades_tickers.jsonl"],
)
def test_every_frame_of_the_real_captures_decodes(capture: str):
    path = REAL_DATA / "okx" / capture
    if not path.exists():
        pytest.skip(NO_SHARED)
    expected: Counter[str] = Counter()
    got: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["dir"] != "in":
            continue
        original = record["msg"]
        msg = parse_ws(json.dumps(original, separators=(",", ":")))
        if "event" in original:
            assert isinstance(msg, WsSubscribe)
            assert msg.arg.inst_id == original["arg"]["instId"]
            expected["subscribe"] += 1
            got["subscribe"] += 1
            continue
        channel = original["arg"]["channel"]
        expected[channel] += 1
        assert isinstance(msg, EXPECTED_TYPE[channel])
        got[channel] += 1
        if isinstance(msg, BooksPush):
            first = original["data"][0]
            assert [list(level) for level in msg.data[0].bids] == first["bids"]
            assert [list(level) for level in msg.data[0].asks] == first["asks"]
            assert msg.data[0].checksum == first["checksum"]
        elif isinstance(msg, TradesPush):
            assert [(t.px, t.sz, t.side.value) for t in msg.data] == [
                (t["px"], t["sz"], t["side"]) for t in original["data"]
            ]
    assert got == expected
    if capture.startswith("okx_v5_ws_2022"):
        # SOURCES.md: 18 subscribe acks, 290 books, 74 trades, 28 tickers
        assert got == {"subscribe": 18, "books": 290, "trades": 74, "tickers": 28}


# ---------------------------------------------------------------------------------------------
# Guard: every fixture file has an explicit test above
# ---------------------------------------------------------------------------------------------


def _fixture_names() -> list[Any]:
    if not FIXTURES.is_dir():
        return [pytest.param("", marks=pytest.mark.skip(reason=NO_SHARED))]
    return sorted(p.name for p in FIXTURES.iterdir() if p.suffix in {".json", ".jsonl"})


@pytest.mark.parametrize("name", _fixture_names())
def test_every_fixture_file_has_an_explicit_test(name: str):
    assert name in COVERED, f"{name} has no explicit test in {Path(__file__).name}: add one decorated @covers({name!r})"


def test_no_explicit_test_names_a_fixture_that_does_not_exist():
    if not FIXTURES.is_dir():
        pytest.skip(NO_SHARED)
    assert {name for name in COVERED if not (FIXTURES / name).exists()} == set()
