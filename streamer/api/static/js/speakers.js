// One name and one colour per speaker label ("A", "B", ...), the same on every view.

// dark enough for white text on them (contrast 4.5:1 or more)
const PALETTE = [
  '#1f5fa8',
  '#b3261e',
  '#1d7a35',
  '#6b3fa0',
  '#8f5400',
  '#0b6e80',
  '#a0306e',
  '#4f5d00',
];
const UNKNOWN = '#6b6b6b';

export function speakerName(label) {
  return label ? `Speaker ${label}` : 'Speaker ?';
}

export function speakerColour(label) {
  if (!label) return UNKNOWN;
  let index = 0; // "A" 0, "B" 1, ... "Z" 25, "AA" 26 ...
  for (const letter of label.toUpperCase()) index = index * 26 + (letter.charCodeAt(0) - 64);
  return PALETTE[(index - 1) % PALETTE.length] ?? UNKNOWN;
}

/** A coloured "Speaker A" chip. */
export function speakerChip(label) {
  const chip = document.createElement('span');
  chip.className = 'speaker';
  chip.textContent = speakerName(label);
  chip.style.setProperty('--speaker', speakerColour(label));
  return chip;
}

/** Consecutive words of one speaker: [{ speaker, words }]. */
export function speakerRuns(words) {
  const runs = [];
  for (const word of words) {
    const speaker = word.speaker ?? null;
    const last = runs[runs.length - 1];
    if (last && last.speaker === speaker) last.words.push(word);
    else runs.push({ speaker, words: [word] });
  }
  return runs;
}

/** mm:ss (h:mm:ss past an hour) of a time in ms. */
export function clock(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${String(m).padStart(2, '0')}:${s}`;
}
