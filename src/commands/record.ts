import { Command, Flags } from '@oclif/core';
import { expandEventSpec } from '../record/events.js';
import { checkRecordable, ensureTracefs, record, RecordError, THP, TRACEFS, type RecordResult } from '../record/record.js';
import { EXIT } from './shared.js';

export default class RecordCommand extends Command {
  static override summary = "Capture a command's memory behaviour with tracefs, ready for parse and replay.";
  static override description = `Needs root and tracefs (mounted if missing). Enables the events foliolab reads (mmap/munmap/mremap/madvise/clone/exit syscalls, exceptions:page_fault_user, tlb:tlb_flush, kmem:rss_stat, mm_page_alloc/free, vmscan:*, pagemap:*, huge_memory:*, sched events; markers through options/markers), grows the ring buffer to --buffer-kb if it is smaller, follows the command and its children, writes a header marker (fl: note release=… thp settings) once tracing is on, and saves beside --out: counters-before/after.txt, stdout.txt, settings.txt, trace-stats.txt (lost events) and formats/ (the format files of every enabled event). Every tracefs and THP setting it touches is restored afterwards — on success, on failure, on Ctrl-C and SIGTERM. An explicit --events list that lacks events replay needs is recorded, with a warning naming them.

Exit status: 0 recorded (the command's own status is reported), 1 cannot record (no root, no tracefs), 2 usage error (an mTHP size or mode, or a CPU, this kernel does not have), 126 the command is not executable, 127 the command is not found.`;
  static override examples = [
    'sudo <%= config.bin %> record --out /tmp/s1/trace.txt --mthp 64kB=always --cpu 1 -- traces/workloads/bin/s1_mthp64k_lazyfree_pageout',
    'sudo <%= config.bin %> record --out run/trace.txt --events sched -- ./my-workload --size 64',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override flags = {
    out: Flags.string({ description: 'Trace text file to write (everything else goes beside it).', default: 'trace.txt' }),
    events: Flags.string({
      description: 'Events, comma-separated: `default` (what replay reads), `sched` (the default set plus IPIs and call-function vectors, for multi-CPU runs), or system:event names (globs allowed: vmscan:*).',
      default: 'default',
    }),
    'buffer-kb': Flags.integer({ description: 'Ring buffer needed per CPU (KiB); a larger buffer is left as it is.', default: 65536, min: 1 }),
    thp: Flags.string({ description: 'transparent_hugepage/enabled for the run.', options: ['always', 'madvise', 'never'] }),
    mthp: Flags.string({ description: 'Per-size mTHP setting for the run, SIZE=MODE (repeatable): 64kB=always.', multiple: true }),
    cpu: Flags.integer({ description: 'Pin the command to this CPU (deterministic TLB flushes).', min: 0 }),
    wide: Flags.boolean({
      description: "Also record other tasks' mm_lru_insertion and tlb_flush (a second tracefs instance, merged by time): the lru_add drains and flush-IPI arrivals that happen in other tasks' context. --no-wide follows the command only.",
      default: true, allowNo: true,
    }),
    tracefs: Flags.string({ description: 'tracefs mount point.', default: TRACEFS }),
    'thp-dir': Flags.string({ description: 'transparent_hugepage sysfs directory.', default: THP, hidden: true }),
  };

  async run(): Promise<RecordResult> {
    const { argv, flags } = await this.parse(RecordCommand);
    const command = argv as string[];
    if (command.length === 0) this.error('no command to record: foliolab record [flags] -- <command…>', { exit: EXIT.usage });
    const { events, unknown } = expandEventSpec(flags.events);
    if (unknown.length) this.error(`--events: unknown set ${unknown.join(', ')} (sets: default, sched; events are system:event)`, { exit: EXIT.usage });
    const mthp: Record<string, string> = {};
    for (const m of flags.mthp ?? []) {
      const [size, mode] = m.split('=');
      if (!size || !mode || !/^\d+kB$/.test(size)) this.error(`--mthp takes SIZE=MODE, e.g. 64kB=always (got ${m})`, { exit: EXIT.usage });
      mthp[size] = mode;
    }
    await ensureTracefs(flags.tracefs);
    const problem = checkRecordable(flags.tracefs);
    if (problem) this.error(`${problem}; nothing was changed`, { exit: EXIT.input });
    const progress = this.jsonEnabled() ? undefined : (msg: string) => process.stderr.write(`record: ${msg}\n`);
    const warning = (msg: string) => process.stderr.write(`record: WARNING: ${msg}\n`);
    try {
      const r = await record({
        command, out: flags.out, events, bufferKb: flags['buffer-kb'], thp: flags.thp, mthp, cpu: flags.cpu,
        tracefs: flags.tracefs, thpDir: flags['thp-dir'], wide: flags.wide, onProgress: progress, onWarning: warning,
      });
      if (!this.jsonEnabled()) {
        this.log(`recorded ${r.lines} lines to ${r.out} (command exited ${r.exitStatus ?? r.signal})`);
        this.log(r.lostEvents ? `WARNING: ${r.lostEvents} events lost: enlarge --buffer-kb` : 'no lost events');
        if (r.skippedEvents.length) this.log(`events not available on this kernel: ${r.skippedEvents.join(' ')}`);
        if (r.missingRequired.length) this.log(`WARNING: replay needs events this capture lacks: ${r.missingRequired.join(' ')}`);
        this.log(r.restored ? 'tracefs and THP settings restored' : 'WARNING: some settings could not be restored (see above)');
        this.log(`next: foliolab parse ${r.out}; foliolab replay ${r.out}`);
      }
      return r;
    } catch (e) {
      if (e instanceof RecordError) this.error(`${e.message}${e.exit === EXIT.input || e.exit === EXIT.usage || e.exit >= 126 ? '; nothing was recorded' : ''}`, { exit: e.exit });
      throw e;
    }
  }
}
