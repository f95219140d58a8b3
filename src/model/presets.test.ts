import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError } from './presets.js';

describe('config names', () => {
  it('a release names its preset, never a configuration without series', () => {
    for (const [word, preset] of [['6.18', 'linux-6.18'], ['v6.12', 'linux-6.12'], ['linux6.18', 'linux-6.18'], ['6.18-fc', 'linux-6.18-fc'], ['6.18.44-fc-v1147', 'linux-6.18-fc'], ['6.12.95+deb12-cloud-amd64', 'linux-6.12']] as const) {
      const c = buildConfig(word);
      expect(c.series, word).toEqual(buildConfig(preset).series);
      expect(c.traits.release).toBe(buildConfig(preset).traits.release);
    }
    expect(buildConfig('6.18').series.length).toBeGreaterThan(0);
    expect(buildConfig('6.18 -batched-unmap').name).toBe('linux-6.18 -batched-unmap');
    expect(buildConfig('6.18 -batched-unmap').series).toEqual(buildConfig('linux-6.18 -batched-unmap').series);
  });

  it('an unknown release or a bare baseline is rejected with the presets listed', () => {
    expect(() => buildConfig('6.99')).toThrow(ConfigError);
    expect(() => buildConfig('6.99')).toThrow(/presets are linux-6\.1, linux-6\.12/);
    expect(() => buildConfig('linux-7.0')).toThrow(/presets are/);
    expect(() => buildConfig('6.18:')).toThrow(/bare baseline/);
    expect(buildConfig('6.18: batched-unmap@v4-3').series).toEqual(['batched-unmap@v4-3']);
  });
});
