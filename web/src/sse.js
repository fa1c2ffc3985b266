// Server-sent events over fetch(): EventSource cannot send the Authorization header.

import { authHeaders } from "./api.js";

// Calls onEvent({event, data}) for every event until the stream ends (resolves) or fails (rejects).
export async function readEvents(url, { signal, onOpen, onEvent }) {
  const response = await fetch(url, { headers: { Accept: "text/event-stream", ...authHeaders() }, signal,
    credentials: "omit", cache: "no-store" });
  if (!response.ok) {
    const text = await response.text();
    let message = `The server answered ${response.status}.`;
    try {
      const body = JSON.parse(text);
      const errors = body.errors || {};
      message = [].concat(...Object.values(errors).map((v) => (Array.isArray(v) ? v : Object.values(v).flat()))).join("; ") || message;
    } catch { /* not JSON */ }
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent({ event, data: data.join("\n") });
    }
  }
}
