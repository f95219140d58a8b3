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
  const { events } = await collectTrace(Readable.from([Buffer.from(text)]), { file: '-', registry: reg, release });
  const ops: LiftedOp[] = [];
  const l = new Lifter({}, (o) => ops.push(o));
  for (const e of events) l.feed(e);
  l.end();
  return ops;
}
