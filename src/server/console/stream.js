// The API client: fetch with the bearer token, and a resumable SSE reader over fetch
// (EventSource cannot send an Authorization header). The reader remembers the last id and
// reconnects with Last-Event-ID, so a dropped connection resumes exactly where it stopped.

export function api(token) {
  const headers = (extra = {}) =>
    token.get() ? { authorization: `Bearer ${token.get()}`, ...extra } : extra;
  async function call(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.error?.message ?? `HTTP ${res.status}`);
      err.status = res.status;
      err.code = data.error?.code;
      throw err;
    }
    return data;
  }
  return {
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body ?? {}),
    del: (path) => call("DELETE", path),
    headers,
  };
}

/** Follows a thread's event stream; calls onFrame({id, event, data}) for every frame. */
export function follow(client, threadId, onFrame) {
  let lastId;
  let stopped = false;
  let controller;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch(`/v1/threads/${encodeURIComponent(threadId)}/events`, {
          headers: client.headers(lastId ? { "last-event-id": lastId } : {}),
          signal: controller.signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut = buf.indexOf("\n\n");
          while (cut >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            cut = buf.indexOf("\n\n");
            const frame = { id: undefined, event: "message", data: "" };
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) continue;
              const i = line.indexOf(":");
              const field = i < 0 ? line : line.slice(0, i);
              const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
              if (field === "id") frame.id = val;
              else if (field === "event") frame.event = val;
              else if (field === "data") frame.data += val;
            }
            if (frame.data === "") continue;
            if (frame.id !== undefined) lastId = frame.id;
            onFrame(frame);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }
  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
