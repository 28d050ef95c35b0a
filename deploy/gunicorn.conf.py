"""gunicorn settings for one app instance (see README "Running in production").

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8001 'booking:create_app()'

Every value can be changed from the environment without editing this file.
"""

import multiprocessing
import os

# Workers from the CPU count: each registration spends most of its time in Python (form checks,
# Argon2 only at sign-in) and some in the database, so two per core plus one, capped so a big
# machine does not open more database connections than PostgreSQL allows by default.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 12)))
bind = os.environ.get("BOOKING_BIND", "127.0.0.1:8000")

# A request that takes longer than this is stuck: the worker is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (systemd stop) or SIGHUP (reload), workers finish what they are serving first.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Replace each worker after this many requests, so a slow leak can never grow without end.
max_requests = 5000
max_requests_jitter = 500

# The access log: the request line is rewritten by the app before it is written (a leader's
# link token becomes its route pattern, e.g. "GET /choose/<token>", a search keeps its keys
# but not the words searched for; see booking/log_privacy.py). No client address: behind nginx
# it is the proxy's, and the leader's own address is personal data nobody here needs.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '"%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
