// The transcript the live page holds, built from /v3/ws messages as the Python client holds it
// (streamer.streaming.events.HeldTranscript): each turn's words as its latest `Turn` gave them;
// a `SpeakerRevision` replaces an ended turn's words (same text and times, speakers named
// again). Pure: no DOM, so Node's tests run it.
import { speakerName, speakerRuns } from './speakers.js';

export class HeldCaptions {
  constructor() {
    /** turn_order -> { order, words, ended, revisions } */
    this.turns = new Map();
  }

  /** Takes one server message; returns the orders of the turns it changed. */
  apply(message) {
    if (message.type === 'Turn') return this.applyTurn(message);
    if (message.type === 'SpeakerRevision') return message.revisions.flatMap((r) => this.revise(r));
    return [];
  }

  applyTurn(message) {
    const held = this.turns.get(message.turn_order);
    if (held?.ended && !message.end_of_turn) return []; // a late partial never reopens a turn
    this.turns.set(message.turn_order, {
      order: message.turn_order,
      words: message.words,
      ended: message.end_of_turn,
      revisions: held?.revisions ?? 0,
    });
    return [message.turn_order];
  }

  revise(revision) {
    const held = this.turns.get(revision.turn_order);
    this.turns.set(revision.turn_order, {
      order: revision.turn_order,
      words: revision.words,
      ended: true, // only ended turns are revised
      revisions: (held?.revisions ?? 0) + 1,
    });
    return [revision.turn_order];
  }

  get(order) {
    return this.turns.get(order);
  }

  /** Ended turns in order: what the downloads hold. */
  endedTurns() {
    return [...this.turns.values()].filter((turn) => turn.ended).sort((a, b) => a.order - b.order);
  }

  clear() {
    this.turns.clear();
  }
}

/** "Speaker A: words" a line, one line per speaker run of each ended turn. */
export function transcriptText(turns) {
  const lines = [];
  for (const turn of turns) {
    for (const run of speakerRuns(turn.words))
      lines.push(`${speakerName(run.speaker)}: ${joined(run.words)}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export const CAPTION_LIMITS = { chars: 84, ms: 6000 };

/** SubRip captions: each one speaker's words, at most `chars` long and `ms` on screen. */
export function srt(turns, limits = CAPTION_LIMITS) {
  const cues = [];
  for (const turn of turns) {
    for (const run of speakerRuns(turn.words)) cues.push(...splitCues(run, limits));
  }
  return cues
    .map((cue, index) => {
      const timing = `${srtTime(cue.start)} --> ${srtTime(Math.max(cue.end, cue.start + 1))}`;
      return `${index + 1}\n${timing}\n${speakerName(cue.speaker)}: ${cue.text}\n`;
    })
    .join('\n');
}

function splitCues(run, { chars, ms }) {
  const cues = [];
  let words = [];
  for (const word of run.words) {
    const text = joined([...words, word]);
    if (words.length && (text.length > chars || word.end - words[0].start > ms)) {
      cues.push(cue(run.speaker, words));
      words = [];
    }
    words.push(word);
  }
  if (words.length) cues.push(cue(run.speaker, words));
  return cues;
}

function cue(speaker, words) {
  return { speaker, start: words[0].start, end: words[words.length - 1].end, text: joined(words) };
}

function joined(words) {
  return words.map((word) => word.text).join(' ');
}

/** HH:MM:SS,mmm */
export function srtTime(ms) {
  const total = Math.max(0, Math.round(ms));
  const pad = (value, width = 2) => String(value).padStart(width, '0');
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  return `${pad(h)}:${pad(m)}:${pad(s)},${pad(total % 1000, 3)}`;
}
