"""Use cases (the service layer): they orchestrate domain logic over the adapters' I/O.

``runner`` turns events and results into runs, ``scheduler`` wakes retries and stuck steps,
``zaps`` manages zap versions and the match index, ``dryrun`` evaluates a draft over past events.
"""
