/**
 * The comparison policy: which pair `diff`, `inspect` and `matrix` compare when fewer than two
 * configs are named, and the reason they print.
 */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../model/presets.js';
import { choosePair, divergenceCause, recordedKernel, sameConfig } from './policy.js';

const fc = recordedKernel({ release: '6.18.44-fc-v669' }, { release: '6.18.44-fc-v669', releaseSource: 'settings.txt' });
const same = (a: string, b: string) => sameConfig(buildConfig(a), buildConfig(b));

describe('choosePair', () => {
  it('the recording kernel comes from settings.txt, else from the formats (a guess, said so)', () => {
    expect(fc).toEqual({ preset: 'linux-6.18-fc', release: '6.18.44-fc-v669', source: 'settings.txt' });
    const guessed = recordedKernel({}, { release: '6.18.44-fc-v669', releaseSource: 'newest' });
    expect(choosePair(guessed, {}).reason).toMatch(/unknown \(no settings\.txt beside it\)/);
  });

  it('neither flag: the upstream release before the trace\'s kernel → the trace\'s kernel', () => {
    const p = choosePair(fc, {}, same);
    expect([p.base, p.with, p.rule]).toEqual(['linux-6.12', 'linux-6.18-fc', 'default']);
    expect(p.reason).toMatch(/recorded on 6\.18\.44-fc-v669 \(settings\.txt\).*linux-6\.12, the upstream release before it/);
    const old = choosePair(recordedKernel({ release: '6.1.0-56-cloud-amd64' }, { release: undefined, releaseSource: 'settings.txt' }), {}, same);
    expect([old.base, old.with]).toEqual(['linux-6.1', 'linux-6.12']);
  });

  it('--base alone: --with is the trace\'s kernel; when --base is that kernel, the build\'s upstream or the next release', () => {
    expect(choosePair(fc, { base: 'linux-6.12' }, same)).toMatchObject({ base: 'linux-6.12', with: 'linux-6.18-fc', rule: 'base given' });
    expect(choosePair(fc, { base: 'linux-6.18-fc' }, same)).toMatchObject({ base: 'linux-6.18-fc', with: 'linux-6.18' });
    const up = recordedKernel({ release: '6.12.95+deb12-cloud-amd64' }, { release: undefined, releaseSource: 'settings.txt' });
    const p = choosePair(up, { base: 'linux-6.12' }, same);
    expect([p.base, p.with]).toEqual(['linux-6.12', 'linux-6.18']);
    expect(p.reason).toMatch(/--base given and it is the trace's own kernel.*linux-6\.18, the release after it/);
  });

  it('--with alone: --base is the trace\'s kernel, or the release before it when --with is that kernel', () => {
    expect(choosePair(fc, { with: 'linux-6.19' }, same)).toMatchObject({ base: 'linux-6.18-fc', with: 'linux-6.19', rule: 'with given' });
    expect(choosePair(fc, { with: 'linux-6.18-fc' }, same)).toMatchObject({ base: 'linux-6.18', with: 'linux-6.18-fc' });
  });

  it('both flags: as given', () => {
    expect(choosePair(fc, { base: 'a', with: 'b' })).toMatchObject({ base: 'a', with: 'b', rule: 'given', reason: 'both configs given (--base, --with)' });
  });
});

describe('divergenceCause', () => {
  it('the series of one config only whose hooks that config ran', () => {
    const a = buildConfig('linux-6.12').series;
    const b = buildConfig('linux-6.18').series;
    expect(divergenceCause(a, b, [], ['folio_unmap_pte_batch'])).toEqual(['batched-unmap@v4-3', 'oob-fix@v4']);
    expect(divergenceCause(a, b, ['folio_unmap_pte_batch'], [])).toEqual([]);
    expect(divergenceCause(b, a, ['lazyfree_discard'], [])).toEqual(['batched-unmap@v4-1']);
  });
});
