"""Usage limits of a server, its roles and its members, and the admission check that holds them.

Where each concern lives:

- `catalogue`: which limits exist, their value types, how moderators write them.
- `windows`: the day, week and month a quota counts in.
- `resolution`: which limit applies to this member (member, else roles, else server).
- `counting` (with `bot.db.jobs.ledger`): how quotas are counted, grants and resets included.
- `admission`: the ordered rules a request must pass to become a job.
- `wording`: how refusals read.
- `standing`: what `/video quota` shows a member.
- `administration`: what a moderator may change.
- `pricing`: the estimated cost every job records.
"""
