/**
 * The trace_marker vocabulary foliolab adopts (and `record`, workloads and scenario traces use):
 * one line `fl: <verb> key=value …`, hex for addresses. Verbs: begin, end, phase, store, load,
 * thread, counters-begin, counters-end, reclaim, note, snap, snap-end. See README ("Markers").
 */
import type { SnapshotRun, SnapshotVma } from '../model/ops.js';

export interface Marker {
  verb: string;
  kv: Record<string, string>;
  text: string;
}

export function parseMarker(buf: string): Marker | undefined {
  const t = buf.trim();
  if (!t.startsWith('fl:')) return undefined;
  const body = t.slice(3).trim();
  const sp = body.indexOf(' ');
  const verb = sp < 0 ? body : body.slice(0, sp);
  const kv: Record<string, string> = {};
  if (sp >= 0) {
    for (const m of body.slice(sp + 1).matchAll(/([A-Za-z_][\w.-]*)=(\S*)/g)) kv[m[1]!] = m[2]!;
  }
  return { verb, kv, text: body };
}

/**
 * What a replay lacks to predict the output of memory the workload mapped before `fl: begin`
 * (its binary's data and bss, heap, stack, file pages), named in every verdict it limits.
 */
export const PRE_WINDOW_MISSING = 'memory mapped before the window (the trace has no snapshot of the address space at fl: begin)';

/**
 * `fl: snap …` — the workload's address space right after `fl: begin` (traces/workloads/fl.h):
 *   snap vma start=0x… end=0x… prot=rw-p kind=K off=0x… name=N
 *   snap pages addr=0x… runs=R,R,…     R = <n>- | <n><attrs>@<pfn hex>
 *   snap-end vmas=<n> pages=<n>
 * attrs: a anonymous, f file or shared, z the zero page, x exclusively mapped, s swap-backed,
 * h compound head (the run's other pages are its tails), t compound tails.
 */
export const SNAP_KINDS = ['anon', 'file', 'shared', 'heap', 'stack', 'vdso', 'vvar', 'vsyscall'] as const;

/** Parses one `snap vma` marker; a string says what is wrong with it. */
export function parseSnapVma(m: Marker, userEnd: number): SnapshotVma | string {
  const kv = m.kv;
  const kind = kv.kind as SnapshotVma['kind'];
  if (!(SNAP_KINDS as readonly string[]).includes(kind)) return `kind=${kv.kind ?? ''}`;
  // The vsyscall page lies at the top of the kernel's half, beyond exact doubles: kept by name.
  const wide = kind === 'vsyscall';
  const start = hexNum(kv.start, wide);
  const end = hexNum(kv.end, wide);
  const off = hexNum(kv.off ?? '0x0');
  const prot = kv.prot ?? '';
  if (!/^[r-][w-][x-][ps]$/.test(prot)) return `prot=${prot}`;
  if (start === undefined || end === undefined || end <= start || (!wide && (start % 4096 !== 0 || end % 4096 !== 0))) return `start=${kv.start ?? ''} end=${kv.end ?? ''}`;
  if (kind !== 'vsyscall' && end > userEnd) return `end=${kv.end ?? ''} beyond the address space`;
  if (off === undefined) return `off=${kv.off ?? ''}`;
  return {
    start, end, off, kind, name: kv.name ?? '-',
    read: prot[0] === 'r', write: prot[1] === 'w', exec: prot[2] === 'x', shared: prot[3] === 's',
    runs: [],
  };
}

/** Parses one `snap pages` marker into runs starting at its addr; a string says what is wrong. */
export function parseSnapPages(m: Marker): { addr: number; runs: SnapshotRun[] } | string {
  const addr = hexNum(m.kv.addr);
  if (addr === undefined || addr % 4096 !== 0) return `addr=${m.kv.addr ?? ''}`;
  const text = m.kv.runs;
  if (!text) return 'runs missing';
  const runs: SnapshotRun[] = [];
  let a = addr;
  for (const r of text.split(',')) {
    const g = /^(\d+)(?:(-)|([afzxsht]+)@([0-9a-f]+))$/.exec(r);
    if (!g) return `run ${r}`;
    const n = Number(g[1]);
    if (!(n >= 1 && n <= 2 ** 27)) return `run ${r}`;
    if (g[2]) { a += n * 4096; continue; }
    const at = g[3]!;
    const what = at.includes('z') ? 'zero' : at.includes('f') ? 'file' : at.includes('a') ? 'anon' : undefined;
    if (!what || (at.includes('h') && at.includes('t'))) return `run ${r}`;
    const pfn = parseInt(g[4]!, 16);
    if (!Number.isSafeInteger(pfn)) return `run ${r}`;
    runs.push({
      addr: a, n, pfn, what, exclusive: at.includes('x'), swapbacked: at.includes('s'),
      compound: at.includes('h') ? 'head' : at.includes('t') ? 'tail' : undefined,
    });
    a += n * 4096;
  }
  return { addr, runs };
}

function hexNum(s: string | undefined, wide = false): number | undefined {
  if (s === undefined || !/^0x[0-9a-fA-F]{1,16}$/.test(s)) return undefined;
  const v = parseInt(s.slice(2), 16);
  return Number.isSafeInteger(v) || wide ? v : undefined;
}

/**
 * Collects the `snap` markers of one task into the address space they describe. `add` returns
 * a problem (the marker is malformed or out of place) or undefined; `end` the finished snapshot
 * or a problem (a count that disagrees, pages outside their VMA).
 */
export class SnapshotReader {
  readonly vmas: SnapshotVma[] = [];
  private pages = 0;

  constructor(private readonly userEnd: number) {}

  add(m: Marker): string | undefined {
    const what = m.text.split(/\s+/)[1];
    if (what === 'vma') {
      const v = parseSnapVma(m, this.userEnd);
      if (typeof v === 'string') return v;
      const last = this.vmas[this.vmas.length - 1];
      if (last && v.start < last.end) return `vma ${m.kv.start} overlaps or precedes the one before`;
      this.vmas.push(v);
      return undefined;
    }
    if (what === 'pages') {
      const p = parseSnapPages(m);
      if (typeof p === 'string') return p;
      const v = this.vmas[this.vmas.length - 1];
      if (!v) return 'pages before any vma';
      const lastRun = p.runs[p.runs.length - 1];
      const prev = v.runs[v.runs.length - 1];
      if (p.addr < v.start || (lastRun && lastRun.addr + lastRun.n * 4096 > v.end)) return `pages at ${m.kv.addr} outside the vma ${v.start.toString(16)}-${v.end.toString(16)}`;
      if (prev && p.addr < prev.addr + prev.n * 4096) return `pages at ${m.kv.addr} overlap the run before`;
      for (const r of p.runs) {
        if (r.compound === 'tail' && !(v.runs.length > 0)) return `tail run at 0x${r.addr.toString(16)} without its head`;
        v.runs.push(r);
        this.pages += r.n;
      }
      return undefined;
    }
    return `snap ${what ?? ''}`;
  }

  end(m: Marker): SnapshotVma[] | string {
    const vmas = Number(m.kv.vmas);
    const pages = Number(m.kv.pages);
    if (m.kv.vmas !== undefined && vmas !== this.vmas.length) return `snap-end vmas=${m.kv.vmas}, ${this.vmas.length} read`;
    if (m.kv.pages !== undefined && pages !== this.pages) return `snap-end pages=${m.kv.pages}, ${this.pages} read`;
    return this.vmas;
  }
}
