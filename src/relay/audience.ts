// How many sockets each topic has, kept from uWS's `subscription` events (no native call per message). Each socket
// holds its topic's Room, so counting a message's deliveries reads one field instead of a Map lookup by string.

/** One topic's subscriber count, shared by every socket of the topic. */
export interface Room {
  subscribers: number;
  /** The topic's name, one string for every socket of the topic (see shared). */
  readonly topic: string;
}

/** What a socket holds until uWS reports its subscription (never in the map, never written). */
export const NO_ROOM: Room = { subscribers: 0, topic: '' };

/** Subscriber counts per topic, as uWS reports them on every subscribe and unsubscribe. */
export class Audience {
  readonly #rooms = new Map<string, Room>();

  /**
   * Adds `delta` subscribers to `topic` (uWS reports each app's count; a hub with several apps adds their changes)
   * and returns its Room with the count before, in one lookup. At 0 the topic is forgotten: the next subscriber gets
   * a fresh Room (the old one's sockets have all left).
   */
  add(topic: string, delta: number): { room: Room; before: number } {
    const found = this.#rooms.get(topic);
    const before = found?.subscribers ?? 0;
    const count = before + delta;
    if (count <= 0) {
      if (found !== undefined) {
        this.#rooms.delete(topic);
        found.subscribers = 0;
      }
      return { room: found ?? NO_ROOM, before };
    }
    if (found !== undefined) {
      found.subscribers = count;
      return { room: found, before };
    }
    const room = { subscribers: count, topic };
    this.#rooms.set(topic, room);
    return { room, before };
  }

  /**
   * The string its Room keeps for `topic` while the topic has subscribers, else `topic` itself: a new socket keeps
   * that one instead of a copy of its own (a request path is a new string for every upgrade).
   */
  shared(topic: string): string {
    return this.#rooms.get(topic)?.topic ?? topic;
  }

  /** Subscribers of `topic` now; 0 for a topic nobody joined. A lookup by string: not for the local message path. */
  size(topic: string): number {
    return this.#rooms.get(topic)?.subscribers ?? 0;
  }

  /** Topics with at least one subscriber. */
  get topics(): number {
    return this.#rooms.size;
  }
}
