"""Transcript jobs: durable store, uploaded audio, the worker pool and webhook delivery."""
