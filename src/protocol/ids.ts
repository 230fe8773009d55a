import { randomUUID } from "node:crypto";

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

/**
 * Creates a sortable, unique id: a prefix, a millisecond timestamp in base 36 and random bits.
 * Sortable ids keep directory listings and SQLite indexes in creation order.
 */
export function newId(prefix: string): string {
  const time = Date.now().toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}
