// The files view: upload a recording (/v2/upload), queue its transcript (/v2/transcript),
// poll the job, then show the utterances, a speaker timeline and the recording itself;
// clicking a word plays the recording from that word.
import { requestJson } from './api.js';
import { clock, speakerChip, speakerColour } from './speakers.js';
import { drawTimeline, timeAt } from './timeline.js';

const POLL_MS = [500, 1000, 1000, 2000, 3000]; // then every 3 s

export class FilesView {
  constructor(elements) {
    // form, input, speakers, submit, status, audio, figure, timeline, legend, utterances
    this.el = elements;
    this.job = 0; // a new file abandons the polling of the one before
    this.objectUrl = null;
    this.transcript = null;
    this.movePlayhead = () => {};
    this.wordSpans = []; // in time order
    this.playing = null;
    this.el.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.transcribe();
    });
    this.el.input.addEventListener('change', () => this.showRecording());
    this.el.utterances.addEventListener('click', (event) => this.seekToWord(event));
    this.el.audio.addEventListener('timeupdate', () => this.follow());
    this.el.audio.addEventListener('loadedmetadata', () => this.drawTimeline());
    this.el.timeline.addEventListener('click', (event) => {
      this.seek(timeAt(this.el.timeline, event.clientX, this.durationMs()));
    });
  }

  /** The picked file plays from a local object URL: the page never downloads it back. */
  showRecording() {
    const file = this.el.input.files[0];
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = file ? URL.createObjectURL(file) : null;
    this.el.audio.hidden = !file;
    if (file) this.el.audio.src = this.objectUrl;
    else this.el.audio.removeAttribute('src');
  }

  async transcribe() {
    const file = this.el.input.files[0];
    if (!file) return;
    const job = ++this.job;
    this.reset();
    if (!this.objectUrl) this.showRecording();
    this.el.submit.disabled = true;
    try {
      this.status(`Uploading ${file.name} (${Math.ceil(file.size / 1024)} KiB)…`);
      const { upload_url: audioUrl } = await requestJson('/v2/upload', {
        method: 'POST',
        body: file,
      });
      const request = { audio_url: audioUrl, speaker_labels: true };
      const expected = Number(this.el.speakers.value);
      if (expected > 0) request.speakers_expected = expected;
      let transcript = await requestJson('/v2/transcript', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(request),
      });
      for (
        let poll = 0;
        transcript.status === 'queued' || transcript.status === 'processing';
        poll++
      ) {
        this.status(`Transcribing ${file.name}: ${transcript.status}…`);
        await sleep(POLL_MS[Math.min(poll, POLL_MS.length - 1)]);
        if (job !== this.job) return;
        transcript = await requestJson(`/v2/transcript/${encodeURIComponent(transcript.id)}`);
      }
      if (job !== this.job) return;
      if (transcript.status === 'error') throw new Error(transcript.error);
      this.show(transcript);
      const count = transcript.utterances?.length ?? 0;
      this.status(`${file.name}: ${count} utterances, ${speakersOf(transcript).length} speakers.`);
    } catch (error) {
      if (job === this.job)
        this.status(`Could not transcribe ${file.name}: ${error.message}`, true);
    } finally {
      if (job === this.job) this.el.submit.disabled = false;
    }
  }

  reset() {
    this.transcript = null;
    this.wordSpans = [];
    this.playing = null;
    this.el.utterances.replaceChildren();
    this.el.figure.hidden = true;
  }

  show(transcript) {
    this.transcript = transcript;
    const utterances = transcript.utterances ?? [];
    this.el.utterances.replaceChildren(...utterances.map(utteranceItem));
    this.wordSpans = [...this.el.utterances.querySelectorAll('.word')];
    this.el.figure.hidden = false;
    this.drawTimeline();
  }

  drawTimeline() {
    if (!this.transcript) return;
    const utterances = this.transcript.utterances ?? [];
    this.movePlayhead = drawTimeline(
      this.el.timeline,
      this.el.legend,
      utterances,
      this.durationMs(),
    );
    this.follow();
  }

  /** The recording's length (ms): the player's when it knows it, else the transcript's. */
  durationMs() {
    const played = this.el.audio.duration;
    if (Number.isFinite(played) && played > 0) return played * 1000;
    const utterances = this.transcript?.utterances ?? [];
    const lastEnd = utterances.length ? utterances[utterances.length - 1].end : 0;
    return Math.max((this.transcript?.audio_duration ?? 0) * 1000, lastEnd);
  }

  seekToWord(event) {
    const target = event.target.closest('[data-start]');
    if (target) this.seek(Number(target.dataset.start));
  }

  seek(ms) {
    const audio = this.el.audio;
    audio.currentTime = ms / 1000;
    audio.play().catch(() => {}); // a page without sound output still seeks
    this.follow();
  }

  /** Moves the playhead and marks the word being played. */
  follow() {
    const ms = this.el.audio.currentTime * 1000;
    this.movePlayhead(ms);
    const word = this.wordSpans[lastStartingBy(this.wordSpans, ms)];
    const playing = word && ms < Number(word.dataset.end) ? word : null;
    if (playing === this.playing) return;
    this.playing?.classList.remove('playing');
    playing?.classList.add('playing');
    this.playing = playing;
  }

  status(text, error = false) {
    this.el.status.textContent = text;
    this.el.status.classList.toggle('error', error);
  }
}

function utteranceItem(utterance) {
  const item = document.createElement('li');
  item.className = 'utterance';
  item.dataset.speaker = utterance.speaker;
  item.style.setProperty('--speaker', speakerColour(utterance.speaker));
  const head = document.createElement('div');
  const time = document.createElement('button');
  time.type = 'button';
  time.className = 'utterance-time';
  time.dataset.start = String(utterance.start);
  time.textContent = clock(utterance.start);
  time.setAttribute('aria-label', `Play from ${clock(utterance.start)}`);
  head.append(time, ' ', speakerChip(utterance.speaker));
  const text = document.createElement('p');
  for (const word of utterance.words) {
    const span = document.createElement('span');
    span.className = 'word';
    span.textContent = word.text;
    span.dataset.start = String(word.start);
    span.dataset.end = String(word.end);
    span.dataset.speaker = word.speaker ?? utterance.speaker;
    text.append(span, ' ');
  }
  item.append(head, text);
  return item;
}

function speakersOf(transcript) {
  return [...new Set((transcript.utterances ?? []).map((u) => u.speaker))];
}

/** The index of the last span starting at or before `ms` (-1 when none): a binary search. */
function lastStartingBy(spans, ms) {
  let low = 0;
  let high = spans.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (Number(spans[middle].dataset.start) <= ms) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
