"""The whole-file pipeline: media decoding, ASR windows, then VAD -> ASR -> diarization
-> a speaker per word."""
