"""The local L2 order book: int ticks and lots, OKX sequence and checksum rules.

Owns: ``l2.L2Book`` (a dict per side keyed by int ticks, best bid/ask kept incrementally; it
satisfies ``core.ports.BookView``) and ``l2.okx_checksum`` (OKX's CRC32 over raw level strings).
Never: imports anything of Athena's but ``core`` and ``model`` (and ``errors``), reads a clock,
does I/O, or parses exchange JSON — parsers hand it integer levels.
"""
