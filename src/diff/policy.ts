/**
 * Which two configs a comparison uses when the user names fewer than two, and why; and which
 * series caused a divergence. `diff`, `inspect` and `matrix` all ask here, so the same trace
 * with the same flags gives the same pair everywhere, and every output can say why.
 *
 * The pair runs old → new: `base` is the older kernel (or the config without the change),
 * `with` the newer one. The trace's own kernel (the preset of the release that recorded it)
 * is one side whenever the flags leave a side open, because that side's prediction is the one
 * the recording can check.
 */
import type { ModelConfig } from '../model/config.js';
import { findSeries, presetForRelease } from '../model/series/index.js';

/** Upstream presets, oldest first: "the release before" and "the release after" read this. */
const UPSTREAM = ['linux-6.1', 'linux-6.12', 'linux-6.18', 'linux-6.19'];

/** The upstream preset a vendor build sits on (linux-6.18-fc → linux-6.18). */
function upstreamOf(preset: string): string | undefined {
  return UPSTREAM.find((u) => preset === u || preset.startsWith(`${u}-`));
}

/** The preset compared with when one side is the trace's own kernel and the other is open. */
function neighbour(preset: string): { preset: string; why: string } | undefined {
  const up = upstreamOf(preset);
  if (!up) return undefined;
  if (up !== preset) {
    // A vendor build: what it changes over the upstream release it is built on.
    const parent = preset.slice(0, preset.lastIndexOf('-'));
    const p = parent.length > up.length && parent.startsWith(up) ? parent : up;
    return { preset: p, why: `the build ${preset} is based on` };
  }
  const i = UPSTREAM.indexOf(up);
  if (i + 1 < UPSTREAM.length) return { preset: UPSTREAM[i + 1]!, why: 'the release after it' };
  return i > 0 ? { preset: UPSTREAM[i - 1]!, why: 'the release before it (no newer release is modelled)' } : undefined;
}

/** How the trace's own kernel was found. */
export interface Recorded {
  /** The preset of the kernel that recorded the trace, if known. */
  preset: string | undefined;
  /** The release string it came from. */
  release: string | undefined;
  /** Where the release came from: `settings.txt`, `--release`, `formats beside the trace`, or `newest` (a guess). */
  source: string;
}

export interface PairChoice {
  base: string;
  with: string;
  /** Which flags were given: both, one of them, or none. */
  rule: 'given' | 'base given' | 'with given' | 'default';
  /** One sentence: why this pair. */
  reason: string;
  recorded: Recorded;
}

/**
 * The trace's own kernel: the release settings.txt beside it names, else the release whose
 * formats decode it (`--release`, a formats/ folder beside it, or the newest shipped: a guess).
 */
export function recordedKernel(captured: { release?: string; tlbRemoteFlush?: string }, formats: { release: string | undefined; releaseSource: string }): Recorded {
  const fromSettings = captured.release !== undefined;
  const release = captured.release ?? formats.release;
  const source = fromSettings ? 'settings.txt' : formats.releaseSource === 'flag' ? '--release' : formats.releaseSource;
  return { preset: presetForRelease(release, captured)?.id, release, source };
}

/** When the recording kernel is unknown, the newest upstream release stands in for it. */
const FALLBACK = 'linux-6.18';

/** The trace's own kernel in words, with where that came from. */
export function recordedText(r: Recorded): string {
  if (!r.preset) return `the kernel that recorded the trace is unknown (no settings.txt beside it); ${FALLBACK} stands in for it`;
  if (r.source === 'newest') return `the kernel that recorded the trace is unknown (no settings.txt beside it); the newest grammars' release ${r.release} gives ${r.preset}`;
  return `recorded on ${r.release} (${r.source}), preset ${r.preset}`;
}

/**
 * The pair for `base`/`with` as given (either may be missing). `same` says whether two specs
 * name one config (the caller builds them; by default they are compared as text).
 */
export function choosePair(recorded: Recorded, given: { base?: string; with?: string }, same: (a: string, b: string) => boolean = (a, b) => a === b): PairChoice {
  const own = recorded.preset ?? FALLBACK;
  const rec = recordedText(recorded);
  if (given.base !== undefined && given.with !== undefined) {
    return { base: given.base, with: given.with, rule: 'given', reason: 'both configs given (--base, --with)', recorded };
  }
  if (given.base !== undefined) {
    if (!same(given.base, own)) {
      return { base: given.base, with: own, rule: 'base given', reason: `--base given; --with is the trace's own kernel: ${rec}`, recorded };
    }
    const n = neighbour(own);
    const w = n?.preset ?? own;
    return { base: given.base, with: w, rule: 'base given', reason: `--base given and it is the trace's own kernel (${rec}); --with is ${n ? `${w}, ${n.why}` : 'the same (no neighbouring release is modelled)'}`, recorded };
  }
  if (given.with !== undefined) {
    if (!same(given.with, own)) {
      return { base: own, with: given.with, rule: 'with given', reason: `--with given; --base is the trace's own kernel: ${rec}`, recorded };
    }
    const up = upstreamOf(own);
    const i = up ? UPSTREAM.indexOf(up) : -1;
    const b = up && up !== own ? up : i > 0 ? UPSTREAM[i - 1]! : neighbour(own)?.preset ?? own;
    const why = up && up !== own ? `the upstream release ${own} is built on` : i > 0 ? 'the release before it' : 'the neighbouring release';
    return { base: b, with: given.with, rule: 'with given', reason: `--with given and it is the trace's own kernel (${rec}); --base is ${b}, ${why}`, recorded };
  }
  // Neither: what upgrading to the trace's kernel from the upstream release before it changes.
  const up = upstreamOf(own);
  const i = up ? UPSTREAM.indexOf(up) : -1;
  if (i > 0) {
    const b = UPSTREAM[i - 1]!;
    return { base: b, with: own, rule: 'default', reason: `no --base/--with: ${rec}; compared with ${b}, the upstream release before it (what upgrading changes on this workload)`, recorded };
  }
  const n = neighbour(own);
  const w = n?.preset ?? own;
  return { base: own, with: w, rule: 'default', reason: `no --base/--with: ${rec}; no older release is modelled, so compared with ${w}, ${n?.why ?? 'itself'}`, recorded };
}

/** Two built configs are the same model: the same release traits, arch and series. */
export function sameConfig(a: ModelConfig, b: ModelConfig): boolean {
  return a.arch === b.arch && a.traits.release === b.traits.release && a.series.length === b.series.length && a.series.every((s, i) => s === b.series[i]);
}

/**
 * The cause of a divergence: the series present in one config only that own a hook the
 * config holding them went through at that op (base's first, then with's).
 */
export function divergenceCause(baseSeries: readonly string[], withSeries: readonly string[], baseHooks: readonly string[], withHooks: readonly string[]): string[] {
  const ran = (id: string, hooks: readonly string[]): boolean => Object.keys(findSeries(id)?.hooks ?? {}).some((h) => hooks.includes(h));
  const onlyBase = baseSeries.filter((s) => !withSeries.includes(s));
  const onlyWith = withSeries.filter((s) => !baseSeries.includes(s));
  return [...onlyBase.filter((id) => ran(id, baseHooks)), ...onlyWith.filter((id) => ran(id, withHooks))];
}
