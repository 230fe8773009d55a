import { crc32 } from "node:zlib";

/**
 * One record of the store's write-ahead log:
 * - `write`: bytes of a transcript, `data` at byte `offset` (0 = the file was created);
 * - `release`: the thread's transcript was fsynced and its writer let go of it, so earlier
 *   records of the thread must not be replayed (another process may write it now);
 * - `delete`: the thread was deleted; earlier records must not be replayed either.
 */
export type WalRecord =
  | { readonly kind: "write"; readonly threadId: string; readonly offset: number; readonly data: Buffer }
  | { readonly kind: "release"; readonly threadId: string }
  | { readonly kind: "delete"; readonly threadId: string };

const HEADER = 8;

/**
 * A record on disk: u32 length and u32 CRC-32 of the body (little-endian), then the body: a
 * JSON header line `{"k","t","o"}` and, for writes, the raw transcript bytes.
 */
export function encodeRecord(record: WalRecord): Buffer {
  const head =
    record.kind === "write"
      ? { k: "w", t: record.threadId, o: record.offset }
      : { k: record.kind === "release" ? "r" : "d", t: record.threadId };
  const headBuf = Buffer.from(`${JSON.stringify(head)}\n`, "utf8");
  const dataLen = record.kind === "write" ? record.data.length : 0;
  const out = Buffer.allocUnsafe(HEADER + headBuf.length + dataLen);
  headBuf.copy(out, HEADER);
  if (record.kind === "write") record.data.copy(out, HEADER + headBuf.length);
  const body = out.subarray(HEADER);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(crc32(body), 4);
  return out;
}

/** Records of a log segment, in order, and where the intact prefix ends. */
export interface DecodedSegment {
  readonly records: WalRecord[];
  /** Bytes of whole, checksummed records; anything after is a batch a crash cut (never acknowledged). */
  readonly validBytes: number;
}

/**
 * Decodes a segment. Reading stops at the first record that is cut short or fails its
 * checksum: batches are fsynced in order, so every acknowledged record lies before it.
 */
export function decodeSegment(buf: Buffer): DecodedSegment {
  const records: WalRecord[] = [];
  let at = 0;
  while (at + HEADER <= buf.length) {
    const length = buf.readUInt32LE(at);
    const end = at + HEADER + length;
    if (length === 0 || end > buf.length) break;
    const body = buf.subarray(at + HEADER, end);
    if (crc32(body) !== buf.readUInt32LE(at + 4)) break;
    const nl = body.indexOf(0x0a);
    let head: { k?: unknown; t?: unknown; o?: unknown };
    try {
      head = JSON.parse(body.toString("utf8", 0, nl)) as typeof head;
    } catch {
      break;
    }
    if (typeof head.t !== "string") break;
    if (head.k === "w" && typeof head.o === "number")
      records.push({ kind: "write", threadId: head.t, offset: head.o, data: body.subarray(nl + 1) });
    else if (head.k === "r") records.push({ kind: "release", threadId: head.t });
    else if (head.k === "d") records.push({ kind: "delete", threadId: head.t });
    else break;
    at = end;
  }
  return { records, validBytes: at };
}
