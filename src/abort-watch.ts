/**
 * Cheap, short-lived abort handlers on a long-lived signal. A turn's signal sees a handler
 * come and go with every model call and tool batch; registering each with
 * `addEventListener` costs a listener record and a map entry in the signal every time
 * (measured: removeEventListener was the engine's most expensive function with thousands of
 * sessions). Here the signal gets one real listener, on first use, and the handlers are
 * plain array entries on it.
 */

const WATCHERS = Symbol("taifeng.abortWatchers");

type Watched = AbortSignal & { [WATCHERS]?: Watchers };

class Watchers {
  list: (() => void)[] = [];
  readonly fire = (): void => {
    const list = this.list;
    this.list = [];
    let failure: { err: unknown } | undefined;
    for (const handler of list) {
      try {
        handler();
      } catch (err) {
        failure ??= { err };
      }
    }
    // Like an EventTarget listener's throw: reported, without stopping the other handlers.
    if (failure) {
      const { err } = failure;
      queueMicrotask(() => {
        throw err;
      });
    }
  };
}

/**
 * Calls `handler` once when `signal` aborts, in registration order with the other handlers.
 * Like `addEventListener`, nothing happens for a signal that has already aborted: check
 * `signal.aborted` first.
 */
export function watchAbort(signal: AbortSignal, handler: () => void): void {
  if (signal.aborted) return;
  const watched = signal as Watched;
  let watchers = watched[WATCHERS];
  if (!watchers) {
    watchers = new Watchers();
    watched[WATCHERS] = watchers;
    signal.addEventListener("abort", watchers.fire, { once: true });
  }
  watchers.list.push(handler);
}

/** Removes a handler added with watchAbort (the latest registration of it). */
export function unwatchAbort(signal: AbortSignal, handler: () => void): void {
  const list = (signal as Watched)[WATCHERS]?.list;
  if (!list) return;
  const at = list.lastIndexOf(handler);
  if (at === list.length - 1) list.pop();
  else if (at >= 0) list.splice(at, 1);
}

/**
 * An AbortController to be aborted only through `abortOwned`. Its handlers added with
 * watchAbort are then called directly by abortOwned, so the signal never needs a real
 * listener (adding one costs about 0.2 µs, and the engine makes a controller per turn).
 * Listeners added to the signal by anyone else work as usual.
 */
export function ownedController(): AbortController {
  const controller = new AbortController();
  (controller.signal as Watched)[WATCHERS] = new Watchers();
  return controller;
}

/**
 * Aborts a controller made by `ownedController`: the signal's listeners run (as with
 * `abort()`), then the handlers added with watchAbort, in registration order. No-op when it
 * has already aborted.
 */
export function abortOwned(controller: AbortController, reason?: unknown): void {
  const signal = controller.signal;
  if (signal.aborted) return;
  controller.abort(reason);
  (signal as Watched)[WATCHERS]?.fire();
}
