// The bench's build cache: a build is made once per set of sources, and a native one once per machine, so a binary
// linked in the Node 24 run's Debian 13 root (glibc 2.41) is never the one the host (an older glibc) runs.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedBuild, nativeBuildDir, nativeTarget } from '../../bench/build-cache.js';
import { BUILD_DIR } from '../../bench/paths.js';

describe('bench build cache', () => {
  it('builds once for the same sources, again for changed ones, and keeps only the newest', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-build-'));
    const source = path.join(dir, 'main.c');
    const produced: string[] = [];
    const produce = (out: string): Promise<void> => {
      produced.push(out);
      writeFileSync(out, 'built');
      return Promise.resolve();
    };
    const out = path.join(dir, 'out');
    writeFileSync(source, 'one');
    const first = await cachedBuild('tool', '', [source], produce, out);
    expect(await cachedBuild('tool', '', [source], produce, out)).toBe(first);
    writeFileSync(source, 'two');
    const second = await cachedBuild('tool', '', [source], produce, out);
    expect(second).not.toBe(first);
    expect(produced).toHaveLength(2);
    expect(readdirSync(out)).toEqual([path.basename(second)]);
  });

  it('keeps native builds in a folder named after this machine, its C library and version included', () => {
    const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
    const libc = process.platform !== 'linux' ? '' : glibc === undefined ? '-musl' : `-glibc${glibc}`;
    expect(nativeTarget()).toBe(`${process.platform}-${process.arch}${libc}`);
    expect(nativeBuildDir()).toBe(path.join(BUILD_DIR, nativeTarget()));
  });
});
