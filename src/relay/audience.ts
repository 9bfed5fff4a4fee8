// How many sockets each topic has, kept from uWS's `subscription` events (no native call per message), so the hub
// can count deliveries (subscribers reached) with one Map read per message.

/** Subscriber counts per topic, as uWS reports them on every subscribe and unsubscribe. */
export class Audience {
  readonly #counts = new Map<string, number>();

  /** Records `count` subscribers for `topic` (from the subscription handler's newCount); 0 forgets the topic. */
  update(topic: string, count: number): void {
    if (count > 0) this.#counts.set(topic, count);
    else this.#counts.delete(topic);
  }

  /** Subscribers of `topic` now; 0 for a topic nobody joined. */
  size(topic: string): number {
    return this.#counts.get(topic) ?? 0;
  }
}
