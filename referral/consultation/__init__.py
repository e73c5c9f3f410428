"""Remote consultation (issue 15 item 8): the referral engine with category consultation.

``rules`` (pure: what a consultation is, its moves, what it shares), ``hooks`` (its writes,
registered in ``hub.wiring``), ``service`` and ``views`` (``$convert-to-referral``).
"""
