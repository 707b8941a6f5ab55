"""OKX v5 gateways: the live edge of Athena towards OKX (production, demo, or ``athena sim-server``).

Owns: ``parsers`` (raw frames and REST bodies -> typed msgspec structs keeping OKX's strings),
``auth`` (credentials, REST/WS signing), and the REST / WebSocket gateways built on them, which map
those structs to core events and core commands to OKX requests.
Never: lets OKX's strings, floats or wire shapes into the core (prices become int ticks, sizes int
lots at this edge), imports anything outside gateways/base.py, core, model, book and config, or
puts a credential into a log, a repr or an error message.
"""
