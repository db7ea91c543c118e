"""movekit's benchmarks: ``python -m bench`` (or ``make bench``) prints ratios and writes JSON.

Every measured export, import and baseline replay runs in a process of its own
(:mod:`bench.worker`), against kubesim servers that run in processes of their own
(:mod:`bench.servers`), so that no two of them share a GIL and each peak RSS is its own.
"""
