// Which changed keys a reload applies and which need a restart. Pure.
import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/config/schema.js';
import { diffKeys, planReload } from '../../src/reload/plan.js';

const plan = (a: ConfigInput, b: ConfigInput, ceiling = 65536) => planReload(parseConfig(a), parseConfig(b), ceiling);

describe('planReload', () => {
  it('nothing changed: nothing to apply', () => {
    expect(plan({}, {})).toMatchObject({ changed: [], restartOnly: [] });
  });

  it('live keys are applied, restart-only keys keep their running value', () => {
    const p = plan({}, { server: { port: 1 }, relay: { echo: false, rooms: true }, security: { allowed_origins: ['https://a.example'] }, cluster: { backplane: 'redis' } });
    expect(p.changed).toEqual(['server.port', 'relay.echo', 'relay.rooms', 'security.allowed_origins', 'cluster.backplane']);
    expect(p.restartOnly).toEqual(['cluster.backplane', 'relay.rooms', 'server.port']);
    expect(p.config.server.port).toBe(8443);
    expect(p.config.relay).toMatchObject({ echo: false, rooms: false });
    expect(p.config.security.allowed_origins).toEqual(['https://a.example']);
    expect(p.config.cluster.backplane).toBe('none');
    expect(Object.isFrozen(p.config.relay)).toBe(true);
  });

  it('TLS on or off needs a restart; new certificate paths do not', () => {
    const on = { server: { tls: { cert_file: '/a.crt', key_file: '/a.key' } } };
    expect(plan({}, on).restartOnly).toEqual(['server.tls.cert_file', 'server.tls.key_file']);
    expect(plan(on, {}).config.server.tls.cert_file).toBe('/a.crt');
    expect(plan(on, { server: { tls: { cert_file: '/b.crt', key_file: '/b.key' } } }).restartOnly).toEqual([]);
  });

  it('max_payload_bytes can be lowered live, not raised past what uWS was built with', () => {
    expect(plan({}, { relay: { max_payload_bytes: 1024 } }).restartOnly).toEqual([]);
    const raised = plan({}, { relay: { max_payload_bytes: 100_000 } });
    expect(raised.restartOnly).toEqual(['relay.max_payload_bytes']);
    expect(raised.config.relay.max_payload_bytes).toBe(65536);
    expect(plan({ relay: { max_payload_bytes: 1024 } }, { relay: { max_payload_bytes: 4096 } }, 65536).restartOnly).toEqual([]);
  });

  it('diffKeys compares lists as one value', () => {
    expect(diffKeys({ a: [1, 2], b: { c: 1 } }, { a: [1, 2], b: { c: 2 } })).toEqual(['b.c']);
    expect(diffKeys({ a: [1] }, { a: [1, 2] })).toEqual(['a']);
  });
});
