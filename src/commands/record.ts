import { Command, Flags } from '@oclif/core';
import { checkRecordable, DEFAULT_EVENTS, ensureTracefs, record, RecordError, SCHED_EVENTS, TRACEFS, type RecordResult } from '../record/record.js';
import { EXIT } from './shared.js';

export default class RecordCommand extends Command {
  static override summary = "Capture a command's memory behaviour with tracefs, ready for parse and replay.";
  static override description = `Needs root and tracefs (mounted if missing). Enables the events foliolab reads (mmap/munmap/mremap/madvise/clone/exit syscalls, exceptions:page_fault_user, tlb:tlb_flush, kmem:rss_stat, mm_page_alloc/free, vmscan:*, pagemap:*, huge_memory:*, sched events; markers through options/markers), sizes the ring buffer, follows the command and its children, writes a header marker (fl: note release=… thp settings), and saves beside --out: counters-before/after.txt, stdout.txt, settings.txt, trace-stats.txt (lost events) and formats/ (the format files of every enabled event). Every tracefs and THP setting it touches is restored afterwards — on success, on failure, on Ctrl-C and SIGTERM.

Exit status: 0 recorded (the command's own status is reported), 1 cannot record (no root, no tracefs, bad mTHP size), 2 usage error.`;
  static override examples = [
    'sudo <%= config.bin %> record --out /tmp/s1/trace.txt --mthp 64kB=always --cpu 1 -- traces/workloads/bin/s1_mthp64k_lazyfree_pageout',
    'sudo <%= config.bin %> record --out run/trace.txt --events default,sched -- ./my-workload --size 64',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override flags = {
    out: Flags.string({ description: 'Trace text file to write (everything else goes beside it).', default: 'trace.txt' }),
    events: Flags.string({ description: 'Event set: `default`, `sched` (IPIs, for multi-CPU runs), or system:event names, comma-separated.', default: 'default' }),
    'buffer-kb': Flags.integer({ description: 'Ring buffer per CPU (KiB).', default: 65536 }),
    thp: Flags.string({ description: 'transparent_hugepage/enabled for the run.', options: ['always', 'madvise', 'never'] }),
    mthp: Flags.string({ description: 'Per-size mTHP setting for the run, SIZE=MODE (repeatable): 64kB=always.', multiple: true }),
    cpu: Flags.integer({ description: 'Pin the command to this CPU (deterministic TLB flushes).' }),
    tracefs: Flags.string({ description: 'tracefs mount point.', default: TRACEFS }),
  };

  async run(): Promise<RecordResult> {
    const { argv, flags } = await this.parse(RecordCommand);
    const command = argv as string[];
    if (command.length === 0) this.error('no command to record: foliolab record [flags] -- <command…>', { exit: EXIT.usage });
    await ensureTracefs(flags.tracefs);
    const problem = checkRecordable(flags.tracefs);
    if (problem) this.error(`${problem}; nothing was changed`, { exit: EXIT.input });
    const events: string[] = [];
    for (const e of flags.events.split(',').map((x) => x.trim()).filter(Boolean)) {
      if (e === 'default') events.push(...DEFAULT_EVENTS);
      else if (e === 'sched') events.push(...SCHED_EVENTS);
      else events.push(e);
    }
    const mthp: Record<string, string> = {};
    for (const m of flags.mthp ?? []) {
      const [size, mode] = m.split('=');
      if (!size || !mode || !/^\d+kB$/.test(size)) this.error(`--mthp takes SIZE=MODE, e.g. 64kB=always (got ${m})`, { exit: EXIT.usage });
      mthp[size] = mode;
    }
    const progress = this.jsonEnabled() ? undefined : (msg: string) => process.stderr.write(`record: ${msg}\n`);
    try {
      const r = await record({ command, out: flags.out, events, bufferKb: flags['buffer-kb'], thp: flags.thp, mthp, cpu: flags.cpu, tracefs: flags.tracefs, onProgress: progress });
      if (!this.jsonEnabled()) {
        this.log(`recorded ${r.lines} lines to ${r.out} (command exited ${r.exitStatus ?? r.signal})`);
        this.log(r.lostEvents ? `WARNING: ${r.lostEvents} events lost: enlarge --buffer-kb` : 'no lost events');
        if (r.skippedEvents.length) this.log(`events not available on this kernel: ${r.skippedEvents.join(' ')}`);
        this.log('tracefs and THP settings restored');
        this.log(`next: foliolab parse ${r.out}; foliolab replay ${r.out}`);
      }
      return r;
    } catch (e) {
      if (e instanceof RecordError) this.error(e.message, { exit: EXIT.input });
      throw e;
    }
  }
}
