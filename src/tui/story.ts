/**
 * A folio's steps through an op, as the inspector draws them: runs of a repeated step or a
 * repeated block of steps written once with a count (`tlb_flush pages=1 ×16`), the items one
 * config has and the other lacks marked, and every item wrapped to the column, never cut.
 */

export interface StoryItem {
  /** How many times the block repeats in a row. */
  times: number;
  steps: string[];
  /** Not in the other config's story (at this place). */
  differs: boolean;
}

/** The longest block tried as a repeating unit. */
const MAX_BLOCK = 6;

/**
 * Run-length compression over blocks: at each place the block length (1…6) whose repeats cover
 * the most steps wins (the shorter on a tie); a block that does not repeat is one item per step.
 */
export function compress(steps: readonly string[]): StoryItem[] {
  const out: StoryItem[] = [];
  let i = 0;
  while (i < steps.length) {
    let bestL = 1;
    let bestR = 1;
    for (let L = 1; L <= MAX_BLOCK && i + 2 * L <= steps.length; L++) {
      let r = 1;
      while (i + (r + 1) * L <= steps.length && sameBlock(steps, i, i + r * L, L)) r++;
      if (r > 1 && r * L > bestR * bestL) {
        bestL = L;
        bestR = r;
      }
    }
    out.push({ times: bestR, steps: steps.slice(i, i + bestL), differs: false });
    i += bestL * bestR;
  }
  return out;
}

function sameBlock(s: readonly string[], a: number, b: number, L: number): boolean {
  for (let k = 0; k < L; k++) if (s[a + k] !== s[b + k]) return false;
  return true;
}

function key(it: StoryItem): string {
  return `${it.times}\u0001${it.steps.join('\u0002')}`;
}

/** Marks the items of each side that are not in the longest common subsequence of the two. */
export function markDifferences(a: StoryItem[], b: StoryItem[]): void {
  const ka = a.map(key);
  const kb = b.map(key);
  const n = ka.length;
  const m = kb.length;
  const L: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i]![j] = ka[i] === kb[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  for (const it of a) it.differs = true;
  for (const it of b) it.differs = true;
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (ka[i] === kb[j]) {
      a[i]!.differs = false;
      b[j]!.differs = false;
      i++;
      j++;
    } else if (L[i + 1]![j]! >= L[i]![j + 1]!) i++;
    else j++;
  }
}

/** Each config's story of one folio, compressed, with what differs marked. */
export function storyItems(sides: readonly string[][]): StoryItem[][] {
  const items = sides.map((s) => compress(s));
  if (items.length >= 2) markDifferences(items[0]!, items[items.length - 1]!);
  return items;
}

/** `text` in lines of at most `width`, broken at spaces where it can be; later lines indented. */
export function wrap(text: string, width: number, indent = '  '): string[] {
  const w = Math.max(8, width);
  const out: string[] = [];
  let rest = text;
  let first = true;
  while (rest.length > (first ? w : w - indent.length)) {
    const room = first ? w : w - indent.length;
    let cut = rest.lastIndexOf(' ', room);
    if (cut <= room / 3) cut = room;
    out.push((first ? '' : indent) + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    first = false;
  }
  out.push((first ? '' : indent) + rest);
  return out;
}

/** One item as text lines of at most `width`: `≠` marks an item the other config lacks. */
export function itemLines(it: StoryItem, width: number): string[] {
  const mark = it.differs ? '≠ ' : '  ';
  const body = it.steps.length === 1 ? `${it.steps[0]}${it.times > 1 ? ` ×${it.times}` : ''}` : `×${it.times}: ${it.steps.join(' · ')}`;
  return wrap(body, width - 2, '    ').map((l, i) => (i === 0 ? mark : it.differs ? '≠ ' : '  ') + l);
}
