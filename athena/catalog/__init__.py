"""The Parquet catalog: recorded and imported market data, one venue directory per source.

Owns: the on-disk layout ``<root>/<venue>/<channel>/inst=<INST>/date=<YYYY-MM-DD>/part-<HHMMSS>-<n>.parquet``
(DESIGN.md §5) and everything that reads or writes it — ``schema`` (versioned, documented column
schemas; exact int prices/sizes), ``writer`` (buffered, midnight-split, atomic parts), ``reader``
(listing, lazy scans, streaming batches, summaries, the replay merge), ``meta`` (per-venue
``_meta/``: instrument decimals and specs, the per-day clock shift of §6), ``importers`` (other
sources' files into their own venue directory).
Never: imports ``gateways``, ``sim``, ``oms`` or ``strategies``; dispatches events; applies the
clock shift to stored rows; reads the wall clock.
"""
