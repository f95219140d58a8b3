/**
 * The lifting tests' common step: a trace's text read as foliolab reads it and lifted to the
 * end, every op handed on (Lifter.end(), as liftTrace() ends).
 */
import { Readable } from 'node:stream';
import { Lifter, type LiftedOp } from './lift.js';
import { collectTrace, FormatRegistry } from '../trace/index.js';
import { grammarsDir } from '../paths.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);

export async function liftText(text: string, release = '6.18.44-fc-v669'): Promise<LiftedOp[]> {
  return (await liftTextWith(text, release)).ops;
}

/** The same, with the lifter (its counts of what was not the workload's, its notes). */
export async function liftTextWith(text: string, release = '6.18.44-fc-v669'): Promise<{ ops: LiftedOp[]; lifter: Lifter }> {
  const { events } = await collectTrace(Readable.from([Buffer.from(text)]), { file: '-', registry: reg, release });
  const ops: LiftedOp[] = [];
  const lifter = new Lifter({}, (o) => ops.push(o));
  for (const e of events) lifter.feed(e);
  lifter.end();
  return { ops, lifter };
}
