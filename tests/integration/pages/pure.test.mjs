// The pages' pure modules under Node's test runner: the microphone's resampling and framing,
// the held captions (revisions applied as the Python client applies them) and the downloads.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  HeldCaptions,
  srt,
  srtTime,
  transcriptText,
} from '../../../streamer/api/static/js/captions.js';
import { FramePacker, Resampler, toInt16 } from '../../../streamer/api/static/js/pcm.js';

function tone(hz, rate, seconds) {
  return Float32Array.from(
    { length: Math.round(rate * seconds) },
    (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / rate),
  );
}

/** Streams `input` through a resampler in 128-sample blocks, as the AudioWorklet does. */
function resample(input, from, to) {
  const resampler = new Resampler(from, to);
  const out = [];
  for (let start = 0; start < input.length; start += 128)
    out.push(...resampler.push(input.subarray(start, start + 128)));
  return Float32Array.from(out);
}

function rms(samples) {
  return Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
}

test('48 kHz and 44.1 kHz become 16 kHz: one sample out per third, speech band kept', () => {
  for (const rate of [48000, 44100]) {
    const out = resample(tone(1000, rate, 1), rate, 16000);
    assert.ok(Math.abs(out.length - 16000) <= 40, `${rate}: ${out.length} samples`);
    const middle = out.subarray(1000, 15000);
    assert.ok(Math.abs(rms(middle) - 0.5 / Math.SQRT2) < 0.01, `${rate}: rms ${rms(middle)}`);
    // the same tone sampled at 16 kHz directly, in phase
    const expected = tone(1000, 16000, 1).subarray(1000, 15000);
    const error = rms(middle.map((x, i) => x - expected[i]));
    assert.ok(error < 0.02, `${rate}: error ${error}`);
  }
});

test('a tone above 8 kHz does not fold back into the speech band', () => {
  const out = resample(tone(12000, 48000, 1), 48000, 16000);
  assert.ok(rms(out.subarray(1000, 15000)) < 0.01, `rms ${rms(out.subarray(1000, 15000))}`);
});

test('16 kHz passes through unchanged', () => {
  const input = tone(440, 16000, 0.1);
  assert.deepEqual(resample(input, 16000, 16000), input);
});

test('frames are whole: 1600 samples each, the last one padded with silence', () => {
  const frames = [];
  const packer = new FramePacker(1600, (buffer) => frames.push(new Int16Array(buffer)));
  packer.push(new Float32Array(4000).fill(0.25));
  packer.flush();
  assert.deepEqual(
    frames.map((f) => f.length),
    [1600, 1600, 1600],
  );
  assert.equal(frames[2][799], toInt16(0.25));
  assert.equal(frames[2][800], 0);
  assert.deepEqual([toInt16(1), toInt16(-1), toInt16(2), toInt16(0)], [32767, -32768, 32767, 0]);
});

const word = (text, start, end, speaker, final = true) => ({
  text,
  start,
  end,
  speaker,
  confidence: 0.9,
  word_is_final: final,
});

test('partials, the final, and a revision re-labelling an ended turn in place', () => {
  const held = new HeldCaptions();
  assert.deepEqual(held.apply({ type: 'Begin', id: 'x', expires_at: 0 }), []);
  const partial = {
    type: 'Turn',
    turn_order: 0,
    end_of_turn: false,
    words: [word('hello', 0, 400, 'A', false)],
  };
  assert.deepEqual(held.apply(partial), [0]);
  assert.equal(held.endedTurns().length, 0);
  const final = {
    type: 'Turn',
    turn_order: 0,
    end_of_turn: true,
    words: [word('hello', 0, 400, 'A'), word('there', 450, 800, 'A')],
  };
  held.apply(final);
  held.apply({
    type: 'Turn',
    turn_order: 1,
    end_of_turn: true,
    words: [word('hi', 1000, 1300, 'B')],
  });
  assert.deepEqual(held.apply(partial), [], 'a late partial does not reopen an ended turn');
  const revision = {
    type: 'SpeakerRevision',
    revisions: [
      {
        turn_order: 0,
        speaker_label: 'B',
        words: [word('hello', 0, 400, 'A'), word('there', 450, 800, 'B')],
      },
    ],
  };
  assert.deepEqual(held.apply(revision), [0]);
  const turn = held.get(0);
  assert.equal(turn.revisions, 1);
  assert.deepEqual(
    turn.words.map((w) => [w.text, w.speaker]),
    [
      ['hello', 'A'],
      ['there', 'B'],
    ],
  );
  assert.equal(
    transcriptText(held.endedTurns()),
    'Speaker A: hello\nSpeaker B: there\nSpeaker B: hi\n',
  );
});

test('SRT: numbered cues, one speaker each, split at the length limits', () => {
  const words = ['one', 'two', 'three', 'four'].map((text, i) =>
    word(text, i * 1000, i * 1000 + 800, 'A'),
  );
  const text = srt([{ order: 0, ended: true, words }], { chars: 9, ms: 6000 });
  assert.equal(
    text,
    '1\n00:00:00,000 --> 00:00:01,800\nSpeaker A: one two\n\n' +
      '2\n00:00:02,000 --> 00:00:02,800\nSpeaker A: three\n\n' +
      '3\n00:00:03,000 --> 00:00:03,800\nSpeaker A: four\n',
  );
  assert.equal(srtTime(3_723_004), '01:02:03,004');
});
