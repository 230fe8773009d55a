/**
 * One thread's live event fan-out: a bounded ring of SSE frames (each serialized once) and
 * the viewers reading it. Writes are batched per event-loop turn (one write per viewer per
 * batch). A viewer whose socket is full is paused and catches up from the ring when it
 * drains; one that falls out of the ring is disconnected, and resumes with Last-Event-ID.
 */
import type { Event } from "../protocol/index.ts";
import { comparePositions, formatPosition, type Position } from "./positions.ts";

/** Where a viewer's frames go (the response's socket fits). */
export interface FrameSink {
  write(chunk: string | Uint8Array): boolean;
  once(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
  end(): unknown;
  readonly writableLength: number;
}

interface Frame {
  readonly pos: Position;
  readonly text: string;
}

/** A connected reader of the channel. */
export interface Viewer {
  readonly sink: FrameSink;
  /** Absolute index of the next frame to send. */
  next: number;
  paused: boolean;
  closed: boolean;
}

/** Channel limits. */
export interface ChannelOptions {
  /** Frames kept for late and slow viewers. Default 4096. */
  readonly retain?: number;
  /** A viewer with more than this many bytes unsent is paused until its socket drains. Default 256 KiB. */
  readonly maxBufferedBytes?: number;
}

/** An SSE frame for one live event. */
export function eventFrame(pos: Position, event: Event): string {
  return `id: ${formatPosition(pos)}\nevent: event\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The live side of one thread's event stream. Positions come from the caller (the
 * transcript line count when the event was emitted); the channel assigns the ordinal.
 */
export class ThreadChannel {
  readonly threadId: string;
  private readonly retain: number;
  private readonly maxBuffered: number;
  private readonly frames: Frame[] = [];
  /** Absolute index of frames[0]. */
  private base = 0;
  private lastLine = -1;
  private ordinal = 0;
  private readonly viewers = new Set<Viewer>();
  private scheduled = false;
  /** Pending permission and user-input requests by id (the approvals inbox). */
  readonly pending = new Map<string, Event>();
  /** True while an engine holds the thread. */
  live = false;
  /** The turn a reopened engine is resuming (it re-asks its parked requests), until it ends. */
  resumedTurn: string | undefined;

  constructor(threadId: string, options: ChannelOptions = {}) {
    this.threadId = threadId;
    this.retain = options.retain ?? 4096;
    this.maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
  }

  /** Connected viewers. */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** The position of the oldest retained frame. Undefined when the channel has seen no event. */
  get start(): Position | undefined {
    return this.frames[0]?.pos;
  }

  /** The position of the last frame, if any. */
  get last(): Position | undefined {
    return this.frames.at(-1)?.pos;
  }

  /**
   * Records an event emitted when the transcript had `line` lines and schedules it for every
   * live viewer. A line count lower than the last one seen (a transcript repaired on reopen)
   * restarts the ring: positions stay increasing, and viewers are sent away to resume.
   */
  publish(line: number, event: Event): Position {
    if (line < this.lastLine) this.restart();
    if (line === this.lastLine) this.ordinal++;
    else {
      this.lastLine = line;
      this.ordinal = 0;
    }
    const pos = { line, k: this.ordinal };
    this.track(event);
    this.frames.push({ pos, text: eventFrame(pos, event) });
    if (this.frames.length > this.retain) this.trim();
    if (!this.scheduled && this.viewers.size > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return pos;
  }

  /**
   * Adds a viewer that has seen everything up to `after` (undefined: start with the next
   * event). Returns `{ linesThrough: N }` when transcript lines up to N must be replayed
   * first (the ring starts after them): the caller sends them and attaches again with
   * position `N`. `gap` is set when transient events (deltas) between `after` and the ring's
   * oldest frame were dropped; the durable facts they led to are still sent.
   */
  attach(
    sink: FrameSink,
    after: Position | undefined,
  ): { viewer: Viewer; gap: boolean } | { linesThrough: number } {
    let next = this.base + this.frames.length;
    let gap = false;
    const start = this.start;
    if (after !== undefined && start !== undefined) {
      if (after.line < start.line) return { linesThrough: start.line };
      const idx = this.frames.findIndex((f) => comparePositions(f.pos, after) > 0);
      next = idx < 0 ? this.base + this.frames.length : this.base + idx;
      gap = idx === 0 && after.line === start.line && start.k > after.k + 1;
    }
    if (gap && start)
      sink.write(
        `event: gap\ndata: ${JSON.stringify({ from: after && formatPosition(after), to: formatPosition(start), reason: "transient events were dropped from memory" })}\n\n`,
      );
    const viewer: Viewer = { sink, next, paused: false, closed: false };
    this.viewers.add(viewer);
    sink.once("close", () => this.detach(viewer));
    if (next < this.base + this.frames.length) this.send(viewer);
    return { viewer, gap };
  }

  /** Removes a viewer (its socket closed). */
  detach(viewer: Viewer): void {
    viewer.closed = true;
    this.viewers.delete(viewer);
  }

  /** Writes an SSE comment to every viewer that is keeping up (keeps proxies from closing idle streams). */
  ping(): void {
    for (const v of this.viewers) if (!v.paused && !v.closed) v.sink.write(": ping\n\n");
  }

  /** Ends every viewer's response (shutdown). */
  endAll(finalFrame?: string): void {
    for (const v of this.viewers) {
      if (finalFrame) v.sink.write(finalFrame);
      v.sink.end();
      v.closed = true;
    }
    this.viewers.clear();
  }

  /**
   * Sends every viewer the frames it has not had. Viewers at the same place (usually all of
   * them) get one shared Buffer: the text is encoded once per batch, not once per viewer.
   */
  private flush(): void {
    this.scheduled = false;
    const shared = new Map<number, Buffer>();
    for (const v of this.viewers) {
      if (v.paused || v.closed) continue;
      let chunk = shared.get(v.next);
      if (chunk === undefined) {
        const text = this.pendingText(v.next);
        if (text === undefined) {
          this.evict(v);
          continue;
        }
        chunk = Buffer.from(text);
        shared.set(v.next, chunk);
      }
      this.write(v, chunk);
    }
  }

  /** The frames from absolute index `from` to the end as one text; undefined when trimmed away. */
  private pendingText(from: number): string | undefined {
    if (from < this.base) return undefined;
    let text = "";
    for (let i = from - this.base; i < this.frames.length; i++) text += (this.frames[i] as Frame).text;
    return text;
  }

  /** Sends one viewer what it has not had (on attach and after a drain). */
  private send(v: Viewer): void {
    if (v.closed || v.next >= this.base + this.frames.length) return;
    const text = this.pendingText(v.next);
    if (text === undefined) this.evict(v);
    else this.write(v, text);
  }

  private write(v: Viewer, chunk: string | Buffer): void {
    if (chunk.length === 0) return;
    v.next = this.base + this.frames.length;
    const ok = v.sink.write(chunk);
    if (!ok || v.sink.writableLength > this.maxBuffered) {
      v.paused = true;
      v.sink.once("drain", () => {
        v.paused = false;
        this.send(v);
      });
    }
  }

  /** A viewer that fell out of the ring while paused: it resumes from its Last-Event-ID. */
  private evict(v: Viewer): void {
    this.detach(v);
    v.sink.end();
  }

  private trim(): void {
    // Trimmed in batches of an eighth, so that the copy is amortized.
    const drop = Math.max(1, this.frames.length - this.retain + (this.retain >> 3));
    this.frames.splice(0, drop);
    this.base += drop;
  }

  private restart(): void {
    this.base += this.frames.length;
    this.frames.length = 0;
    this.lastLine = -1;
    for (const v of [...this.viewers]) {
      this.detach(v);
      v.sink.end();
    }
  }

  private track(event: Event): void {
    const msg = event.msg;
    if (msg.type === "thread_opened") this.resumedTurn = msg.resumedTurn?.turnId;
    else if (msg.type === "permission_requested" || msg.type === "user_input_requested")
      this.pending.set(msg.requestId, event);
    else if (msg.type === "permission_resolved") this.pending.delete(msg.requestId);
    else if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted") {
      // A turn that ended answers nothing more; a suspended turn re-asks when reopened.
      for (const [id, ev] of this.pending) if (ev.turnId === event.turnId) this.pending.delete(id);
      if (this.resumedTurn === event.turnId) this.resumedTurn = undefined;
    } else if (msg.type === "shutdown_complete") {
      this.pending.clear();
      this.resumedTurn = undefined;
    }
  }
}
