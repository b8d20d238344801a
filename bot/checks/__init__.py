"""Health checks: one module per kind (http, postgres, redis, tcp, tls, workloads), run by runner.py."""
