// One live captioning session: the microphone's frames to /v3/ws, the server's messages to
// the held captions. Knows nothing of the DOM: it reports through `onChange` and `onStatus`.
import { streamingUrl } from './api.js';
import { FRAME_MS, SAMPLE_RATE, openMicrophone } from './microphone.js';

const STREAM_PARAMS = { sample_rate: SAMPLE_RATE, encoding: 'pcm_s16le', speaker_labels: 'true' };
const MAX_BUFFERED_BYTES = 30 * SAMPLE_RATE * 2; // 30 s of audio waiting on a stalled network
const TERMINATION_WAIT_MS = 15_000; // for the last final turns after Terminate

const CLOSE_HINTS = {
  1013: 'the server is overloaded: try again later',
  3008: 'start again for a new session',
  3009: 'try again later',
  4001: 'set a valid API key above',
};

export class LiveSession {
  constructor({ captions, onChange, onStatus }) {
    this.captions = captions;
    this.onChange = onChange; // (turn orders changed)
    this.onStatus = onStatus; // (text, { error, live })
    this.socket = null;
    this.microphone = null;
    this.dropped = 0;
    this.terminated = null;
  }

  async start() {
    this.onStatus('Asking for the microphone…', { live: true });
    try {
      this.microphone = await openMicrophone((frame) => this.send(frame));
      this.onStatus('Connecting…', { live: true });
      const url = await streamingUrl(STREAM_PARAMS);
      await this.connect(url);
    } catch (error) {
      await this.release();
      this.onStatus(`Could not start: ${error.message ?? error}`, { error: true, live: false });
    }
  }

  connect(url) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.binaryType = 'arraybuffer';
      this.socket = socket;
      let begun = false;
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === 'Begin') {
          begun = true;
          this.onStatus(
            `Listening (${this.microphone.sampleRate} Hz microphone, ${FRAME_MS} ms frames).`,
            { live: true },
          );
          resolve();
        } else if (message.type === 'Termination') {
          this.terminated?.(message);
        } else if (message.type === 'Error') {
          this.onStatus(`Server error: ${message.error}`, { error: true, live: true });
        } else {
          const changed = this.captions.apply(message);
          if (changed.length) this.onChange(changed);
        }
      };
      socket.onclose = (event) => {
        this.terminated?.(null);
        const wasLive = this.socket === socket;
        this.socket = null;
        if (!begun) {
          reject(new Error(closeText(event)));
        } else if (wasLive) {
          const ended =
            event.code === 1000 ? 'Session ended.' : `Disconnected: ${closeText(event)}`;
          this.onStatus(ended, { error: event.code !== 1000, live: false });
          this.release();
        }
      };
    });
  }

  send(frame) {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return; // before Begin: not yet heard
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.dropped += 1; // never grow without bound; counted and shown at the end
      return;
    }
    socket.send(frame);
  }

  /** Sends the last audio and Terminate; resolves once the server's last turns are in. */
  async stop() {
    const socket = this.socket;
    this.onStatus('Finishing the last turn…', { live: true });
    await this.microphone?.stop(); // its last frame goes out first
    this.microphone = null;
    if (socket && socket.readyState === WebSocket.OPEN) {
      const ended = new Promise((resolve) => {
        this.terminated = resolve;
        setTimeout(() => resolve(null), TERMINATION_WAIT_MS);
      });
      socket.send(JSON.stringify({ type: 'Terminate' }));
      const termination = await ended;
      this.socket = null;
      socket.close(1000);
      const heard = termination ? ` ${termination.audio_duration_seconds} s of audio.` : '';
      const lost = this.dropped ? ` ${this.dropped} frames dropped on a slow network.` : '';
      this.onStatus(`Stopped.${heard}${lost}`, { live: false });
    } else {
      this.onStatus('Stopped.', { live: false });
    }
  }

  async release() {
    const microphone = this.microphone;
    this.microphone = null;
    await microphone?.stop().catch(() => {});
  }
}

function closeText(event) {
  const said = `${event.reason || 'the connection closed'} (code ${event.code})`;
  const hint = CLOSE_HINTS[event.code];
  return hint ? `${said}: ${hint}` : said;
}
