"""``scripts/stack``: the production topology run from processes on one machine.

Two API replicas behind nginx (TLS), PgBouncer in transaction mode before PostgreSQL, the MLLP
listener, a Celery worker with beat on RabbitMQ, Prometheus scraping them all. ``layout.py``
says where everything goes (ports, run dir), ``render.py`` writes the configuration files (pure),
``secrets.py`` the keys and certificate, ``processes.py`` starts, probes and stops processes,
``topology.py`` names the processes, ``backup.py`` dumps and restores the database.
"""
