/** Text reports of patch analysis and of two-version comparisons (`foliolab patch …`). */
import { formatDiagnostic } from '../core/diagnostics.js';
import type { IdentifiedPatch as PatchInfo } from '../catalogue/index.js';
import type { SeriesDiff } from '../catalogue/index.js';

const fmtNum = (n: number | undefined): string => (n === undefined ? '?' : String(n));

export function formatPatch(p: PatchInfo): string {
  const L: string[] = [];
  const what = p.coverLetter ? 'cover letter' : p.reply ? 'reply' : p.files.length ? 'patch' : 'mail';
  L.push(`${p.file}${p.index > 0 || p.line > 1 ? ` — message ${p.index + 1} (line ${p.line})` : ''}: ${what}; form: ${p.form.join(', ')}`);
  const vpart = [p.version !== undefined ? `v${p.version}${p.versionFrom === 'changelog' ? ' (from its changelog)' : p.versionFrom === 'default' ? ' (no vN tag)' : ''}` : 'version unknown', p.part !== undefined ? `part ${p.part}/${fmtNum(p.total)}` : undefined, p.rfc ? 'RFC' : undefined, p.tree ? `tree ${p.tree}` : undefined].filter(Boolean).join(', ');
  L.push(`  series    ${p.series ?? '(unknown)'} — ${vpart}`);
  if (p.subject) L.push(`  subject   ${p.subject}`);
  const who = [p.author ? `author ${p.author.name}${p.author.email ? ` <${p.author.email}>` : ''}` : 'author unknown', p.sender && p.sender.name !== p.author?.name ? `sent by ${p.sender.name}` : undefined].filter(Boolean).join('; ');
  L.push(`  who       ${who}`);
  if (p.date || p.dateRaw) L.push(`  date      ${p.date ?? '?'}${p.dateRaw ? ` (${p.dateRaw})` : ''}`);
  if (p.messageId) L.push(`  message   <${p.messageId}>${p.inReplyTo ? ` in reply to <${p.inReplyTo}>` : ''}`);
  if (p.base) L.push(`  base      ${p.base}`);
  const m = p.model;
  const modelLine =
    m.status === 'modelled'
      ? `${m.ids.join(', ')} (${m.reasons.join('; ')})`
      : m.status === 'version-not-modelled'
        ? `series ${m.series} — ${m.reasons[m.reasons.length - 1]} (${m.reasons.slice(0, -1).join('; ')})`
        : `not modelled; nearest: ${m.candidates.map((c) => `${c.series} (${c.score.toFixed(2)})`).join(', ')}`;
  L.push(`  model     ${modelLine}`);
  if (p.parts.length) {
    L.push('  parts');
    for (const x of p.parts) L.push(`    ${x.part}/${p.parts.length} ${x.title}`);
  }
  if (p.files.length) {
    L.push('  files');
    for (const f of p.files) {
      L.push(`    ${f.path}${f.from ? ` (from ${f.from})` : ''}  +${f.additions} −${f.deletions}${f.counted !== 'diff' ? ` (${f.counted})` : ''}${f.status !== 'modified' ? ` [${f.status}]` : ''}`);
      for (const h of f.hunks) L.push(`      ${h.header.replace(/ @@.*$/, ' @@')} ${h.functions.join(', ')}${h.truncated ? ' [trimmed]' : ''}${h.unrecoverable ? ' [lines lost]' : ''}`);
    }
  }
  if (p.functions.length) L.push(`  functions ${p.functions.join(', ')}`);
  if (p.claims.length) {
    L.push('  claims');
    for (const c of p.claims) {
      const fig = c.value !== undefined ? `${c.value}${c.unit === '%' ? '%' : c.unit === 'x' ? 'x' : ` ${c.unit}`}${c.direction ? ` ${c.direction}` : ''}` : `${fmtNum(c.before)} → ${fmtNum(c.after)} ${c.unit}${c.change ? ` (${c.change})` : ''}`;
      L.push(`    ${c.metric}: ${fig}  [line ${c.line}]`);
      if (c.workload) L.push(`      on: ${c.workload.length > 160 ? `${c.workload.slice(0, 157)}…` : c.workload}`);
    }
  }
  if (p.reviews.length) {
    L.push('  reviews');
    p.reviews.forEach((r, i) => {
      const on = r.on.kind === 'hunk' ? `${r.on.file} ${r.on.hunk}${r.on.newLine !== undefined ? ` line ${r.on.newLine}` : r.on.oldLine !== undefined ? ` old line ${r.on.oldLine}` : ''}${r.on.function ? ` (${r.on.function})` : ''}` : r.on.kind === 'message' ? 'the commit message' : 'the mail';
      L.push(`    [${i}] ${r.by ?? 'unknown'}${r.replyTo !== undefined ? ` (answering [${r.replyTo}])` : ''} on ${on}, line ${r.line}:`);
      if (r.on.kind !== 'mail') L.push(`        > ${r.on.quoted.trim()}`);
      for (const t of r.text.split('\n')) L.push(`        ${t}`);
    });
  }
  if (p.changelog.length) {
    L.push('  changelog');
    for (const c of p.changelog) {
      L.push(`    ${c.version}${c.since ? ` (since ${c.since})` : ''}:`);
      for (const e of c.entries) L.push(`      - ${e}`);
    }
  }
  if (p.trailers.length) L.push(`  trailers  ${p.trailers.map((t) => `${t.key}: ${t.name ?? t.commit ?? t.url ?? t.value}`).join('; ')}`);
  if (p.links.length) L.push(`  links     ${p.links.join(' ')}`);
  for (const u of p.unrecovered) L.push(`  not recovered: ${u}`);
  for (const d of p.diagnostics) L.push(`  ${formatDiagnostic(d)}`);
  return L.join('\n');
}

export function formatSeriesDiff(d: SeriesDiff, oldName: string, newName: string): string {
  const L: string[] = [];
  L.push(`${oldName} (v${fmtNum(d.old.version)}, ${d.old.parts} parts) → ${newName} (v${fmtNum(d.new.version)}, ${d.new.parts} parts)`);
  if (d.old.title || d.new.title) L.push(`  series ${d.old.title ?? '?'}${d.new.title && d.new.title !== d.old.title ? ` → ${d.new.title}` : ''}`);
  for (const p of d.parts) {
    const title = p.status === 'reworded' || p.status === 'reworded+changed' ? `"${p.oldTitle}" → "${p.newTitle}"` : p.newTitle ?? p.oldTitle;
    const num = p.oldPart !== undefined && p.newPart !== undefined && p.oldPart !== p.newPart ? `${p.oldPart}→${p.newPart}` : String(p.part ?? '?');
    L.push(`  part ${num} ${p.status.toUpperCase()}: ${title}`);
    for (const h of p.hunks) {
      L.push(`    ${h.status} hunk in ${h.file}${h.function ? ` (${h.function})` : ''}: ${h.header.replace(/ @@.*$/, ' @@')}`);
      const shown = [...h.removed.map((l) => `old ${l}`), ...h.added.map((l) => `new ${l}`)];
      const cap = h.status === 'changed' ? 40 : 6;
      for (const l of shown.slice(0, cap)) L.push(`      ${l}`);
      if (shown.length > cap) L.push(`      … ${shown.length - cap} more lines (--json has them all)`);
    }
    for (const e of p.explainedBy) L.push(`    changelog: ${e}`);
  }
  if (d.changelog.length) {
    L.push('  changelog of the new version');
    for (const e of d.changelog) L.push(`    ${e}`);
  }
  L.push(`  model: ${d.model.note}`);
  if (d.model.hooksOnlyOld.length) L.push(`    hooks only the old version replaces: ${d.model.hooksOnlyOld.join(', ')}`);
  if (d.model.hooksOnlyNew.length) L.push(`    hooks only the new version replaces: ${d.model.hooksOnlyNew.join(', ')}`);
  if (d.model.hooksBoth.length) L.push(`    hooks both replace, differently: ${d.model.hooksBoth.join(', ')}`);
  return L.join('\n');
}
