/**
 * `GET /v1/threads/{id}/events`: the thread's transcript lines after the client's position,
 * then its live events, as Server-Sent Events whose ids are durable positions.
 */
import type { ServerResponse } from "node:http";
import type { RolloutLine } from "../protocol/index.ts";
import type { FrameSink } from "./channel.ts";
import type { ThreadHub } from "./hub.ts";
import type { Position } from "./positions.ts";

/** An SSE frame for transcript line `n` (1-based). */
export function lineFrame(n: number, line: RolloutLine): string {
  return `id: ${n}\nevent: line\ndata: ${JSON.stringify(line)}\n\n`;
}

/**
 * Streams a thread to `res`. `after` is the last position the client has (Last-Event-ID or
 * `?after=`); undefined replays from the first line; `live` skips the history and starts
 * with the next event. Lines are written in batches that respect the socket's backpressure.
 * Returns once the viewer is attached; the response stays open until the client leaves or
 * the server shuts down. A disconnecting client never affects the thread's turn.
 */
export async function streamThread(
  hub: ThreadHub,
  threadId: string,
  res: ServerResponse,
  start: {
    after: Position | undefined;
    live: boolean;
    /**
     * Runs right before the viewer attaches to the live events, with the transcript as last
     * read for the replay (undefined when none was read): the route reopens a parked thread
     * here, so its re-asked request follows the replayed lines.
     */
    beforeAttach?: (lines: readonly RolloutLine[] | undefined) => Promise<void>;
  },
): Promise<void> {
  // The body runs until the connection closes, unframed: frames are then written straight to
  // the socket, and one encoded Buffer serves every viewer of a batch.
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "close",
    "x-accel-buffering": "no",
  });
  res.flushHeaders();
  const socket = res.socket;
  if (!socket) return;
  socket.setNoDelay(true);
  const sink: FrameSink = socket;
  sink.write("retry: 1000\n\n");
  let closed = false;
  socket.once("close", () => {
    closed = true;
    hub.release(threadId);
  });
  const ch = hub.channel(threadId);
  if (start.live) {
    await start.beforeAttach?.(undefined);
    if (!closed) ch.attach(sink, ch.last ?? { line: 0, k: -1 });
    return;
  }
  let read: RolloutLine[] | undefined;
  let cursor: Position = start.after ?? { line: 0, k: -1 };
  let transcriptEnd = -1;
  for (let rounds = 0; rounds < 4 && !closed; rounds++) {
    const first = ch.start;
    if (first !== undefined && cursor.line >= first.line) break;
    if (first === undefined && transcriptEnd >= 0 && cursor.line >= transcriptEnd) break;
    const lines = await hub.store.read(threadId);
    read = lines;
    transcriptEnd = lines.length;
    const now = ch.start;
    const through = now !== undefined ? Math.min(now.line, lines.length) : lines.length;
    if (cursor.line > lines.length && now === undefined) {
      // The client saw lines this transcript no longer has (lost in a crash before a flush).
      res.write(
        `event: reset\ndata: ${JSON.stringify({ position: lines.length, reason: "the transcript is shorter than the client's position" })}\n\n`,
      );
      cursor = { line: lines.length, k: -1 };
      break;
    }
    await writeLines(sink, lines, cursor.line, through, () => closed);
    if (now !== undefined && lines.length < now.line) {
      res.write(
        `event: gap\ndata: ${JSON.stringify({ from: String(through), to: String(now.line), reason: "lines not yet flushed" })}\n\n`,
      );
      cursor = { line: now.line, k: -1 };
    } else if (through > cursor.line) cursor = { line: through, k: -1 };
  }
  if (closed) return;
  await start.beforeAttach?.(read);
  if (closed) return;
  const attached = ch.attach(sink, cursor);
  if ("linesThrough" in attached) {
    // The ring moved on during the replay (a very busy thread): the client resumes from here.
    sink.end();
  }
}

async function writeLines(
  sink: FrameSink,
  lines: readonly RolloutLine[],
  from: number,
  to: number,
  closed: () => boolean,
): Promise<void> {
  let chunk = "";
  for (let i = from; i < to; i++) {
    chunk += lineFrame(i + 1, lines[i] as RolloutLine);
    if (chunk.length >= 64 * 1024 || i === to - 1) {
      const ok = sink.write(chunk);
      chunk = "";
      if (!ok && !closed()) await drained(sink);
      if (closed()) return;
    }
  }
}

/** Resolves on the sink's next drain or close, leaving no listener behind. */
function drained(sink: FrameSink): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      sink.off("drain", done);
      sink.off("close", done);
      resolve();
    };
    sink.once("drain", done);
    sink.once("close", done);
  });
}
