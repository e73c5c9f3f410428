"""Prometheus counters of the HL7 v2 front door (process-local; ``hub mllp --metrics-port``).

Cluster-wide figures that survive restarts (waiting, processed, dead-lettered messages) are read
from the message log itself by the API's ``/metrics``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "hub_hl7_messages_total",
    "HL7 v2 messages answered by the listener, by outcome "
    "(AA, AE, AR, duplicate, store-failed, sender-refused)",
    ["outcome"],
)
UNFRAMED = Counter(
    "hub_hl7_rejected_frames_total",
    "Frames the listener could not hand over (garbage, truncated, oversize), by reason",
    ["reason"],
)
ACK_LATENCY = Histogram(
    "hub_hl7_ack_latency_seconds",
    "From a complete frame to its ACK (checks and the inbox commit included)",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PROCESSED = Counter(
    "hub_hl7_processed_total", "Messages mapped and stored, or dead-lettered", ["outcome"]
)
PROCESSING_LAG = Histogram(
    "hub_hl7_processing_lag_seconds",
    "From receipt (ACK) to the message's resources being stored",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
