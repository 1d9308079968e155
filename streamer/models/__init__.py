"""Model loading: one backend class per kind (VAD, ASR, speaker embedding, segmentation), built
from the files that `models/manifest.json` names."""

import os

# faster-whisper imports a model-hub client: force it offline so nothing here reaches a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
