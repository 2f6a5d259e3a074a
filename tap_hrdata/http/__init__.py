"""How the tap speaks HTTP: one client per vendor source (``client``), and what it is made of.

``client`` (the request loop and the two ways to read an answer), ``auth`` (credentials),
``retry`` (what is retried and how long to wait), ``throttle`` (pacing), ``redaction``
(what may be shown), ``urls`` (where credentials may go). See docs/architecture.md.
"""
