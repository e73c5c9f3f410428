"""Appointment booking (挂号): schedules, slots with capacity, find / hold / book / cancel.

State is FHIR (Schedule, Slot, Appointment in the store); the guarantee (never more places
than capacity, one active place per person and slot, one result per idempotency key) is held
by the ledger's constraints and conditional updates (``models.py``, ``ledger.py``). Pure
cores: ``config.py``, ``templates.py``, ``capacity.py``, ``resources.py``.
"""
