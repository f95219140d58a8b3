import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { grammarsDir, packageRoot } from '../paths.js';
import { FormatRegistry, readTrace, streamTrace, type TraceEvent, type TraceParseOptions, type TraceStats } from './index.js';
import { workerEligible } from './parallel.js';

/**
 * The parse worker against the in-process parser: the same events (header, fields, decode
 * method), in the same batches, and the same stats and diagnostics in the same order — on the
 * fixtures, real captures, and edited traces whose scan and decode diagnostics interleave.
 */
const reg = FormatRegistry.fromDirectory(grammarsDir);
const fx = (n: string): string => join(packageRoot, n);
const dir = mkdtempSync(join(tmpdir(), 'foliolab-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withWorker<T>(on: boolean, f: () => Promise<T>): Promise<T> {
  const before = process.env.FOLIOLAB_PARSE_WORKER;
  process.env.FOLIOLAB_PARSE_WORKER = on ? '1' : '0';
  return f().finally(() => {
    if (before === undefined) delete process.env.FOLIOLAB_PARSE_WORKER;
    else process.env.FOLIOLAB_PARSE_WORKER = before;
  });
}

function statsView(s: TraceStats): unknown {
  return {
    ...s,
    diagnostics: { kept: s.diagnostics.kept, counts: [...s.diagnostics.counts] },
    methods: [...s.methods],
  };
}

/** readTrace with every payload decoded as it comes (what `parse` does). */
async function readAll(file: string, extra: Partial<TraceParseOptions>): Promise<unknown> {
  const out: { stats?: TraceStats } = {};
  const batches: unknown[][] = [];
  for await (const b of readTrace(file, { file, registry: reg, release: '6.18.44-fc-v669', decodeAll: true, ...extra }, out)) {
    batches.push(b.map((e) => ({ ...e.toJSON(), payload: e.payload, payloadColumn: e.payloadColumn })));
  }
  return { batches, stats: statsView(out.stats!) };
}

/** streamTrace as replay drives it: a filter, and payloads decoded by the consumer (some only). */
async function streamSome(file: string, extra: Partial<TraceParseOptions>): Promise<unknown> {
  const seen: unknown[] = [];
  const progress: number[] = [];
  const stats = await streamTrace(
    file,
    { file, registry: reg, release: '6.18.44-fc-v669', only: (n) => n !== 'mm_page_alloc', onProgress: (b) => progress.push(b), ...extra },
    (batch: readonly TraceEvent[]) => {
      const row: unknown[] = [];
      for (const e of batch) row.push(e.seq % 3 === 0 ? [e.line, e.name, e.fields] : [e.line, e.lat, e.ts]);
      seen.push(row);
    },
    64,
  );
  return { seen, progress, stats: statsView(stats) };
}

async function same(file: string, extra: Partial<TraceParseOptions> = {}): Promise<void> {
  const a = await withWorker(false, () => readAll(file, extra));
  const b = await withWorker(true, () => readAll(file, extra));
  expect(b).toEqual(a);
  const c = await withWorker(false, () => streamSome(file, extra));
  const d = await withWorker(true, () => streamSome(file, extra));
  expect(d).toEqual(c);
}

describe('parse worker', () => {
  it('is used only when asked, for a text file named by its path, never for stdin', () => {
    const before = process.env.FOLIOLAB_PARSE_WORKER;
    try {
      delete process.env.FOLIOLAB_PARSE_WORKER;
      expect(workerEligible(fx('fixtures/traces/crlf.trace'))).toBe(false);
      process.env.FOLIOLAB_PARSE_WORKER = '1';
      expect(workerEligible(fx('fixtures/traces/crlf.trace'))).toBe(true);
      expect(workerEligible('-')).toBe(false);
    } finally {
      if (before === undefined) delete process.env.FOLIOLAB_PARSE_WORKER;
      else process.env.FOLIOLAB_PARSE_WORKER = before;
    }
  });

  for (const f of ['crlf.trace', 'mismatch.trace', 'out-of-order.trace', 'trace-cmd-variants.trace', 'tracefs-variants.trace', 'truncated.trace', 'cut-short.txt.gz', 'trace-cmd-s1/report.txt.gz', 'trace-cmd-s1/trace-v7-zstd.dat']) {
    it(`gives what the in-process parser gives: fixtures/traces/${f}`, async () => {
      await same(fx(`fixtures/traces/${f}`));
    }, 60_000);
  }

  it('gives what the in-process parser gives on a real capture, with a small sort window and few diagnostics kept', async () => {
    await same(fx('traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'), { sortWindow: 8, diagnosticsPerCode: 3 });
  }, 60_000);

  it('merges scan and decode diagnostics in the in-process order', async () => {
    // A real capture with lines moved back in time (time_backwards, out_of_order), payloads
    // that no longer match their format (payload_mismatch), values out of their field's range
    // (number_out_of_range, a decode diagnostic) and a header number out of range (a scan one),
    // a NUL, a non-ASCII task name and a line that does not scan, spread over the trace.
    const text = gunzipSync(readFileSync(fx('traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'))).toString('utf8');
    const lines = text.split('\n');
    for (let i = 40; i < lines.length - 2; i += 97) {
      const l = lines[i]!;
      if (l.startsWith('#')) continue;
      switch ((i / 97) % 7 | 0) {
        case 0: lines[i] = l.replace(/ (\d+)\.(\d{6}): /, (_m, s: string, f: string) => ` ${Number(s) - 1}.${f}: `); break;
        case 1: lines[i] = l.replace(/order=\d+/, 'order=99999999999').replace(/pages=\d+/, 'pages=zz'); break;
        case 2: lines[i] = l.replace(/\[001\]/, '[99999999]'); break;
        case 3: lines[i] = l.replace(/curr=\d+/, 'curr=x'); break;
        case 4: lines[i] = `${l.slice(0, 20)}\u0000${l.slice(21)}`; break;
        case 5: lines[i] = l.replace(/^(\s*)\S+-(\d+)/, '$1tâche-$2'); break;
        default: lines[i] = l.replace(/: /, ' '); break;
      }
    }
    const f = join(dir, 'edited.trace');
    writeFileSync(f, lines.join('\n'));
    await same(f, { diagnosticsPerCode: 4 });
    await same(f, { sortWindow: 4 });
  }, 60_000);
});
