"""Who moderates a server, and what moderators control besides numeric limits.

Plain Python, no discord.py: the cog hands in who is asking as a `Requester` made of plain
values, and every moderator operation checks `Moderators.require` itself, so a server that
opens ``/videoadmin`` to everyone still cannot let a non-moderator change anything. Every
change is written to the audit log (`audit`) in the same transaction as the change.
"""
