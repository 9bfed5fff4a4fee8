// Cross-thread fan-out: every uWS thread has a one-way link to every other thread. A message a client sends is
// published in its own thread's app and handed once to each link; each other thread publishes it in its app. One hop,
// FIFO per link: exactly once per subscriber and in per-sender order, bytes untouched.
import type { Backplane, Deliver } from '../contracts.js';
import { bucketOf, type TopicInterest } from './interest.js';
import type { Carrier, LinkEnd, LinkReceiver, LinkSender } from './carrier.js';
import { portCarrier } from './port-carrier.js';
import { ringCarrier } from './ring-carrier.js';

/** The most a link may hold for a thread that does not keep up, before it drops (and counts) messages (bytes). */
export const LINK_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** The least: room for a few large messages, however small the budget. */
const LINK_MIN_PENDING_BYTES = 1024 * 1024;

/**
 * What each link may hold: all links of the process (threads × (threads - 1)) share a quarter of the slow-consumer
 * budget (relay.max_total_backpressure_bytes), within [1 MiB, 64 MiB] each, so threads that fall behind each other
 * cannot hold more than the budget foresees (a fixed 64 MiB per link would be 15 GiB at 16 threads).
 */
export function linkBound(budgetBytes: number, threads: number): number {
  const links = Math.max(1, threads * (threads - 1));
  return Math.min(LINK_MAX_PENDING_BYTES, Math.max(LINK_MIN_PENDING_BYTES, Math.floor(budgetBytes / 4 / links)));
}

/** The carrier the links use (bench/README.md, "Carrier", has the numbers behind the choice). */
export const CARRIER: Carrier = portCarrier as Carrier;

/** The implementation that opens `end`. */
function carrierOf(end: LinkEnd): Carrier {
  return (end.kind === 'port' ? portCarrier : ringCarrier) as Carrier;
}

/** The ends of one thread's links: what it sends on (with the thread each goes to), what it receives from. */
export interface MeshEnds {
  readonly senders: readonly LinkEnd[];
  /** senders[i] goes to thread peers[i]. */
  readonly peers: readonly number[];
  readonly receivers: readonly LinkEnd[];
}

/** One thread's links to the others, as the hub's backplane. */
export class Mesh implements Backplane {
  readonly #senders: LinkSender[];
  readonly #peers: readonly number[];
  readonly #interest: TopicInterest;
  readonly #receiverEnds: readonly LinkEnd[];
  #receivers: LinkReceiver[] = [];

  /** @param maxPendingBytes what each of this thread's outgoing links may hold (linkBound) */
  constructor(ends: MeshEnds, interest: TopicInterest, maxPendingBytes: number) {
    this.#senders = ends.senders.map((end) => carrierOf(end).openSender(end, { maxPendingBytes }));
    this.#peers = ends.peers;
    this.#interest = interest;
    this.#receiverEnds = ends.receivers;
  }

  /** This thread's side of the topic table: the hub reports its topics' first and last subscribers here. */
  get interest(): TopicInterest {
    return this.#interest;
  }

  /** Where messages from the other threads go (this thread's app); once. */
  attach(deliver: Deliver): void {
    this.#receivers = this.#receiverEnds.map((end) => carrierOf(end).openReceiver(end, (topic, message, isBinary) => void deliver(topic, message, isBinary)));
  }

  /** Hands the message to every other thread that has subscribers for its topic. @returns whether any had */
  publish(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): boolean {
    const bucket = bucketOf(topic);
    const senders = this.#senders;
    let sent = false;
    for (let i = 0; i < senders.length; i++) {
      if (!this.#interest.has(this.#peers[i] as number, bucket)) continue;
      (senders[i] as LinkSender).send(topic, message, isBinary);
      sent = true;
    }
    return sent;
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
  mesh.interest.wantsEverything();
  return {
    attach(deliver) {
      mesh.attach((topic, message, isBinary) => {
        remote.publish(topic, message, isBinary);
        return deliver(topic, message, isBinary);
      });
      remote.attach((topic, message, isBinary) => {
        const elsewhere = mesh.publish(topic, message, isBinary);
        return deliver(topic, message, isBinary) || elsewhere;
      });
    },
    publish(topic, message, isBinary) {
      mesh.publish(topic, message, isBinary);
      remote.publish(topic, message, isBinary);
    },
  };
}
