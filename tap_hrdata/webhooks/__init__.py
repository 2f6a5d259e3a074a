"""Webhooks: the receiver (``tap-hrdata-webhooks serve``), its journal, and the subscription CLI.

Vendors that push events (Talentsoft now) call the receiver; each accepted event is
appended, fsynced, to a journal under ``files_storage_url`` before it is acknowledged,
and the tap reads the journal as a stream (``talentsoft_events``).
"""
