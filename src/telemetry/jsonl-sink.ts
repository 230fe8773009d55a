/** A machine-readable sink: events as JSON lines, one file per thread or per process, rotated by size. */
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Event } from "../protocol/index.ts";
import type { EventSink } from "./sinks.ts";

/** Options of `jsonlSink`. */
export interface JsonlSinkOptions {
  /** The folder the files go to (created when missing). */
  readonly dir: string;
  /** `thread`: `<threadId>.events.jsonl`; `process` (default): `taifeng-<pid>.events.jsonl`. */
  readonly per?: "thread" | "process";
  /** A file is rotated before it would grow past this many bytes. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Rotated files kept (`.1` is the newest); older ones are deleted. Default 5. */
  readonly maxFiles?: number;
}

interface OpenFile {
  handle: FileHandle;
  size: number;
}

const safe = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, "_");

/**
 * Writes every event as one JSON line. Before a line would push a file past `maxBytes`, the
 * file becomes `<name>.1.events.jsonl` (older ones shift up, the oldest past `maxFiles` is
 * deleted) and a new file starts; files are cut only between lines. Per-thread files are
 * closed at the thread's `shutdown_complete`.
 */
export function jsonlSink(options: JsonlSinkOptions): EventSink {
  const per = options.per ?? "process";
  const maxBytes = options.maxBytes ?? 64 * 2 ** 20;
  const maxFiles = Math.max(1, options.maxFiles ?? 5);
  const files = new Map<string, OpenFile>();
  let ready: Promise<unknown> | undefined;
  const base = (ev: Event) => (per === "thread" ? safe(ev.threadId) : `taifeng-${process.pid}`);
  const path = (name: string, n = 0) =>
    join(options.dir, n === 0 ? `${name}.events.jsonl` : `${name}.${n}.events.jsonl`);

  async function file(name: string): Promise<OpenFile> {
    let f = files.get(name);
    if (!f) {
      const handle = await open(path(name), "a");
      f = { handle, size: (await handle.stat()).size };
      files.set(name, f);
    }
    return f;
  }

  async function rotate(name: string, f: OpenFile): Promise<void> {
    await f.handle.close();
    files.delete(name);
    await rm(path(name, maxFiles), { force: true });
    for (let n = maxFiles - 1; n >= 1; n--) {
      const from = path(name, n);
      if (await exists(from)) await rename(from, path(name, n + 1));
    }
    await rename(path(name), path(name, 1));
  }

  async function write(events: readonly Event[]): Promise<void> {
    ready ??= mkdir(options.dir, { recursive: true });
    await ready;
    const groups = new Map<string, string[]>();
    const closing: string[] = [];
    for (const ev of events) {
      const name = base(ev);
      let lines = groups.get(name);
      if (!lines) {
        lines = [];
        groups.set(name, lines);
      }
      lines.push(`${JSON.stringify(ev)}\n`);
      if (per === "thread" && ev.msg.type === "shutdown_complete") closing.push(name);
    }
    for (const [name, lines] of groups) {
      let f = await file(name);
      let chunk = "";
      let chunkBytes = 0;
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        // Rotate at a line boundary before the file would pass maxBytes (a longer line gets a file of its own).
        if (f.size + chunkBytes + bytes > maxBytes && f.size + chunkBytes > 0) {
          if (chunk !== "") await f.handle.write(chunk);
          f.size += chunkBytes;
          chunk = "";
          chunkBytes = 0;
          await rotate(name, f);
          f = await file(name);
        }
        chunk += line;
        chunkBytes += bytes;
      }
      if (chunk !== "") await f.handle.write(chunk);
      f.size += chunkBytes;
    }
    for (const name of closing) {
      const f = files.get(name);
      files.delete(name);
      await f?.handle.close();
    }
  }

  return {
    name: `jsonl ${options.dir}`,
    write,
    async flush() {
      for (const f of files.values()) await f.handle.datasync();
    },
    async close() {
      const open = [...files.values()];
      files.clear();
      for (const f of open) await f.handle.close();
    },
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
