"""streamer: self-hosted speech-to-text with a speaker label on every word."""

__version__ = "0.1.0"
