"""Reelay's benchmark suite: the gateway against bare aiohttp and direct vendor calls.

Everything measured runs as its own process on loopback; ``bench/run.py``
drives it. See ``bench/README.md``.
"""
