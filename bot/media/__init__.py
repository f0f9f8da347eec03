"""Media work on the files members hand the bot: what a file really is, before it is used."""
