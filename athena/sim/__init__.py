"""The simulated world of a backtest: the OKX-like exchange (matching, queues, account, funding),
its models (queue, latency, fees, funding, faults), the replay loop and the OKX wire emulator.

Every assumption lives in a short model file whose ``describe()`` line goes into the run's
manifest; nothing here reads the wall clock or draws unseeded random numbers.
"""
