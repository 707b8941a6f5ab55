"""The OKX record shapes of ``athena sim-server``: instruments, tickers, orders, fills, positions, account.

Owns: turning the SimExchange's state and reports into OKX v5 records (dicts with OKX's keys and
decimal strings; okx-v5-reference §3.4, §4, §6), shared by the REST answers and the WebSocket
pushes of ``server.py``. Prices and sizes are formatted from ticks and lots exactly
(``InstrumentSpec.format_price``/``format_size``); float money (fees, PnL, balances) is written as
its shortest round-trip decimal, never with an exponent.
Never: does I/O, reads a clock (times are passed in), or changes the exchange.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from athena.book.l2 import L2Book
from athena.core.events import OrderReport
from athena.core.ports import NO_ASK, NO_BID
from athena.model.instrument import InstrumentSpec, format_decimal
from athena.sim.exchange import SimExchange, SimMarket

MSG_NO_INST = "Instrument ID, Instrument ID code, or Spread ID doesn't exist."
MMR_RATE = 0.004  # BTC-USDT tier-1 maintenance margin ratio (reference §8, UNCONFIRMED)

# candle bars served on the business socket: name -> length in ms
BARS: dict[str, int] = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1H": 3_600_000, "2H": 7_200_000, "4H": 14_400_000,
}


def fnum(x: float) -> str:
    """A float as OKX writes money: shortest round-trip digits, no exponent, no trailing ``.0``."""
    if x == 0:
        return "0"
    s = repr(float(x))
    if "e" in s or "E" in s:
        s = format(Decimal(s), "f")
    if s.endswith(".0"):
        s = s[:-2]
    return s


def px(spec: InstrumentSpec, ticks: float) -> str:
    """A price in ticks (a mid may be half a tick) as an OKX string."""
    if ticks == int(ticks):
        return spec.format_price(int(ticks))
    return format_decimal(Decimal(ticks) * spec.tick_sz)


def px_or_empty(spec: InstrumentSpec, ticks: int, bid: bool) -> str:
    return "" if ticks == (NO_BID if bid else NO_ASK) else spec.format_price(ticks)


def levels(spec: InstrumentSpec, pairs: list[tuple[int, int]]) -> list[list[str]]:
    """``[px, sz, "0", numOrders]`` per level; a deletion is ``sz "0"`` with 0 orders."""
    fp, fs = spec.format_price, spec.format_size
    return [[fp(t), fs(q) if q else "0", "0", "1" if q else "0"] for t, q in pairs]


def family(spec: InstrumentSpec) -> str:
    parts = spec.inst_id.split("-")
    return "-".join(parts[:2]) if len(parts) >= 2 else spec.inst_id


def parse_iso_ms(ts: str) -> int | None:
    """``2020-12-08T09:08:57.715Z`` -> Unix ms; None when it is not that format."""
    if not ts.endswith("Z") or "T" not in ts:
        return None
    try:
        d = datetime.strptime(ts[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(d.timestamp()) * 1000 + d.microsecond // 1000


def instrument(spec: InstrumentSpec, code: int, lever: float) -> dict[str, Any]:
    """One ``GET /public/instruments`` record (keys in OKX's alphabetical order)."""
    fam = family(spec)
    mx = format_decimal(spec.max_lmt_sz) if spec.max_lmt_sz is not None else "100000000"
    mkt = format_decimal(spec.max_mkt_sz) if spec.max_mkt_sz is not None else "10000"
    r: dict[str, Any] = {
        "alias": "", "auctionEndTime": "", "baseCcy": "", "category": "1", "contTdSwTime": "",
        "ctMult": format_decimal(spec.ct_mult), "ctType": spec.ct_type, "ctVal": format_decimal(spec.ct_val),
        "ctValCcy": spec.inst_id.split("-")[0], "expTime": "", "futureSettlement": False, "groupId": "1",
        "instFamily": fam, "instId": spec.inst_id, "instIdCode": code, "instType": spec.inst_type,
        "lever": "100", "listTime": "1611916828000", "lotSz": format_decimal(spec.lot_sz),
        "maxIcebergSz": mx, "maxLmtAmt": "20000000", "maxLmtSz": mx, "maxMktAmt": "", "maxMktSz": mkt,
        "maxPlatOILmt": "", "maxStopSz": mkt, "maxTriggerSz": mx, "maxTwapSz": mx,
        "minSz": format_decimal(spec.min_sz), "openType": "", "optType": "", "posLmtAmt": "", "posLmtPct": "",
        "preMktSwTime": "", "quoteCcy": "", "ruleType": "normal", "settleCcy": spec.settle_ccy,
        "state": spec.state, "stk": "", "tickSz": format_decimal(spec.tick_sz), "tradeQuoteCcyList": [],
        "uly": fam, "upcChg": [],
    }
    return r


def ticker(spec: InstrumentSpec, book: L2Book, last: int | None, last_sz: int, open_: int | None,
           high: int | None, low: int | None, vol_lots: int, vol_quote: float, now_ms: int) -> dict[str, Any]:
    def p(t: int | None) -> str:
        return "" if t is None else spec.format_price(t)

    bb, ba = book.best_bid, book.best_ask
    vol_base = float(spec.lot_sz * spec.ct_val) * vol_lots
    return {
        "instType": spec.inst_type, "instId": spec.inst_id, "last": p(last), "lastSz": spec.format_size(last_sz),
        "askPx": px_or_empty(spec, ba, False), "askSz": spec.format_size(book.asks[ba]) if ba != NO_ASK else "",
        "bidPx": px_or_empty(spec, bb, True), "bidSz": spec.format_size(book.bids[bb]) if bb != NO_BID else "",
        "open24h": p(open_), "high24h": p(high), "low24h": p(low), "sodUtc0": p(open_), "sodUtc8": p(open_),
        "volCcy24h": fnum(vol_base), "vol24h": spec.format_size(vol_lots), "ts": str(now_ms),
    }


def funding_rate(spec: InstrumentSpec, rate: float, funding_ms: int, next_ms: int, now_ms: int) -> dict[str, Any]:
    r = fnum(rate)
    return {
        "formulaType": "withRate", "fundingRate": r, "fundingTime": str(funding_ms), "impactValue": "",
        "instId": spec.inst_id, "instType": spec.inst_type, "interestRate": "0.0001",
        "maxFundingRate": "0.00375", "method": "current_period", "minFundingRate": "-0.00375",
        "nextFundingRate": "", "nextFundingTime": str(next_ms), "premium": "", "settFundingRate": r,
        "settState": "settled", "ts": str(now_ms),
    }


def candle_row(spec: InstrumentSpec, c: list[Any], confirm: bool) -> list[str]:
    """``[ts, o, h, l, c, vol (contracts), volCcy (base), volCcyQuote, confirm]``."""
    fp = spec.format_price
    base = float(spec.lot_sz * spec.ct_val) * c[5]
    return [str(c[0]), fp(c[1]), fp(c[2]), fp(c[3]), fp(c[4]), spec.format_size(c[5]), fnum(base), fnum(c[6]),
            "1" if confirm else "0"]


def _avg(spec: InstrumentSpec, fills: list[OrderReport], fallback: float) -> str:
    """avgPx from the fills themselves (exact decimal), else the report's float."""
    lots = sum(f.fill_lots for f in fills)
    if not lots:
        return fnum(fallback) if fallback else ""
    tl = sum((f.fill_ticks or 0) * f.fill_lots for f in fills)
    return format_decimal(Decimal(tl) * spec.tick_sz / Decimal(lots))


def order(spec: InstrumentSpec, v: Any, lever: float, *, ws: bool) -> dict[str, Any]:
    """One order record (orders channel, GET order, orders-pending). ``v`` is the server's order
    view: ``report`` (latest OrderReport), ``fills``, ``pnl``, ``tag``, ``td_mode``, ``c_ms``, ``u_ms``,
    ``algo_id``, ``algo_cl``. ``fill*`` fields describe the report's own fill, if it carries one."""
    r: OrderReport = v.report
    filled = r.fill_lots > 0
    fills = [f for f in v.fills if f.acc_fill_lots <= r.acc_fill_lots]
    avg = _avg(spec, fills, r.avg_px)
    fill_fee = fnum(r.fill_fee) if filled else "0"
    return {
        "accFillSz": spec.format_size(r.acc_fill_lots),
        "algoClOrdId": v.algo_cl,
        "algoId": v.algo_id,
        "amendResult": "0" if r.amend_source else "",
        "amendSource": r.amend_source,
        "attachAlgoClOrdId": "",
        "attachAlgoOrds": [],
        "avgPx": avg if avg else ("0" if ws else ""),
        "cTime": str(v.c_ms),
        "cancelSource": r.cancel_source,
        "cancelSourceReason": "",
        "category": "normal",
        "ccy": "",
        "clOrdId": r.cl_ord_id,
        "code": "0",
        "execType": r.liquidity.value if filled and r.liquidity is not None else "",
        "fee": fnum(r.acc_fee),
        "feeCcy": spec.settle_ccy,
        "fillFee": fill_fee,
        "fillFeeCcy": spec.settle_ccy if filled else "",
        "fillMarkPx": "",
        "fillNotionalUsd": fnum(spec.notional(r.fill_ticks or 0, r.fill_lots)) if filled else "",
        "fillPnl": fnum(r.fill_pnl) if filled else "0",
        "fillPx": spec.format_price(r.fill_ticks) if filled and r.fill_ticks is not None else "",
        "fillSz": spec.format_size(r.fill_lots) if filled else "0",
        "fillTime": str(v.u_ms) if filled else "",
        "instId": r.inst_id,
        "instType": spec.inst_type,
        "isTpLimit": "false",
        "lever": fnum(lever),
        "linkedAlgoOrd": {"algoId": ""},
        "msg": "",
        "notionalUsd": fnum(spec.notional(r.price_ticks, r.size_lots)) if r.price_ticks else "",
        "ordId": r.ord_id,
        "ordType": r.ord_type.value if r.ord_type is not None else "",
        "pnl": fnum(v.pnl),
        "posSide": "net",
        "px": spec.format_price(r.price_ticks) if r.price_ticks is not None else "",
        "quickMgnType": "",
        "rebate": "0",
        "rebateCcy": spec.settle_ccy,
        "reduceOnly": "true" if r.reduce_only else "false",
        "reqId": r.req_id,
        "side": r.side.value if r.side is not None else "",
        "slOrdPx": "",
        "slTriggerPx": "",
        "slTriggerPxType": "",
        "source": "",
        "state": r.state.value if r.state is not None else "live",
        "stpId": "",
        "stpMode": "cancel_maker",
        "sz": spec.format_size(r.size_lots),
        "tag": v.tag,
        "tdMode": v.td_mode,
        "tgtCcy": "",
        "tpOrdPx": "",
        "tpTriggerPx": "",
        "tpTriggerPxType": "",
        "tradeId": str(r.trade_id) if filled and r.trade_id is not None else "",
        "uTime": str(v.u_ms),
    }


def fill(spec: InstrumentSpec, v: Any, r: OrderReport, now_ms: int) -> dict[str, Any]:
    """One ``GET /trade/fills`` record for the fill a report carries."""
    notional = spec.notional(r.fill_ticks or 0, r.fill_lots)
    rate = -r.fill_fee / notional if notional else 0.0
    return {
        "instType": spec.inst_type, "instId": r.inst_id, "tradeId": str(r.trade_id or ""), "ordId": r.ord_id,
        "clOrdId": r.cl_ord_id, "billId": str(r.trade_id or ""), "subType": "1" if r.side and r.side.value == "buy"
        else "2", "tag": v.tag, "fillPx": spec.format_price(r.fill_ticks or 0), "fillSz": spec.format_size(r.fill_lots),
        "fillIdxPx": "", "fillPnl": fnum(r.fill_pnl), "fillMarkPx": "", "side": r.side.value if r.side else "",
        "posSide": "net", "execType": r.liquidity.value if r.liquidity else "", "feeCcy": spec.settle_ccy,
        "fee": fnum(r.fill_fee), "ts": str(now_ms), "fillTime": str(now_ms), "feeRate": fnum(-rate),
    }


def algo(spec: InstrumentSpec, a: Any, lever: float) -> dict[str, Any]:
    """One algo record (orders-algo channel, orders-algo-pending)."""
    q = a.req
    return {
        "actualPx": "", "actualSide": "", "actualSz": "0", "algoClOrdId": a.algo_cl, "algoId": a.algo_id,
        "cTime": str(a.c_ms), "instId": a.inst_id, "instType": spec.inst_type, "lever": fnum(lever),
        "ordId": a.trigger, "ordPx": str(q.get("orderPx", "") or ""), "ordType": a.ord_type, "posSide": "net",
        "reduceOnly": "true", "side": a.side.value, "slOrdPx": str(q.get("slOrdPx", "") or ""),
        "slTriggerPx": str(q.get("slTriggerPx", "") or ""),
        "slTriggerPxType": str(q.get("slTriggerPxType", "") or ("last" if q.get("slTriggerPx") else "")),
        "state": a.state, "sz": spec.format_size(a.sz_lots), "tag": a.tag, "tdMode": str(q.get("tdMode", "cross")),
        "tpOrdPx": str(q.get("tpOrdPx", "") or ""), "tpTriggerPx": str(q.get("tpTriggerPx", "") or ""),
        "tpTriggerPxType": str(q.get("tpTriggerPxType", "") or ""), "triggerPx": str(q.get("triggerPx", "") or ""),
        "triggerPxType": str(q.get("triggerPxType", "") or ""), "triggerTime": "", "uTime": str(a.u_ms),
    }


def position(spec: InstrumentSpec, m: SimMarket, idx: int, lever: float, last: int | None, c_ms: int,
             now_ms: int) -> dict[str, Any]:
    """One net-mode cross position record (§4.2). A flat instrument gives ``pos "0"`` (pushed
    when a position closes; REST lists only open ones)."""
    pos = m.position
    lots = pos.lots
    ref = m.reference_ticks()
    avg = pos.avg_ticks
    avg_px = "" if avg is None else format_decimal(Decimal(avg.numerator) * spec.tick_sz / Decimal(avg.denominator))
    notional = abs(ref * lots) * spec.quote_per_tick_lot if ref is not None else 0.0
    upl = spec.pnl_value(float(pos.unrealized(ref))) if ref is not None and lots else 0.0  # type: ignore[arg-type]
    imr = notional / lever if lever else 0.0
    realized = spec.pnl_value(float(pos.realized))
    return {
        "adl": "1", "availPos": spec.format_size(abs(lots)), "avgPx": avg_px, "baseBal": "", "cTime": str(c_ms),
        "ccy": spec.settle_ccy, "deltaBS": "", "deltaPA": "", "fee": fnum(pos.fees), "fundingFee": fnum(pos.funding),
        "gammaBS": "", "gammaPA": "", "idxPx": "", "imr": fnum(imr), "instId": spec.inst_id,
        "instType": spec.inst_type, "interest": "0", "last": "" if last is None else spec.format_price(last),
        "lever": fnum(lever), "liab": "", "liabCcy": "", "liqPx": "", "margin": "", "markPx":
        "" if ref is None else px(spec, ref), "mgnMode": "cross", "mgnRatio": "", "mmr": fnum(notional * MMR_RATE),
        "notionalUsd": fnum(notional), "optVal": "", "pTime": str(now_ms), "pnl": fnum(realized),
        "pos": spec.format_size(lots), "posCcy": "", "posId": str(1_000_000 + idx), "posSide": "net",
        "quoteBal": "", "realizedPnl": fnum(realized + pos.fees + pos.funding), "thetaBS": "", "thetaPA": "",
        "tradeId": "" if pos.last_trade_id is None else str(pos.last_trade_id), "uTime": str(now_ms),
        "upl": fnum(upl), "uplRatio": fnum(upl / imr) if imr else "0", "usdPx": "", "vegaBS": "", "vegaPA": "",
    }


def account(ex: SimExchange, now_ms: int) -> dict[str, Any]:
    """The account record (``GET /account/balance`` and the account channel), USDT only."""
    acct = ex.account()
    lever = ex.config.leverage
    pos_imr = 0.0
    mmr = 0.0
    notional = 0.0
    for m in ex.markets.values():
        if m.position.lots:
            ref = m.reference_ticks()
            if ref is not None:
                n = abs(ref * m.position.lots) * m.spec.quote_per_tick_lot
                notional += n
                pos_imr += n / lever
                mmr += n * MMR_RATE
    ord_frozen = max(0.0, acct.equity - pos_imr - acct.available)
    upl = acct.equity - acct.balance
    eq, avail = fnum(acct.equity), fnum(max(0.0, acct.available))
    detail = {
        "accAvgPx": "", "availBal": avail, "availEq": avail, "borrowFroz": "", "cashBal": fnum(acct.balance),
        "ccy": "USDT", "clSpotInUseAmt": "", "coinUsdPrice": "1", "collateralEnabled": False, "crossLiab": "",
        "disEq": eq, "eq": eq, "eqUsd": eq, "fixedBal": "0", "frozenBal": fnum(pos_imr + ord_frozen),
        "imr": fnum(pos_imr), "interest": "", "isoEq": "0", "isoLiab": "", "isoUpl": "0", "liab": "",
        "maxLoan": "", "maxSpotInUseAmt": "", "mgnRatio": fnum(acct.equity / mmr) if mmr else "", "mmr": fnum(mmr),
        "notionalLever": fnum(notional / acct.equity) if acct.equity else "0", "openAvgPx": "",
        "ordFrozen": fnum(ord_frozen), "rewardBal": "0", "smtSyncEq": "0", "spotBal": "", "spotCopyTradingEq": "0",
        "spotInUseAmt": "", "spotIsoBal": "0", "spotUpl": "", "spotUplRatio": "", "stgyEq": "0", "totalPnl": "",
        "totalPnlRatio": "", "twap": "0", "uTime": str(now_ms), "upl": fnum(upl), "uplLiab": "",
    }
    return {
        "adjEq": eq, "availEq": avail, "borrowFroz": "", "details": [detail], "imr": fnum(pos_imr), "isoEq": "0",
        "mgnRatio": fnum(acct.equity / mmr) if mmr else "", "mmr": fnum(mmr), "notionalUsd": fnum(notional),
        "notionalUsdForBorrow": "0", "notionalUsdForFutures": "0", "notionalUsdForOption": "0",
        "notionalUsdForSwap": fnum(notional), "ordFroz": fnum(ord_frozen), "totalEq": eq, "uTime": str(now_ms),
        "upl": fnum(upl),
    }


def account_config(api_key: str) -> dict[str, Any]:
    return {
        "acctLv": "2", "acctStpMode": "cancel_maker", "autoLoan": False, "ctIsoMode": "automatic",
        "enableSpotBorrow": False, "greeksType": "PA", "ip": "127.0.0.1", "kycLv": "1", "label": "athena sim-server",
        "level": "Lv1", "levelTmp": "", "liquidationGear": "-1", "mainUid": "1000001", "mgnIsoMode": "automatic",
        "opAuth": "0", "perm": "read_only,trade", "posMode": "net_mode", "roleType": "0", "spotBorrowAutoRepay": False,
        "spotOffsetType": "", "spotRoleType": "0", "spotTraderInsts": [], "traderInsts": [], "type": "0",
        "uid": "1000001",
    }
