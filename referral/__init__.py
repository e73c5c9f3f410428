"""Two-way referral, remote consultation and appointment booking."""
