"""The chaos suite: proof that a job survives SIGKILL at any instant.

`driver` runs the bot as ``python -m bot`` against the Discord emulator and the GMI
simulator, kills it again and again (at random instants, and at the named ones of
`bot.chaos`) with faults from both sides, and restarts it on the same database until every
job has ended; `audit` counts, from what the emulator and the simulator saw and what the
database says, the jobs lost, posted twice, submitted twice, left with a stale status
message or wrongly charged. ``python -m bench.chaos`` prints one table per run;
``tests/bench/test_chaos.py`` runs a short one with a fixed seed.
"""
