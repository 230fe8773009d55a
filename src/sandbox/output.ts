/**
 * Bounded output capture for child processes: a command may print gigabytes; we keep
 * the first and last bytes and count the rest.
 */

/** Keeps the first `headBytes` and the last `tailBytes` of a byte stream. */
export class HeadTailBuffer {
  private readonly headBytes: number;
  private readonly tailBytes: number;
  private readonly head: Buffer[] = [];
  private headSize = 0;
  private tail: Buffer[] = [];
  private tailSize = 0;
  /** Total bytes written. */
  total = 0;

  constructor(maxBytes: number) {
    this.headBytes = Math.floor(maxBytes / 2);
    this.tailBytes = maxBytes - this.headBytes;
  }

  write(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headSize < this.headBytes) {
      const take = rest.subarray(0, this.headBytes - this.headSize);
      this.head.push(take);
      this.headSize += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailSize += rest.length;
    while (this.tailSize - (this.tail[0]?.length ?? 0) >= this.tailBytes && this.tail.length > 1) {
      this.tailSize -= (this.tail.shift() as Buffer).length;
    }
  }

  /** Bytes dropped from the middle. */
  get omitted(): number {
    return Math.max(0, this.total - this.headBytes - this.tailBytes);
  }

  /** The kept text; a marker stands where bytes were dropped. */
  text(): string {
    const head = Buffer.concat(this.head).toString("utf8");
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.tailBytes) tail = tail.subarray(tail.length - this.tailBytes);
    const omitted = this.omitted;
    if (omitted === 0) return head + tail.toString("utf8");
    return `${head}\n[... ${omitted} bytes of output omitted ...]\n${tail.toString("utf8")}`;
  }
}

/**
 * The recent output of a long-running process, readable incrementally: `readSince(offset)`
 * returns what was written after `offset` (as far as the window still holds it).
 */
export class OutputLog {
  private readonly capacity: number;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Offset (in total bytes written) of the first byte still held. */
  private start = 0;
  total = 0;

  constructor(capacityBytes: number) {
    this.capacity = capacityBytes;
  }

  write(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.total += chunk.length;
    while (this.size > this.capacity && this.chunks.length > 1) {
      const dropped = this.chunks.shift() as Buffer;
      this.size -= dropped.length;
      this.start += dropped.length;
    }
  }

  /** Text written after `offset`, the next offset, and how many bytes after `offset` were already dropped. */
  readSince(offset: number): { text: string; next: number; dropped: number } {
    const from = Math.max(offset, this.start);
    const all = Buffer.concat(this.chunks);
    return {
      text: all.subarray(from - this.start).toString("utf8"),
      next: this.total,
      dropped: from - offset,
    };
  }
}
