// relay_build_info: what is running, as labels on a constant 1 (the Prometheus convention for build facts).
import type { Registry } from 'prom-client';
import { Gauge } from './prom.js';
import { RELAY_VERSION } from '../version.js';

/** Registers relay_build_info{version, node_version, uws_version} 1 on `registry`. */
export function registerBuildInfo(registry: Registry, uwsVersion: string, nodeVersion: string = process.version): void {
  new Gauge({
    name: 'relay_build_info',
    help: 'The relay version, Node.js version and uWebSockets.js build in use; always 1',
    labelNames: ['version', 'node_version', 'uws_version'] as const,
    registers: [registry],
  })
    .labels(RELAY_VERSION, nodeVersion, uwsVersion)
    .set(1);
}
