// limits.max_connections reloads live (never above what the open-file limit allows); the overload thresholds are
// read once at start: a reload that changes them names them as needing a restart instead of reporting them applied.
import { describe, expect, it } from 'vitest';
import { startReloadable } from '../../helpers/reloadable.js';

describe('capacity limits on reload', () => {
  it('changed max_event_loop_delay_ms and max_memory_bytes need a restart; max_connections and the rest are applied', async () => {
    const relay = await startReloadable({ limits: { max_connections: 10, max_event_loop_delay_ms: 500 } });
    relay.write({ relay: { echo: false }, limits: { max_connections: 20, max_event_loop_delay_ms: 900, max_memory_bytes: 1 << 30 } });
    const result = relay.reload('SIGHUP');
    expect(result.ok).toBe(true);
    expect([...result.applied].sort()).toEqual(['limits.max_connections', 'relay.echo']);
    expect(result.restartOnly).toEqual(['limits.max_event_loop_delay_ms', 'limits.max_memory_bytes']);
    expect(relay.config.limits.max_event_loop_delay_ms).toBe(500);
  });
});
