// Cross-thread fan-out: every uWS thread has a one-way link to every other thread. A message a client sends is
// published in its own thread's app and handed once to each link; each other thread publishes it in its app. One hop,
// FIFO per link: exactly once per subscriber and in per-sender order, bytes untouched.
import type { Backplane, Deliver } from '../contracts.js';
import { openReceiver, openSender, type LinkEnd, type LinkReceiver, type LinkSender } from './port-carrier.js';

/** Bytes a link may hold for a thread that does not keep up before it drops (and counts) messages. */
export const LINK_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/** The ends of one thread's links: what it sends on, what it receives from. */
export interface MeshEnds {
  readonly senders: readonly LinkEnd[];
  readonly receivers: readonly LinkEnd[];
}

/** One thread's links to the others, as the hub's backplane. */
export class Mesh implements Backplane {
  readonly #senders: LinkSender[];
  readonly #receiverEnds: readonly LinkEnd[];
  #receivers: LinkReceiver[] = [];

  constructor(ends: MeshEnds) {
    this.#senders = ends.senders.map((end) => openSender(end, { maxPendingBytes: LINK_MAX_PENDING_BYTES }));
    this.#receiverEnds = ends.receivers;
  }

  /** Where messages from the other threads go (this thread's app); once. */
  attach(deliver: Deliver): void {
    this.#receivers = this.#receiverEnds.map((end) => openReceiver(end, (topic, message, isBinary) => void deliver(topic, message, isBinary)));
  }

  publish(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): void {
    for (const sender of this.#senders) sender.send(topic, message, isBinary);
  }

  /** Messages dropped because a thread did not keep up with its links. */
  get dropped(): number {
    let n = 0;
    for (const sender of this.#senders) n += sender.dropped;
    return n;
  }

  close(): void {
    for (const sender of this.#senders) sender.close();
    for (const receiver of this.#receivers) receiver.close();
  }
}

/**
 * The main thread's backplane when it also has another instance's backplane (Redis): its own clients' messages go to
 * the other threads and to Redis; the workers' messages go to Redis too; Redis's messages go to every thread. One
 * Redis publisher and subscriber per process, whatever the thread count.
 */
export function bridge(mesh: Mesh, remote: Backplane): Backplane {
  return {
    attach(deliver) {
      mesh.attach((topic, message, isBinary) => {
        remote.publish(topic, message, isBinary);
        return deliver(topic, message, isBinary);
      });
      remote.attach((topic, message, isBinary) => {
        mesh.publish(topic, message, isBinary);
        return deliver(topic, message, isBinary);
      });
    },
    publish(topic, message, isBinary) {
      mesh.publish(topic, message, isBinary);
      remote.publish(topic, message, isBinary);
    },
  };
}
