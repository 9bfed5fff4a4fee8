// Compiles the C load generator with the machine's cc on first use: cc and OpenSSL's headers and libraries
// (Debian: gcc libc6-dev libssl-dev), for wss://.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBuild, nativeBuildDir } from '../build-cache.js';
import { run } from '../exec.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(HERE, 'loadgen.c');
/** everything the build reads, so editing a header rebuilds too */
const INPUTS = [SOURCE, path.join(HERE, 'histogram.h'), path.join(HERE, 'sequence.h')];

/** Path of the built load generator; throws with the compiler's output when cc fails. */
export function buildLoadgen(): Promise<string> {
  return cachedBuild('loadgen', '', INPUTS, async (out) => {
    const cc = process.env.CC ?? 'cc';
    const result = await run(cc, ['-O2', '-Wall', '-Wextra', '-pthread', '-o', out, SOURCE, '-lssl', '-lcrypto']);
    if (result.code !== 0) {
      const hint = /openssl\/|-lssl|-lcrypto/.test(result.stderr) ? ' (OpenSSL missing: apt install libssl-dev)' : '';
      throw new Error(`building the load generator with ${cc} failed${hint}:\n${result.stderr}`);
    }
  }, nativeBuildDir());
}
