/**
 * One chunk of a trace file parsed whole (chunked.ts): a TraceParser over the chunk's bytes —
 * scan, protocol checks, sort window, every payload decoded as its event leaves the window —
 * and its events as columns. Run by the chunk worker, and by the main thread for the chunks it
 * takes itself.
 */
import { isAscii } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { DiagnosticSink } from '../core/diagnostics.js';
import { CF, CI, METHODS, type ChunkInit, type ChunkJob, type ChunkResult } from './chunked.js';
import type { DecodeMethod } from './decode.js';
import type { FormatRegistry } from './format/registry.js';
import { drive, TraceParser, type TraceStats } from './index.js';

function methodNumber(m: DecodeMethod): number {
  switch (m) {
    case 'format': return 0;
    case 'override': return 1;
    case 'syscall': return 2;
    case 'raw': return 3;
    case 'generic': return 4;
    default: return METHODS.indexOf(m);
  }
}

function readRange(path: string, start: number, end: number): Buffer {
  const buf = Buffer.from(new ArrayBuffer(end - start));
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return got < buf.length ? buf.subarray(0, got) : buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Parse chunk `job` of `init.path` with `registry`; names and task names are numbered in
 * `stringIds` (one table per parser thread: a result carries the strings it numbered first).
 */
export async function parseChunk(init: ChunkInit, registry: FormatRegistry, stringIds: Map<string, number>, job: ChunkJob): Promise<{ r: ChunkResult; transfer: ArrayBuffer[] }> {
  const buf = readRange(init.path, job.start, job.end);
  let cap = 4096;
  let F = new Float64Array(cap * CF);
  let I = new Int32Array(cap * CI);
  let n = 0;
  const strings: string[] = [];
  // Names and task names come interned: the last of each is compared first, by identity.
  let lastName = '';
  let lastNameId = -1;
  let lastComm = '';
  let lastCommId = -1;
  const idOf = (s: string): number => {
    let id = stringIds.get(s);
    if (id === undefined) {
      id = stringIds.size;
      stringIds.set(s, id);
      strings.push(s);
    }
    return id;
  };
  // The event leaving the sort window, as decoding reads it: one object, reused.
  const cur = { name: '', payload: '', syscall: 0 as 0 | 1 | 2, line: 0, payloadColumn: 0 };
  const emit = (num: Float64Array, small: Int32Array, a: number, m: number, comm: string, name: string, raw: string | undefined): void => {
    if (n === cap) {
      cap *= 2;
      const f = new Float64Array(cap * CF);
      f.set(F);
      F = f;
      const i = new Int32Array(cap * CI);
      i.set(I);
      I = i;
    }
    const f = n * CF;
    const b = n * CI;
    n++;
    F[f] = num[a]!;
    F[f + 1] = num[a + 1]!;
    F[f + 2] = num[a + 2]!;
    F[f + 3] = num[a + 3]!;
    I[b] = small[m]!;
    I[b + 1] = small[m + 1]!;
    I[b + 2] = small[m + 2]!;
    const syscall = small[m + 3]! as 0 | 1 | 2;
    I[b + 3] = syscall;
    const lineStart = small[m + 10]!;
    for (let j = 4; j < 10; j++) I[b + j] = small[m + j]! - lineStart;
    const ps = small[m + 8]!;
    cur.name = name;
    cur.payload = raw!.slice(ps, small[m + 9]!);
    cur.syscall = syscall;
    cur.line = num[a + 3]!;
    cur.payloadColumn = ps - lineStart + 1;
    const table = parser.decodeTable;
    table.decode(cur);
    I[b + 10] = methodNumber(table.lastMethod);
    if (name !== lastName || lastNameId < 0) { lastName = name; lastNameId = idOf(name); }
    I[b + 11] = lastNameId;
    if (comm !== lastComm || lastCommId < 0) { lastComm = comm; lastCommId = idOf(comm); }
    I[b + 12] = lastCommId;
  };
  const sink = new DiagnosticSink(init.diagnosticsPerCode ?? 50);
  const opts = {
    file: init.file,
    registry,
    release: init.release,
    layout: job.layout,
    sortWindow: job.sortWindow,
    maxLineBytes: init.maxLineBytes,
    diagnosticsPerCode: init.diagnosticsPerCode,
    partial: job.partial,
    chunks: false as const,
  };
  // Every payload is decoded as its event leaves the window (`decodeAll`), here, from columns.
  const parser = new TraceParser(opts, () => { throw new Error('chunk worker: an event object was made'); }, sink);
  parser.emitColumnsWithText(emit);
  const it = drive(Readable.from([buf]), opts, parser);
  let st: TraceStats;
  for (;;) {
    const r = await it.next();
    if (r.done) { st = r.value; break; }
  }
  const ascii = isAscii(buf);
  let minTs = -1;
  let minCpu = -1;
  let maxTs = -1;
  let maxCpu = -1;
  for (let i = 0; i < n; i++) {
    const ts = F[i * CF]!;
    const cpu = I[i * CI + 2]!;
    if (i === 0 || ts < minTs || (ts === minTs && cpu < minCpu)) { minTs = ts; minCpu = cpu; }
    if (i === 0 || ts > maxTs || (ts === maxTs && cpu > maxCpu)) { maxTs = ts; maxCpu = cpu; }
  }
  const text = buf.buffer as ArrayBuffer;
  const r: ChunkResult = {
    k: job.k,
    n,
    F: F.subarray(0, n * CF),
    I: I.subarray(0, n * CI),
    strings,
    text,
    ascii,
    stats: {
      lines: st.lines,
      bytes: st.bytes,
      events: st.events,
      specialLines: st.specialLines,
      unparsedLines: st.unparsedLines,
      lost: st.lost,
      truncated: st.truncated,
      layout: st.layout,
      header: st.header,
      reordered: st.reordered,
      late: st.late,
      kept: st.diagnostics.kept,
      counts: [...st.diagnostics.counts],
      methods: [...st.methods],
      entriesLine: parser.entriesAt,
      lastLine: parser.lastLine,
      firstEventLine: parser.firstEventLine,
      firstEventNs: parser.firstEventNs,
      lastEventLine: parser.lastEventLine,
      minTs,
      minCpu,
      maxTs,
      maxCpu,
    },
  };
  return { r, transfer: [text, F.buffer as ArrayBuffer, I.buffer as ArrayBuffer] };
}
