/**
 * A folio story's coded steps: the runs they decode to give back every step in order (long runs,
 * large codes included), and two stories are equal strings exactly when their steps are equal.
 */
import { describe, expect, it } from 'vitest';
import { FolioStory, storyRuns } from '../model/state.js';

function story(codes: number[]): FolioStory {
  const s = new FolioStory(0x1234, 7, undefined, 4, 0);
  for (const c of codes) s.add(c);
  return s;
}

function steps(s: FolioStory): number[] {
  return storyRuns(s.steps).flatMap(([code, n]) => new Array<number>(n).fill(code));
}

describe('folio story steps', () => {
  const cases: number[][] = [
    [],
    [0],
    [3, 3, 3, 1, 3, 3],
    [5, ...new Array<number>(0x10005).fill(2), 5],
    [0x7fff, 0x8000, 0x8000, 0x12345, 0xffff, 1],
    Array.from({ length: 500 }, (_, i) => (i * 7919) % 13),
  ];

  it('decode to the steps added, in order', () => {
    for (const c of cases) expect(steps(story(c))).toEqual(c);
  });

  it('are equal strings exactly when the steps are equal', () => {
    for (const a of cases) {
      for (const b of cases) expect(story(a).steps === story(b).steps).toBe(JSON.stringify(a) === JSON.stringify(b));
    }
    expect(story([1, 1, 2]).steps).not.toBe(story([1, 2, 2]).steps);
  });

  it('key: first pfn @ the op that made it, or the split piece\'s own', () => {
    expect(story([]).key).toBe('1234@7');
    expect(new FolioStory(0, 0, '1234@7+3', 0, 0).key).toBe('1234@7+3');
  });
});
