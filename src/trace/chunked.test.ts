import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { grammarsDir, packageRoot } from '../paths.js';
import { chunkPlan, lastChunked } from './chunked.js';
import { FormatRegistry, readTrace, type TraceParseOptions, type TraceStats } from './index.js';
import { summariseTrace } from './summary.js';

/**
 * The chunked parse (a worker and this thread, each a whole parser over chunks of the file)
 * against the in-process parser: the same events in the same order (header, positions, fields,
 * decode method), the same stats and diagnostics — on clean traces, where every chunk is
 * accepted, and on traces damaged past their first chunk, where a chunk is refused and the
 * in-process parse takes over.
 */
const reg = FormatRegistry.fromDirectory(grammarsDir);
const fx = (n: string): string => join(packageRoot, n);
const dir = mkdtempSync(join(tmpdir(), 'foliolab-chunked-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const S1 = fx('traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz');
const s1Text = (): string => gunzipSync(readFileSync(S1)).toString('utf8');

function statsView(s: TraceStats): unknown {
  return { ...s, diagnostics: { kept: s.diagnostics.kept, counts: [...s.diagnostics.counts] }, methods: [...s.methods] };
}

const chunked = (chunkBytes: number): TraceParseOptions['chunks'] => ({ chunkBytes, minBytes: 0, workers: 1 });

async function readAll(file: string, extra: Partial<TraceParseOptions>): Promise<{ events: unknown[]; stats: unknown }> {
  const out: { stats?: TraceStats } = {};
  const events: unknown[] = [];
  for await (const b of readTrace(file, { file, registry: reg, release: '6.18.44-fc-v669', decodeAll: true, ...extra }, out)) {
    for (const e of b) events.push({ ...e.toJSON(), seq: e.seq, payload: e.payload, payloadColumn: e.payloadColumn, system: e.system });
  }
  return { events, stats: statsView(out.stats!) };
}

/** Parses `file` both ways; returns the chunk the chunked parse refused (-1: none). */
async function same(file: string, chunkBytes: number, extra: Partial<TraceParseOptions> = {}): Promise<number> {
  const serial = await readAll(file, { ...extra, chunks: false });
  // The worker reads every chunk but the first; then the worker and this thread share them.
  const par = await readAll(file, { ...extra, chunks: { ...chunked(chunkBytes), workersOnly: true } });
  expect(lastChunked.chunks).toBeGreaterThan(2);
  const refused = lastChunked.refused;
  if (refused < 0) expect(lastChunked.byWorkers).toBe(lastChunked.chunks - 1);
  expect(par.stats).toEqual(serial.stats);
  expect(par.events.length).toBe(serial.events.length);
  expect(par.events).toEqual(serial.events);
  const shared = await readAll(file, { ...extra, chunks: chunked(chunkBytes) });
  expect(lastChunked.refused).toBe(refused);
  expect(shared).toEqual(serial);
  const opts = { file, registry: reg, release: '6.18.44-fc-v669', ...extra };
  const sumSerial = await summariseTrace(file, { ...opts, chunks: false });
  const sumPar = await summariseTrace(file, { ...opts, chunks: chunked(chunkBytes) });
  expect(sumPar).toEqual(sumSerial);
  expect(lastChunked.refused).toBe(refused);
  return refused;
}

function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('chunked parse', () => {
  it('is planned only for a large plain file read with every payload decoded, cut at line starts', () => {
    const f = write('plain.trace', s1Text());
    const opts: TraceParseOptions = { file: f, registry: reg, decodeAll: true, chunks: chunked(100_003) };
    const plan = chunkPlan(f, opts)!;
    expect(plan.layout).toBe('tracefs');
    const bytes = readFileSync(f);
    for (const b of plan.bounds.slice(1, -1)) expect(bytes[b - 1]).toBe(10);
    expect(plan.bounds.at(-1)).toBe(bytes.length);
    expect(chunkPlan(f, { ...opts, decodeAll: false })).toBeUndefined();
    expect(chunkPlan(f, { ...opts, only: () => true })).toBeUndefined();
    expect(chunkPlan(f, { ...opts, chunks: false })).toBeUndefined();
    expect(chunkPlan(f, { ...opts, chunks: undefined })).toBeUndefined(); // not asked for
    expect(chunkPlan(S1, opts)).toBeUndefined(); // gzip
    expect(chunkPlan(f, { ...opts, chunks: { chunkBytes: 100_003 } })).toBeUndefined(); // below the default minimum
  });

  it('accepts every chunk of a clean capture, with chunk bounds in the middle of lines', async () => {
    const f = write('clean.trace', s1Text());
    for (const cb of [100_003, 333_331]) expect(await same(f, cb)).toBe(-1);
    expect(await same(f, 65_536, { sortWindow: 8, diagnosticsPerCode: 3 })).toBe(-1);
  }, 120_000);

  it('keeps file:line:col of damage in the first chunk, and accepts the chunks after it', async () => {
    const lines = s1Text().split('\n');
    lines[30] = lines[30]!.replace(/: /, ' ');
    lines[31] = lines[31]!.replace(/curr=\d+/, 'curr=x');
    const f = write('damaged-start.trace', lines.join('\n'));
    expect(await same(f, 200_000)).toBe(-1);
    const s = await summariseTrace(f, { file: f, registry: reg, release: '6.18.44-fc-v669', chunks: chunked(200_000) });
    expect(s.diagnostics.map((d) => [d.code, d.line])).toEqual(expect.arrayContaining([['bad_line_header', 31], ['payload_mismatch', 32]]));
  }, 120_000);

  for (const [what, edit] of [
    ['a line that does not scan', (l: string) => l.replace(/: /, ' ')],
    ['a payload that does not match its format', (l: string) => l.replace(/curr=\d+|pfn=0x[0-9a-f]+/, 'curr=x')],
    ['a line moved back in time', (l: string) => l.replace(/ (\d+)\.(\d{6}): /, (_m, s: string, fr: string) => ` ${Number(s) - 1}.${fr}: `)],
    ['a non-ASCII task name', (l: string) => l.replace(/^(\s*)\S+-(\d+)/, '$1tâche-$2')],
    ['a lost-events line', (l: string) => `CPU:1 [LOST 12 EVENTS]\n${l}`],
    ['a NUL', (l: string) => `${l.slice(0, 20)}\u0000${l.slice(21)}`],
  ] as const) {
    it(`refuses a chunk holding ${what}, and gives the in-process result`, async () => {
      const lines = s1Text().split('\n');
      const at = Math.floor(lines.length * 0.6);
      lines[at] = edit(lines[at]!);
      const f = write('damaged.trace', lines.join('\n'));
      expect(await same(f, 100_003)).toBeGreaterThan(0);
    }, 120_000);
  }

  it('accepts a later chunk whose events the sort window reorders, and counts them', async () => {
    // A two-CPU capture whose listing has events out of (timestamp, CPU) order.
    const cap = fx('traces/6.18.44-fc-v1147/s17-threads-madvise.64k-dontneed-spin.rec/trace.txt.gz');
    const f = write('reordered.trace', gunzipSync(readFileSync(cap)).toString('utf8'));
    const serial = await summariseTrace(f, { file: f, registry: reg, chunks: false });
    expect(serial.reordered).toBeGreaterThan(0);
    // Chunks of 20 kB: the reordered events are not all in the first.
    expect(await same(f, 20_000, { release: undefined })).toBe(-1);
  }, 120_000);

  it('refuses a chunk whose first line repeats the last one before it (nanosecond timestamps)', async () => {
    // Nanosecond timestamps, each distinct: the n-th line of a microsecond gets n nanoseconds.
    let lastUs = '';
    let n = 0;
    const lines = s1Text().split('\n').map((l) =>
      l.replace(/^(.{20,60}? )(\d+\.\d{6})(: )/, (_m, a: string, us: string, b: string) => {
        n = us === lastUs ? n + 1 : 0;
        lastUs = us;
        return `${a}${us}${String(n).padStart(3, '0')}${b}`;
      }),
    );
    const body = lines.findIndex((l) => !l.startsWith('#'));
    // Put a repeated line at a chunk's start: the bound is the first line start at or after a
    // multiple of the chunk size.
    for (let i = Math.floor(lines.length / 2); ; i++) {
      const text = [...lines.slice(0, i), lines[i - 1]!, ...lines.slice(i)].join('\n');
      const start = Buffer.byteLength([...lines.slice(0, i)].join('\n')) + 1;
      if (i <= body || start % 3 !== 0) continue;
      const f = write('dup.trace', text);
      expect(await same(f, start / 3)).toBe(3);
      break;
    }
  }, 120_000);

  it('reads a trace-cmd report text by the layout its header sets', async () => {
    const f = write('report.txt', gunzipSync(readFileSync(fx('fixtures/traces/trace-cmd-s1/report.txt.gz'))).toString('utf8'));
    const plan = chunkPlan(f, { file: f, registry: reg, decodeAll: true, chunks: chunked(65_536) });
    expect(plan?.layout).toBe('trace-cmd');
    await same(f, 65_536);
  }, 120_000);
});
