// The official AssemblyAI Node SDK, pointed at a streamer server; prints one JSON object.
//
//   node sdk.mjs stream WSS_URL PCM_FILE SPEED   16 kHz pcm_s16le, 100 ms a message (a shorter
//                                                tail is left out), SPEED x real time
//   node sdk.mjs token HTTPS_URL WSS_URL          a temporary token, then a session opened with it
//   node sdk.mjs rest HTTP_URL AUDIO_FILE [JSON]   a transcript with speaker labels (JSON: the
//                                                request's fields instead, as an object)
//
// The API key comes from ASSEMBLYAI_API_KEY; a self-signed server certificate is trusted
// through NODE_EXTRA_CA_CERTS.
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

import { AssemblyAI } from "assemblyai";

const SAMPLE_RATE = 16000;
const CHUNK_BYTES = 3200; // 100 ms

const apiKey = process.env.ASSEMBLYAI_API_KEY;
const [mode, ...args] = process.argv.slice(2);

function listen(transcriber) {
  const seen = { begin: null, turns: [], revisions: [], errors: [], close: null };
  transcriber.on("open", (begin) => (seen.begin = begin));
  transcriber.on("turn", (turn) => seen.turns.push(turn));
  transcriber.on("speakerRevision", (revision) => seen.revisions.push(revision));
  transcriber.on("error", (error) => seen.errors.push(String(error)));
  transcriber.on("close", (code, reason) => (seen.close = { code, reason }));
  return seen;
}

async function stream(websocketBaseUrl, pcmFile, speed) {
  const client = new AssemblyAI({ apiKey });
  const transcriber = client.streaming.transcriber({
    websocketBaseUrl,
    sampleRate: SAMPLE_RATE,
    encoding: "pcm_s16le",
    speakerLabels: true,
    formatTurns: true,
    connectTimeout: 10000,
  });
  const seen = listen(transcriber);
  await transcriber.connect();
  const pcm = await readFile(pcmFile);
  for (let start = 0; start + CHUNK_BYTES <= pcm.length; start += CHUNK_BYTES) {
    transcriber.sendAudio(pcm.subarray(start, start + CHUNK_BYTES));
    await sleep(100 / speed);
  }
  await transcriber.close(true, 60000); // Terminate, then wait for the last final turn
  return seen;
}

async function token(baseUrl, websocketBaseUrl) {
  const client = new AssemblyAI({ apiKey, streamingBaseUrl: baseUrl });
  const temporary = await client.streaming.createTemporaryToken({ expires_in_seconds: 60 });
  const transcriber = client.streaming.transcriber({
    websocketBaseUrl,
    token: temporary,
    sampleRate: SAMPLE_RATE,
    connectTimeout: 10000,
  });
  const seen = listen(transcriber);
  await transcriber.connect();
  await transcriber.close(true, 10000);
  return { token: temporary, ...seen };
}

async function rest(baseUrl, audioFile, fields = '{"speaker_labels": true}') {
  const client = new AssemblyAI({ apiKey, baseUrl });
  return await client.transcripts.transcribe(
    { audio: audioFile, ...JSON.parse(fields) },
    { pollingInterval: 250, pollingTimeout: 120000 },
  );
}

const run = { stream, token, rest }[mode];
if (!run) {
  console.error(`usage: node sdk.mjs stream|token|rest ...; not ${mode}`);
  process.exit(2);
}
const result = await (mode === "stream" ? run(args[0], args[1], Number(args[2])) : run(...args));
console.log(JSON.stringify(result));
