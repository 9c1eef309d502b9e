"""Many inboxes on many machines: ``responder worker`` processes sharing one PostgreSQL
database, with procrastinate as the job engine (jobs.py), inbox leases with fencing
tokens (leases.py), many IDLE connections per worker (watch.py), the worker itself
(worker.py) and ``responder cluster status`` (status.py). Only the CLI imports it."""
