"""ScalperV1's own state: its position as its fills made it, its working orders, the entry gates
(one-way valve, cooldown, post-exit lock), the anomaly limit and the trailing stop.

Owns: ``StateManager``. The position (``local_pos_size``, ``entry_price``, ``entry_time``,
``last_exit_time``) changes ONLY in ``on_fill``: sending an order changes no position, and the
working-order ids it records only close the valve.
Never: sends or cancels orders (the strategy does, through OrderManager), reads a clock (times are
passed in), syncs positions or runs order TTLs (the OMS does, DESIGN.md §1).

Trailing stop (DESIGN.md §6a; returns are unlevered, from the entry price e):
    return(p) = (p − e) ÷ e for a long, (e − p) ÷ e for a short;
    best = the most favourable trade price since entry; highest_pnl_pct = return(best);
    armed once highest_pnl_pct >= activation (and stays armed);
    exit when armed and return(best) − return(p) = |best − p| ÷ e >= callback.
``e`` is the exact average of the opening fills (a Fraction); the rules are integer
arithmetic on it, so 250 ticks on an entry of 500 000 is exactly 0.05 %.
"""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from athena.model.enums import Side
from athena.model.instrument import InstrumentSpec
from athena.strategies.scalper_v1.config import ScalperV1Config, exact_ratio, seconds_to_ns

__all__ = ["PositionChange", "StateManager", "contracts_to_lots"]


class PositionChange(StrEnum):
    OPENED = "opened"  # flat -> a position
    ADDED = "added"  # grown on the same side
    REDUCED = "reduced"  # shrunk, still open
    CLOSED = "closed"  # back to flat: an exit
    FLIPPED = "flipped"  # through zero: an exit and a new position at the fill price


def contracts_to_lots(contracts: float, spec: InstrumentSpec) -> Fraction:
    """Lots of a config figure in contracts, exactly (a Fraction: a limit need not be a lot multiple)."""
    return Fraction(Decimal(repr(float(contracts)))) / Fraction(spec.lot_sz)


class StateManager:
    __slots__ = (
        "_act_den",
        "_act_num",
        "_cb_den",
        "_cb_num",
        "_e_den",
        "_e_num",
        "anomaly_limit_lots",
        "best_price",
        "chasing",
        "cooldown_ns",
        "entry_avg",
        "entry_blocked_until",
        "entry_time",
        "exit_order_id",
        "highest_pnl_pct",
        "last_exit_time",
        "local_pos_size",
        "lock_ns",
        "maker_cancel_sent",
        "maker_order_id",
        "maker_order_price",
        "maker_order_side",
        "maker_order_time",
        "reject_backoff_ns",
        "trailing_armed",
    )

    def __init__(self, cfg: ScalperV1Config, spec: InstrumentSpec) -> None:
        self.cooldown_ns = seconds_to_ns(cfg.cooldown_seconds)
        self.lock_ns = seconds_to_ns(cfg.post_exit_lock_s)
        self.reject_backoff_ns = seconds_to_ns(cfg.reject_backoff_s)
        self.entry_blocked_until = 0  # after a refused entry
        # |pos| > limit  <=>  |pos| > floor(limit) for an integer pos
        self.anomaly_limit_lots = math.floor(contracts_to_lots(cfg.position_anomaly_limit, spec))
        self._act_num, self._act_den = exact_ratio(cfg.trailing_activation_pct)
        self._cb_num, self._cb_den = exact_ratio(cfg.trailing_callback_pct)
        # position (fills only)
        self.local_pos_size = 0  # signed lots
        self.entry_avg: Fraction | None = None  # exact average entry price, ticks
        self._e_num = 0
        self._e_den = 1
        self.entry_time: int | None = None
        self.last_exit_time: int | None = None
        # working orders (close the valve; no position meaning)
        self.maker_order_id: str | None = None
        self.maker_order_time: int | None = None
        self.maker_order_side: Side | None = None
        self.maker_order_price: int | None = None
        self.maker_cancel_sent = False  # a cancel of the maker order is in flight
        self.chasing = False  # ... and it is a chase: re-post when it is confirmed
        self.exit_order_id: str | None = None
        # trailing stop
        self.best_price: int | None = None
        self.highest_pnl_pct = 0.0
        self.trailing_armed = False

    # -- working orders ---------------------------------------------------------------------------

    def entry_sent(self, order_id: str, side: Side, price_ticks: int, now_ns: int) -> None:
        self.maker_order_id = order_id
        self.maker_order_time = now_ns
        self.maker_order_side = side
        self.maker_order_price = price_ticks
        self.maker_cancel_sent = False
        self.chasing = False

    def entry_done(self, order_id: str) -> bool:
        """The maker order ended (filled, canceled, rejected); True if it was ours."""
        if order_id != self.maker_order_id:
            return False
        self.maker_order_id = self.maker_order_time = self.maker_order_side = self.maker_order_price = None
        self.maker_cancel_sent = False
        return True

    def exit_sent(self, order_id: str) -> None:
        self.exit_order_id = order_id

    def exit_done(self, order_id: str) -> bool:
        if order_id != self.exit_order_id:
            return False
        self.exit_order_id = None
        return True

    # -- position: fills only ---------------------------------------------------------------------

    @property
    def entry_price(self) -> float | None:
        """Average entry price in ticks (display; the rules use the exact average)."""
        return None if self.entry_avg is None else self._e_num / self._e_den

    @property
    def is_flat(self) -> bool:
        return self.local_pos_size == 0

    def on_fill(self, side: Side, ticks: int, lots: int, now_ns: int) -> PositionChange:
        pos = self.local_pos_size
        signed = side.sign * lots
        new = pos + signed
        self.local_pos_size = new
        if pos == 0 or (pos > 0) == (signed > 0):
            if pos == 0:
                self._open(Fraction(ticks), ticks, now_ns)
                return PositionChange.OPENED
            assert self.entry_avg is not None
            self._set_entry((self.entry_avg * abs(pos) + ticks * lots) / abs(new))
            return PositionChange.ADDED
        if new == 0:
            self.last_exit_time = now_ns
            self._clear_position()
            return PositionChange.CLOSED
        if (new > 0) == (pos > 0):
            return PositionChange.REDUCED  # the average entry of what is left is unchanged
        self.last_exit_time = now_ns
        self._open(Fraction(ticks), ticks, now_ns)
        return PositionChange.FLIPPED

    def _open(self, entry: Fraction, ticks: int, now_ns: int) -> None:
        self._set_entry(entry)
        self.entry_time = now_ns
        self.reset_trailing()
        self.best_price = ticks

    def _set_entry(self, entry: Fraction) -> None:
        self.entry_avg = entry
        self._e_num = entry.numerator
        self._e_den = entry.denominator

    def _clear_position(self) -> None:
        self.entry_avg = None
        self._e_num, self._e_den = 0, 1
        self.entry_time = None
        self.reset_trailing()

    # -- gates ------------------------------------------------------------------------------------

    def valve_open(self) -> bool:
        """The one-way valve: no entry while a position is open or an entry/exit order is working."""
        return self.local_pos_size == 0 and self.maker_order_id is None and self.exit_order_id is None

    def in_post_exit_lock(self, now_ns: int) -> bool:
        t = self.last_exit_time
        return t is not None and now_ns - t < self.lock_ns

    def in_cooldown(self, now_ns: int) -> bool:
        t = self.last_exit_time
        return t is not None and now_ns - t < self.cooldown_ns

    def entry_refused(self, now_ns: int) -> None:
        """An entry was refused: no new one before the backoff has passed."""
        self.entry_blocked_until = now_ns + self.reject_backoff_ns

    def can_enter(self, now_ns: int) -> bool:
        return (
            self.valve_open()
            and now_ns >= self.entry_blocked_until
            and not self.in_post_exit_lock(now_ns)
            and not self.in_cooldown(now_ns)
        )

    def is_anomalous(self, lots: int | None = None) -> bool:
        """|position| beyond ``position_anomaly_limit`` (ours, or the ``lots`` given)."""
        pos = self.local_pos_size if lots is None else lots
        return abs(pos) > self.anomaly_limit_lots

    def anomaly_reset(self) -> None:
        """Forget the trade plan after an anomaly; the position itself is left to the flatten's fill."""
        self.reset_trailing()
        self.chasing = False

    # -- trailing stop ----------------------------------------------------------------------------

    def reset_trailing(self) -> None:
        self.best_price = None
        self.highest_pnl_pct = 0.0
        self.trailing_armed = False

    def pnl_pct(self, price_ticks: int) -> float:
        """Unlevered return of the open position at ``price_ticks`` (0.0 when flat)."""
        if self.local_pos_size == 0 or self._e_num == 0:
            return 0.0
        gain = price_ticks * self._e_den - self._e_num
        return (gain if self.local_pos_size > 0 else -gain) / self._e_num

    def trailing_exit(self, price_ticks: int) -> bool:
        """Update the trailing stop with a trade price; True when the position should exit now."""
        pos = self.local_pos_size
        if pos == 0 or self._e_num == 0:
            return False
        long = pos > 0
        best = self.best_price
        if best is None or (price_ticks > best if long else price_ticks < best):
            self.best_price = best = price_ticks
            gain = best * self._e_den - self._e_num  # (best − e)·e_den
            fav = gain if long else -gain
            self.highest_pnl_pct = fav / self._e_num
            if not self.trailing_armed and fav * self._act_den >= self._act_num * self._e_num:
                self.trailing_armed = True
        if not self.trailing_armed:
            return False
        pull = best - price_ticks if long else price_ticks - best
        return pull * self._e_den * self._cb_den >= self._cb_num * self._e_num
