/**
 * The CLI's last line of defence (bin/run.js): an exception that is not oclif's own — a usage
 * error, `this.error` on bad input, a requested exit — is a bug in foliolab, never a verdict on
 * the input (bad input is reported as diagnostics). It is said so, with what to report, and the
 * exit status is 70 (EX_SOFTWARE, sysexits.h) so a script can tell it from an input error (1).
 */
export const EXIT_INTERNAL = 70;

/** oclif's own errors carry an `oclif` property (with their exit status). */
export function isOclifError(e: unknown): boolean {
  return e !== null && typeof e === 'object' && 'oclif' in e;
}

/** The report of an internal error: what happened, that it is a bug, what to report, where. */
export function internalErrorText(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 12);
  return [
    `foliolab: internal error: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`,
    'This is a bug in foliolab, not a problem with the input. Please report it to the foliolab',
    "maintainers (the project's issue tracker) with the command line, the input or the smallest",
    'part of it that still fails, and the frames below.',
    ...frames,
    '',
  ].join('\n');
}
