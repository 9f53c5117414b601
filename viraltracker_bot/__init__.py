"""viraltracker-bot: find, analyse and report viral social media content from Slack, Discord or a terminal."""

__version__ = "0.1.0"
