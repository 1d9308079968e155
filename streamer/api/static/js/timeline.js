// The files view's speaker timeline: one SVG bar over the audio's length, a coloured segment
// per utterance, and a playhead.
import { clock, speakerColour, speakerName } from './speakers.js';

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 30;

/** Draws `utterances` on `svg` (its x axis in ms, 0 to `durationMs`); returns the playhead
 * setter, `(ms) => void`. */
export function drawTimeline(svg, legend, utterances, durationMs) {
  const length = Math.max(1, durationMs);
  svg.setAttribute('viewBox', `0 0 ${length} ${HEIGHT}`);
  svg.replaceChildren();
  for (const utterance of utterances) {
    const segment = document.createElementNS(SVG, 'rect');
    segment.classList.add('segment');
    segment.dataset.speaker = utterance.speaker;
    // a last word's end may run past the audio's: the bar ends with the audio
    const start = Math.min(utterance.start, length);
    segment.setAttribute('x', String(start));
    segment.setAttribute('width', String(Math.max(1, Math.min(utterance.end, length) - start)));
    segment.setAttribute('y', '4');
    segment.setAttribute('height', String(HEIGHT - 8));
    segment.setAttribute('fill', speakerColour(utterance.speaker));
    const title = document.createElementNS(SVG, 'title');
    const span = `${clock(utterance.start)}–${clock(utterance.end)}`;
    title.textContent = `${speakerName(utterance.speaker)} ${span}`;
    segment.append(title);
    svg.append(segment);
  }
  const playhead = document.createElementNS(SVG, 'line');
  playhead.classList.add('playhead');
  playhead.setAttribute('y1', '0');
  playhead.setAttribute('y2', String(HEIGHT));
  playhead.setAttribute('stroke', '#111');
  playhead.setAttribute('stroke-width', String(length / 500)); // about 2 px on a 1000 px bar
  svg.append(playhead);
  drawLegend(legend, utterances, length);
  const label = utterances.length ? describe(utterances, length) : 'No speech heard.';
  svg.setAttribute('aria-label', label);

  return (ms) => {
    playhead.setAttribute('x1', String(ms));
    playhead.setAttribute('x2', String(ms));
  };
}

/** The time (ms) a click at `clientX` on the bar points at. */
export function timeAt(svg, clientX, durationMs) {
  const box = svg.getBoundingClientRect();
  return Math.min(1, Math.max(0, (clientX - box.left) / box.width)) * durationMs;
}

function talkTimes(utterances) {
  const times = new Map();
  for (const { speaker, start, end } of utterances)
    times.set(speaker, (times.get(speaker) ?? 0) + end - start);
  return [...times.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function drawLegend(legend, utterances, length) {
  legend.replaceChildren(
    ...talkTimes(utterances).map(([speaker, ms]) => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'speaker';
      swatch.style.setProperty('--speaker', speakerColour(speaker));
      swatch.textContent = speakerName(speaker);
      item.append(swatch, ` ${clock(ms)} (${Math.round((100 * ms) / length)} %)`);
      return item;
    }),
  );
}

function describe(utterances, length) {
  const parts = talkTimes(utterances).map(
    ([speaker, ms]) => `${speakerName(speaker)} ${Math.round((100 * ms) / length)} %`,
  );
  return `Who speaks when over ${clock(length)}: ${parts.join(', ')}`;
}
