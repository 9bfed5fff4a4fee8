// The per-message work of crossing to another uWS thread, measured on one thread without sockets: what the sending
// thread does to hand a message to a link (Mesh.publish: the topic table, the record copied into this turn's envelope)
// and what the receiving thread does per record (read it, name its topic, then the hub's two lookups by topic).
// CPU time per message, median of rounds; 64 B payloads over 500 topics, as in workers-rooms-500x10-max. The thread
// posting and receiving the envelopes here is the same one, so the send figure includes the port's per-turn work on
// both sides.
//
//   npx tsx bench/link-path.ts [--rounds N]
import { loadavg } from 'node:os';
import { emptyRecord, ENVELOPE_HEADER_BYTES, EnvelopeWriter } from '../src/cluster/envelope.js';
import { deliverRecord, type ReadState } from '../src/workers/carrier.js';
import { TopicInterest } from '../src/workers/interest.js';
import { Mesh } from '../src/workers/mesh.js';
import { portCarrier } from '../src/workers/port-carrier.js';
import { TopicNames } from '../src/workers/topic-names.js';

const TOPICS = Array.from({ length: 500 }, (_, i) => `/room-${i}`);
const PER_TURN = 1000;
const TURNS = 500;
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 7;
const payload = new Uint8Array(64);

/** CPU ns per message of `run(messages)`, median of ROUNDS after one warm-up round. */
async function measure(run: () => Promise<number>): Promise<number> {
  await run();
  const out: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    const messages = await run();
    const t = process.cpuUsage(t0);
    out.push(((t.user + t.system) * 1000) / messages);
  }
  return out.sort((a, b) => a - b)[Math.floor(out.length / 2)] as number;
}

async function sendPath(): Promise<number> {
  const link = portCarrier.createLink();
  const table = TopicInterest.allocate(2);
  const peer = new TopicInterest(table, 1);
  for (const topic of TOPICS) peer.joined(topic);
  const mesh = new Mesh({ senders: [link.sender], peers: [1], receivers: [] }, new TopicInterest(table, 0), 1 << 30);
  let received = 0;
  const onEnvelope = (envelope: Uint8Array): void => {
    received += envelope.byteLength;
  };
  link.receiver.port.on('message', onEnvelope);
  const ns = await measure(async () => {
    for (let turn = 0; turn < TURNS; turn++) {
      for (let i = 0; i < PER_TURN; i++) mesh.publish(TOPICS[(i * 7) % TOPICS.length] as string, payload, true);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return TURNS * PER_TURN;
  });
  mesh.close();
  link.receiver.port.close();
  if (received === 0) throw new Error('no envelope arrived');
  return ns;
}

function receivePath(): Promise<number> {
  const writer = new EnvelopeWriter(new Uint8Array(8));
  for (let i = 0; i < PER_TURN; i++) writer.add(TOPICS[(i * 7) % TOPICS.length] as string, payload, true, 0);
  const envelope = writer.take();
  // The hub's side: the guard's room (read receipts) and the audience's count, each a lookup by topic.
  const guard = new Map(TOPICS.map((t) => [t, { bytes: 0 }]));
  const audience = new Map(TOPICS.map((t) => [t, { subscribers: 5 }]));
  let deliveries = 0;
  const deliver = (topic: string, message: Uint8Array): void => {
    const room = guard.get(topic);
    if (room !== undefined) room.bytes += message.byteLength;
    deliveries += audience.get(topic)?.subscribers ?? 0;
  };
  const state: ReadState = { record: emptyRecord(), counts: { delivered: 0, failed: 0 }, names: new TopicNames() };
  return measure(() => {
    for (let turn = 0; turn < TURNS; turn++) {
      for (let at = ENVELOPE_HEADER_BYTES; at < envelope.length; ) at = deliverRecord(envelope, at, envelope.length, state, deliver, undefined);
    }
    return Promise.resolve(TURNS * PER_TURN);
  }).then((ns) => {
    if (deliveries === 0) throw new Error('nothing delivered');
    return ns;
  });
}

const send = await sendPath();
const receive = await receivePath();
console.log(`node ${process.version}, load average ${loadavg()[0]?.toFixed(2)}, ${ROUNDS} rounds of ${TURNS * PER_TURN} messages`);
console.log(`send (Mesh.publish to a port link, per-turn work included): ${send.toFixed(0)} ns per message`);
console.log(`receive (record, topic name, two lookups by topic):          ${receive.toFixed(0)} ns per message`);
