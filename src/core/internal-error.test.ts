import { Errors } from '@oclif/core';
import { describe, expect, it } from 'vitest';
import { internalErrorText, isOclifError } from './internal-error.js';

describe('internal errors', () => {
  it('oclif errors are oclif\'s to report; anything else is an internal error with what to report', () => {
    expect(isOclifError(new Errors.CLIError('bad input'))).toBe(true);
    expect(isOclifError(new Errors.ExitError(1))).toBe(true);
    expect(isOclifError(new TypeError('x is null'))).toBe(false);
    expect(isOclifError('a string')).toBe(false);
    const t = internalErrorText(new RangeError('Invalid typed array length: -1'));
    expect(t).toMatch(/^foliolab: internal error: RangeError: Invalid typed array length: -1\n/);
    expect(t).toMatch(/bug in foliolab, not a problem with the input/);
    expect(t).toMatch(/\n\s+at /);
  });
});
