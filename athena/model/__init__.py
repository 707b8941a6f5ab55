"""The domain model: instruments, ticks/lots, enums, orders and their state machine, fills, positions.

Imports nothing of Athena's but ``athena.errors``.
"""
