/**
 * Which modelled series (src/model/series/) a patch is: by its normalised subject against the
 * series' titles and subjects, the parts a cover letter lists, the kernel functions its diff
 * touches, and the identifiers it introduces. The result names the exact unit when the
 * version is modelled, the series and the modelled versions when it is not, and otherwise
 * says "not modelled" with the nearest candidates.
 */
import { SERIES, type SeriesDef } from '../model/series/index.js';
import type { LinkEvidence } from '../patch/mail.js';

export interface Candidate {
  series: string;
  title: string;
  score: number;
}

export interface ModelLink {
  status: 'modelled' | 'version-not-modelled' | 'not-modelled';
  /** The series slug (`batched-unmap`). */
  series?: string;
  /** The series title as modelled. */
  title?: string;
  /** Exact units: `batched-unmap@v4-3`, or every part for a cover letter. */
  ids: string[];
  /** Versions of the series the model carries. */
  modelledVersions: string[];
  score: number;
  reasons: string[];
  candidates: Candidate[];
}

const STOP = new Set(['a', 'an', 'the', 'of', 'for', 'in', 'to', 'and', 'on', 'during', 'with', 'without', 'from', 'by', 'at', 'is', 'be', 'it', 'its', 'iff']);

/** Subject words: subsystem prefixes dropped, lower-cased, stop words out, simple stems. */
export function subjectTokens(s: string): string[] {
  return s
    .replace(/^(?:\s*(?:re|fwd?)\s*:)*\s*(?:\[[^\]]*\]\s*)*/i, '')
    .replace(/^(?:[\w./-]+:\s*)+/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, ' ')
    .split(' ')
    .filter((w) => w && !STOP.has(w))
    .map((w) => w.replace(/(?:ing|es|s)$/, ''));
}

function dice(a: string[], b: string[]): number {
  if (!a.length || !b.length) return 0;
  const bs = new Set(b);
  const as = new Set(a);
  let n = 0;
  for (const w of as) if (bs.has(w)) n++;
  return (2 * n) / (as.size + bs.size);
}

interface Group {
  slug: string;
  units: SeriesDef[];
  texts: string[][];
  functions: Set<string>;
  keywords: string[];
  title: string;
}

function groups(): Group[] {
  const by = new Map<string, SeriesDef[]>();
  for (const s of SERIES) by.set(s.slug, [...(by.get(s.slug) ?? []), s]);
  return [...by].map(([slug, units]) => ({
    slug,
    units,
    texts: [...new Set(units.flatMap((u) => [u.title, u.seriesTitle ?? '', ...(u.subjects ?? [])]).filter(Boolean))].map(subjectTokens),
    functions: new Set(units.flatMap((u) => u.functions)),
    keywords: [...new Set(units.flatMap((u) => u.keywords ?? []))],
    title: units.find((u) => u.seriesTitle)?.seriesTitle ?? units[0]!.title,
  }));
}

function scoreGroup(g: Group, ev: LinkEvidence): { score: number; reasons: string[] } {
  const reasons: string[] = [];
  const titleSim = ev.title ? Math.max(0, ...g.texts.map((t) => dice(subjectTokens(ev.title!), t))) : 0;
  if (titleSim > 0.3) reasons.push(`subject ${Math.round(titleSim * 100)} % alike`);
  let partsSim = 0;
  if (ev.parts?.length) {
    partsSim = ev.parts.reduce((s, p) => s + Math.max(0, ...g.texts.map((t) => dice(subjectTokens(p), t))), 0) / ev.parts.length;
    if (partsSim > 0.3) reasons.push(`listed parts ${Math.round(partsSim * 100)} % alike`);
  }
  const fnHits = [...new Set(ev.functions)].filter((f) => g.functions.has(f));
  const fnScore = ev.functions.length ? fnHits.length / Math.min(new Set(ev.functions).size, 3) : 0;
  if (fnHits.length) reasons.push(`touches ${fnHits.join(', ')}`);
  const kwHits = g.keywords.filter((k) => new RegExp(`\\b${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(ev.text));
  if (kwHits.length) reasons.push(`mentions ${kwHits.join(', ')}`);
  const score = Math.max(titleSim, partsSim) * 0.6 + Math.min(1, fnScore) * 0.2 + Math.min(1, kwHits.length / 2) * 0.3;
  return { score: Math.round(score * 1000) / 1000, reasons };
}

const THRESHOLD = 0.4;

export function linkToModel(ev: LinkEvidence): ModelLink {
  const scored = groups()
    .filter((g) => g.units.every((u) => u.mergedIn !== 'not upstream'))
    .map((g) => ({ g, ...scoreGroup(g, ev) }))
    .sort((a, b) => b.score - a.score);
  const candidates = scored.slice(0, 3).map((s) => ({ series: s.g.slug, title: s.g.title, score: s.score }));
  const best = scored[0];
  if (!best || best.score < THRESHOLD) {
    return { status: 'not-modelled', ids: [], modelledVersions: [], score: best?.score ?? 0, reasons: best?.reasons ?? [], candidates };
  }
  const g = best.g;
  const versions = [...new Set(g.units.map((u) => u.version))];
  let want = ev.version !== undefined ? `v${ev.version}` : undefined;
  const link: ModelLink = { status: 'modelled', series: g.slug, title: g.title, ids: [], modelledVersions: versions, score: best.score, reasons: best.reasons, candidates };
  // A unit modelled under a name rather than a number (`final`: a follow-up patch that gave the
  // series its merged form) is known by its own subject, whatever version tag the mail carries.
  if (ev.title && !ev.versionExplicit) {
    const own = g.units.filter((u) => !/^v\d+$/.test(u.version) && (u.subjects ?? []).some((x) => dice(subjectTokens(x), subjectTokens(ev.title!)) >= 0.9 && !g.units.some((o) => o.version !== u.version && (o.subjects ?? []).includes(x))));
    if (own.length && new Set(own.map((u) => u.version)).size === 1) {
      want = own[0]!.version;
      link.reasons.push(`its subject is the one ${own[0]!.id} is known by`);
    }
  }
  const units = want ? g.units.filter((u) => u.version === want) : [];
  if (!units.length && !ev.versionExplicit && ev.code !== undefined) {
    // No version stated: the code may still say which modelled version it is.
    const marked = g.units.filter((u) => u.codeMarks && (u.codeMarks.present ?? []).every((w) => ev.code!.includes(w)) && (u.codeMarks.absent ?? []).every((w) => !ev.code!.includes(w)));
    if (marked.length && new Set(marked.map((u) => u.version)).size === 1) {
      units.push(...marked);
      const m = marked[0]!.codeMarks!;
      link.reasons.push(`version not stated; the code matches ${marked[0]!.id} (${[...(m.present ?? []).map((w) => `has ${w}`), ...(m.absent ?? []).map((w) => `no ${w}`)].join(', ')})`);
    }
  }
  if (!units.length) {
    // Unknown version, or one the model does not carry: say so; a single-version series still names its unit.
    if (want || versions.length > 1) {
      link.status = 'version-not-modelled';
      link.reasons.push(want ? `${want} is not modelled (modelled: ${versions.join(', ')})` : `version unknown (modelled: ${versions.join(', ')})`);
      return link;
    }
    units.push(...g.units);
  }
  if (ev.part && units.some((u) => u.part)) {
    const exact = units.find((u) => u.part?.split('/')[0] === String(ev.part));
    const byTitle = ev.title ? [...units].sort((a, b) => dice(subjectTokens(ev.title!), subjectTokens(b.title)) - dice(subjectTokens(ev.title!), subjectTokens(a.title)))[0] : undefined;
    link.ids = [(exact ?? byTitle ?? units[0]!).id];
  } else if (!ev.cover && units.length > 1 && units.every((u) => u.part)) {
    // One patch of a multi-part unit, its part unknown (no subject): the part whose title,
    // functions and identifiers it matches best, when one stands out.
    const per = units
      .map((u) => {
        const kw = (u.keywords ?? []).filter((k) => ev.text.includes(k)).length;
        const fn = u.functions.filter((f) => ev.functions.includes(f) && f !== 'try_to_unmap_one').length;
        const t = ev.title ? dice(subjectTokens(ev.title), subjectTokens(u.title)) : 0;
        return { u, s: t * 2 + kw + fn };
      })
      .sort((a, b) => b.s - a.s);
    if (per[0]!.s > 0 && per[0]!.s > per[1]!.s) {
      link.ids = [per[0]!.u.id];
      link.reasons.push(`part not stated; its code and words match ${per[0]!.u.id} best`);
    } else link.ids = units.map((u) => u.id);
  } else {
    link.ids = units.map((u) => u.id);
  }
  return link;
}
