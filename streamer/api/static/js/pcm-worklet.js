// The AudioWorklet processor of the live page: microphone audio at the context's rate in,
// 16 kHz pcm_s16le frames out (posted to the page, which sends each as one binary message).
import { FramePacker, Resampler, mixToMono } from './pcm.js';

class PcmS16leProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, frameMs = 100 } = options.processorOptions ?? {};
    this.resampler = new Resampler(sampleRate, targetRate); // sampleRate: the context's
    this.packer = new FramePacker(Math.round((targetRate * frameMs) / 1000), (frame) =>
      this.port.postMessage(frame, [frame]),
    );
    this.port.onmessage = (event) => {
      if (event.data === 'flush') {
        this.packer.flush();
        this.port.postMessage('flushed');
      }
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels.length > 0) this.packer.push(this.resampler.push(mixToMono(channels)));
    return true; // keep running while the page holds the node
  }
}

registerProcessor('pcm-s16le', PcmS16leProcessor);
