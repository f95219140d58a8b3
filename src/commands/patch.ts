import { Args, Command, Flags } from '@oclif/core';
import { identifyFile, type IdentifiedFile } from '../catalogue/index.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { formatPatch } from '../report/patch.js';
import { EXIT } from './shared.js';

/** Diagnostics of a message that make it no patch at all: it is reported on stderr, not read. */
const NOT_READ = ['not_a_patch', 'no_patch'];
/** Diagnostics of a file that leave nothing to read. */
const FATAL = ['unreadable_input', 'binary_input', 'empty_input'];

export default class Patch extends Command {
  static override summary = 'Read kernel patch mail in any form it is pasted in: identity, code touched, claims, review comments, and the modelled series it is.';

  static override description = `Accepts git format-patch files, mbox files holding a whole series, text copied from list archives (headers as plain lines, leading whitespace lost, the whole mail flattened onto one line), and review replies quoting a patch with ">" at any depth (or with the quote markers stripped). For every message it reports:

  identity   series title, version (from the subject, else from the changelog), part k/M, author (the patch's, e.g. an in-body From:), sender, date, message-id, base commit, links, changelog per version, the parts a cover letter lists
  code       files with added/removed lines (from the diff; from the diffstat where the diff is trimmed or its lines were joined), hunks with their ranges, the functions touched (where changed lines land, and hunk headers)
  claims     performance figures the prose states (ratios, percentages, before/after tables and runs, counters such as split_deferred 2048 → 0), with unit and workload
  reviews    each comment, who wrote it, and the hunk and line (or commit-message line) it answers; replies to reviews are linked
  model      the modelled series unit it corresponds to (src/model/series/), or "not modelled" with the nearest candidates

Hunks are repaired before parse-diff reads them (stripped context spaces restored, wrapped hunk headers joined, counts checked against the @@ ranges); every repair and everything that could not be recovered is reported. Bad input (binary files, non-mail, empty or whitespace-only input, hunks whose counts do not add up, broken MIME boundaries, damaged base64, impossible subject numbering such as [PATCH 3/2] or [PATCH 1/0], a missing Subject or From, enormous lines, odd encodings) gives diagnostics with file:line:column, never a crash; nothing is written anywhere. Text above the headers (a list archive's note, a "---------- Forwarded message ---------" line) is skipped, and said so.

What counts as a patch: a mail with a diff (or, for an archive that joined its lines, a diffstat). A cover letter ([PATCH 0/N], or a mail listing the parts in a shortlog) is not "no patch": it is reported as the cover letter of its series, with the parts it lists. A reply to a patch (Re: …, or "X wrote:") is reported as a review, quoted diff or not. Any other mail holds no patch: that is an error (no_patch, or not_a_patch when it is not mail at all), printed on stderr with the reason, and the mail is not reported. In an mbox, each such message is listed on stderr and the others are read.

Exit status: 0 read (warnings allowed); 1 an input holds no patch — it is empty or whitespace-only, binary, unreadable, or none of its messages is a patch, a cover letter or a reply to a patch; 2 usage error; 70 internal error (a bug in foliolab: please report it).`;

  static override examples = [
    '<%= config.bin %> patch series-v6.mbox',
    '<%= config.bin %> patch --json reply.eml | jq ".files[0].patches[0].reviews"',
    'pbpaste | <%= config.bin %> patch -',
  ];

  static override strict = false;
  static override enableJsonFlag = true;

  static override args = {
    file: Args.string({ description: 'Patch mail files (mbox, format-patch, archive text); - for stdin.', required: true }),
  };

  static override flags = {
    quiet: Flags.boolean({ char: 'q', description: 'Only the identity and model lines of each message.' }),
  };

  async run(): Promise<{ files: IdentifiedFile[] }> {
    const { argv, flags } = await this.parse(Patch);
    const files = (argv as string[]).map((f) => identifyFile(f));
    let failed = false;
    for (const r of files) {
      const notRead = (p: IdentifiedFile['patches'][number]) => p.diagnostics.some((d) => NOT_READ.includes(d.code));
      if (r.diagnostics.some((d) => FATAL.includes(d.code)) || !r.patches.some((p) => !notRead(p))) failed = true;
      if (this.jsonEnabled()) continue;
      if (r.patches.length === 0) for (const d of r.diagnostics) this.logToStderr(formatDiagnostic(d));
      for (const p of r.patches) {
        if (notRead(p)) {
          // The reason first, then what else was found wrong with the message.
          const ds = [...p.diagnostics].sort((a, b) => Number(NOT_READ.includes(b.code)) - Number(NOT_READ.includes(a.code)));
          for (const d of ds) this.logToStderr(formatDiagnostic(d));
          continue;
        }
        const text = formatPatch(p);
        this.log(flags.quiet ? text.split('\n').filter((l, i) => i === 0 || /^ {2}(series|model) /.test(l)).join('\n') : text);
        this.log('');
      }
    }
    if (failed) process.exitCode = EXIT.input;
    return { files };
  }
}
