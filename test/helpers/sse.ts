/** A minimal SSE client over node:http for server tests and benchmarks. */
import { type ClientRequest, request } from "node:http";

/** One received SSE frame. */
export interface SseFrame {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/** A connected stream: frames so far, waiters, and a way to drop the connection. */
export interface SseStream {
  readonly frames: SseFrame[];
  readonly status: Promise<number>;
  /** Resolves when a frame matching `test` has arrived (checks frames already received). */
  until(test: (f: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
  /** Called for every frame as it arrives. */
  onFrame?: (f: SseFrame) => void;
  /** Drops the connection (like a client that goes away). */
  close(): void;
  readonly ended: Promise<void>;
}

/** Opens `GET url` as an event stream. */
export function openSse(url: string, headers: Record<string, string> = {}): SseStream {
  const frames: SseFrame[] = [];
  const waiters: { test: (f: SseFrame) => boolean; resolve: (f: SseFrame) => void }[] = [];
  let req: ClientRequest;
  let resolveStatus!: (n: number) => void;
  let resolveEnded!: () => void;
  const stream: SseStream = {
    frames,
    status: new Promise((r) => (resolveStatus = r)),
    ended: new Promise((r) => (resolveEnded = r)),
    until(test, timeoutMs = 10_000) {
      const found = frames.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching SSE frame after ${timeoutMs} ms (${frames.length} frames)`)),
          timeoutMs,
        );
        waiters.push({
          test,
          resolve: (f) => {
            clearTimeout(timer);
            resolve(f);
          },
        });
      });
    },
    close() {
      req.destroy();
    },
  };
  req = request(url, { headers: { accept: "text/event-stream", ...headers } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    res.setEncoding("utf8");
    let buf = "";
    res.on("data", (chunk: string) => {
      buf += chunk;
      let cut = buf.indexOf("\n\n");
      while (cut >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf("\n\n");
        let id: string | undefined;
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "id") id = value;
          else if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
        if (data.length === 0 && id === undefined) continue;
        const frame = { id, event, data: data.join("\n") };
        frames.push(frame);
        stream.onFrame?.(frame);
        for (let w = waiters.length - 1; w >= 0; w--) {
          const waiter = waiters[w];
          if (waiter?.test(frame)) {
            waiters.splice(w, 1);
            waiter.resolve(frame);
          }
        }
      }
    });
    res.on("end", () => resolveEnded());
    res.on("close", () => resolveEnded());
  });
  req.on("error", () => {
    resolveStatus(0);
    resolveEnded();
  });
  req.end();
  return stream;
}

/** The message type of an `event` frame (or `line:<type>` for a transcript line). */
export function frameType(f: SseFrame): string {
  const data = JSON.parse(f.data) as { type?: string; msg?: { type: string } };
  return f.event === "line" ? `line:${data.type}` : f.event === "event" ? (data.msg?.type ?? "?") : f.event;
}
