/**
 * A step budget for the readers' loops: one step per line handed to the parser, per ring-buffer
 * page and per record of a trace.dat. Unlimited unless a caller (the mutation fuzzer) sets a
 * limit from the input's size; past it, the reader throws TraceBudgetExceeded, so a loop that
 * stops making progress is caught by counting, not by a timer.
 */
export const traceBudget = { steps: 0, limit: Infinity };

export class TraceBudgetExceeded extends Error {
  constructor(readonly steps: number, readonly limit: number) {
    super(`trace reader step budget exceeded: ${steps} steps of ${limit}`);
  }
}

export function traceStep(): void {
  if (++traceBudget.steps > traceBudget.limit) throw new TraceBudgetExceeded(traceBudget.steps, traceBudget.limit);
}
