"""The models: one backend class per kind (VAD, ASR, speaker embedding, segmentation), the
speaker finder built on the last two, and the manifest that names their files."""

import os

# faster-whisper imports a model-hub client: force it offline so nothing here reaches a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
