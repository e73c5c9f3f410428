"""Designated pharmacies: dispenses against circulated prescriptions (处方流转), their
quantity ledger and their settlement through the one adjudication core."""
