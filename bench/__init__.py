"""Benchmarks (not tests): run each as ``python -m bench.<name>``; figures go to docs/benchmarks.md.

Exports nothing; each module is a command. For the engine: ``bench.engine`` (the command),
``bench.engine_tapes`` (seeded tapes) and ``bench.engine_runners`` (tickwire, orderly-chaos
and pyorderbook driven over the same tapes). For the server: ``bench.orders`` and
``bench.fanout`` (the commands), with ``bench.orders_load``, ``bench.echo_ws``,
``bench.md_client``, ``bench.naive_sse`` and ``bench.procs`` (process pinning, /proc CPU
and memory, scheduling priority) as their parts. For the Redis cluster: ``bench.cluster``
(the command), with ``bench.cluster_procs``, ``bench.cluster_publish`` and
``bench.cluster_sse`` as its parts.
"""
