import { Args, Command } from '@oclif/core';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { diffSeries, identifyFile, type IdentifiedPatch, type SeriesDiff } from '../../catalogue/index.js';
import { formatDiagnostic, type Diagnostic } from '../../core/diagnostics.js';
import { formatSeriesDiff } from '../../report/patch.js';
import { EXIT } from '../shared.js';

export default class PatchDiff extends Command {
  static override summary = 'Compare two versions of a patch or series, the way reviewers compare v5 with v6.';

  static override description = `OLD and NEW are each a patch file, an mbox holding a series, or a directory of patch files. Parts are paired by title (then by the most alike title); the report lists parts added, dropped, reworded and changed, the hunk-level interdiff of the changed ones (hunks keyed by file and function: added, dropped, or changed with the +/- lines only one version has), the changelog lines of the new version that explain each change, and — where both versions are modelled — which model hooks (src/model/hooks.ts) the two versions' units replace differently.

Changed lines are shown as the patches write them, indentation included; an indentation change is a change, unless either version lost its whitespace to a list archive (then whitespace is not compared).

Exit status: 0 compared; 1 an input could not be read or holds no patch (empty, whitespace-only, binary, no diff and no cover letter — the reasons are printed); 2 usage error; 70 internal error (a bug in foliolab: please report it).`;

  static override examples = [
    '<%= config.bin %> patch diff fixtures/patches/batch-v1.mbox fixtures/patches/batch-v2.mbox',
    '<%= config.bin %> patch diff fixtures/patches/lazyfree-v2.mbox fixtures/patches/lazyfree-v6.mbox --json',
  ];

  static override enableJsonFlag = true;

  static override args = {
    old: Args.string({ description: 'Older version (file or directory).', required: true }),
    new: Args.string({ description: 'Newer version (file or directory).', required: true }),
  };

  async run(): Promise<SeriesDiff> {
    const { args } = await this.parse(PatchDiff);
    const load = (p: string): { patches: IdentifiedPatch[]; diagnostics: Diagnostic[] } => {
      if (!existsSync(p)) this.error(`${p}: no such file or directory`, { exit: EXIT.input });
      const files = statSync(p).isDirectory() ? readdirSync(p).sort().map((n) => join(p, n)).filter((f) => statSync(f).isFile()) : [p];
      const rs = files.map((f) => identifyFile(f));
      return { patches: rs.flatMap((r) => r.patches), diagnostics: rs.flatMap((r) => r.diagnostics) };
    };
    const a = load(args.old);
    const b = load(args.new);
    for (const [name, x] of [[args.old, a], [args.new, b]] as const) {
      if (!x.patches.some((p) => p.files.length || p.coverLetter)) {
        const why = x.diagnostics.filter((d) => d.severity === 'error' || d.code === 'empty_input');
        for (const d of why) this.logToStderr(formatDiagnostic(d));
        this.error(`${name}: no patch found`, { exit: EXIT.input });
      }
    }
    const d = diffSeries(a.patches, b.patches);
    if (!this.jsonEnabled()) this.log(formatSeriesDiff(d, args.old, args.new));
    return d;
  }
}
