"""The recording service behind ``athena record``, and the import of raw OKX WebSocket logs.

Owns: turning OKX public frames — live from the gateways' sockets, or from a log of them — into
catalog rows (``okx_ws_import``: raw journal and capture files → the ``okx`` venue, every books
message rebuilt and its checksum checked). It sits outside ``athena/catalog`` because it reuses
``athena.gateways.okx`` parsers, which the catalog layer may not import (DESIGN.md §2).
Never: imports ``sim``, ``oms`` or ``strategies``; writes catalog rows but through ``CatalogWriter``
(the raw journal of frames as received, ``journal.py``, sits beside them under ``_raw/``); rounds a
price or a size.
"""
