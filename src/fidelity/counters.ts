/**
 * The counters a capture saved beside its trace: stdout.txt's per-phase deltas of /proc/vmstat
 * and the mTHP stats (`delta[<phase>]: name=+N …`), and settings.txt (kernel, THP settings).
 * Compared with the model's per-phase deltas for the counters only the workload moves; the
 * deltas are system-wide, so a counter other tasks also touch (pgfree, pgactivate, …) is not
 * compared.
 */
import { parseExecImages, type ExecImage } from '../core/exec-image.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { allocatesForEveryone, allocatesForNone, type ThpSettings } from '../model/config.js';

export interface CaptureFacts {
  release?: string;
  /** settings.txt `tlb-remote-flush:` (what the boot log says remote TLB flushes use). */
  tlbRemoteFlush?: string;
  thp?: ThpSettings;
  phaseDeltas?: Record<string, Record<string, number>>;
  /**
   * The events the capture enabled (`system:event`): settings.txt's `tracefs set_event:` list,
   * else the format files in `formats/` beside the trace. Undefined when neither says.
   */
  events?: string[];
  /** The capture traced the workload's tasks only (`foliolab record`: set_event_pid with event-fork). */
  othersUntraced?: boolean;
  /** The layouts of the files the workload exec'd (settings.txt `exec-image:` lines). */
  execImages?: ExecImage[];
}

export function readCaptureFacts(tracePath: string): CaptureFacts {
  if (tracePath === '-') return {};
  const dir = dirname(tracePath);
  const facts: CaptureFacts = {};
  const settings = join(dir, 'settings.txt');
  if (existsSync(settings)) {
    const t = readFileSync(settings, 'utf8');
    facts.release = /^kernel:\s*(\S+)/m.exec(t)?.[1];
    facts.tlbRemoteFlush = /^tlb-remote-flush:\s*(\S+)/m.exec(t)?.[1];
    facts.othersUntraced = /^recorded-by: foliolab record/m.test(t);
    const images = parseExecImages(t);
    if (images.length > 0) facts.execImages = images;
    const sel = (s: string): string | undefined => /\[(\w+)\]/.exec(s)?.[1];
    const enabled = sel(/^thp\/enabled:(.*)$/m.exec(t)?.[1] ?? '');
    const sizes: ThpSettings['sizes'] = {};
    for (const m of t.matchAll(/^thp\/hugepages-(\d+)kB\/enabled:(.*)$/gm)) {
      const v = sel(m[2]!);
      if (v) sizes[Number(m[1])] = v as ThpSettings['sizes'][number];
    }
    if (enabled) facts.thp = { enabled: enabled as ThpSettings['enabled'], sizes };
    const list = /^tracefs set_event:\n((?:[ \t]+\S+\n?)*)/m.exec(t)?.[1];
    if (list) facts.events = list.split('\n').map((l) => l.trim()).filter(Boolean);
  }
  const formats = join(dir, 'formats');
  if (!facts.events && existsSync(formats)) {
    const events: string[] = [];
    for (const sys of readdirSync(formats, { withFileTypes: true })) {
      if (!sys.isDirectory()) continue;
      for (const ev of readdirSync(join(formats, sys.name), { withFileTypes: true })) if (ev.isDirectory()) events.push(`${sys.name}:${ev.name}`);
    }
    if (events.length) facts.events = events;
  }
  const stdout = join(dir, 'stdout.txt');
  if (existsSync(stdout)) {
    const deltas: Record<string, Record<string, number>> = {};
    for (const m of readFileSync(stdout, 'utf8').matchAll(/^delta\[([^\]]+)\]:(.*)$/gm)) {
      const phase = m[1]!;
      if (phase === 'total') continue;
      // A phase a workload repeats (--iters N) prints one delta per pass; the model's per-phase
      // deltas are keyed by the phase's name alone, so the passes are summed here too.
      const d = (deltas[phase] ??= {});
      for (const kv of m[2]!.trim().split(/\s+/)) {
        const [k, v] = kv.split('=');
        if (k && v !== undefined) d[k] = (d[k] ?? 0) + Number(v);
      }
    }
    facts.phaseDeltas = deltas;
  }
  return facts;
}

/** Counters only the workload moves (system-wide deltas of the others include other tasks). */
export const COMPARED_COUNTERS = /^(pglazyfree|pglazyfreed|thp_split_pmd|thp_split_page|thp_deferred_split_page|thp_fault_alloc|thp_swpout_fallback|\d+kB\/(split|split_deferred|nr_anon_partially_mapped|anon_fault_alloc|swpout_fallback))$/;

/** Counters of allocations made in faults (thp_fault_alloc, mTHP anon_fault_alloc). */
const FAULT_ALLOC_COUNTER = /^(thp_fault_alloc|\d+kB\/anon_fault_alloc)$/;

export interface CounterCheck {
  matched: boolean;
  compared: number;
  mismatches: Array<{ phase: string; counter: string; recorded: number; model: number }>;
  /** Counters left out, and why (a system-wide counter other tasks move under these settings). */
  skipped: Array<{ counter: string; why: string }>;
}

/**
 * Counters of one folio size: where that size's policy is `always`, every task's anonymous
 * faults allocate such folios, so their allocations, splits and partial unmaps all move these
 * system-wide counters, not only the workload's: a busy machine moves them too. The size in
 * KiB, or undefined for a counter of no folio size.
 */
function counterSize(name: string): number | undefined {
  if (name.startsWith('thp_')) return 2048;
  const m = /^(\d+)kB\//.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function compareCounterDeltas(model: Record<string, Record<string, number>>, recorded: Record<string, Record<string, number>>, thp?: ThpSettings): CounterCheck {
  const mismatches: CounterCheck['mismatches'] = [];
  const skipped = new Map<string, string>();
  let compared = 0;
  for (const [phase, rec] of Object.entries(recorded)) {
    const mod = model[phase] ?? {};
    const names = new Set([...Object.keys(rec), ...Object.keys(mod)].filter((n) => COMPARED_COUNTERS.test(n)));
    for (const n of names) {
      const size = counterSize(n);
      if (size !== undefined && thp && allocatesForEveryone(size, thp)) {
        skipped.set(n, `system-wide, and with ${size}kB folios enabled for every task other tasks' folios count too`);
        continue;
      }
      // A size the settings give no task now: its folios are other processes', allocated under
      // an earlier setting, which they split and free at any time (and drop_caches' deferred-
      // split shrinker splits in the workload's context). Judged by the settings, an input; a
      // count the model moves where the record shows none stays compared.
      if (size !== undefined && thp && allocatesForNone(size, thp) && (rec[n] ?? 0) !== 0) {
        skipped.set(n, `system-wide, and ${size}kB folios are enabled for no task: other processes' folios from an earlier setting`);
        continue;
      }
      const a = rec[n] ?? 0;
      const b = mod[n] ?? 0;
      // A fault allocation counter: the model counts the workload's own, each lifted from its
      // traced allocation (mm_page_alloc in its fault), so a system-wide count above it is other
      // tasks' faults (a range they madvised); one below it is the model's error.
      if (a > b && FAULT_ALLOC_COUNTER.test(n)) {
        if (!skipped.has(n)) skipped.set(n, `system-wide: capture ${a}, model ${b} in phase ${phase} — the model counts the workload's own fault allocations, each traced (mm_page_alloc), so the excess is other tasks' faults`);
        continue;
      }
      compared++;
      if (a !== b) mismatches.push({ phase, counter: n, recorded: a, model: b });
    }
  }
  return { matched: mismatches.length === 0, compared, mismatches, skipped: [...skipped].map(([counter, why]) => ({ counter, why })) };
}
