// Suites that need an outside program (redis-server, promtool, prometheus, chromium): locally they skip with one
// clear line saying what to install; under CI a missing program fails the run instead.
import { describe, expect, it } from 'vitest';

/** CI is set (and not "false"): nothing may be skipped for a missing program. */
export const REQUIRED = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';

/**
 * Declares the suite `title`, run only when `missing` is null.
 * @param missing null when everything the suite needs is installed, else what is missing and how to install it
 */
export function describeNeeding(missing: string | null, title: string, body: () => void): void {
  if (missing !== null) {
    process.stderr.write(`${title}: skipped: ${missing}\n`);
    describe.runIf(REQUIRED)(`${title} (required: CI is set)`, () => {
      it('finds what it needs installed', () => {
        expect.fail(`CI must run "${title}", but ${missing}`);
      });
    });
  }
  describe.skipIf(missing !== null)(missing === null ? title : `${title} (skipped: ${missing})`, body);
}
