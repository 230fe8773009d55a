import { close, fdatasync, fstat, fsync, open, read, writeSync } from "node:fs";
import { promisify } from "node:util";

const readAsync = promisify(read);
const fstatAsync = promisify(fstat);
const openAsync = promisify(open);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

/** fdatasync(2) of a descriptor. */
export const datasync: (fd: number) => Promise<void> = promisify(fdatasync);

/** Writes all of `buf` at `position` (synchronously: a page-cache write takes microseconds). */
export function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/** Reads a whole file from a descriptor by position (the file offset is never used). */
export async function readAll(fd: number): Promise<Buffer> {
  const { size } = await fstatAsync(fd);
  const buf = Buffer.allocUnsafe(size);
  let done = 0;
  while (done < size) {
    const { bytesRead } = await readAsync(fd, buf, done, size - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === size ? buf : buf.subarray(0, done);
}

/** Size of the file behind a descriptor. */
export async function sizeOf(fd: number): Promise<number> {
  return (await fstatAsync(fd)).size;
}

/** Reads up to `length` bytes at `position` (fewer at the end of the file). */
export async function readRange(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await readAsync(fd, buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** Fsyncs a directory, so the names created in it survive a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const fd = await openAsync(dir, "r");
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd).catch(() => {});
  }
}

/**
 * Group commit for an operation such as a directory fsync: a caller gets the first run that
 * starts after its call, so callers arriving while one runs share the next one.
 */
export function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = (): Promise<void> => {
    const run = fn().finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}
