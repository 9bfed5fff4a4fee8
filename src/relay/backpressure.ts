// Bounded memory across slow consumers. A sweep every SWEEP_INTERVAL_MS reads every socket's queue (one native
// call each) and ends clients past the soft limit or stalled with 4008 "slow consumer", and drops the largest
// queues when the total passes the budget. A check every few KiB a client publishes sheds that publisher's excess
// while a reader of its room is behind but still reading: the source pays for a flood, not its readers.
//
// Read receipts: the kernel takes megabytes for a client that has stopped reading before uWS queues a byte (its
// send buffer grows to tcp_wmem's maximum), and writing into a thousand such sockets costs the relay's CPU in the
// kernel and, past tcp_mem, slows every socket of the machine. So a socket that was sent another
// PING_EVERY_FRACTION of the soft limit since its last ping, and has answered that one, gets a ping queued behind
// that data, carrying how many bytes its room had been sent by then: the pong, which echoes it, proves the client
// read up to there (uWS's own keep-alive pings carry nothing). A client that leaves a ping unanswered for
// relay.read_timeout_s while the soft limit's worth of bytes were sent past the last one it answered is ended as
// over the soft limit, wherever those bytes wait (uWS or the kernel).
//
// uWS facts this relies on (WebSocket.h, 20.30 and 20.57 alike): send() drops a frame once the queue is over
// maxBackpressure, the close frame of end() included, so the close frame needs a soft limit below the hard one;
// end() unsubscribes at once (nothing more is copied in) but the socket keeps its queue until the client reads it
// or uWS's close timeout fires; `drain` fires only when a queue shrank, never for a fully stalled socket; close()
// frees the queue at once, without a close frame.
import { randomFillSync } from 'node:crypto';
import type { Config, RelayConfig } from '../config/schema.js';
import type { ReloadStep } from '../contracts.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SocketData } from './hub.js';
import { CloseCode, type DisconnectReason } from './protocol.js';
import type { WebSocket } from './uws.js';

/** Period of the sweep over every socket (ms). Measured cost: see the README (Slow consumers). */
export const SWEEP_INTERVAL_MS = 100;

/** How long a room keeps shedding its heavy publishers once found pressed before it is measured again (ms). */
const SHED_HOLD_MS = 20;

/**
 * A socket that never drained counts as stalled once its queue has been non-empty this long (ms). A reader that
 * reads as fast as it can drains soon after falling behind; a stalled one never does. Before that, the two look
 * the same (a flood fills a reader's queue in a few ms).
 */
const FIRST_DRAIN_MS = 250;

/** A socket that has drained before counts as stalled once it has not drained for this long (ms): a busy reader's process may pause. */
const NEXT_DRAIN_MS = 1000;

/** A socket gets a ping once it was sent this fraction of the soft limit since its last ping (and answered it). */
const PING_EVERY_FRACTION = 1 / 4;

/** Why the guard cut a socket; label of relay_slow_consumer_cuts_total. */
export const CUT_TRIGGERS = ['soft_limit', 'stall', 'budget'] as const;
export type CutTrigger = (typeof CUT_TRIGGERS)[number];

/** `drainedAt` of a socket whose queue never shrank: further back than any limit reaches (ms; a Smi). */
export const NEVER_DRAINED = -(2 ** 30);

/**
 * The guard's state of one socket, on SocketData.flow; updated without allocation. Every number in it stays a small
 * integer (a V8 Smi: 32 bits on Node's 64-bit builds, 20 and 24 alike), because a field that has once held a fraction,
 * -Infinity or 2 ** 31 in any socket is stored as a heap number of its own (16 bytes) in every socket from then on. So
 * clock readings are whole milliseconds on the guard's clock, which the sweep moves back every CLOCK_REBASE_MS; byte
 * positions count from their room's `base`, which its scan moves up every BYTES_REBASE; the secret is a signed 32-bit
 * value; a publisher counts down to its next check instead of counting its bytes up.
 */
export class FlowState {
  /** Payload bytes this socket may still publish before its room is checked for pressure (0 or less: at its next message). */
  untilCheck = 0;
  /** Guard clock (ms) of the last `drain`, i.e. the last time this socket's queue shrank; NEVER_DRAINED before. */
  drainedAt = NEVER_DRAINED;
  /** Guard clock (ms) since which the queue has been non-empty without interruption; -1 while empty. */
  busySince = -1;
  /** The room's byte position (Traffic.bytes) when the relay last pinged this socket. */
  pingBytes = 0;
  /** The room's byte position at the last ping the client answered: it has read everything sent before. */
  readTo = 0;
  /** Guard clock (ms) the unanswered ping was sent; -1 when none is outstanding. */
  owingSince = -1;
  /** The outstanding ping's own part of its read receipt (random, drawn for every ping). */
  secret = 0;
  /** The room's byte counter, set when the socket joins. */
  traffic: Traffic = NO_TRAFFIC;
}

/** Payload bytes sent to a room since it opened: every socket of the room was sent each of them. */
export interface Traffic {
  /** Bytes sent since `base` (kept under BYTES_REBASE plus a sweep's worth, so that positions stay Smis). */
  bytes: number;
  /** Bytes sent before `bytes` started counting: the room's total is base + bytes. */
  base: number;
}

const NO_TRAFFIC: Traffic = { bytes: 0, base: 0 };

/** The guard's clock goes back by CLOCK_SHIFT_MS once it reaches this (ms: 12.4 days), far inside a Smi. */
const CLOCK_REBASE_MS = 2 ** 30;
const CLOCK_SHIFT_MS = 2 ** 29;

/** A room's byte positions are moved down once its count reaches this (bytes). */
const BYTES_REBASE = 2 ** 30;
/** The furthest back a socket's byte position goes (the smallest Smi). */
const FAR_BEHIND = -(2 ** 31);

/**
 * A read receipt's payload (uWS copies it into the frame): the room's byte total when the ping was sent, then a secret
 * drawn for that ping, so that no client can answer for another (the total is the same for a whole room), nor answer
 * a ping it has not read with a secret it read in an earlier one.
 */
const PING_PAYLOAD = new Uint8Array(12);
const PING_VIEW = new DataView(PING_PAYLOAD.buffer);

/** Random secrets for read receipts, drawn from the system's generator a thousand at a time (signed: Smis). */
const secrets = new Int32Array(1024);
let secretsLeft = 0;
function nextSecret(): number {
  if (secretsLeft === 0) {
    randomFillSync(secrets);
    secretsLeft = secrets.length;
  }
  return secrets[--secretsLeft]!;
}

/** What the guard needs from the hub: it decides, the hub acts. */
export interface SocketCutter {
  /** Ends the socket with a close frame queued behind its data (the queue stays until read or uWS times it out). */
  endSocket(ws: WebSocket<SocketData>, reason: DisconnectReason, code: number, text: string): void;
  /** Closes the TCP connection now, without a close frame: its queue is freed at once. */
  dropSocket(ws: WebSocket<SocketData>, reason: DisconnectReason): void;
}

/** Events the guard reports to metrics; the registry reads `state` at scrape time. */
export interface BackpressureObserver {
  cut(trigger: CutTrigger): void;
}

export interface BackpressureOptions extends ResolvedLimits {
  readonly cutter: () => SocketCutter;
  readonly observer: BackpressureObserver;
  readonly logger: Logger;
  /** Monotonic clock (ms). */
  readonly now: () => number;
}

interface Room extends Traffic {
  /** Every socket of the room with its state (no getUserData call while scanning). */
  readonly sockets: Map<WebSocket<SocketData>, FlowState>;
  /** Until this time (guard clock, ms) publishers of this room that reach a check have their messages dropped. */
  shedUntil: number;
  /** Bytes queued over the room's sockets at its last scan. */
  queued: number;
  /** Bytes that reached the room from elsewhere (other threads, other instances), and when to look again. */
  inboundBytes: number;
  inboundCheckAt: number;
}

interface Queued {
  readonly ws: WebSocket<SocketData>;
  readonly room: Room;
  readonly bytes: number;
  /** No drain for NEXT_DRAIN_MS, and non-empty for FIRST_DRAIN_MS: not a reader that is merely behind. */
  readonly stalled: boolean;
  /** Never drained (lately), non-empty for less than FIRST_DRAIN_MS: reader or stalled, not known yet. */
  readonly unproven: boolean;
  /** No progress for relay.max_stall_s. */
  readonly overdue: boolean;
  /** A ping unanswered for relay.read_timeout_s, with the soft limit's worth of bytes sent past the last one answered. */
  readonly unread: boolean;
  trigger: CutTrigger | null;
}

/** Point-in-time readings for the metrics registry. */
export interface BackpressureState {
  /** Bytes queued over open sockets at their rooms' last scans. */
  queuedBytes: number;
  /** Bytes still held by sockets ended with a close frame that may not have closed yet (estimate). */
  lingeringBytes: number;
  /** Messages dropped at their publisher because most of its room could not keep up. */
  shedMessages: number;
  /** Messages from another thread or instance not published here because this hub's part of their room was pressed. */
  shedInbound: number;
  /** Sockets cut by the guard since start, by trigger. */
  readonly cuts: Record<CutTrigger, number>;
}

/**
 * The slow-consumer guard: one per hub. A room is scanned by the sweep and whenever one of its publishers has sent
 * another checkpoint's worth of bytes (an eighth of the soft limit), so a queue cannot outgrow the soft limit
 * between two looks however fast it fills. `start()` begins sweeping; `close()` stops it (idempotent).
 */
export class BackpressureGuard {
  #o: BackpressureOptions;
  readonly #rooms = new Map<string, Room>();
  /** Publisher bytes between two scans of its room. */
  #checkpointBytes = 0;
  /** A queue at least this long, of a socket not known to be stalled, presses its room. */
  #pressureBytes = 0;
  /** Bytes sent to a socket between two pings. */
  #pingEveryBytes = 0;
  readonly #linger = new Ledger();
  #timer: NodeJS.Timeout | null = null;
  /** The options' clock reading (whole ms) at which the guard's clock reads 0; moved up by #rebaseClock. */
  #epoch: number;
  /** Between start() and close(): the sweep runs while this thread has sockets (or cut ones may still hold bytes). */
  #started = false;
  #lastLogAt = -Infinity;
  #unlogged = { soft_limit: 0, stall: 0, budget: 0 };
  readonly state: BackpressureState = { queuedBytes: 0, lingeringBytes: 0, shedMessages: 0, shedInbound: 0, cuts: { soft_limit: 0, stall: 0, budget: 0 } };

  constructor(opts: BackpressureOptions) {
    this.#o = opts;
    this.#epoch = Math.floor(opts.now());
    this.#derive();
  }

  /** The guard's clock: whole ms since #epoch (a Smi: see FlowFields). */
  #now(): number {
    return Math.floor(this.#o.now()) - this.#epoch;
  }

  get budgetBytes(): number {
    return this.#o.budgetBytes;
  }

  /** The limits in force. */
  get limits(): ResolvedLimits {
    const { maxBytes, softBytes, maxStallMs, readTimeoutMs, budgetBytes, lingerMs } = this.#o;
    return { maxBytes, softBytes, maxStallMs, readTimeoutMs, budgetBytes, lingerMs };
  }

  /**
   * Applies reloaded limits to every socket from the next look on: the soft limit, the stall time, the read timeout
   * and the budget. The hard limit (uWS's) and the close timeout are fixed when the app is built and stay.
   */
  setLimits(limits: ResolvedLimits): void {
    const { softBytes, maxStallMs, readTimeoutMs, budgetBytes } = limits;
    this.#o = { ...this.#o, softBytes, maxStallMs, readTimeoutMs, budgetBytes };
    this.#derive();
  }

  #derive(): void {
    const soft = this.#o.softBytes;
    this.#pressureBytes = soft;
    this.#checkpointBytes = Math.max(1, Math.floor(soft / 8));
    this.#pingEveryBytes = Math.max(1, Math.floor(soft * PING_EVERY_FRACTION));
  }

  /** Sweeps from the first socket on; a sweep that finds no socket and no lingering bytes stops until the next one. */
  start(): void {
    this.#started = true;
    if (this.#rooms.size > 0) this.#sweepOn();
  }

  /** Whether the sweep's timer is armed (for tests). */
  get sweeping(): boolean {
    return this.#timer !== null;
  }

  #sweepOn(): void {
    if (this.#timer !== null || !this.#started) return;
    // The clock may have reached its rebase while no sweep ran (a thread without sockets for 12 days).
    while (this.#now() >= CLOCK_REBASE_MS) this.#rebaseClock();
    this.#timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  close(): void {
    this.#started = false;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  opened(ws: WebSocket<SocketData>, data: SocketData): void {
    if (this.#timer === null) this.#sweepOn();
    let room = this.#rooms.get(data.topic);
    if (room === undefined) {
      room = { sockets: new Map(), shedUntil: 0, queued: 0, bytes: 0, base: 0, inboundBytes: 0, inboundCheckAt: 0 };
      this.#rooms.set(data.topic, room);
    }
    const flow = data.flow;
    room.sockets.set(ws, flow);
    // A publisher's room is first looked at after a checkpoint's worth of bytes, like every later look: at 0, every
    // publisher's first message scanned its whole room (in a chat of 1,000 where each speaks once, every message).
    flow.untilCheck = this.#checkpointBytes;
    flow.traffic = room;
    flow.pingBytes = flow.readTo = room.bytes;
  }

  closed(ws: WebSocket<SocketData>, data: SocketData): void {
    const room = this.#rooms.get(data.topic);
    if (room === undefined) return;
    room.sockets.delete(ws);
    if (room.sockets.size === 0) {
      this.state.queuedBytes -= room.queued;
      this.#rooms.delete(data.topic);
    }
  }

  /** uWS `drain`: the socket's queue shrank. */
  drained(data: SocketData): void {
    data.flow.drainedAt = this.#now();
  }

  /** uWS `pong`: the client read everything its room was sent before the ping it answers (the ping's payload). */
  ponged(data: SocketData, message: ArrayBuffer): void {
    if (message.byteLength !== PING_PAYLOAD.byteLength) return; // uWS's own keep-alive ping has none
    const flow = data.flow;
    if (flow.owingSince < 0) return;
    const view = new DataView(message);
    // The total and the secret of the ping outstanding, as the scan wrote them (little-endian).
    if (view.getFloat64(0, true) !== flow.traffic.base + flow.pingBytes || view.getInt32(8, true) !== flow.secret) return;
    flow.readTo = flow.pingBytes;
    flow.owingSince = -1;
  }

  /**
   * Per message, before it is published: false drops it (shed at the source). Costs one add and one compare
   * until the sender has published another checkpoint's worth of bytes.
   */
  allow(data: SocketData, bytes: number): boolean {
    const flow = data.flow;
    if ((flow.untilCheck -= bytes) > 0 || this.#checkpoint(data, flow)) {
      flow.traffic.bytes += bytes;
      return true;
    }
    return false;
  }

  /**
   * Per message that reached this hub from elsewhere (another thread of the relay, another instance), before it is
   * published here: false drops it. Its publisher is out of reach, so its excess is shed where it arrives, by the same
   * rule, while this hub's part of the room is pressed. A lookup by topic and two adds per message; what is let through
   * counts toward the bytes the room's sockets were sent, as `allow` does for local publishers.
   */
  allowInbound(topic: string, bytes: number): boolean {
    const room = this.#rooms.get(topic);
    if (room === undefined) return true;
    if ((room.inboundBytes += bytes) >= room.inboundCheckAt) {
      if (this.#pressed(room)) {
        room.inboundCheckAt = room.inboundBytes;
        this.state.shedInbound++;
        return false;
      }
      room.inboundCheckAt = room.inboundBytes + this.#checkpointBytes;
    }
    room.bytes += bytes;
    return true;
  }

  /** Scans `room` unless it is already known to be pressed; whether its publishers must be shed now. */
  #pressed(room: Room): boolean {
    const now = this.#now();
    if (now >= room.shedUntil) {
      const queued: Queued[] = [];
      if (this.#scan(room, now, queued)) room.shedUntil = now + SHED_HOLD_MS;
      this.#act(queued, now);
    }
    return now < room.shedUntil;
  }

  #checkpoint(data: SocketData, flow: FlowState): boolean {
    const room = this.#rooms.get(data.topic);
    if (room === undefined) return true;
    if (this.#pressed(room)) {
      // Check again at this sender's next message: it stays shed only while its room is pressed.
      flow.untilCheck = 0;
      this.state.shedMessages++;
      return false;
    }
    flow.untilCheck = this.#checkpointBytes;
    return true;
  }

  /** One pass over every room: soft limit, stall, then the total budget. */
  sweep(): void {
    while (this.#now() >= CLOCK_REBASE_MS) this.#rebaseClock();
    const now = this.#now();
    const queued: Queued[] = [];
    for (const room of this.#rooms.values()) this.#scan(room, now, queued);
    this.#act(queued, now);
    if (this.#rooms.size === 0 && this.#linger.bytes === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * Moves the guard's clock back by CLOCK_SHIFT_MS (once 12.4 days of uptime have passed, then every 6.2 days), and
   * every time kept on it: a socket's time older than the shift becomes 0, which is still further back than any limit
   * reaches. The sentinels (negative) stay.
   */
  #rebaseClock(): void {
    this.#epoch += CLOCK_SHIFT_MS;
    const back = (t: number): number => (t < 0 ? t : Math.max(0, t - CLOCK_SHIFT_MS));
    for (const room of this.#rooms.values()) {
      room.shedUntil -= CLOCK_SHIFT_MS;
      for (const flow of room.sockets.values()) {
        flow.drainedAt = back(flow.drainedAt);
        flow.busySince = back(flow.busySince);
        flow.owingSince = back(flow.owingSince);
      }
    }
    this.#linger.shift(CLOCK_SHIFT_MS);
    this.#lastLogAt -= CLOCK_SHIFT_MS;
  }

  /**
   * Reads every queue of `room` (one native call per socket), records the non-empty ones in `out` with the cut
   * they deserve, and returns whether the room is pressed: its publishers send faster than its readers read.
   * Stalled queues do not count: those are slow consumers, cut here, and must not cost the others their messages.
   */
  #scan(room: Room, now: number, out: Queued[]): boolean {
    const o = this.#o;
    const from = out.length;
    let total = 0;
    /** Readers (drained lately) past the pressure threshold, and sockets not known to read or not. */
    let pressedReaders = 0;
    let pressedUnproven = 0;
    const readTimeoutMs = o.readTimeoutMs;
    if (room.bytes >= BYTES_REBASE) rebaseBytes(room);
    for (const [ws, flow] of room.sockets) {
      const bytes = ws.getBufferedAmount();
      let unanswered = false;
      if (readTimeoutMs > 0) {
        if (flow.owingSince < 0 && room.bytes - flow.pingBytes >= this.#pingEveryBytes) {
          flow.pingBytes = room.bytes;
          // A new secret every ping: one a client has read answers for that ping only.
          flow.secret = nextSecret();
          PING_VIEW.setFloat64(0, room.base + room.bytes, true);
          PING_VIEW.setInt32(8, flow.secret, true);
          flow.owingSince = now;
          ws.ping(PING_PAYLOAD);
        }
        unanswered = flow.owingSince >= 0 && now - flow.owingSince >= readTimeoutMs;
      }
      const unread = unanswered && room.bytes - flow.readTo >= o.softBytes;
      if (bytes === 0 && !unread) {
        flow.busySince = -1;
        continue;
      }
      total += bytes;
      if (bytes > 0 && flow.busySince < 0) flow.busySince = now;
      const reading = !unanswered && now - flow.drainedAt < NEXT_DRAIN_MS;
      const unproven = !reading && !unanswered && now - flow.busySince < FIRST_DRAIN_MS;
      const stalled = !reading && !unproven;
      const idle = now - Math.max(flow.busySince, flow.drainedAt);
      if (reading && bytes >= this.#pressureBytes) pressedReaders++;
      else if (unproven && bytes >= this.#pressureBytes) pressedUnproven++;
      out.push({ ws, room, bytes, stalled, unproven, unread, overdue: o.maxStallMs > 0 && bytes > 0 && idle >= o.maxStallMs, trigger: null });
    }
    // A flood fills a reader's queue in a millisecond, before it could drain: until a socket has shown that it
    // reads (drained) or not (FIRST_DRAIN_MS without), its long queue presses the room like a reader's. So a fresh
    // stalled client filled faster than softBytes per FIRST_DRAIN_MS sheds its room's publishers for that long.
    const isPressed = pressedReaders + pressedUnproven > 0;
    // While a room's publishers are shed, its readers are behind because of them and catching up: only the
    // hard limit applies to those not stalled.
    const shedding = isPressed || now < room.shedUntil + SWEEP_INTERVAL_MS;
    for (let i = from; i < out.length; i++) {
      const q = out[i]!;
      if ((q.bytes >= o.softBytes && !(shedding && !q.stalled)) || q.unread) q.trigger = 'soft_limit';
      else if (q.overdue) q.trigger = 'stall';
    }
    this.state.queuedBytes += total - room.queued;
    room.queued = total;
    return isPressed;
  }

  /** Cuts what `#scan` marked and, while the total is over the budget, the largest of `queued` (no close frame). */
  #act(queued: Queued[], now: number): void {
    const o = this.#o;
    this.#linger.expire(now);
    let held = this.state.queuedBytes + this.#linger.bytes;
    if (held > o.budgetBytes) {
      // Healthy readers hold little, so they are the last to go.
      queued.sort((a, b) => b.bytes - a.bytes);
      for (const q of queued) {
        if (held <= o.budgetBytes) break;
        q.trigger = 'budget';
        held -= q.bytes;
      }
    }
    const cutter = o.cutter();
    for (const q of queued) {
      if (q.trigger === null) continue;
      this.#count(q.trigger);
      q.room.queued -= q.bytes;
      this.state.queuedBytes -= q.bytes;
      if (q.trigger === 'budget') {
        cutter.dropSocket(q.ws, 'slow_consumer');
      } else {
        // Its queue stays with uWS until read or timed out: it leaves the rooms' totals for the ledger.
        cutter.endSocket(q.ws, 'slow_consumer', CloseCode.slowConsumer, 'slow consumer');
        this.#linger.add(q.bytes, now + o.lingerMs);
      }
    }
    this.state.lingeringBytes = this.#linger.bytes;
    this.#log(now, held);
  }

  #count(trigger: CutTrigger): void {
    this.state.cuts[trigger]++;
    this.#o.observer.cut(trigger);
    this.#unlogged[trigger]++;
  }

  /** At most one line per 10 s, with the cuts since the last line. */
  #log(now: number, held: number): void {
    const u = this.#unlogged;
    if (u.soft_limit + u.stall + u.budget === 0 || now - this.#lastLogAt < 10_000) return;
    this.#o.logger.warn({ cuts: { ...u }, queued_bytes: held, budget_bytes: this.#o.budgetBytes }, 'slow consumers disconnected');
    this.#unlogged = { soft_limit: 0, stall: 0, budget: 0 };
    this.#lastLogAt = now;
  }
}

/**
 * Moves a room's byte positions down by its count so far; its total (base + bytes), which read receipts carry, does
 * not change. A position more than FAR_BEHIND back stops there: it is past any soft limit (1 GiB at most) either way,
 * and a ping sent that far back is one no client still connected can answer in time (it would have read twice
 * max_backpressure_bytes past it without answering): its answer no longer counts.
 */
function rebaseBytes(room: Room): void {
  const shift = room.bytes;
  room.base += shift;
  room.bytes = 0;
  for (const flow of room.sockets.values()) {
    flow.readTo = Math.max(flow.readTo - shift, FAR_BEHIND);
    flow.pingBytes = Math.max(flow.pingBytes - shift, FAR_BEHIND);
  }
}

/**
 * Bytes held by sockets ended with a close frame: uWS keeps each queue until the client reads it or the close
 * timeout fires, and the relay can no longer see the socket. Entries expire in the order they were added.
 */
class Ledger {
  #bytes: number[] = [];
  #until: number[] = [];
  #head = 0;
  bytes = 0;

  add(bytes: number, until: number): void {
    this.#bytes.push(bytes);
    this.#until.push(until);
    this.bytes += bytes;
  }

  expire(now: number): void {
    while (this.#head < this.#until.length && (this.#until[this.#head] ?? 0) <= now) {
      this.bytes -= this.#bytes[this.#head] ?? 0;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#until.length) {
      this.#bytes = this.#bytes.slice(this.#head);
      this.#until = this.#until.slice(this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#until.length) this.bytes = 0;
  }

  /** Moves every expiry back by `ms` (the guard's clock moved back). */
  shift(ms: number): void {
    for (let i = this.#head; i < this.#until.length; i++) this.#until[i] = (this.#until[i] ?? 0) - ms;
  }
}

/**
 * How long uWS keeps an ended socket that does not read its close frame: its close timeout is the ping margin of
 * the idle timeout (4, 8 or 16 s), checked every 4 s.
 */
export function lingerMs(idleTimeoutS: number): number {
  let margin = 4;
  while (idleTimeoutS - margin * 2 >= margin * 2 && margin < 16) margin *= 2;
  return (margin + 4) * 1000;
}

/**
 * The reload's check of the slow-consumer limits (each thread's guard applies them with the relay keys): a soft
 * limit must stay under the hard limit in force, which needs a restart to change.
 * @param inForce the limits of a running guard
 */
export function backpressureReloadCheck(inForce: () => ResolvedLimits): ReloadStep {
  return {
    name: 'backpressure',
    prepare: (next: Config) => {
      const maxBytes = inForce().maxBytes;
      const soft = next.relay.soft_backpressure_bytes ?? Math.floor(next.relay.max_backpressure_bytes / 2);
      if (soft >= maxBytes) throw new ConfigError([`relay.soft_backpressure_bytes: must be less than max_backpressure_bytes in force (${maxBytes} until a restart)`]);
      return null;
    },
  };
}

/** The guard's limits resolved from `relay:` (nulls and zeros replaced by their derived defaults). */
export interface ResolvedLimits {
  /** Hard per-socket limit uWS enforces (relay.max_backpressure_bytes). */
  readonly maxBytes: number;
  /** Queue at which a socket is ended with 4008 (bytes). */
  readonly softBytes: number;
  /** relay.max_stall_s in ms; 0 = off. */
  readonly maxStallMs: number;
  /** relay.read_timeout_s in ms; 0 = no read receipts. */
  readonly readTimeoutMs: number;
  /** Total bytes queued over every socket. */
  readonly budgetBytes: number;
  /** How long a socket ended with a close frame may keep its queue before uWS closes it (ms). */
  readonly lingerMs: number;
}

/**
 * Resolves relay.soft_backpressure_bytes (null = half of max_backpressure_bytes) and
 * relay.max_total_backpressure_bytes (0 = `defaultBudget()`, read only then).
 */
export function resolveLimits(relay: RelayConfig, defaultBudget: () => number): ResolvedLimits {
  return {
    maxBytes: relay.max_backpressure_bytes,
    softBytes: relay.soft_backpressure_bytes ?? Math.floor(relay.max_backpressure_bytes / 2),
    maxStallMs: relay.max_stall_s * 1000,
    readTimeoutMs: relay.read_timeout_s * 1000,
    budgetBytes: relay.max_total_backpressure_bytes > 0 ? relay.max_total_backpressure_bytes : defaultBudget(),
    lingerMs: lingerMs(relay.idle_timeout_s),
  };
}
