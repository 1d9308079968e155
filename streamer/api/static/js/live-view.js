// Draws the held turns: one list item a turn, its words grouped by speaker, partial words
// grey and final ones black; a turn's box closes at its end of turn; a revised turn is
// redrawn in place.
import { clock, speakerChip, speakerColour, speakerRuns } from './speakers.js';

export class CaptionsView {
  constructor(list) {
    this.list = list;
    this.items = new Map(); // turn order -> <li>
  }

  /** Draws (or redraws) one held turn. */
  render(turn) {
    let item = this.items.get(turn.order);
    if (!item) {
      item = document.createElement('li');
      item.className = 'turn';
      item.dataset.turnOrder = String(turn.order);
      this.items.set(turn.order, item);
      this.insertInOrder(item, turn.order);
    }
    const followed = this.atBottom();
    const wasRevisions = Number(item.dataset.revisions ?? 0);
    item.replaceChildren(meta(turn), words(turn));
    item.classList.toggle('ended', turn.ended);
    item.classList.toggle('open', !turn.ended);
    item.setAttribute('aria-busy', String(!turn.ended)); // read out once the turn has ended
    item.dataset.revisions = String(turn.revisions);
    const speaker = speakerRuns(turn.words)[0]?.speaker;
    item.style.setProperty('--speaker', speakerColour(speaker));
    if (turn.revisions > wasRevisions) flash(item);
    if (followed) item.scrollIntoView({ block: 'end' });
  }

  clear() {
    this.items.clear();
    this.list.replaceChildren();
  }

  insertInOrder(item, order) {
    const next = [...this.items.entries()]
      .filter(([other]) => other > order)
      .sort(([a], [b]) => a - b)[0];
    this.list.insertBefore(item, next ? next[1] : null);
  }

  atBottom() {
    const page = document.scrollingElement;
    return page.scrollHeight - page.scrollTop - page.clientHeight < 80;
  }
}

function meta(turn) {
  const line = document.createElement('div');
  line.className = 'turn-meta';
  const time = document.createElement('span');
  time.textContent = turn.words.length ? clock(turn.words[0].start) : '';
  const state = document.createElement('span');
  state.className = 'turn-state';
  state.textContent = turn.ended ? 'end of turn' : 'speaking…';
  line.append(time, state);
  if (turn.revisions) {
    const revised = document.createElement('span');
    revised.className = 'turn-revised';
    revised.textContent = 'speakers revised';
    line.append(revised);
  }
  return line;
}

function words(turn) {
  const paragraph = document.createElement('p');
  for (const run of speakerRuns(turn.words)) {
    const group = document.createElement('span');
    group.className = 'run';
    group.dataset.speaker = run.speaker ?? '';
    group.style.setProperty('--speaker', speakerColour(run.speaker));
    group.append(speakerChip(run.speaker));
    for (const word of run.words) group.append(wordSpan(word), ' ');
    paragraph.append(group);
  }
  return paragraph;
}

function wordSpan(word) {
  const span = document.createElement('span');
  span.className = `word ${word.word_is_final ? 'final' : 'partial'}`;
  span.textContent = word.text;
  span.dataset.speaker = word.speaker ?? '';
  span.dataset.start = String(word.start);
  span.dataset.end = String(word.end);
  return span;
}

function flash(item) {
  item.classList.remove('flash');
  void item.offsetWidth; // restart the animation
  item.classList.add('flash');
}
