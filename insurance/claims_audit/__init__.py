"""Claims audit for the insurance auditors (医保稽核): rules over settled claims, findings as FHIR.

Pure core (no I/O): ``params`` (the policy's ``claims_audit`` section), ``view`` (the typed
view of claims, encounters, dispenses and persons the rules read), ``findings``, ``rules/`` (one
module per rule code) and ``engine`` (runs them). Around it: ``detected_issue`` (a finding as a
FHIR DetectedIssue, pure), ``loading`` (the store -> the view), ``service`` (write findings,
auditors' review), ``views`` and ``tasks``.
"""
