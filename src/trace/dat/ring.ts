/**
 * Ftrace ring-buffer pages as trace.dat keeps them (kernel/trace/ring_buffer.c), laid out by the
 * `header_page` and `header_event` files the trace carries:
 *
 *   header_page:  u64 timestamp (of the page's first event) | local_t commit | data[]
 *                 commit: bytes of data used; bit 31 RB_MISSED_EVENTS (events were lost before
 *                 this page), bit 30 RB_MISSED_STORED (their count is the long after the data)
 *   event header: u32 { type_len:5, time_delta:27 } (little-endian bit order), then
 *                 type_len 1..28  data of type_len*4 bytes
 *                 type_len 0      u32 length (of itself and the data), data, padded to 4
 *                 type_len 29     padding: u32 length (time_delta 0: the rest of the page)
 *                 type_len 30     time extend: u32, delta += u32 << 27
 *                 type_len 31     absolute time stamp: (u32 << 27) | time_delta
 *
 * Each event's time is the page timestamp plus the deltas before it. Padding (a discarded
 * event) does not move the time, as the kernel's own reader (rb_update_read_stamp) treats it.
 */
import { DatError, type DatCpuData, type DatFile } from './file.js';
import { traceStep } from '../budget.js';

export interface PageLayout {
  tsOff: number;
  commitOff: number;
  commitSize: number;
  dataOff: number;
}

const FIELD_RE = /field:\s*([^;]*?)\s+(\w+);\s*offset:(\d+);\s*size:(\d+);/g;

/** Offsets of timestamp, commit and data from the `header_page` text. */
export function pageLayout(headerPage: string): PageLayout {
  const fields = new Map<string, { off: number; size: number }>();
  FIELD_RE.lastIndex = 0;
  for (let m = FIELD_RE.exec(headerPage); m; m = FIELD_RE.exec(headerPage)) fields.set(m[2]!, { off: Number(m[3]), size: Number(m[4]) });
  const ts = fields.get('timestamp');
  const commit = fields.get('commit');
  const data = fields.get('data');
  if (!ts || !commit || !data || ts.size !== 8 || (commit.size !== 4 && commit.size !== 8)) {
    throw new DatError(0, `header_page does not describe timestamp (u64), commit and data: ${JSON.stringify(headerPage.slice(0, 120))}`);
  }
  return { tsOff: ts.off, commitOff: commit.off, commitSize: commit.size, dataOff: data.off };
}

const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TWO27 = 2 ** 27;
/** Absolute time stamps carry 59 bits; the bits above come from the running time (rb_fix_abs_ts). */
const TS_LOW_BITS = 2 ** 59;

export interface RingRecord {
  ts: number;
  cpu: number;
  /** Start and length of the event's data (its fields) within the CPU data buffer. */
  start: number;
  length: number;
  /** Where the record is: a file offset, or for compressed data the offset within the CPU's decompressed data. */
  offset: number;
}

export interface RingLoss {
  cpu: number;
  /** Events lost before this page, or null when the page does not say how many. */
  count: number | null;
  /** Time of the last event before the gap on this CPU, if any. */
  afterTsNs: number | null;
  /** Offset of the page (file offset, or offset in the decompressed data). */
  offset: number;
  /** The CPU's data was compressed: `offset` is within its decompressed data. */
  compressed: boolean;
}

export interface RingProblem {
  cpu: number;
  offset: number;
  message: string;
  /** Events were skipped because of it. */
  lost: boolean;
}

/**
 * The events of one CPU, in buffer order. Losses and damaged pages are reported through the
 * callbacks as they are met; a damaged page's remaining events are skipped (the next page is
 * read normally: each page starts from its own timestamp).
 */
export function* cpuRecords(
  f: DatFile,
  layout: PageLayout,
  cd: DatCpuData,
  onLoss: (l: RingLoss) => void,
  onProblem: (p: RingProblem) => void,
): Generator<RingRecord> {
  const { data, cpu } = cd;
  const little = f.little;
  const pageSize = f.pageSize;
  const where = (off: number): number => (cd.compressed ? off : cd.fileOffset + off);
  const u32 = (off: number): number => (little ? data.readUInt32LE(off) : data.readUInt32BE(off));
  let lastTs: number | null = null;
  const pages = Math.floor(data.length / pageSize);
  if (data.length % pageSize !== 0) {
    onProblem({ cpu, offset: where(pages * pageSize), message: `CPU ${cpu} data is ${data.length} bytes, not a whole number of ${pageSize}-byte pages: the last ${data.length % pageSize} bytes are ignored`, lost: true });
  }
  for (let pg = 0; pg < pages; pg++) {
    traceStep();
    const base = pg * pageSize;
    const tsBig = little ? data.readBigUInt64LE(base + layout.tsOff) : data.readBigUInt64BE(base + layout.tsOff);
    const commitWord = layout.commitSize === 8
      ? Number((little ? data.readBigUInt64LE(base + layout.commitOff) : data.readBigUInt64BE(base + layout.commitOff)) & 0xffffffffn)
      : u32(base + layout.commitOff);
    const size = commitWord & 0x3fffffff;
    const dataStart = base + layout.dataOff;
    const dataEnd = dataStart + size;
    if (dataEnd > base + pageSize) {
      onProblem({ cpu, offset: where(base + layout.commitOff), message: `CPU ${cpu} page at ${cd.compressed ? 'decompressed byte' : 'byte'} ${where(base)}: commit says ${size} bytes of events, more than the ${pageSize - layout.dataOff} a page holds; page skipped`, lost: true });
      continue;
    }
    if (commitWord & MISSED_EVENTS) {
      let count: number | null = null;
      if (commitWord & MISSED_STORED && dataEnd + layout.commitSize <= base + pageSize) {
        count = layout.commitSize === 8
          ? Number(little ? data.readBigUInt64LE(dataEnd) : data.readBigUInt64BE(dataEnd))
          : u32(dataEnd);
      }
      onLoss({ cpu, count, afterTsNs: lastTs, offset: where(base), compressed: cd.compressed });
    }
    if (size === 0) continue;
    let ts = Number(tsBig);
    let p = dataStart;
    while (p < dataEnd) {
      traceStep();
      if (p + 4 > dataEnd) {
        onProblem({ cpu, offset: where(p), message: `CPU ${cpu}: event header at ${cd.compressed ? 'decompressed byte' : 'byte'} ${where(p)} runs past the page's committed data; rest of the page skipped`, lost: true });
        break;
      }
      const w = u32(p);
      const typeLen = little ? w & 31 : w >>> 27;
      const delta = little ? w >>> 5 : w & 0x7ffffff;
      if (typeLen === TYPE_PADDING) {
        if (delta === 0) break; // the rest of the page is unused
        if (p + 8 > dataEnd) break;
        const len = u32(p + 4);
        p += 4 + len;
        continue;
      }
      if (typeLen === TYPE_TIME_EXTEND || typeLen === TYPE_TIME_STAMP) {
        if (p + 8 > dataEnd) {
          onProblem({ cpu, offset: where(p), message: `CPU ${cpu}: time ${typeLen === TYPE_TIME_STAMP ? 'stamp' : 'extend'} at ${where(p)} is cut by the end of the page; rest of the page skipped`, lost: true });
          break;
        }
        const ext = u32(p + 4) * TWO27 + delta;
        if (typeLen === TYPE_TIME_EXTEND) ts += ext;
        else ts = ts - (ts % TS_LOW_BITS) + ext;
        p += 8;
        continue;
      }
      let start: number;
      let length: number;
      let next: number;
      if (typeLen === 0) {
        if (p + 8 > dataEnd) {
          onProblem({ cpu, offset: where(p), message: `CPU ${cpu}: event length at ${where(p)} is cut by the end of the page; rest of the page skipped`, lost: true });
          break;
        }
        const len = u32(p + 4);
        if (len < 4) {
          onProblem({ cpu, offset: where(p + 4), message: `CPU ${cpu}: event at ${where(p)} gives length ${len}; rest of the page skipped`, lost: true });
          break;
        }
        start = p + 8;
        length = len - 4;
        // Rounded up to 4 by arithmetic: `& ~3` works on 32-bit signed integers, and a damaged
        // length of 2^31 or more would turn negative and send the reader backwards.
        next = start + Math.ceil(length / 4) * 4;
      } else {
        start = p + 4;
        length = typeLen * 4;
        next = start + length;
      }
      if (next > dataEnd) {
        onProblem({ cpu, offset: where(p), message: `CPU ${cpu}: event at ${where(p)} (${length} bytes) runs past the page's committed data; rest of the page skipped`, lost: true });
        break;
      }
      ts += delta;
      lastTs = ts;
      yield { ts, cpu, start, length, offset: where(p) };
      p = next;
    }
  }
}
