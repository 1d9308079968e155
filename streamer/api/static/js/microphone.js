// The microphone as 16 kHz pcm_s16le frames, through the AudioWorklet in pcm-worklet.js.

export const SAMPLE_RATE = 16000;
export const FRAME_MS = 100; // the server takes frames of 50 to 1000 ms

/**
 * Opens the default microphone and calls `onFrame(ArrayBuffer)` for every FRAME_MS of audio.
 * Returns `{ sampleRate, stop }`: `stop()` sends the last, padded frame and releases the device.
 */
export async function openMicrophone(onFrame) {
  if (!navigator.mediaDevices?.getUserMedia) {
    // browsers give the microphone only to secure pages
    throw new Error('the microphone needs an https:// page (or http://localhost)');
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    // the recognizer wants the voice as it is: no gain riding or noise gating
    audio: { channelCount: 1, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  try {
    await context.audioWorklet.addModule(new URL('./pcm-worklet.js', import.meta.url));
  } catch (error) {
    stream.getTracks().forEach((track) => track.stop());
    await context.close();
    throw error;
  }
  const source = context.createMediaStreamSource(stream);
  const processor = new AudioWorkletNode(context, 'pcm-s16le', {
    processorOptions: { targetRate: SAMPLE_RATE, frameMs: FRAME_MS },
  });
  const flushed = new Promise((resolve) => {
    processor.port.onmessage = (event) => {
      if (event.data === 'flushed') resolve();
      else onFrame(event.data);
    };
  });
  // a muted path to the speakers: the graph is only rendered when it reaches the destination
  const mute = context.createGain();
  mute.gain.value = 0;
  source.connect(processor).connect(mute).connect(context.destination);
  await context.resume();

  async function stop() {
    source.disconnect();
    processor.port.postMessage('flush');
    await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, 500))]);
    stream.getTracks().forEach((track) => track.stop());
    await context.close();
  }
  return { sampleRate: context.sampleRate, stop };
}
