"""Generation jobs: their lifecycle, the scheduler that carries them, and the steps it runs.

The package's modules, from the bottom up: `lifecycle` (states and allowed moves),
`model` (the `Job` record), `steps` (submit, reconcile, poll, deliver), `delivery` (the
exactly-once posting protocol), `scheduler` (due times, leases, concurrency) and
`service` (the use cases behind the commands: accept, cancel, delete, re-run).
"""
