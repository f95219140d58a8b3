import { Command } from '@oclif/core';
import { PRESETS, SERIES, type Preset, type SeriesDef } from '../model/series/index.js';

export default class Series extends Command {
  static override summary = 'List the modelled patch series, their versions, and the kernel presets.';
  static override description = 'Each series version is one unit of the model: its identity (title, author, date, upstream commits, release merged in), what it changes, the kernel functions it touches, and the model hooks it replaces. Presets are ordered lists of series on a release baseline.';
  static override examples = ['<%= config.bin %> series', '<%= config.bin %> series --json'];
  static override enableJsonFlag = true;

  async run(): Promise<{ series: Array<Omit<SeriesDef, 'hooks'> & { hooks: string[] }>; presets: Preset[] }> {
    await this.parse(Series);
    const series = SERIES.map((s) => ({ ...s, hooks: Object.keys(s.hooks) }));
    if (!this.jsonEnabled()) {
      for (const s of series) {
        this.log(`${s.id}${s.part ? ` (${s.part})` : ''} — ${s.title}`);
        this.log(`    ${s.author}, ${s.date}; merged: ${s.mergedIn}${s.commits.length ? `; commit ${s.commits.join(', ')}` : ''}${s.fixes ? `; Fixes: ${s.fixes}` : ''}`);
        this.log(`    changes: ${s.changes}`);
        this.log(`    hooks: ${s.hooks.join(', ')}; functions: ${s.functions.join(', ')}`);
      }
      this.log('');
      this.log('presets:');
      for (const p of PRESETS) this.log(`  ${p.id.padEnd(15)} ${p.series.join(' ') || '(baseline only)'}\n                  ${p.notes}`);
    }
    return { series, presets: PRESETS };
  }
}
