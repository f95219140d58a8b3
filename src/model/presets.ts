/**
 * Config specs: a preset (`linux-6.12`), a preset plus or minus series
 * (`linux-6.18 -batched-unmap +split-queue-fbatch`), or an explicit list of series with
 * versions (`batched-unmap@v4`, `lazyfree-thp@v6,oob-fix`), on the baseline of a release
 * (`6.18:` prefix or the newest when no preset names one).
 */
import { DEFAULT_THP, TRAITS, type Arch, type ModelConfig, type ThpSettings } from './config.js';
import { expandSeriesName, findPreset, findSeries, presetForRelease, PRESETS, SERIES, type Preset } from './series/index.js';

export class ConfigError extends Error {}

export function buildConfig(spec: string, arch: Arch = 'x86', thp: ThpSettings = DEFAULT_THP): ModelConfig {
  const words = spec.trim().split(/[\s,]+/).filter(Boolean);
  if (words.length === 0) throw new ConfigError('empty config: name a preset (linux-6.18) or series (batched-unmap@v4)');
  let traits = TRAITS['6.18']!;
  let series: string[] = [];
  let i = 0;
  const first = words[0]!;
  const preset = findPreset(first) ?? presetAlias(first);
  if (preset) {
    traits = TRAITS[preset.traits]!;
    series = [...preset.series];
    i = 1;
  } else if (/^\d+\.\d+:$/.test(first)) {
    // `6.18:` names a bare baseline for an explicit series list; alone it would be a
    // configuration without any series, which no released kernel is.
    const rel = first.slice(0, -1);
    if (!TRAITS[rel]) throw new ConfigError(`unknown release baseline \`${first}\`: baselines are ${Object.keys(TRAITS).map((r) => `${r}:`).join(', ')}`);
    if (words.length === 1) throw new ConfigError(`\`${first}\` is a bare baseline with no series: name the series after it (\`${first} batched-unmap@v4\`) or use the preset \`linux-${rel}\``);
    traits = TRAITS[rel]!;
    i = 1;
  } else if (/^v?\d+\.\d+/.test(first) || /^linux-/.test(first)) {
    throw new ConfigError(`unknown preset \`${first}\`: presets are ${PRESETS.map((p) => p.id).join(', ')} (a release such as 6.18 or a \`uname -r\` such as 6.18.44-fc-v1147 also names its preset)`);
  }
  for (; i < words.length; i++) {
    const w = words[i]!;
    const sign = w[0] === '-' ? '-' : '+';
    const name = w[0] === '-' || w[0] === '+' ? w.slice(1) : w;
    const ids = expandSeriesName(name);
    if (ids.length === 0) {
      throw new ConfigError(`unknown series or preset \`${name}\`: presets are ${PRESETS.map((p) => p.id).join(', ')}; series are ${[...new Set(SERIES.map((s) => s.slug))].join(', ')} (see \`foliolab series\`)`);
    }
    if (sign === '-') {
      const slugs = new Set(ids.map((id) => id.split('@')[0]));
      const exact = new Set(ids);
      series = series.filter((s) => (name.includes('@') ? !exact.has(s) : !slugs.has(s.split('@')[0])));
    } else {
      // A newer version of a series replaces the older one.
      for (const id of ids) {
        const slug = id.split('@')[0];
        const part = /@[^-]+(-\d+)$/.exec(id)?.[1] ?? '';
        series = series.filter((s) => !(s.split('@')[0] === slug && (/@[^-]+(-\d+)$/.exec(s)?.[1] ?? '') === part && s !== id));
        if (!series.includes(id)) series.push(id);
      }
    }
  }
  // A fix without the series it fixes has nothing to patch: drop it (as `git revert` of the
  // feature would take its fixes with it).
  const present = (req: string): boolean => {
    const [slug, rest] = req.split('@');
    const part = rest?.split('-')[1];
    return series.some((id) => id.startsWith(`${slug}@`) && (!part || id.endsWith(`-${part}`)));
  };
  series = series.filter((id) => {
    const req = findSeries(id)?.requires;
    return !req || present(req);
  });
  // A preset named by its release is reported by the preset's own name.
  const name = preset && preset.id !== first ? [preset.id, ...words.slice(1)].join(' ') : spec.trim();
  return { arch, traits, series, name, thp };
}

/**
 * A preset named by its release: `6.18`, `v6.18`, `linux6.18` → linux-6.18; `6.18-fc` →
 * linux-6.18-fc; a full `uname -r` (`6.18.44-fc-v1147`, `6.12.95+deb12-cloud-amd64`) → the
 * preset of that kernel, as a capture's settings.txt is read. Undefined when the word names no
 * preset unambiguously (the caller then reports the list).
 */
export function presetAlias(word: string): Preset | undefined {
  const w = word.replace(/^linux-?/, '').replace(/^v/, '');
  const exact = findPreset(`linux-${w}`);
  if (exact) return exact;
  // A `uname -r`: major.minor.patch followed by the local version.
  if (/^\d+\.\d+\.\d+/.test(w)) return presetForRelease(w);
  return undefined;
}
