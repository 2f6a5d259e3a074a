"""Webhooks: the receiver (``tap-hrdata-webhooks serve``), its journal, and the subscription CLI.

Vendors that push events (Talentsoft, HrFlow, Coresignal) call the receiver; each accepted
event is appended, fsynced, to a journal under ``files_storage_url`` before it is
acknowledged, and the tap reads the journals (streams ``talentsoft_events`` and
``hrflow_events``; Coresignal's ready notifications end ``bulk_jobs``' polling).
"""
