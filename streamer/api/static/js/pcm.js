// Microphone samples to what /v3/ws takes: 16 kHz mono pcm_s16le in frames of fixed length.
// Pure: no Web Audio here, so the same code runs in the AudioWorklet and under Node's tests.

const TABLE_STEPS = 256; // kernel values per input sample: the audio thread computes no sines

/**
 * Converts a stream of float samples from `inputRate` to `outputRate` by windowed-sinc
 * interpolation. The kernel's cutoff sits below the lower of the two Nyquist frequencies, so
 * going down from 48 kHz does not fold the band above 8 kHz back into the speech.
 */
export class Resampler {
  constructor(inputRate, outputRate, zeroCrossings = 8) {
    this.step = inputRate / outputRate; // input samples per output sample
    this.passThrough = inputRate === outputRate;
    // cycles per input sample: 90 % of the narrower Nyquist, leaving room for the roll-off
    this.cutoff = 0.45 * Math.min(1, outputRate / inputRate);
    this.halfWidth = zeroCrossings / (2 * this.cutoff); // in input samples
    this.table = kernelTable(this.cutoff, this.halfWidth);
    this.pending = new Float32Array(0); // input not yet behind the kernel
    this.position = 0; // where the next output sample sits, in input samples from pending[0]
  }

  /** Takes the next input samples; returns the output samples they complete. */
  push(input) {
    if (this.passThrough) return Float32Array.from(input);
    const buffer = new Float32Array(this.pending.length + input.length);
    buffer.set(this.pending);
    buffer.set(input, this.pending.length);
    const out = [];
    while (this.position + this.halfWidth < buffer.length) {
      out.push(this.sampleAt(buffer, this.position));
      this.position += this.step;
    }
    // keep only what the next outputs' kernels still reach
    const keepFrom = Math.max(0, Math.floor(this.position - this.halfWidth));
    this.pending = buffer.slice(keepFrom);
    this.position -= keepFrom;
    return Float32Array.from(out);
  }

  sampleAt(buffer, centre) {
    const first = Math.max(0, Math.ceil(centre - this.halfWidth));
    const last = Math.min(buffer.length - 1, Math.floor(centre + this.halfWidth));
    let sum = 0;
    let weights = 0;
    for (let index = first; index <= last; index++) {
      const weight = this.table[Math.round(Math.abs(index - centre) * TABLE_STEPS)] ?? 0;
      sum += buffer[index] * weight;
      weights += weight;
    }
    // dividing by the weights keeps silence silent and a constant constant at the edges
    return weights > 0 ? sum / weights : 0;
  }
}

/** The windowed-sinc kernel at 0, 1/TABLE_STEPS, 2/TABLE_STEPS, ... input samples from its
 * centre, out to `halfWidth`. */
function kernelTable(cutoff, halfWidth) {
  const table = new Float32Array(Math.ceil(halfWidth * TABLE_STEPS) + 1);
  for (let step = 0; step < table.length; step++) {
    const distance = step / TABLE_STEPS;
    const x = 2 * cutoff * distance;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const hann = 0.5 * (1 + Math.cos((Math.PI * Math.min(distance, halfWidth)) / halfWidth));
    table[step] = sinc * hann;
  }
  return table;
}

/** A float sample in [-1, 1] as a signed 16-bit one (clipped outside). */
export function toInt16(sample) {
  const clipped = Math.max(-1, Math.min(1, sample));
  return Math.round(clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff);
}

/** Collects samples into whole frames of `frameSamples` 16-bit samples each. */
export class FramePacker {
  constructor(frameSamples, onFrame) {
    this.frameSamples = frameSamples;
    this.onFrame = onFrame; // called with each full frame's ArrayBuffer
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
  }

  push(samples) {
    for (const sample of samples) {
      this.frame[this.filled++] = toInt16(sample);
      if (this.filled === this.frameSamples) this.emit();
    }
  }

  /** Sends what is held as one last frame, padded with silence (the server takes only frames
   * of 50 ms or more); nothing when nothing is held. */
  flush() {
    if (this.filled > 0) this.emit();
  }

  emit() {
    const full = this.frame;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.onFrame(full.buffer);
  }
}

/** The mean of the channels of one render quantum (Web Audio gives one array per channel). */
export function mixToMono(channels) {
  if (channels.length === 1) return channels[0];
  const mono = new Float32Array(channels[0].length);
  for (const channel of channels) {
    for (let index = 0; index < mono.length; index++)
      mono[index] += channel[index] / channels.length;
  }
  return mono;
}
