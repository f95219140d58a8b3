/**
 * The patch commands' last line of defence: an exception that is not oclif's own (a usage
 * error, a requested exit) is a bug in foliolab, never a verdict on the input — bad input is
 * reported as diagnostics. It is said so, with what to report, and the command exits 70
 * (EXIT.internal) instead of printing a bare stack trace and exiting 1.
 */
import { Errors } from '@oclif/core';
import { EXIT } from '../shared.js';

/** oclif's own errors (usage, `this.error`, `this.exit`): the command's normal ways out. */
export const isOclifError = (e: unknown): boolean => typeof e === 'object' && e !== null && 'oclif' in e;

/** Reports an exception that is not oclif's own as an internal error, and exits 70. */
export function internalError(err: unknown, command: string, write: (text: string) => void): never {
  const e = err instanceof Error ? err : new Error(String(err));
  const trace = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 12);
  write(
    [
      `foliolab ${command}: internal error: ${e.message}`,
      'This is a bug in foliolab, not a problem with the input. Please report it to the foliolab',
      'maintainers (the project\'s issue tracker) with the command line, the input or the smallest part',
      'of it that still fails, and the trace below.',
      ...trace,
    ].join('\n'),
  );
  throw new Errors.ExitError(EXIT.internal);
}
