import { Command, Flags } from '@oclif/core';
import { existsSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { join } from 'node:path';
import { copyFormats, DEFAULT_SYSCALLS, DEFAULT_SYSTEMS, type CopyResult } from '../../record/formats.js';
import { grammarsDir } from '../../paths.js';
import { EXIT } from '../shared.js';

export default class GrammarsAdd extends Command {
  static override summary = "Copy this kernel's event format files into grammars/<release>/.";
  static override description = `Reads <tracefs>/events/<system>/<event>/format for the systems foliolab decodes (and the mm-related syscalls) and writes them, unchanged, to grammars/<release>/<system>/<event>/format. Needs tracefs mounted (mount -t tracefs nodev /sys/kernel/tracing) and read access to it (root).`;
  static override examples = [
    '<%= config.bin %> grammars add',
    '<%= config.bin %> grammars add --release my-6.19-build --system tlb --system kmem',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    release: Flags.string({ description: 'Directory name under grammars/ (default: `uname -r`).' }),
    tracefs: Flags.string({ description: 'tracefs mount point.', default: '/sys/kernel/tracing' }),
    system: Flags.string({ description: 'Event system to copy (repeatable); default: the ones foliolab reads.', multiple: true }),
    grammars: Flags.string({ description: 'Grammars directory to write into (default: the shipped one).' }),
  };

  async run(): Promise<CopyResult & { dest: string }> {
    const { flags } = await this.parse(GrammarsAdd);
    const events = join(flags.tracefs, 'events');
    if (!existsSync(events)) {
      this.error(`no ${events}: mount tracefs first (mount -t tracefs nodev ${flags.tracefs}) and run as root`, { exit: EXIT.input });
    }
    const release = flags.release ?? osRelease();
    const dest = join(flags.grammars ?? grammarsDir, release);
    const res = copyFormats(events, dest, flags.system ?? DEFAULT_SYSTEMS, DEFAULT_SYSCALLS);
    if (res.copied === 0) this.error(`no format files could be read under ${events} (permissions?)`, { exit: EXIT.input });
    if (!this.jsonEnabled()) {
      this.log(`copied ${res.copied} format files into ${dest}`);
      if (res.missing.length) this.log(`systems not present on this kernel: ${res.missing.join(', ')}`);
    }
    return { ...res, dest };
  }
}
