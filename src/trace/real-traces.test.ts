/**
 * Every real capture shipped in traces/ (and ../shared/traces-real/ when present): the parser's
 * per-event counts equal an independent count of the text, nothing is left unparsed or
 * decoded by fallback, the kernel's own entries-in-buffer figure is met, and decoded fields
 * equal what the text says.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatRegistry, readTrace, traceSourceHints, type TraceStats } from './index.js';
import { summariseTrace } from './summary.js';
import { grammarsDir, packageRoot } from '../paths.js';

function findTraces(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/^trace(-cmd-report)?\.txt(\.gz)?$/.test(n)) out.push(p);
    }
  };
  walk(root);
  return out;
}

const own = findTraces(join(packageRoot, 'traces'));
const sharedRoot = join(packageRoot, '../shared/traces-real');
const shared = findTraces(sharedRoot).filter((p) => !own.some((o) => relative(join(packageRoot, 'traces'), o) === relative(sharedRoot, p)));
const all = [...own, ...shared];
const reg = FormatRegistry.fromDirectory(grammarsDir);

/** An independent reading: a regex over whole lines, not the hand scanner. */
function independentCount(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const re = /^\s*\S.*?-\d+\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\]\s+(?:\S+\s+)?\d+\.\d+: (\w+)(\(| ->|:)/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    let name = m[1]!;
    if (m[2] === '(') name = `sys_enter_${name.slice(4)}`;
    else if (m[2] === ' ->') name = `sys_exit_${name.slice(4)}`;
    else if (name === 'tracing_mark_write') name = 'print';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('real kernel traces', () => {
  it('ships real traces of three kernels in traces/', () => {
    const kernels = new Set(own.map((p) => relative(join(packageRoot, 'traces'), p).split('/')[0]));
    expect([...kernels].sort()).toEqual(expect.arrayContaining(['6.1.0-56-cloud-amd64', '6.12.95+deb12-cloud-amd64', '6.18.44-fc-v669']));
  });

  for (const file of all) {
    const rel = file.includes('/shared/') ? `shared:${relative(sharedRoot, file)}` : relative(packageRoot, file);
    it(`${rel}: counts, completeness, decoding`, async () => {
      const release = reg.matchRelease(traceSourceHints(file).release);
      expect(release).toBeDefined();
      const s = await summariseTrace(file, { file, registry: reg, release });
      const text = gunzipSync(readFileSync(file)).toString('utf8');
      const indep = independentCount(text);
      expect(s.byName).toEqual(Object.fromEntries([...indep].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))));
      expect(s.unparsedLines).toBe(0);
      expect(s.fallback).toEqual({});
      expect(s.lostEvents).toBe(0);
      expect(s.diagnostics).toEqual([]);
      if (s.header.entriesInBuffer !== undefined) expect(s.events).toBe(s.header.entriesInBuffer);
      if (s.format === 'trace-cmd') expect(file).toMatch(/trace-cmd-report/);
    });
  }

  it('`only` hands on just the named events, in the same order, and still counts every line', async () => {
    const file = join(packageRoot, 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz');
    const opts = { file, registry: reg, release: reg.matchRelease(traceSourceHints(file).release) };
    const keep = (n: string): boolean => n === 'tlb_flush' || n.startsWith('sys_');
    const all: Array<{ line: number; name: string }> = [];
    const outAll: { stats?: TraceStats } = {};
    for await (const b of readTrace(file, opts, outAll)) for (const e of b) all.push({ line: e.line, name: e.name });
    const some: Array<{ line: number; name: string }> = [];
    const outSome: { stats?: TraceStats } = {};
    for await (const b of readTrace(file, { ...opts, only: keep }, outSome)) for (const e of b) some.push({ line: e.line, name: e.name });
    expect(some.length).toBeGreaterThan(0);
    expect(some).toEqual(all.filter((e) => keep(e.name)));
    expect(outSome.stats!.events).toBe(outAll.stats!.events);
    expect(outSome.stats!.lines).toBe(outAll.stats!.lines);
    // Filtered events still fill the sort window, so rare ones stream out as the input is
    // read instead of waiting for its end (the first marker before the last chunk).
    let read = 0;
    let atFirst = -1;
    for await (const b of readTrace(file, { ...opts, sortWindow: 256, only: (n) => n === 'print', onProgress: (bytes) => { read = bytes; } })) {
      if (b.length && atFirst < 0) atFirst = read;
    }
    expect(atFirst).toBeGreaterThan(0);
    expect(atFirst).toBeLessThan(outAll.stats!.bytes);
  });

  it('decoded fields equal the text: tlb_flush, mm_page_free, rss_stat, reclaim_pages, syscalls', async () => {
    // Compared by hand (not expect() per event: 600k expect calls would dominate the run).
    const bad: string[] = [];
    const counts = new Map<string, number>();
    const check = (cond: boolean, what: string, e: { line: number; payload: string }, file: string): void => {
      if (!cond && bad.length < 20) bad.push(`${file}:${e.line}: ${what}: ${e.payload}`);
    };
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    for (const file of own) {
      const release = reg.matchRelease(traceSourceHints(file).release);
      for await (const batch of readTrace(file, { file, registry: reg, release })) {
        for (const e of batch) {
          const f = e.fields;
          const p = e.payload;
          if (e.name === 'tlb_flush') {
            const m = /^pages[:=](-?\d+) reason[:=](.*?) ?\((\d+)\)$/.exec(p)!;
            const r = f.reason as { value: number; name: string };
            check(f.pages === Number(m[1]) && r.value === Number(m[3]), 'tlb_flush pages/reason', e, file);
            if (m[2]) check(r.name.toLowerCase() === m[2].toLowerCase(), 'tlb_flush reason name', e, file);
          } else if (e.name === 'mm_page_free') {
            check(f.order === Number(/order=(\d+)/.exec(p)![1]) && f.pfn === parseInt(/pfn=0x([0-9a-f]+)/.exec(p)![1]!, 16), 'mm_page_free', e, file);
          } else if (e.name === 'rss_stat') {
            const m = /type=(\w+) size=(-?\d+)B?/.exec(p)!;
            check((f.member as { name: string }).name === m[1] && f.size === Number(m[2]), 'rss_stat', e, file);
          } else if (e.name === 'mm_vmscan_reclaim_pages') {
            check(f.nr_reclaimed === Number(/nr_reclaimed=(\d+)/.exec(p)![1]) && f.nr_unmap_fail === Number(/nr_unmap_fail=(\d+)/.exec(p)![1]), 'reclaim_pages', e, file);
          } else if (e.name === 'sys_enter_madvise') {
            const m = /start: (?:0x)?([0-9a-f]+), len_in: (?:0x)?([0-9a-f]+), behavior: (?:0x)?([0-9a-f]+)/.exec(p)!;
            check(same(f, { start: parseInt(m[1]!, 16), len_in: parseInt(m[2]!, 16), behavior: parseInt(m[3]!, 16) }), 'madvise args', e, file);
          } else if (e.name === 'sys_exit_mmap') {
            check(f.ret === parseInt(p.replace(/^0x/, ''), 16), 'mmap return', e, file);
          } else continue;
          counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
        }
      }
    }
    expect(bad).toEqual([]);
    expect([...counts.keys()].sort()).toEqual(['mm_page_free', 'mm_vmscan_reclaim_pages', 'rss_stat', 'sys_enter_madvise', 'sys_exit_mmap', 'tlb_flush']);
    expect(counts.get('tlb_flush')).toBeGreaterThan(100000);
  });
});
