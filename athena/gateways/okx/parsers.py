"""OKX v5 wire messages as typed msgspec structs: WebSocket frames and REST bodies.

Owns: the shapes of OKX's messages (``Struct`` per message and per data record), ``parse_ws`` (one
entry for every WebSocket frame, dispatching on the frame's channel / ``event`` / ``op``) and
``parse_rest`` (the ``{code, msg, data}`` envelope typed by endpoint kind).
Never: converts prices or sizes (they stay OKX's original decimal strings; ticks, lots and events
are the gateways' mapping), reads a clock, does I/O, or touches the bus.

Typing rule: a field has the type OKX gives it on the wire. Almost everything is a decimal
*string* and stays one, ``""`` when OKX leaves it empty (the default when a field is absent, so
2021-era and 2026-era shapes decode alike). The few JSON numbers (``seqId``, ``prevSeqId``,
``checksum``, ``instIdCode``) are ints and also accept a numeric string; the envelope ``code`` is
a string and also accepts a number (the HTTP 404 body sends ``404``). ``side`` decodes to
:class:`~athena.model.enums.Side`; open vocabularies (states, channels, ops) stay strings so that a
value OKX adds later cannot break decoding.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

import msgspec
from msgspec import Struct

from athena.errors import GatewayError
from athena.model.enums import Side


class OkxParseError(GatewayError):
    """A frame or body that is not the OKX message it claims to be (bad JSON or a changed shape)."""


# OKX's field names are camelCase with a few all-caps suffixes that a mechanical conversion misses.
_NAME_OVERRIDES: Final[dict[str, str]] = {
    "delta_bs": "deltaBS",
    "delta_pa": "deltaPA",
    "gamma_bs": "gammaBS",
    "gamma_pa": "gammaPA",
    "theta_bs": "thetaBS",
    "theta_pa": "thetaPA",
    "vega_bs": "vegaBS",
    "vega_pa": "vegaPA",
    "max_plat_oi_lmt": "maxPlatOILmt",
    "error_code": "error_code",  # the HTTP 404 body is snake_case
    "error_message": "error_message",
}


def _okx_name(name: str) -> str:
    """Python snake_case -> OKX camelCase (``vol_ccy24h`` -> ``volCcy24h``, ``s_code`` -> ``sCode``)."""
    override = _NAME_OVERRIDES.get(name)
    if override is not None:
        return override
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Msg(Struct, frozen=True, gc=False, rename=_okx_name):
    """Base of every OKX struct: immutable, untracked by the GC (decoded JSON has no cycles)."""


def _code_to_str(obj: Any) -> None:
    # OKX's codes are strings; one body (HTTP 404) sends a number. Normalise so callers compare strings.
    if type(obj.code) is int:
        msgspec.structs.force_setattr(obj, "code", str(obj.code))


# --------------------------------------------------------------------------------------------
# Vocabularies (StrEnum values are OKX's strings, so ``push.arg.channel == OkxChannel.TRADES``)
# --------------------------------------------------------------------------------------------


class OkxChannel(StrEnum):
    """WebSocket channels Athena parses (candles are ``"candle" + bar``, e.g. ``candle1m``)."""

    BOOKS = "books"
    BOOKS5 = "books5"
    BOOKS_L2_TBT = "books-l2-tbt"
    BOOKS50_L2_TBT = "books50-l2-tbt"
    BBO_TBT = "bbo-tbt"
    TRADES = "trades"
    TRADES_ALL = "trades-all"
    TICKERS = "tickers"
    FUNDING_RATE = "funding-rate"
    MARK_PRICE = "mark-price"
    INDEX_TICKERS = "index-tickers"
    STATUS = "status"
    INSTRUMENTS = "instruments"
    ORDERS = "orders"
    POSITIONS = "positions"
    ACCOUNT = "account"
    BALANCE_AND_POSITION = "balance_and_position"
    ORDERS_ALGO = "orders-algo"


# Channels whose every push is a full snapshot of the depth they carry (no ``action`` field).
_SNAPSHOT_ONLY_CHANNELS: Final = frozenset({OkxChannel.BOOKS5.value, OkxChannel.BBO_TBT.value})

CANDLE_BARS: Final[tuple[str, ...]] = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "2D", "3D", "1W", "1M", "3M",
    "6Hutc", "12Hutc", "1Dutc", "2Dutc", "3Dutc", "1Wutc", "1Mutc", "3Mutc",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# WebSocket control: subscription arg, events, pong
# --------------------------------------------------------------------------------------------


class WsArg(_Msg):
    """The subscription a push belongs to (echoed by OKX; ``uid`` only in 2021–2023 captures)."""

    channel: str
    inst_id: str = ""
    inst_type: str = ""
    inst_family: str = ""
    ccy: str = ""
    uid: str = ""


class _Event(_Msg, tag_field="event"):
    """Events carry their kind in ``event``; the struct type *is* that kind."""


class WsSubscribe(_Event, tag="subscribe"):
    arg: WsArg
    conn_id: str = ""  # absent in 2022 captures
    id: str = ""


class WsUnsubscribe(_Event, tag="unsubscribe"):
    arg: WsArg
    conn_id: str = ""
    id: str = ""


class WsLogin(_Event, tag="login"):
    code: str | int = ""
    msg: str = ""
    conn_id: str = ""

    def __post_init__(self) -> None:
        _code_to_str(self)


class WsError(_Event, tag="error"):
    code: str | int = ""
    msg: str = ""
    conn_id: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        _code_to_str(self)


class WsNotice(_Event, tag="notice"):
    """E.g. 64008: the connection will be closed for a service upgrade (~60 s ahead)."""

    code: str | int = ""
    msg: str = ""
    conn_id: str = ""

    def __post_init__(self) -> None:
        _code_to_str(self)


class WsChannelConnCount(_Event, tag="channel-conn-count"):
    channel: str = ""
    conn_count: str = ""
    conn_id: str = ""


class WsChannelConnCountError(WsChannelConnCount, tag="channel-conn-count-error"):
    """Over the per-channel connection limit: OKX drops that subscription."""


class WsUnknownEvent(_Msg):
    """An ``event`` value this module does not know; kept so a gateway can log it, not crash."""

    event: str
    code: str | int = ""
    msg: str = ""
    conn_id: str = ""

    def __post_init__(self) -> None:
        _code_to_str(self)


WsEvent = WsSubscribe | WsUnsubscribe | WsLogin | WsError | WsNotice | WsChannelConnCount | WsChannelConnCountError


class Pong(_Msg):
    """The text frame ``pong`` answering our ``ping``."""


PONG: Final = Pong()


# --------------------------------------------------------------------------------------------
# Public data records
# --------------------------------------------------------------------------------------------

Level = tuple[str, str, str, str]
"""One book level as OKX sends it: (px, sz, deprecated liquidation count "0", number of orders)."""


class BookData(_Msg):
    """One books-family data element (also the REST ``market/books`` record)."""

    asks: list[Level]
    bids: list[Level]
    ts: str
    checksum: int = 0  # absent on books5/bbo-tbt; always 0 since 2026-06-23 (0 = not provided)
    seq_id: int | None = None  # absent before ~2023
    prev_seq_id: int | None = None  # -1 on a snapshot; absent on books5/bbo-tbt
    inst_id: str = ""  # books5 only


class Trade(_Msg):
    """One ``trades`` push element (one taker order at one price), also a REST trades record."""

    inst_id: str
    trade_id: str
    px: str
    sz: str
    side: Side  # taker side
    ts: str
    count: str = ""  # maker fills aggregated; absent before ~2023
    source: str = ""
    seq_id: int | None = None


class Ticker(_Msg):
    inst_type: str = ""
    inst_id: str = ""
    last: str = ""
    last_sz: str = ""
    ask_px: str = ""
    ask_sz: str = ""
    bid_px: str = ""
    bid_sz: str = ""
    open24h: str = ""
    high24h: str = ""
    low24h: str = ""
    sod_utc0: str = ""
    sod_utc8: str = ""
    vol_ccy24h: str = ""
    vol24h: str = ""
    ts: str = ""


class Candle(_Msg, array_like=True):
    """A candle row ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`` (ts = bar open)."""

    ts: str
    open: str
    high: str
    low: str
    close: str
    vol: str = ""
    vol_ccy: str = ""
    vol_ccy_quote: str = ""
    confirm: str = ""  # "0" forming, "1" closed


class FundingRate(_Msg):
    """``funding-rate`` push / REST record. 2022 pushes carry only the first five fields."""

    inst_type: str = ""
    inst_id: str = ""
    funding_rate: str = ""
    funding_time: str = ""
    next_funding_rate: str = ""
    next_funding_time: str = ""
    formula_type: str = ""
    impact_value: str = ""
    interest_rate: str = ""
    max_funding_rate: str = ""
    min_funding_rate: str = ""
    method: str = ""
    premium: str = ""
    sett_funding_rate: str = ""
    sett_state: str = ""
    prev_funding_time: str = ""
    ts: str = ""


class FundingRateHistory(_Msg):
    inst_type: str = ""
    inst_id: str = ""
    formula_type: str = ""
    funding_rate: str = ""
    realized_rate: str = ""
    funding_time: str = ""
    method: str = ""


class MarkPrice(_Msg):
    inst_type: str = ""
    inst_id: str = ""
    mark_px: str = ""
    ts: str = ""


class IndexTicker(_Msg):
    inst_id: str = ""
    idx_px: str = ""
    open24h: str = ""
    high24h: str = ""
    low24h: str = ""
    sod_utc0: str = ""
    sod_utc8: str = ""
    ts: str = ""


class SystemStatus(_Msg):
    title: str = ""
    state: str = ""
    begin: str = ""
    end: str = ""
    pre_open_begin: str = ""
    href: str = ""
    service_type: str = ""
    system: str = ""
    sche_desc: str = ""
    maint_type: str = ""
    env: str = ""
    ts: str = ""


class Instrument(_Msg):
    """A ``public/instruments`` record (REST and the ``instruments`` push)."""

    inst_type: str
    inst_id: str
    inst_id_code: int | None = None  # newer; WS trading ops address instruments by it
    uly: str = ""
    inst_family: str = ""
    base_ccy: str = ""
    quote_ccy: str = ""
    settle_ccy: str = ""
    ct_val: str = ""
    ct_mult: str = ""
    ct_val_ccy: str = ""
    ct_type: str = ""
    tick_sz: str = ""
    lot_sz: str = ""
    min_sz: str = ""
    max_lmt_sz: str = ""
    max_mkt_sz: str = ""
    max_lmt_amt: str = ""
    max_mkt_amt: str = ""
    max_stop_sz: str = ""
    max_trigger_sz: str = ""
    max_twap_sz: str = ""
    max_iceberg_sz: str = ""
    lever: str = ""
    list_time: str = ""
    exp_time: str = ""
    state: str = ""
    alias: str = ""
    opt_type: str = ""
    stk: str = ""
    category: str = ""
    rule_type: str = ""
    cont_td_sw_time: str = ""
    open_type: str = ""
    auction_end_time: str = ""
    pre_mkt_sw_time: str = ""
    future_settlement: bool = False
    trade_quote_ccy_list: list[str] = []
    pos_lmt_amt: str = ""
    pos_lmt_pct: str = ""
    max_plat_oi_lmt: str = ""
    group_id: str = ""


class ServerTime(_Msg):
    ts: str


# --------------------------------------------------------------------------------------------
# Private records
# --------------------------------------------------------------------------------------------


class LinkedAlgoOrd(_Msg):
    algo_id: str = ""


class Order(_Msg):
    """An order record: ``orders`` push, REST ``trade/order`` and ``orders-pending``.

    ``fill_*``/``trade_id``/``exec_type`` describe the latest fill only (``fill_sz`` "0" on a
    non-fill push); ``acc_fill_sz``/``avg_px``/``fee`` are cumulative; ``fee`` < 0 is charged.
    """

    inst_id: str
    ord_id: str
    side: Side
    inst_type: str = ""
    cl_ord_id: str = ""
    tag: str = ""
    px: str = ""
    sz: str = ""
    ord_type: str = ""
    pos_side: str = ""
    td_mode: str = ""
    tgt_ccy: str = ""
    ccy: str = ""
    state: str = ""
    acc_fill_sz: str = ""
    avg_px: str = ""
    fill_px: str = ""
    fill_sz: str = ""
    fill_time: str = ""
    trade_id: str = ""
    exec_type: str = ""  # "T" taker, "M" maker, "" no fill
    fee: str = ""
    fee_ccy: str = ""
    fill_fee: str = ""
    fill_fee_ccy: str = ""
    rebate: str = ""
    rebate_ccy: str = ""
    pnl: str = ""
    fill_pnl: str = ""
    lever: str = ""
    reduce_only: str = ""  # the *string* "true"/"false"; see is_reduce_only
    cancel_source: str = ""
    cancel_source_reason: str = ""
    amend_result: str = ""
    amend_source: str = ""
    req_id: str = ""
    code: str = ""
    msg: str = ""
    category: str = ""
    source: str = ""
    stp_mode: str = ""
    stp_id: str = ""
    algo_id: str = ""
    algo_cl_ord_id: str = ""
    attach_algo_cl_ord_id: str = ""
    attach_algo_ords: list[dict[str, Any]] = []
    linked_algo_ord: LinkedAlgoOrd | None = None
    notional_usd: str = ""
    fill_notional_usd: str = ""
    fill_mark_px: str = ""
    is_tp_limit: str = ""
    quick_mgn_type: str = ""
    last_px: str = ""
    sl_trigger_px: str = ""
    sl_trigger_px_type: str = ""
    sl_ord_px: str = ""
    tp_trigger_px: str = ""
    tp_trigger_px_type: str = ""
    tp_ord_px: str = ""
    c_time: str = ""
    u_time: str = ""

    @property
    def is_reduce_only(self) -> bool:
        return self.reduce_only == "true"


class Fill(_Msg):
    """A ``trade/fills`` record (the OMS fetches these by ordId to price a gap of fills)."""

    inst_id: str
    trade_id: str
    ord_id: str
    side: Side
    fill_px: str
    fill_sz: str
    inst_type: str = ""
    cl_ord_id: str = ""
    bill_id: str = ""
    sub_type: str = ""
    tag: str = ""
    pos_side: str = ""
    exec_type: str = ""
    fee: str = ""
    fee_ccy: str = ""
    fee_rate: str = ""
    fill_pnl: str = ""
    fill_idx_px: str = ""
    fill_mark_px: str = ""
    fill_time: str = ""
    ts: str = ""


class Position(_Msg):
    """A position record (``positions`` push, REST ``account/positions``). Net mode: ``pos`` signed."""

    inst_id: str
    inst_type: str = ""
    mgn_mode: str = ""
    pos_id: str = ""
    pos_side: str = ""
    pos: str = ""
    avail_pos: str = ""
    pos_ccy: str = ""
    ccy: str = ""
    avg_px: str = ""
    mark_px: str = ""
    last: str = ""
    idx_px: str = ""
    liq_px: str = ""
    upl: str = ""
    upl_ratio: str = ""
    upl_last_px: str = ""
    realized_pnl: str = ""
    pnl: str = ""
    fee: str = ""
    funding_fee: str = ""
    liq_penalty: str = ""
    be_px: str = ""
    lever: str = ""
    imr: str = ""
    mmr: str = ""
    margin: str = ""
    mgn_ratio: str = ""
    notional_usd: str = ""
    adl: str = ""
    interest: str = ""
    liab: str = ""
    liab_ccy: str = ""
    base_bal: str = ""
    quote_bal: str = ""
    opt_val: str = ""
    usd_px: str = ""
    delta_bs: str = ""
    delta_pa: str = ""
    gamma_bs: str = ""
    gamma_pa: str = ""
    theta_bs: str = ""
    theta_pa: str = ""
    vega_bs: str = ""
    vega_pa: str = ""
    trade_id: str = ""
    c_time: str = ""
    u_time: str = ""
    p_time: str = ""


class AccountDetail(_Msg):
    ccy: str
    eq: str = ""
    cash_bal: str = ""
    avail_bal: str = ""
    avail_eq: str = ""
    frozen_bal: str = ""
    ord_frozen: str = ""
    fixed_bal: str = ""
    upl: str = ""
    iso_eq: str = ""
    iso_upl: str = ""
    iso_liab: str = ""
    eq_usd: str = ""
    dis_eq: str = ""
    coin_usd_price: str = ""
    liab: str = ""
    cross_liab: str = ""
    max_loan: str = ""
    interest: str = ""
    imr: str = ""
    mmr: str = ""
    mgn_ratio: str = ""
    notional_lever: str = ""
    stgy_eq: str = ""
    twap: str = ""
    collateral_enabled: bool = False
    u_time: str = ""


class AccountData(_Msg):
    """``account`` push ``data[0]`` and the REST ``account/balance`` record."""

    details: list[AccountDetail] = []
    total_eq: str = ""
    adj_eq: str = ""
    avail_eq: str = ""
    iso_eq: str = ""
    imr: str = ""
    mmr: str = ""
    mgn_ratio: str = ""
    notional_usd: str = ""
    notional_usd_for_borrow: str = ""
    notional_usd_for_futures: str = ""
    notional_usd_for_option: str = ""
    notional_usd_for_swap: str = ""
    ord_froz: str = ""
    borrow_froz: str = ""
    upl: str = ""
    u_time: str = ""


class BalData(_Msg):
    ccy: str
    cash_bal: str = ""
    u_time: str = ""


class PosData(_Msg):
    inst_id: str
    inst_type: str = ""
    pos_id: str = ""
    trade_id: str = ""
    mgn_mode: str = ""
    pos_side: str = ""
    pos: str = ""
    ccy: str = ""
    pos_ccy: str = ""
    avg_px: str = ""
    base_bal: str = ""
    quote_bal: str = ""
    u_time: str = ""


class BalTrade(_Msg):
    inst_id: str = ""
    trade_id: str = ""


class BalanceAndPosition(_Msg):
    event_type: str = ""  # "snapshot" on subscribe, then "filled", "funding_fee", ...
    p_time: str = ""
    bal_data: list[BalData] = []
    pos_data: list[PosData] = []
    trades: list[BalTrade] = []


class AlgoOrder(_Msg):
    """An ``orders-algo`` push record (conditional / oco / trigger)."""

    algo_id: str
    inst_id: str = ""
    inst_type: str = ""
    algo_cl_ord_id: str = ""
    ord_type: str = ""
    state: str = ""
    side: str = ""
    pos_side: str = ""
    sz: str = ""
    td_mode: str = ""
    lever: str = ""
    reduce_only: str = ""
    close_fraction: str = ""
    trigger_px: str = ""
    trigger_px_type: str = ""
    ord_px: str = ""
    tp_trigger_px: str = ""
    tp_trigger_px_type: str = ""
    tp_ord_px: str = ""
    sl_trigger_px: str = ""
    sl_trigger_px_type: str = ""
    sl_ord_px: str = ""
    actual_px: str = ""
    actual_sz: str = ""
    actual_side: str = ""
    trigger_time: str = ""
    ord_id: str = ""
    cl_ord_id: str = ""
    tag: str = ""
    fail_code: str = ""
    c_time: str = ""
    u_time: str = ""


class OrderResult(_Msg):
    """Per-order result of a place / cancel / amend (REST and WS ops). ``s_code`` "0" = accepted."""

    s_code: str = ""
    s_msg: str = ""
    ord_id: str = ""
    cl_ord_id: str = ""
    tag: str = ""
    ts: str = ""  # absent before 2023
    req_id: str = ""  # amend only
    sub_code: str = ""


class AlgoOrderResult(_Msg):
    s_code: str = ""
    s_msg: str = ""
    algo_id: str = ""
    algo_cl_ord_id: str = ""
    cl_ord_id: str = ""
    tag: str = ""


class ClosePositionResult(_Msg):
    inst_id: str = ""
    pos_side: str = ""
    cl_ord_id: str = ""
    tag: str = ""


class Leverage(_Msg):
    inst_id: str = ""
    lever: str = ""
    mgn_mode: str = ""
    pos_side: str = ""


class AccountConfig(_Msg):
    uid: str = ""
    main_uid: str = ""
    acct_lv: str = ""
    pos_mode: str = ""
    auto_loan: bool = False
    greeks_type: str = ""
    level: str = ""
    ct_iso_mode: str = ""
    mgn_iso_mode: str = ""
    acct_stp_mode: str = ""
    perm: str = ""
    label: str = ""


class PositionMode(_Msg):
    pos_mode: str = ""


# --------------------------------------------------------------------------------------------
# WebSocket data pushes and op responses
# --------------------------------------------------------------------------------------------


class BooksPush(_Msg):
    """``books``, ``books5``, ``books-l2-tbt``, ``books50-l2-tbt``, ``bbo-tbt``."""

    arg: WsArg
    data: list[BookData]
    action: str = ""  # "snapshot" | "update"; absent on books5 / bbo-tbt (always full snapshots)

    @property
    def is_snapshot(self) -> bool:
        return self.action == "snapshot" or self.arg.channel in _SNAPSHOT_ONLY_CHANNELS


class TradesPush(_Msg):
    arg: WsArg
    data: list[Trade]


class TickersPush(_Msg):
    arg: WsArg
    data: list[Ticker]


class CandlesPush(_Msg):
    """``candle{bar}`` (business socket); the bar is ``arg.channel[6:]``."""

    arg: WsArg
    data: list[Candle]


class FundingRatePush(_Msg):
    arg: WsArg
    data: list[FundingRate]


class MarkPricePush(_Msg):
    arg: WsArg
    data: list[MarkPrice]


class IndexTickersPush(_Msg):
    arg: WsArg
    data: list[IndexTicker]


class StatusPush(_Msg):
    arg: WsArg
    data: list[SystemStatus]


class InstrumentsPush(_Msg):
    arg: WsArg
    data: list[Instrument]


class OrdersPush(_Msg):
    arg: WsArg
    data: list[Order]


class PositionsPush(_Msg):
    arg: WsArg
    data: list[Position]


class AccountPush(_Msg):
    arg: WsArg
    data: list[AccountData]


class BalanceAndPositionPush(_Msg):
    arg: WsArg
    data: list[BalanceAndPosition]


class AlgoOrdersPush(_Msg):
    arg: WsArg
    data: list[AlgoOrder]


class UnknownPush(_Msg):
    """A push on a channel this module does not type (open-interest, price-limit, ...): raw dicts."""

    arg: WsArg
    data: list[Any]
    action: str = ""


class OpResponse(_Msg):
    """Answer to a WS trading op (``order``, ``cancel-order``, ``amend-order``, ``batch-*``).

    ``code`` "0" all ok, "1" all failed, "2" batch partial (then each item's ``s_code`` is the
    result), 6001x request-format errors with empty ``data``.
    """

    op: str
    id: str = ""
    code: str | int = ""
    msg: str = ""
    data: list[OrderResult] = []
    in_time: str = ""  # µs; absent before 2023
    out_time: str = ""

    def __post_init__(self) -> None:
        _code_to_str(self)


WsMessage = (
    BooksPush
    | TradesPush
    | TickersPush
    | CandlesPush
    | FundingRatePush
    | MarkPricePush
    | IndexTickersPush
    | StatusPush
    | InstrumentsPush
    | OrdersPush
    | PositionsPush
    | AccountPush
    | BalanceAndPositionPush
    | AlgoOrdersPush
    | UnknownPush
    | OpResponse
    | WsSubscribe
    | WsUnsubscribe
    | WsLogin
    | WsError
    | WsNotice
    | WsChannelConnCount
    | WsChannelConnCountError
    | WsUnknownEvent
    | Pong
)


# --------------------------------------------------------------------------------------------
# parse_ws: one entry, dispatch on the channel
# --------------------------------------------------------------------------------------------
#
# Measured (bench/bench_parsers.py, real 2021/2022 captures): data pushes are dispatched by reading
# the channel name straight out of OKX's usual frame prefix ``{"arg":{"channel":"<name>"`` and
# decoding once with that channel's decoder: 1.65 M trades frames/s, 0.68 M books frames/s. The
# alternative — decode a small head struct (arg/event/op) first, then the frame again — pays a
# second pass over the frame: 1.37 M and 0.56 M (about 20 % slower on both). Frames without that
# prefix (events, op answers, other key orders or whitespace) take the head path, so key order
# never matters. A tagged union cannot do the push dispatch: msgspec tags are top-level keys, and
# the channel is nested in ``arg``.

_Decoder = msgspec.json.Decoder

# strict=False: lets int fields take OKX's numeric strings too (seqId "123" as well as 123).
_PUSH_TYPES: Final[dict[str, type[Struct]]] = {
    OkxChannel.BOOKS: BooksPush,
    OkxChannel.BOOKS5: BooksPush,
    OkxChannel.BOOKS_L2_TBT: BooksPush,
    OkxChannel.BOOKS50_L2_TBT: BooksPush,
    OkxChannel.BBO_TBT: BooksPush,
    OkxChannel.TRADES: TradesPush,
    OkxChannel.TRADES_ALL: TradesPush,
    OkxChannel.TICKERS: TickersPush,
    OkxChannel.FUNDING_RATE: FundingRatePush,
    OkxChannel.MARK_PRICE: MarkPricePush,
    OkxChannel.INDEX_TICKERS: IndexTickersPush,
    OkxChannel.STATUS: StatusPush,
    OkxChannel.INSTRUMENTS: InstrumentsPush,
    OkxChannel.ORDERS: OrdersPush,
    OkxChannel.POSITIONS: PositionsPush,
    OkxChannel.ACCOUNT: AccountPush,
    OkxChannel.BALANCE_AND_POSITION: BalanceAndPositionPush,
    OkxChannel.ORDERS_ALGO: AlgoOrdersPush,
    **{f"candle{bar}": CandlesPush for bar in CANDLE_BARS},
}
_DECODER_OF_TYPE: Final = {t: _Decoder(t, strict=False) for t in set(_PUSH_TYPES.values())}
_PUSH_DECODERS: Final[dict[str, _Decoder[Any]]] = {str(ch): _DECODER_OF_TYPE[t] for ch, t in _PUSH_TYPES.items()}
_PUSH_DECODERS_B: Final[dict[bytes, _Decoder[Any]]] = {ch.encode(): d for ch, d in _PUSH_DECODERS.items()}
_CANDLE_DECODER: Final = _DECODER_OF_TYPE[CandlesPush]
_UNKNOWN_PUSH_DECODER: Final = _Decoder(UnknownPush, strict=False)
_EVENT_DECODER: Final = _Decoder(WsEvent, strict=False)
_UNKNOWN_EVENT_DECODER: Final = _Decoder(WsUnknownEvent, strict=False)
_OP_DECODER: Final = _Decoder(OpResponse, strict=False)

_PREFIX_S: Final = '{"arg":{"channel":"'
_PREFIX_B: Final = _PREFIX_S.encode()
_NAME_AT: Final = len(_PREFIX_S)


class _HeadArg(Struct, gc=False):
    channel: str = ""


class _Head(Struct, gc=False):
    """First-pass view of a frame: just enough to choose its decoder."""

    event: str | None = None
    op: str | None = None
    arg: _HeadArg | None = None


_HEAD_DECODER: Final = _Decoder(_Head)


def parse_ws(frame: bytes | str) -> WsMessage:
    """Decode one OKX WebSocket frame (text or bytes) into its typed struct.

    Data pushes -> ``<Channel>Push``; events -> ``WsSubscribe``/``WsError``/...; trading-op answers
    -> ``OpResponse``; ``pong`` -> ``PONG``; a channel not typed here -> ``UnknownPush``.
    Raises ``OkxParseError`` for anything that is not valid JSON or does not fit its shape.
    """
    dec: _Decoder[Any] | None = None
    if type(frame) is str:
        if frame.startswith(_PREFIX_S):
            dec = _PUSH_DECODERS.get(frame[_NAME_AT : frame.find('"', _NAME_AT)])
    elif type(frame) is bytes and frame.startswith(_PREFIX_B):  # (bytearray/memoryview: general path)
        dec = _PUSH_DECODERS_B.get(frame[_NAME_AT : frame.find(b'"', _NAME_AT)])
    if dec is not None:
        try:
            return dec.decode(frame)  # type: ignore[no-any-return]
        except msgspec.ValidationError:
            pass  # not a data push after all (e.g. an ack written arg-first): the general path decides
    return _parse_by_head(frame)


def _parse_by_head(frame: bytes | str) -> WsMessage:
    """The general path: decode a head (event/op/arg), then the frame with the chosen decoder."""
    if frame == "pong" or frame == b"pong":
        return PONG
    try:
        head = _HEAD_DECODER.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise OkxParseError(f"not an OKX WebSocket frame ({err}); frame starts {_excerpt(frame)}") from None
    if head.event is not None:
        try:
            return _EVENT_DECODER.decode(frame)  # type: ignore[no-any-return]
        except msgspec.ValidationError:
            return _decode(_UNKNOWN_EVENT_DECODER, frame, f"event {head.event!r}")
    if head.op is not None:
        return _decode(_OP_DECODER, frame, f"op {head.op!r} answer")
    if head.arg is not None:
        channel = head.arg.channel
        dec = _PUSH_DECODERS.get(channel)
        if dec is None:
            dec = _CANDLE_DECODER if channel.startswith("candle") else _UNKNOWN_PUSH_DECODER
        return _decode(dec, frame, f"channel {channel!r} push")
    raise OkxParseError(f"OKX frame has none of 'arg', 'event', 'op'; frame starts {_excerpt(frame)}")


def _decode(decoder: _Decoder[Any], frame: bytes | str, what: str) -> Any:
    try:
        return decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise OkxParseError(
            f"OKX {what} does not have the expected shape: {err}. Frame starts {_excerpt(frame)}; "
            "if OKX changed this message, update athena/gateways/okx/parsers.py"
        ) from None


def _excerpt(frame: bytes | str, limit: int = 120) -> str:
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


# --------------------------------------------------------------------------------------------
# REST
# --------------------------------------------------------------------------------------------

T = TypeVar("T")


class RestResponse(_Msg, Generic[T]):
    """OKX's REST envelope. ``code`` "0" ok; trade endpoints: "1" all failed, "2" partial (see
    each item's ``s_code``). Error bodies without ``data`` (401, 429) or with ``data:{}`` (404)
    come back with ``data == []``; ``error_code``/``error_message``/``detail_msg`` only on 404."""

    code: str | int
    msg: str = ""
    data: list[T] = []
    in_time: str = ""
    out_time: str = ""
    detail_msg: str = ""
    error_code: str = ""
    error_message: str = ""

    def __post_init__(self) -> None:
        _code_to_str(self)

    @property
    def ok(self) -> bool:
        return self.code == "0"


class _RestErrorBody(_Msg):
    code: str | int
    msg: str = ""
    data: Any = None
    detail_msg: str = ""
    error_code: str = ""
    error_message: str = ""


class RestKind(StrEnum):
    """What a REST body answers, which fixes the type of its ``data`` records."""

    INSTRUMENTS = "instruments"
    TICKER = "ticker"
    BOOKS = "books"
    CANDLES = "candles"
    TRADES = "trades"
    FUNDING_RATE = "funding_rate"
    FUNDING_RATE_HISTORY = "funding_rate_history"
    MARK_PRICE = "mark_price"
    TIME = "time"
    PLACE_ORDER = "place_order"  # also batch-orders
    CANCEL_ORDER = "cancel_order"  # also cancel-batch-orders
    AMEND_ORDER = "amend_order"  # also amend-batch-orders
    PLACE_ALGO_ORDER = "place_algo_order"
    CANCEL_ALGOS = "cancel_algos"
    CLOSE_POSITION = "close_position"
    ORDER = "order"  # GET trade/order
    ORDERS_PENDING = "orders_pending"
    ORDERS_HISTORY = "orders_history"
    ALGO_ORDERS_PENDING = "algo_orders_pending"
    FILLS = "fills"
    ACCOUNT_BALANCE = "account_balance"
    POSITIONS = "positions"
    SET_LEVERAGE = "set_leverage"
    ACCOUNT_CONFIG = "account_config"
    SET_POSITION_MODE = "set_position_mode"


_REST_RECORD: Final[dict[RestKind, Any]] = {
    RestKind.INSTRUMENTS: Instrument,
    RestKind.TICKER: Ticker,
    RestKind.BOOKS: BookData,
    RestKind.CANDLES: Candle,
    RestKind.TRADES: Trade,
    RestKind.FUNDING_RATE: FundingRate,
    RestKind.FUNDING_RATE_HISTORY: FundingRateHistory,
    RestKind.MARK_PRICE: MarkPrice,
    RestKind.TIME: ServerTime,
    RestKind.PLACE_ORDER: OrderResult,
    RestKind.CANCEL_ORDER: OrderResult,
    RestKind.AMEND_ORDER: OrderResult,
    RestKind.PLACE_ALGO_ORDER: AlgoOrderResult,
    RestKind.CANCEL_ALGOS: AlgoOrderResult,
    RestKind.CLOSE_POSITION: ClosePositionResult,
    RestKind.ORDER: Order,
    RestKind.ORDERS_PENDING: Order,
    RestKind.ORDERS_HISTORY: Order,
    RestKind.ALGO_ORDERS_PENDING: AlgoOrder,
    RestKind.FILLS: Fill,
    RestKind.ACCOUNT_BALANCE: AccountData,
    RestKind.POSITIONS: Position,
    RestKind.SET_LEVERAGE: Leverage,
    RestKind.ACCOUNT_CONFIG: AccountConfig,
    RestKind.SET_POSITION_MODE: PositionMode,
}
_REST_DECODERS: Final[dict[RestKind, _Decoder[Any]]] = {
    kind: _Decoder(RestResponse[record], strict=False)  # type: ignore[valid-type]
    for kind, record in _REST_RECORD.items()
}
_REST_ERROR_DECODER: Final = _Decoder(_RestErrorBody, strict=False)


def parse_rest(kind: RestKind, body: bytes | str) -> RestResponse[Any]:
    """Decode a REST body into ``RestResponse[<record of kind>]``; error bodies decode too.

    Raises ``OkxParseError`` if the body is not JSON, or is a success (``code`` "0") whose records
    do not fit ``kind``.
    """
    try:
        return _REST_DECODERS[kind].decode(body)  # type: ignore[no-any-return]
    except msgspec.ValidationError as err:  # (a subclass of DecodeError: caught first)
        shape_error = err
    except msgspec.DecodeError as err:
        raise OkxParseError(f"OKX {kind.value} answer is not JSON ({err}); body starts {_excerpt(body)}") from None
    # An error body may carry data of any shape (HTTP 404: ``{"code":404,"data":{}}``).
    try:
        error = _REST_ERROR_DECODER.decode(body)
    except msgspec.ValidationError:
        error = None
    if error is None or str(error.code) == "0":
        raise OkxParseError(
            f"OKX {kind.value} answer does not have the expected shape: {shape_error}. Body starts "
            f"{_excerpt(body)}; if OKX changed this endpoint, update athena/gateways/okx/parsers.py"
        )
    return RestResponse(
        code=str(error.code),
        msg=error.msg,
        data=[],
        detail_msg=error.detail_msg,
        error_code=error.error_code,
        error_message=error.error_message,
    )
