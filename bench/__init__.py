"""Reproducible benchmarks of mqgate against its peers (ActiveMQ, RabbitMQ, moto).

Entry point: ``python -m bench.run_all --help``. Results go to docs/benchmarks.md.
"""
