// The Redis pub/sub backplane: every instance publishes its clients' messages on one channel and delivers the
// other instances' messages to its local subscribers. Delivery is at-most-once, like Redis pub/sub itself: nothing
// is queued or resent while Redis is away, so a Redis outage costs cross-instance messages, never memory.
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import type { RedisBackplaneConfig } from '../config/cluster.js';
import { redactedUrl } from '../config/redact.js';
import type { Logger } from '../logger.js';
import type { Backplane, Deliver } from '../contracts.js';
import { emptyRecord, ENVELOPE_HEADER_BYTES, EnvelopeWriter, isEnvelope, isFrom, ORIGIN_BYTES, readRecord, sentAt } from './envelope.js';
import { createBackplaneMetrics, type BackplaneCounters, type BackplaneMetrics } from './metrics.js';

export interface RedisBackplaneOptions {
  readonly config: RedisBackplaneConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Called when the backplane comes up (both connections ready, subscriber subscribed) and when it goes or is found down. */
  readonly onConnectedChange?: (connected: boolean) => void;
  /** Wall clock in ms since the Unix epoch with sub-ms precision; compared across processes for the latency histogram. */
  readonly now?: () => number;
  /** ORIGIN_BYTES bytes; random per process by default. Two instances must never share one. */
  readonly instanceId?: Uint8Array;
}

type State = 'connecting' | 'up' | 'down' | 'closed';

/**
 * Wall-clock ms with sub-ms precision, compared across processes. performance.now() alone is anchored at process
 * start and would keep any later wall-clock step (NTP, VM resume) for good, so the anchor is refreshed every 10 s.
 */
function createWallClock(): () => number {
  let anchor = Date.now() - performance.now();
  let anchoredAt = performance.now();
  return () => {
    const now = performance.now();
    if (now - anchoredAt > 10_000) {
      anchor = Date.now() - now;
      anchoredAt = now;
    }
    return anchor + now;
  };
}

/** Two ioredis connections: a publisher (the hot path) and a subscriber. Call connect(), then close() once clients are gone. */
export class RedisBackplane implements Backplane {
  readonly instanceId: Buffer;
  readonly #opts: RedisBackplaneOptions;
  readonly #logger: Logger;
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #channel: Buffer;
  readonly #counters: BackplaneCounters;
  readonly #metrics: BackplaneMetrics;
  readonly #now: () => number;
  readonly #maxPendingBytes: number;
  readonly #writer: EnvelopeWriter;
  readonly #record = emptyRecord();
  #flushScheduled = false;
  #pendingBytes = 0;
  #pubReady = false;
  #subscribed = false;
  #state: State = 'connecting';
  #lastError: string | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #awaitingPong = new Set<Redis>();
  /** When each connection entered its current handshake (ms since the epoch). */
  readonly #handshakeSince = new Map<Redis, number>();
  #closed: Promise<void> | undefined;
  /** Where messages from other instances go; registered by the hub. Until then they are not read at all. */
  #deliver: Deliver | null = null;

  constructor(opts: RedisBackplaneOptions) {
    const { config } = opts;
    this.#opts = opts;
    this.instanceId = Buffer.from(opts.instanceId ?? randomBytes(ORIGIN_BYTES));
    if (this.instanceId.length !== ORIGIN_BYTES) throw new Error(`instanceId must be ${ORIGIN_BYTES} bytes`);
    this.#logger = opts.logger.child({ instance: this.instanceId.toString('hex'), redis: redactedUrl(config.url) });
    this.#channel = Buffer.from(`${config.channel_prefix}:messages`);
    this.#now = opts.now ?? createWallClock();
    this.#maxPendingBytes = config.max_pending_bytes;
    this.#metrics = createBackplaneMetrics(opts.registry, () => this.connected);
    this.#counters = this.#metrics.counters;
    this.#writer = new EnvelopeWriter(this.instanceId);

    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: config.connect_timeout_s * 1000,
      retryStrategy: (attempt) => Math.min(attempt * 100, config.reconnect_max_delay_s * 1000),
      // Never queue while Redis is away (memory would grow with the outage) and never resend a PUBLISH whose reply
      // was lost: Redis may already have delivered it, and a resend would deliver it twice.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // The subscriber resubscribes itself on every `ready`, so "connected" can mean "subscribed".
      autoResubscribe: false,
    };
    const id = this.instanceId.toString('hex');
    this.#pub = new Redis(config.url, { ...options, connectionName: `websocket-relay:${id}:pub` });
    this.#sub = new Redis(config.url, { ...options, connectionName: `websocket-relay:${id}:sub` });

    this.#pub.on('ready', () => {
      this.#pubReady = true;
      this.#update();
    });
    this.#sub.on('ready', () => this.#subscribe());
    this.#sub.on('messageBuffer', this.#receive);
    for (const [client, which] of [
      [this.#pub, 'publisher'],
      [this.#sub, 'subscriber'],
    ] as const) {
      client.on('close', () => {
        if (client === this.#pub) this.#pubReady = false;
        else this.#subscribed = false;
        this.#update();
      });
      // ioredis emits an error per failed reconnect attempt: remember it for the one "down" log line, nothing more.
      client.on('error', (err: Error) => {
        this.#lastError = `${which}: ${err.message}`;
        if (this.#logger.isLevelEnabled('debug')) this.#logger.debug({ err, connection: which }, 'redis connection error');
        this.#update();
      });
    }
  }

  /** True while both connections are up and the subscriber is subscribed. */
  get connected(): boolean {
    return this.#state === 'up';
  }

  attach(deliver: Deliver): void {
    this.#deliver = deliver;
  }

  /** Starts connecting (and reconnecting for as long as it takes); does not wait for Redis. */
  connect(): void {
    if (this.#state === 'closed') return;
    this.#logger.info({ channel: this.#channel.toString() }, 'redis backplane connecting');
    void this.#pub.connect().catch(() => undefined);
    void this.#sub.connect().catch(() => undefined);
    const interval = this.#opts.config.health_check_interval_s;
    if (interval > 0) {
      this.#heartbeat = setInterval(() => this.#checkHealth(), interval * 1000);
      this.#heartbeat.unref();
    }
  }

  /**
   * Hot path, once per client message after the local fan-out. Copies `message` into this turn's envelope, which
   * goes to Redis as one PUBLISH from setImmediate (after uWS has flushed the local fan-out). Drops (and counts)
   * instead of queueing when Redis is away or too far behind.
   */
  publish(topic: string, message: ArrayBuffer | Uint8Array, isBinary: boolean): void {
    const counters = this.#counters;
    if (!this.#pubReady) {
      counters.dropped.disconnected++;
      return;
    }
    const writer = this.#writer;
    if (this.#pendingBytes + writer.bytes >= this.#maxPendingBytes) {
      counters.dropped.backpressure++;
      return;
    }
    // The envelope carries the time of its first record: read the clock once per envelope, not per message.
    if (!writer.add(topic, message, isBinary, writer.count === 0 ? this.#now() : 0)) {
      counters.dropped.error++;
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Sends this turn's envelope. Every PUBLISH is settled exactly once (reply, or rejection on a broken connection). */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const writer = this.#writer;
    const records = writer.count;
    if (records === 0) return;
    const envelope = writer.take();
    const counters = this.#counters;
    if (!this.#pubReady) {
      counters.dropped.disconnected += records;
      return;
    }
    const size = envelope.length;
    this.#pendingBytes += size;
    void this.#pub.publish(this.#channel, envelope, (err) => {
      this.#pendingBytes -= size;
      if (err) counters.dropped.error += records;
      else counters.published += records;
    });
  };

  /** Unsubscribes and closes both connections; bounded by connect_timeout_s. Idempotent, never rejects. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  readonly #receive = (_channel: Buffer, envelope: Buffer): void => {
    const deliver = this.#deliver;
    if (this.#state === 'closed' || deliver === null) return;
    const counters = this.#counters;
    if (!isEnvelope(envelope)) {
      counters.malformedEnvelopes++;
      return;
    }
    if (isFrom(envelope, this.instanceId)) return;
    const record = this.#record;
    let read = 0;
    for (let at = ENVELOPE_HEADER_BYTES; at < envelope.length; read++) {
      at = readRecord(envelope, at, record);
      if (at < 0) {
        // The records before this one were read and handed on; how many followed it cannot be known.
        counters.malformedEnvelopes++;
        break;
      }
      try {
        const topic = envelope.toString('utf8', record.topicStart, record.payloadStart);
        if (deliver(topic, envelope.subarray(record.payloadStart, record.payloadEnd), record.isBinary)) counters.delivered++;
      } catch (err) {
        // A throw here would escape into ioredis's parser and crash the process. One failed record says nothing
        // about the next: count it and go on.
        counters.dropped.error++;
        if (this.#logger.isLevelEnabled('debug')) this.#logger.debug({ err }, 'backplane delivery failed');
      }
    }
    if (read === 0) return;
    counters.received += read;
    // Every record of an envelope carries the envelope's time: one observation per envelope, not per message.
    this.#metrics.observeLatency((this.#now() - sentAt(envelope)) / 1000);
  };

  #subscribe(): void {
    this.#sub.subscribe(this.#channel).then(
      () => {
        this.#subscribed = true;
        this.#update();
      },
      (err: unknown) => {
        // Connection lost mid-subscribe: the next `ready` retries. Anything else (e.g. an ACL refusal) is worth a line.
        if (this.#sub.status === 'ready') this.#logger.error({ err }, 'redis backplane cannot subscribe');
      },
    );
  }

  /** Logs and reports only transitions, so an outage is one warning and one recovery line, not one per message or retry. */
  #update(): void {
    if (this.#state === 'closed') return;
    const up = this.#pubReady && this.#subscribed;
    if (up) {
      if (this.#state === 'up') return;
      const recovered = this.#state === 'down';
      this.#state = 'up';
      this.#lastError = undefined;
      this.#logger.info(recovered ? 'redis backplane reconnected: cross-instance delivery resumed' : 'redis backplane connected');
      this.#opts.onConnectedChange?.(true);
      return;
    }
    // Still connecting and nothing has failed yet: stay quiet.
    if (this.#state === 'down' || (this.#state === 'connecting' && this.#lastError === undefined)) return;
    const wasUp = this.#state === 'up';
    this.#state = 'down';
    this.#logger.warn(
      { error: this.#lastError },
      wasUp
        ? 'redis backplane disconnected: relaying to local clients only, cross-instance messages are dropped until it returns'
        : 'redis backplane unreachable: relaying to local clients only until it can connect',
    );
    this.#opts.onConnectedChange?.(false);
  }

  /**
   * A connection whose previous PING is still unanswered is dropped and reconnected (half-open TCP, frozen Redis).
   * So is one stuck in its handshake for longer than connect_timeout_s: ioredis's connectTimeout covers only the
   * TCP connect, not the INFO/AUTH that follow, which a frozen Redis never answers.
   */
  #checkHealth(): void {
    const now = Date.now();
    for (const client of [this.#pub, this.#sub]) {
      if (client.status === 'connect' || client.status === 'connecting') {
        const since = this.#handshakeSince.get(client);
        if (since === undefined) this.#handshakeSince.set(client, now);
        else if (now - since > this.#opts.config.connect_timeout_s * 1000) {
          this.#handshakeSince.delete(client);
          this.#lastError = 'redis did not complete the connection handshake';
          this.#update();
          client.disconnect(true);
        }
        continue;
      }
      this.#handshakeSince.delete(client);
      if (client.status !== 'ready') continue;
      const awaiting = this.#awaitingPong;
      if (awaiting.has(client)) {
        awaiting.delete(client);
        this.#lastError = 'redis did not answer PING';
        client.disconnect(true);
        continue;
      }
      awaiting.add(client);
      const answered = (): void => {
        awaiting.delete(client);
      };
      client.ping().then(answered, answered);
    }
  }

  async #close(): Promise<void> {
    this.#flush();
    // Anything published from here on (there should be nothing: clients are closed first) counts as dropped.
    this.#pubReady = false;
    this.#state = 'closed';
    clearInterval(this.#heartbeat);
    const timeoutMs = this.#opts.config.connect_timeout_s * 1000;
    const polite = async (client: Redis, unsubscribe: boolean): Promise<void> => {
      if (client.status !== 'ready') return;
      try {
        if (unsubscribe) await client.unsubscribe(this.#channel);
        await client.quit();
      } catch {
        // disconnect() below ends it either way
      }
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([polite(this.#sub, true), polite(this.#pub, false)]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.#sub.disconnect();
    this.#pub.disconnect();
    this.#logger.info('redis backplane closed');
  }
}
