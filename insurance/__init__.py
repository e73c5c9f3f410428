"""Real-time medical-insurance linkage: eligibility, settlement, reversal, reconciliation."""
