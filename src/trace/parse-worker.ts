/**
 * The parse worker: reads a text trace (gunzipping it), splits it into lines, scans each line's
 * header, checks the protocol and sorts — TraceParser with everything but the decoding of
 * payloads — on the second core, and posts what leaves the sort window as columns (see
 * parallel.ts for the message and for the side that makes events of them). The payloads are
 * decoded on the main thread, when the consumer asks, exactly as in-process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Diagnostic } from '../core/diagnostics.js';
import { isDat } from './dat/file.js';
import { drive, TraceParser, type Layout, type TextEntry, type TraceParseOptions } from './index.js';
import { TaggedSink, type WorkerInit, type WorkerMessage, COLS_F, COLS_I } from './parallel.js';
import { openChunks } from './reader.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const ctl = new Int32Array(init.control);

async function isDatInput(path: string): Promise<boolean> {
  const it = openChunks(path)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return false;
      if (r.value.length > 0) return isDat(r.value);
    }
  } catch {
    // Unreadable or not gzip after all: the parse itself reports it.
    return false;
  } finally {
    await it.return?.(undefined);
  }
}

async function main(): Promise<void> {
  if (await isDatInput(init.path)) {
    port.postMessage({ fallback: true } satisfies WorkerMessage);
    return;
  }
  const sink = new TaggedSink(init.diagnosticsPerCode ?? 50);
  const opts: TraceParseOptions = {
    file: init.file,
    // The worker never decodes a payload: its decode table is only ever built, never asked.
    registry: undefined as never,
    release: init.release,
    layout: init.layout,
    sortWindow: init.sortWindow,
    maxLineBytes: init.maxLineBytes,
    diagnosticsPerCode: init.diagnosticsPerCode,
    onProgress: (b) => { progress = b; },
  };
  let progress = -1;
  const parser = new TraceParser(opts, () => { throw new Error('parse worker: an event was made in the worker'); }, sink);
  // Texts by number, from their first event read until their last is posted: each is posted
  // with its first event, and released (for the main thread to drop) with its last, so that
  // neither thread holds a text longer than its events wait in the sort window.
  const live = new Map<number, { entry: TextEntry; emitted: number; posted: boolean; done: boolean }>();
  let newTexts: Array<{ id: number; text: string }> = [];
  let released: number[] = [];
  parser.onText = (entry) => live.set(entry.id, { entry, emitted: 0, posted: false, done: false });
  let lastTid = -1;
  let lastText: { entry: TextEntry; emitted: number; posted: boolean; done: boolean } | undefined;

  // The batch being filled.
  let cap = 1024;
  let F = new Float64Array(cap * COLS_F);
  let I = new Int32Array(cap * COLS_I);
  let n = 0;
  let layouts: Array<[number, Layout]> = [];
  let strings: string[] = [];
  const stringIds = new Map<string, number>();
  let nextString = 0;
  const idOf = (s: string): number => {
    let id = stringIds.get(s);
    if (id === undefined) {
      id = nextString++;
      stringIds.set(s, id);
      strings.push(s);
    }
    return id;
  };
  parser.onLayout = (l) => layouts.push([n, l]);
  parser.emitSlot = (num, small, a, b, comm, name) => {
    if (n === cap) {
      cap *= 2;
      const f = new Float64Array(cap * COLS_F);
      f.set(F);
      F = f;
      const i = new Int32Array(cap * COLS_I);
      i.set(I);
      I = i;
    }
    const fo = n * COLS_F;
    F[fo] = num[a]!;
    F[fo + 1] = num[a + 1]!;
    F[fo + 2] = num[a + 2]!;
    F[fo + 3] = num[a + 3]!;
    const io = n * COLS_I;
    for (let k = 0; k < 12; k++) I[io + k] = small[b + k]!;
    const tid = small[b + 11]!;
    if (tid !== lastTid) {
      lastTid = tid;
      lastText = live.get(tid)!;
    }
    const t = lastText!;
    if (!t.posted) {
      t.posted = true;
      newTexts.push({ id: tid, text: t.entry.text });
    }
    if (++t.emitted === t.entry.events && t.done) {
      live.delete(tid);
      released.push(tid);
      lastTid = -1;
    }
    I[io + 12] = idOf(name);
    I[io + 13] = idOf(comm);
    I[io + 14] = sink.adds;
    n++;
  };

  let posted = 0;
  const post = (final?: WorkerMessage['final']): void => {
    const f = F.slice(0, n * COLS_F);
    const i = I.slice(0, n * COLS_I);
    // The slice is read: every text it started is whole.
    parser.endText();
    for (const [id, t] of live) {
      if (t.done) continue;
      t.done = true;
      if (t.emitted === t.entry.events) {
        live.delete(id);
        released.push(id);
        lastTid = -1;
      }
    }
    // The texts go as UTF-8 bytes in one transferred buffer: a string in a message of over
    // 100 KiB is made straight in the main thread's old generation, where it outlives its use.
    const bytes = Buffer.allocUnsafeSlow(newTexts.reduce((a, t) => a + Buffer.byteLength(t.text, 'utf8'), 0));
    const texts: Array<[number, number, number]> = [];
    let at = 0;
    for (const t of newTexts) {
      const len = bytes.write(t.text, at, 'utf8');
      texts.push([t.id, at, len]);
      at += len;
    }
    const m: WorkerMessage = { n, F: f, I: i, endTag: sink.adds, progress, layouts, strings, texts, textBytes: bytes.buffer as ArrayBuffer, released, final };
    port.postMessage(m, [f.buffer, i.buffer, bytes.buffer as ArrayBuffer]);
    newTexts = [];
    released = [];
    n = 0;
    layouts = [];
    strings = [];
    progress = -1;
    // Stay at most a few slices ahead of the consumer: the model is slower than the parse, and
    // what the worker posts waits in the main thread's queue until it is read.
    posted++;
    for (;;) {
      const consumed = Atomics.load(ctl, 0);
      if (posted - consumed <= init.ahead) break;
      Atomics.wait(ctl, 0, consumed, 1000);
    }
  };

  const it = drive(init.path, opts, parser);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      const st = r.value;
      const kept: Diagnostic[] = sink.kept;
      post({
        layout: st.layout,
        layoutDetected: st.layoutDetected,
        header: st.header,
        lines: st.lines,
        bytes: st.bytes,
        events: st.events,
        specialLines: st.specialLines,
        unparsedLines: st.unparsedLines,
        lost: st.lost,
        truncated: st.truncated,
        complete: st.complete,
        reordered: st.reordered,
        late: st.late,
        kept,
        tags: sink.tags,
        counts: [...sink.counts],
        first: [...sink.first],
      });
      return;
    }
    post();
  }
}

await main();
