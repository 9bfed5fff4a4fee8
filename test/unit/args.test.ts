// The command line parser: flags, repeats, help and version, and the errors that name the argument.
import { describe, expect, it } from 'vitest';
import { HELP, parseCommandLine, UsageError } from '../../src/args.js';

describe('parseCommandLine', () => {
  it('reads every flag, short and long, and keeps --set in order', () => {
    expect(parseCommandLine(['-c', 'a.yaml', '--set', 'server.port=1', '--set=relay.echo=false', '--check-config'])).toEqual({
      run: { configFile: 'a.yaml', checkConfig: true, printConfig: false, set: ['server.port=1', 'relay.echo=false'] },
    });
    expect(parseCommandLine([])).toEqual({ run: { configFile: undefined, checkConfig: false, printConfig: false, set: [] } });
    expect(parseCommandLine(['--config-file=b.yaml', '--print-config'])).toMatchObject({ run: { configFile: 'b.yaml', printConfig: true } });
  });

  it('answers --help and --version with a text', () => {
    expect(parseCommandLine(['--help'])).toEqual({ print: HELP });
    expect(parseCommandLine(['-h'])).toEqual({ print: HELP });
    expect(parseCommandLine(['--version'], () => '1.2.3')).toEqual({ print: '1.2.3\n' });
    expect(parseCommandLine(['--version'])).toEqual({ print: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    for (const flag of ['--config-file', '--check-config', '--print-config', '--set', '--help', '--version']) expect(HELP).toContain(flag);
  });

  it('names an unknown flag, a positional argument and a missing value', () => {
    expect(() => parseCommandLine(['--ecko'])).toThrow(new UsageError('Unknown argument: --ecko'));
    expect(() => parseCommandLine(['serve'])).toThrow(/Unknown argument: serve/);
    expect(() => parseCommandLine(['--config-file'])).toThrow(UsageError);
  });
});
