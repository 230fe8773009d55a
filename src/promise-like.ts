/**
 * True for a promise or any thenable. The engine's hot paths accept `T | Promise<T>` from
 * host callbacks and only wait when there is something to wait for: an `await` on a plain
 * value still costs a trip through the microtask queue.
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
