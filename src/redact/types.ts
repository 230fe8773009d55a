/**
 * The redaction contract shared by everything that writes data a person or a model may read:
 * tool outputs before the model sees them, events, transcripts, the audit log and telemetry
 * sinks. The implementation lives beside this file; consumers depend only on this interface.
 */

/**
 * Masks secrets in text and JSON-like values.
 *
 * Contract: `redact` returns the very same string when nothing matched (callers may compare by
 * identity to skip copies); `redactValue` returns the same object when nothing inside matched
 * and otherwise a copy in which every string was passed through `redact`. Both are
 * synchronous, never throw, and are safe to call from a hot path.
 */
export interface Redactor {
  /** Masks every known secret in `text`. */
  redact(text: string): string;
  /** Redacts every string inside a JSON-like value (objects, arrays, primitives). */
  redactValue<T>(value: T): T;
}
