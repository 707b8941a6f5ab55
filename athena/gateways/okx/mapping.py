"""OKX structs <-> core events and commands: the one place OKX strings become ticks, lots and ns.

Owns: mapping parsed OKX records (``parsers``) to core events — trades to ``TickEvent``, book
levels to (ticks, lots), tickers / bbo to ``TickerEvent``, candles, funding, mark price, order
records and op answers to ``OrderReport`` (OKX's states to ``OrderState``), fills, positions to
``PositionUpdate``, balances to ``AccountUpdate`` — and the reverse: core commands to OKX request
arguments, with prices and sizes formatted exactly from ticks/lots (``InstrumentSpec``).
OKX millisecond timestamps are scaled to int ns here.
Never: does I/O, reads a clock (``ts_recv`` is passed in), touches a book or the bus, or formats
a number with ``str(float)``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from athena.core.events import (
    AccountUpdate,
    CandleEvent,
    FundingEvent,
    MarkPriceEvent,
    OrderReport,
    PositionSource,
    PositionUpdate,
    ReportSource,
    TickerEvent,
    TickEvent,
)
from athena.gateways.okx.parsers import (
    AccountData,
    AlgoOrderResult,
    BookData,
    Candle,
    Fill,
    FundingRate,
    Level,
    MarkPrice,
    Order,
    OrderResult,
    Position,
    Ticker,
    Trade,
)
from athena.gateways.okx.parsers import AlgoOrder as OkxAlgoOrder
from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder
from athena.model.orders import Order as CoreOrder

__all__ = [
    "ALGO_STATES",
    "LARGE_TRADE_USDT",
    "ORDER_STATES",
    "account_update",
    "algo_ack",
    "algo_args",
    "algo_report",
    "amend_args",
    "bbo_ticker",
    "book_levels",
    "cancel_args",
    "candle_event",
    "fill_report",
    "funding_event",
    "mark_price_event",
    "ms_to_ns",
    "order_ack",
    "order_args",
    "order_report",
    "position_update",
    "tick_event",
    "ticker_event",
]

MS: Final = 1_000_000
LARGE_TRADE_USDT: Final = 10_000.0  # a trade worth at least this is logged as large

# OKX order states (reference §7) -> Athena's. mmp_canceled is a cancel like any other to the OMS.
ORDER_STATES: Final[dict[str, OrderState]] = {
    "live": OrderState.LIVE,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "mmp_canceled": OrderState.CANCELED,
}

# OKX algo states (reference §4.5) -> what the OMS reads on an algo report (ord_type None):
# LIVE = resting, FILLED = triggered ("effective": its child order was placed), CANCELED,
# REJECTED = failed. A paused or partially effective algo is still resting as far as the stop goes.
ALGO_STATES: Final[dict[str, OrderState]] = {
    "live": OrderState.LIVE,
    "pause": OrderState.LIVE,
    "partially_effective": OrderState.LIVE,
    "effective": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "order_failed": OrderState.REJECTED,
    "partially_failed": OrderState.REJECTED,
}

_ORDER_TYPES: Final[dict[str, OrderType]] = {t.value: t for t in OrderType}
_ORDER_TYPES["optimal_limit_ioc"] = OrderType.IOC  # market-with-IOC: an IOC to the OMS
_LIQUIDITY: Final[dict[str, Liquidity]] = {"T": Liquidity.TAKER, "M": Liquidity.MAKER}


# -- numbers -------------------------------------------------------------------------------------


def ms_to_ns(ms: str) -> int:
    """OKX's millisecond string -> int ns (``""`` -> 0)."""
    return int(ms) * MS if ms else 0


def _f(s: str) -> float:
    """A float for a figure that is a float in Athena (fees, PnL, balances); ``""`` -> 0.0."""
    return float(s) if s else 0.0


def _ticks_or_none(spec: InstrumentSpec, px: str) -> int | None:
    """Exact ticks of a price OKX quotes on the tick grid; ``""``/``"0"`` (not given) -> None."""
    if not px or px == "0" or px == "-1":
        return None
    return spec.price_to_ticks(px)


def _nearest_ticks(spec: InstrumentSpec, px: str) -> int:
    """Ticks of a price that is *not* on the tick grid (mark / index prices such as
    ``43691.043152768407``): rounded half-even to the nearest tick, as a reference value only."""
    return int((Decimal(px) / spec.tick_sz).to_integral_value(rounding=ROUND_HALF_EVEN))


def _lots(spec: InstrumentSpec, sz: str) -> int:
    return spec.size_to_lots(sz) if sz else 0


def book_levels(spec: InstrumentSpec, levels: list[Level]) -> list[tuple[int, int]]:
    """OKX ``[px, sz, "0", n]`` levels -> exact (ticks, lots); size "0" stays 0 (a delete)."""
    p2t = spec.price_to_ticks
    s2l = spec.size_to_lots
    return [(p2t(lv[0]), s2l(lv[1])) for lv in levels]


# -- market data ---------------------------------------------------------------------------------


def tick_event(spec: InstrumentSpec, t: Trade, ts_recv: int) -> TickEvent:
    """One ``trades`` element (one taker order at one price) -> TICK; ``side`` is the taker's."""
    return TickEvent(
        t.inst_id,
        int(t.trade_id),
        spec.price_to_ticks(t.px),
        spec.size_to_lots(t.sz),
        t.side,
        int(t.ts) * MS,
        ts_recv,
    )


def ticker_event(spec: InstrumentSpec, t: Ticker, ts_recv: int) -> TickerEvent:
    """``tickers`` -> TICKER; a missing figure (``""``) is -1."""
    return TickerEvent(
        spec.inst_id,
        spec.price_to_ticks(t.bid_px) if t.bid_px else -1,
        spec.size_to_lots(t.bid_sz) if t.bid_sz else -1,
        spec.price_to_ticks(t.ask_px) if t.ask_px else -1,
        spec.size_to_lots(t.ask_sz) if t.ask_sz else -1,
        spec.price_to_ticks(t.last) if t.last else -1,
        ms_to_ns(t.ts),
        ts_recv,
    )


def bbo_ticker(spec: InstrumentSpec, d: BookData, ts_recv: int) -> TickerEvent:
    """``bbo-tbt`` (one-level snapshot) -> TICKER with no last price (-1)."""
    bid = d.bids[0] if d.bids else None
    ask = d.asks[0] if d.asks else None
    return TickerEvent(
        spec.inst_id,
        spec.price_to_ticks(bid[0]) if bid else -1,
        spec.size_to_lots(bid[1]) if bid else -1,
        spec.price_to_ticks(ask[0]) if ask else -1,
        spec.size_to_lots(ask[1]) if ask else -1,
        -1,
        ms_to_ns(d.ts),
        ts_recv,
    )


def candle_event(spec: InstrumentSpec, bar: str, c: Candle, ts_recv: int) -> CandleEvent:
    """A candle row -> CANDLE_EVENT; ``ts_event`` is the bar's open, ``volume`` in contracts (SWAP)."""
    p2t = spec.price_to_ticks
    return CandleEvent(
        spec.inst_id,
        bar,
        p2t(c.open),
        p2t(c.high),
        p2t(c.low),
        p2t(c.close),
        _f(c.vol),
        c.confirm == "1",
        ms_to_ns(c.ts),
        ts_recv,
    )


def funding_event(f: FundingRate, ts_recv: int) -> FundingEvent:
    """A published funding rate (no payment): the rate for the settlement at ``fundingTime``."""
    return FundingEvent(f.inst_id, _f(f.funding_rate), ms_to_ns(f.funding_time), ms_to_ns(f.ts), ts_recv)


def mark_price_event(spec: InstrumentSpec, m: MarkPrice, ts_recv: int) -> MarkPriceEvent:
    return MarkPriceEvent(spec.inst_id, _nearest_ticks(spec, m.mark_px), ms_to_ns(m.ts), ts_recv)


# -- orders --------------------------------------------------------------------------------------


def order_report(
    spec: InstrumentSpec,
    o: Order,
    source: ReportSource,
    ts_recv: int,
    *,
    req_id: str = "",
    snapshot_end: bool = False,
) -> OrderReport:
    """An order record (``orders`` push, ``trade/order``, ``orders-pending``) -> ORDER_REPORT.

    Cumulative figures (``accFillSz``, ``avgPx``, ``fee``) and the latest fill (``fillPx``,
    ``fillSz``, ``tradeId``, ``fillFee``, ``fillPnl``, ``execType``) are kept apart as OKX sends
    them. A stop's triggered child carries no clOrdId of ours but the stop's ``algoClOrdId``: it is
    reported under that id, which is how the OMS recognises the child of its own stop."""
    fill_lots = _lots(spec, o.fill_sz)
    has_fill = fill_lots > 0 and bool(o.trade_id)
    ts = o.fill_time if has_fill and o.fill_time else (o.u_time or o.c_time)
    return OrderReport(
        inst_id=o.inst_id,
        cl_ord_id=o.cl_ord_id or o.algo_cl_ord_id,
        ord_id=o.ord_id,
        state=ORDER_STATES.get(o.state),
        source=source,
        ts_event=ms_to_ns(ts),
        ts_recv=ts_recv,
        side=o.side,
        ord_type=_ORDER_TYPES.get(o.ord_type, OrderType.LIMIT),
        price_ticks=_ticks_or_none(spec, o.px),
        size_lots=_lots(spec, o.sz),
        acc_fill_lots=_lots(spec, o.acc_fill_sz),
        avg_px=_f(o.avg_px),
        acc_fee=_f(o.fee),
        fill_ticks=spec.price_to_ticks(o.fill_px) if has_fill else None,
        fill_lots=fill_lots if has_fill else 0,
        fill_fee=_f(o.fill_fee) if has_fill else 0.0,
        fill_pnl=_f(o.fill_pnl) if has_fill else 0.0,
        trade_id=int(o.trade_id) if has_fill else None,
        liquidity=_LIQUIDITY.get(o.exec_type) if has_fill else None,
        reduce_only=o.is_reduce_only,
        cancel_source=o.cancel_source,
        amend_source=o.amend_source,
        req_id=req_id,
        snapshot_end=snapshot_end,
    )


def fill_report(spec: InstrumentSpec, f: Fill, ts_recv: int, *, req_id: str, snapshot_end: bool) -> OrderReport:
    """One ``trade/fills`` record -> ORDER_REPORT (QUERY) with that fill's own price, size, fee,
    trade id and PnL (no cumulative figures: a fills answer prices fills, it states no order)."""
    return OrderReport(
        inst_id=f.inst_id,
        cl_ord_id=f.cl_ord_id,
        ord_id=f.ord_id,
        state=None,
        source=ReportSource.QUERY,
        ts_event=ms_to_ns(f.fill_time or f.ts),
        ts_recv=ts_recv,
        side=f.side,
        fill_ticks=spec.price_to_ticks(f.fill_px),
        fill_lots=spec.size_to_lots(f.fill_sz),
        fill_fee=_f(f.fee),
        fill_pnl=_f(f.fill_pnl),
        trade_id=int(f.trade_id),
        liquidity=_LIQUIDITY.get(f.exec_type),
        req_id=req_id,
        snapshot_end=snapshot_end,
    )


def order_ack(
    inst_id: str,
    r: OrderResult,
    ts_recv: int,
    *,
    cl_ord_id: str = "",
    ord_id: str = "",
    req_id: str = "",
) -> OrderReport:
    """A place / cancel / amend answer item -> ORDER_REPORT (ACK, state None: an ack says the
    command was accepted or refused, never what the order's state is). ``cl_ord_id``/``ord_id``
    fill in what a refused item leaves empty (OKX's 51008 item has ``clOrdId:""``)."""
    return OrderReport(
        inst_id=inst_id,
        cl_ord_id=r.cl_ord_id or cl_ord_id,
        ord_id=r.ord_id or ord_id,
        state=None,
        source=ReportSource.ACK,
        ts_event=ms_to_ns(r.ts) or ts_recv,
        ts_recv=ts_recv,
        s_code=r.s_code or "0",
        s_msg=r.s_msg,
        req_id=req_id or r.req_id,
    )


def algo_report(
    spec: InstrumentSpec,
    a: OkxAlgoOrder,
    source: ReportSource,
    ts_recv: int,
    *,
    req_id: str = "",
    snapshot_end: bool = False,
) -> OrderReport:
    """An ``orders-algo`` record -> ORDER_REPORT of the stop itself: ``ord_type`` None and
    ``ord_id`` = algoId (the OMS's convention for algo reports), ``price_ticks`` = trigger."""
    trigger = a.sl_trigger_px or a.trigger_px or a.tp_trigger_px
    side = Side(a.side) if a.side in ("buy", "sell") else None
    return OrderReport(
        inst_id=a.inst_id,
        cl_ord_id=a.algo_cl_ord_id,
        ord_id=a.algo_id,
        state=ALGO_STATES.get(a.state),
        source=source,
        ts_event=ms_to_ns(a.u_time or a.c_time),
        ts_recv=ts_recv,
        side=side,
        ord_type=None,
        price_ticks=_ticks_or_none(spec, trigger),
        size_lots=_lots(spec, a.sz),
        reduce_only=a.reduce_only == "true",
        s_code="0",
        req_id=req_id,
        snapshot_end=snapshot_end,
    )


def algo_ack(
    algo: AlgoOrder, r: AlgoOrderResult | None, ts_recv: int, *, s_code: str = "0", s_msg: str = ""
) -> OrderReport:
    """The answer to an algo place / cancel -> ORDER_REPORT (ACK) of the stop (ord_type None)."""
    return OrderReport(
        inst_id=algo.inst_id,
        cl_ord_id=(r.algo_cl_ord_id if r is not None else "") or algo.algo_cl_ord_id,
        ord_id=(r.algo_id if r is not None else "") or algo.algo_id,
        state=None,
        source=ReportSource.ACK,
        ts_event=ts_recv,
        ts_recv=ts_recv,
        side=algo.side,
        ord_type=None,
        price_ticks=algo.trigger_ticks,
        size_lots=algo.size_lots,
        reduce_only=algo.reduce_only,
        s_code=(r.s_code if r is not None and r.s_code else s_code),
        s_msg=(r.s_msg if r is not None and r.s_msg else s_msg),
    )


# -- positions and account -------------------------------------------------------------------------


def position_update(
    spec: InstrumentSpec,
    p: Position,
    ts_recv: int,
    *,
    req_id: str = "",
    snapshot_end: bool = False,
) -> PositionUpdate:
    """A position record -> POSITION_UPDATE (source EXCHANGE). Net mode: ``pos`` is signed; in
    long/short mode ``pos`` >= 0 and ``posSide`` short makes it negative. The watermark is the
    record's last ``tradeId`` (None when OKX gives none)."""
    lots = _lots(spec, p.pos)
    if p.pos_side == "short" and lots > 0:
        lots = -lots
    return PositionUpdate(
        p.inst_id,
        lots,
        _f(p.avg_px),
        PositionSource.EXCHANGE,
        ms_to_ns(p.u_time or p.c_time) or ts_recv,
        ts_recv,
        req_id=req_id,
        snapshot_end=snapshot_end,
        watermark=int(p.trade_id) if p.trade_id else None,
    )


def account_update(a: AccountData, ts_recv: int, *, ccy: str = "USDT", req_id: str = "") -> AccountUpdate:
    """An ``account`` record -> ACCOUNT_UPDATE in ``ccy``: equity ``eq``, balance ``cashBal``,
    available ``availEq`` (``availBal`` when empty). Without a ``ccy`` detail: the account's
    USD totals (``totalEq``, ``adjEq``/``availEq``)."""
    for d in a.details:
        if d.ccy == ccy:
            avail = d.avail_eq or d.avail_bal
            return AccountUpdate(_f(d.eq), _f(d.cash_bal), _f(avail), ms_to_ns(d.u_time) or ts_recv, ts_recv, req_id)
    total = _f(a.total_eq)
    return AccountUpdate(total, total, _f(a.avail_eq or a.adj_eq), ms_to_ns(a.u_time) or ts_recv, ts_recv, req_id)


# -- commands -> OKX request arguments ----------------------------------------------------------------


def _instrument(spec: InstrumentSpec, ws: bool) -> dict[str, Any]:
    # WS trading ops identify the instrument by instIdCode since 2026 (reference §0, §5); REST by instId.
    if ws and spec.inst_id_code is not None:
        return {"instIdCode": spec.inst_id_code}
    return {"instId": spec.inst_id}


def order_args(spec: InstrumentSpec, order: CoreOrder, td_mode: str = "cross", *, ws: bool = False) -> dict[str, Any]:
    """A new order as OKX's place-order body (REST) or ``order`` op arg (WS)."""
    args = _instrument(spec, ws)
    args.update(
        tdMode=td_mode,
        side=order.side.value,
        ordType=order.ord_type.value,
        sz=spec.format_size(order.size_lots),
        clOrdId=order.cl_ord_id,
    )
    if order.ord_type is not OrderType.MARKET and order.price_ticks is not None:
        args["px"] = spec.format_price(order.price_ticks)
    if order.reduce_only:
        args["reduceOnly"] = True
    return args


def cancel_args(spec: InstrumentSpec, cl_ord_id: str, ord_id: str | None, *, ws: bool = False) -> dict[str, Any]:
    """Cancel by ordId when known (OKX: ordId wins), else by clOrdId."""
    args = _instrument(spec, ws)
    if ord_id:
        args["ordId"] = ord_id
    else:
        args["clOrdId"] = cl_ord_id
    return args


def amend_args(
    spec: InstrumentSpec,
    cl_ord_id: str,
    ord_id: str | None,
    *,
    new_price_ticks: int | None,
    new_size_lots: int | None,
    req_id: str = "",
    ws: bool = False,
) -> dict[str, Any]:
    args = cancel_args(spec, cl_ord_id, ord_id, ws=ws)
    if new_size_lots is not None:
        args["newSz"] = spec.format_size(new_size_lots)
    if new_price_ticks is not None:
        args["newPx"] = spec.format_price(new_price_ticks)
    if req_id:
        args["reqId"] = req_id
    return args


def algo_args(spec: InstrumentSpec, algo: AlgoOrder, td_mode: str = "cross") -> dict[str, Any]:
    """A conditional stop (``order-algo``, ordType conditional): SL trigger, market (-1) or limit."""
    return {
        "instId": spec.inst_id,
        "tdMode": td_mode,
        "side": algo.side.value,
        "ordType": "conditional",
        "sz": spec.format_size(algo.size_lots),
        "reduceOnly": algo.reduce_only,
        "slTriggerPx": spec.format_price(algo.trigger_ticks),
        "slTriggerPxType": algo.trigger_px_type.value,
        "slOrdPx": "-1" if algo.order_ticks is None else spec.format_price(algo.order_ticks),
        "algoClOrdId": algo.algo_cl_ord_id,
    }
