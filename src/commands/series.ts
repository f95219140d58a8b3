import { Command } from '@oclif/core';
import { PRESETS, SERIES, type Preset, type SeriesDef } from '../model/series/index.js';

export default class Series extends Command {
  static override summary = 'List the modelled patch series, their versions, and the kernel presets.';
  static override description = 'Each series version is one unit of the model: its identity (title, author, date, upstream commits, release merged in), what it changes, the kernel functions it touches, the model hooks it replaces, and the patch identities `foliolab patch` matches it by (subjects of the series and its parts, identifiers the patches introduce, and code that tells one modelled version from another). Presets are ordered lists of series on a release baseline.';
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
        // The patch identities `foliolab patch` matches this unit by.
        const subjects = [...new Set([s.title, s.seriesTitle, ...(s.subjects ?? [])].filter(Boolean))];
        this.log(`    matched by: subjects ${subjects.map((x) => `"${x}"`).join(', ')}${s.keywords?.length ? `; identifiers ${s.keywords.join(', ')}` : ''}${s.codeMarks ? `; version told by code: ${[...(s.codeMarks.present ?? []).map((w) => `has ${w}`), ...(s.codeMarks.absent ?? []).map((w) => `no ${w}`)].join(', ')}` : ''}${s.mergedIn === 'not upstream' ? ' (never matched: not an upstream patch)' : ''}`);
      }
      this.log('');
      this.log('presets:');
      for (const p of PRESETS) this.log(`  ${p.id.padEnd(15)} ${p.series.join(' ') || '(baseline only)'}\n                  ${p.notes}`);
    }
    return { series, presets: PRESETS };
  }
}
