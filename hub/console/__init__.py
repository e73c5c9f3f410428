"""The web console under ``/console``: server-rendered pages for the hub's staff.

Staff sign in (``accounts``, ``sessions``), and every page reads and writes through the same
store, consent guard and audit log as the API, as the ``Actor`` of the signed-in staff member
(``staff.actor_for``): the console is one more client, never a side door. Each area's pages are
one module of ``pages/``; ``routes`` puts them together.
"""
