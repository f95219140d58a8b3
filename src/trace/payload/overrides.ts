/**
 * Decoders by event name for layouts whose printer is not the kernel's print fmt — the
 * analogue of libtraceevent's plugins (plugin_tlb.c, plugin_sched_switch.c), which
 * `trace-cmd report` uses:
 *
 *   tlb_flush:            pages=-1 reason=flush on task switch (0)
 *   tlb_flush:            pages=16 reason= (4)                         (names only for 0-3)
 *   sched_switch:         s1_mthp64k_lazy:18983 [120] D ==> swapper/1:0 [120]
 */
import { parseNumber, type CompiledDecoder, type Fields } from '../format/compile.js';

export type Override = (payload: string, kernel: CompiledDecoder | undefined) => Fields | undefined;

const TLB_RE = /^pages=(-?\d+) reason=(.*?) ?\((-?\d+)\)$/;
const SWITCH_RE = /^(.*):(-?\d+) \[(-?\d+)\] (\S+) ==> (.*):(-?\d+) \[(-?\d+)\]$/;

const tlbFlush: Override = (payload, kernel) => {
  const m = TLB_RE.exec(payload);
  if (!m) return undefined;
  const value = Number(m[3]);
  // libtraceevent's plugin has its own (older, partial) name table; prefer the kernel's.
  let name = m[2]!.trim();
  const hit = kernel?.symbolTables.get('reason')?.find(([v]) => v !== undefined && Number(v) === value);
  if (hit) name = hit[1];
  // Read against the kernel's field, so that a value wider than it is reported, not rounded.
  return { pages: parseNumber(m[1]!, 10, kernel?.format.fieldByName.get('pages')), reason: { value, name } };
};

const sched_switch: Override = (payload) => {
  const m = SWITCH_RE.exec(payload);
  if (!m) return undefined;
  return {
    prev_comm: m[1]!,
    prev_pid: Number(m[2]),
    prev_prio: Number(m[3]),
    prev_state: { value: null, flags: m[4]!.split('|') },
    next_comm: m[5]!,
    next_pid: Number(m[6]),
    next_prio: Number(m[7]),
  };
};

export const TRACE_CMD_OVERRIDES: ReadonlyMap<string, Override> = new Map([
  ['tlb_flush', tlbFlush],
  ['sched_switch', sched_switch],
]);
