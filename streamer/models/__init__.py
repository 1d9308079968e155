"""Model loading: one backend class per kind (VAD, ASR, speaker embedding, segmentation), built
from the files that `models/manifest.json` names."""

import os

# faster-whisper imports huggingface_hub: make sure nothing here ever reaches a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
