// The server's HTTP API as the pages use it, and the API key the user gave (if any).

const STORAGE_KEY = 'streamer.apiKey';

/** The key lives in this object; in localStorage too only when the user asks to remember it. */
export const credentials = {
  key: '',

  load() {
    this.key = safeStorage()?.getItem(STORAGE_KEY) ?? '';
    return this.key;
  },

  set(key, remember) {
    this.key = key.trim();
    const storage = safeStorage();
    if (remember && this.key) storage?.setItem(STORAGE_KEY, this.key);
    else storage?.removeItem(STORAGE_KEY);
  },

  remembered() {
    return Boolean(safeStorage()?.getItem(STORAGE_KEY));
  },
};

function safeStorage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the key stays in memory only
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `fetch` with the key, answering the JSON body; an ApiError with the server's `error`. */
export async function requestJson(path, options = {}) {
  const headers = { ...options.headers };
  if (credentials.key) headers.Authorization = credentials.key;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const reason = body?.error ?? response.statusText;
    const hint = response.status === 401 ? ' (set an API key above)' : '';
    throw new ApiError(response.status, `${response.status}: ${reason}${hint}`);
  }
  return body;
}

/** The /v3/ws URL for `params`; with a key, it carries a one-session token, not the key. */
export async function streamingUrl(params) {
  const query = new URLSearchParams(params);
  if (credentials.key) {
    const { token } = await requestJson('/v3/token?expires_in_seconds=60');
    query.set('token', token);
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v3/ws?${query}`;
}
