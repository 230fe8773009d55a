import { randomBytes } from "node:crypto";

/**
 * Identifiers used across the protocol. They are plain strings on the wire and on disk;
 * the aliases document which id a field holds. See docs/decisions/0002-plain-string-ids.md.
 */

/** The persistence and resume unit: one transcript per thread. */
export type ThreadId = string;
/** One turn inside a thread (user input through turn completion). */
export type TurnId = string;
/** The id the engine returns from `submit`; every event carries the id of the submission that caused it. */
export type SubmissionId = string;
/** A tool call id as emitted by the model (or synthesized when a provider omits it). */
export type CallId = string;
/** An in-process routing key used by EnginePool; never persisted. */
export type SessionId = string;

// Per-process random salt plus a counter: ids are unique across processes (48 random bits per
// process) and strictly increasing within one, without a system call per id.
const SALT = randomBytes(6).toString("hex");
let counter = 0;
let lastMs = -1;
/** The time part and salt of the last millisecond an id was made in. */
let stamp = "";

/**
 * Creates a sortable, unique id: a prefix, a millisecond timestamp in base 36, a per-process
 * random salt and a counter. Sortable ids keep directory listings and indexes in creation order.
 * `now` (milliseconds since the epoch) saves a clock read when the caller has just made one.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  counter = (counter + 1) % 0x1000000;
  if (now !== lastMs) {
    lastMs = now;
    stamp = `${now.toString(36).padStart(9, "0")}${SALT}`;
  }
  const n = counter.toString(36);
  return `${prefix}_${stamp}${n.length >= 5 ? n : "0000".slice(n.length - 1) + n}`;
}
