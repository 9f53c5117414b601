"""`python -m viraltracker_bot` runs the same CLI as the `viraltracker-bot` command."""

from viraltracker_bot.cli import main

main()
