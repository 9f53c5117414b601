"""viraltracker-bot: find and analyse viral social media from Slack, Discord or a terminal."""

__version__ = "0.1.0"
