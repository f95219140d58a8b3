/**
 * drop_caches runs deferred_split_scan() over every memcg's queue: the folios it splits are not
 * only the workload's (other processes may hold partially mapped large folios whatever the THP
 * settings are now), so the op's recorded output is compared as holding the model's in order,
 * the rest named outside the model.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import type { Op } from './ops.js';
import { buildConfig } from './presets.js';
import type { ThpSettings } from './config.js';

const drop = (value: number): Op => ({ kind: 'drop-caches', value, tid: 10, tgid: 10, cpu: 0, at: { index: 0, line: 1 } });

function shares(thp: ThpSettings, value = 2): string | undefined {
  const cfg = { ...buildConfig('linux-6.18', 'x86'), thp };
  return new Engine(cfg).sharesUnknownOutput(drop(value));
}

describe('drop_caches and other processes\' large folios', () => {
  it('shares its output whatever the THP settings (folios from earlier settings, or madvised by others, stay queued)', () => {
    expect(shares({ enabled: 'madvise', sizes: { 16: 'always', 2048: 'inherit' } })).toMatch(/other processes' partially mapped/);
    expect(shares({ enabled: 'always', sizes: { 2048: 'inherit' } })).toMatch(/other processes' partially mapped/);
    expect(shares({ enabled: 'never', sizes: { 64: 'never', 2048: 'inherit' } })).toMatch(/other processes' partially mapped/);
  });
  it('only when the shrinkers run (value 2 or 3): dropping the page cache alone splits nothing', () => {
    expect(shares({ enabled: 'always', sizes: { 2048: 'inherit' } }, 1)).toBeUndefined();
    expect(shares({ enabled: 'always', sizes: { 2048: 'inherit' } }, 3)).toMatch(/other processes' partially mapped/);
  });
});
