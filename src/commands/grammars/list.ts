import { Command, Flags } from '@oclif/core';
import { FormatRegistry } from '../../trace/index.js';
import { grammarsDir } from '../../paths.js';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export default class GrammarsList extends Command {
  static override summary = 'List the kernel releases whose event format files foliolab has.';
  static override description = `Payloads are decoded by the kernel's own format files, kept per release in grammars/<release>/<system>/<event>/format. Add your kernel's with \`foliolab grammars add\`.`;
  static override examples = ['<%= config.bin %> grammars', '<%= config.bin %> grammars --json'];
  static override enableJsonFlag = true;
  static override flags = {
    grammars: Flags.string({ description: 'Grammars directory (default: the shipped one).' }),
  };

  async run(): Promise<{ dir: string; releases: Array<{ release: string; systems: Record<string, number> }> }> {
    const { flags } = await this.parse(GrammarsList);
    const dir = flags.grammars ?? grammarsDir;
    const reg = FormatRegistry.fromDirectory(dir);
    const releases = reg.releases.map((release) => {
      const systems: Record<string, number> = {};
      const rdir = join(dir, release);
      for (const s of readdirSync(rdir)) {
        const sdir = join(rdir, s);
        if (!statSync(sdir).isDirectory()) continue;
        systems[s] = readdirSync(sdir).filter((e) => existsSync(join(sdir, e, 'format'))).length;
      }
      return { release, systems };
    });
    if (!this.jsonEnabled()) {
      this.log(`grammars: ${dir}`);
      for (const r of releases) {
        const total = Object.values(r.systems).reduce((a, b) => a + b, 0);
        this.log(`  ${r.release.padEnd(28)} ${String(total).padStart(4)} events  ${Object.entries(r.systems).map(([s, n]) => `${s}:${n}`).join(' ')}`);
      }
    }
    return { dir, releases };
  }
}
