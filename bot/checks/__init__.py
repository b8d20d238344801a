"""Health checks: one module per kind (http, postgres, redis, tcp, tls, workloads, prometheus), run by runner.py."""
