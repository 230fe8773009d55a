/** One Redis subscriber connection shared by every follower of a backend's event channels. */
import { Redis } from "ioredis";

type Listener = (text: string) => void;

/**
 * Subscribes channels on demand over a single connection (a follower costs a SUBSCRIBE, not a
 * connection and its handshake) and unsubscribes a channel when its last listener leaves.
 */
export class SharedSubscriber {
  private readonly redis: Redis;
  private readonly listeners = new Map<string, { set: Set<Listener>; ready: Promise<unknown> }>();

  constructor(url: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
    this.redis.on("error", () => {}); // reconnects by itself; waiters also poll the store
    this.redis.on("message", (channel: string, text: string) => {
      for (const listener of this.listeners.get(channel)?.set ?? []) listener(text);
    });
  }

  /** Listens to `channel`; resolves once subscribed. Returns the function that stops listening. */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    let entry = this.listeners.get(channel);
    if (!entry) {
      const connected = this.redis.status === "wait" ? this.redis.connect() : Promise.resolve();
      entry = { set: new Set(), ready: connected.then(() => this.redis.subscribe(channel)) };
      this.listeners.set(channel, entry);
    }
    entry.set.add(listener);
    const own = entry;
    const stop = () => {
      own.set.delete(listener);
      if (own.set.size === 0 && this.listeners.get(channel) === own) {
        this.listeners.delete(channel);
        this.redis.unsubscribe(channel).catch(() => {});
      }
    };
    try {
      await own.ready;
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  close(): void {
    this.listeners.clear();
    this.redis.disconnect();
  }
}
