import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Folio, FolioLink, FolioList } from './state.js';

describe('FolioList', () => {
  it('behaves as the Sets it replaced: insertion order, a move is delete + add, one LRU list at a time', () => {
    // Random operations on three LRU lists and the live list, against Sets as the reference.
    const op = fc.record({ what: fc.constantFrom('add', 'delete', 'all-add', 'all-delete'), list: fc.integer({ min: 0, max: 2 }), folio: fc.integer({ min: 0, max: 9 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const folios = Array.from({ length: 10 }, (_v, i) => new Folio(i, 0, 1, i, i, 1));
        const lists = [0, 1, 2].map(() => new FolioList(FolioLink.Lru));
        const all = new FolioList(FolioLink.All);
        const ref = [0, 1, 2].map(() => new Set<Folio>());
        const refAll = new Set<Folio>();
        for (const o of ops) {
          const f = folios[o.folio]!;
          if (o.what === 'add') {
            // The kernel's lruAdd: off whichever LRU list it is on, then appended.
            for (const r of ref) r.delete(f);
            ref[o.list]!.add(f);
            lists[o.list]!.add(f);
          } else if (o.what === 'delete') {
            expect(lists[o.list]!.delete(f)).toBe(ref[o.list]!.delete(f));
          } else if (o.what === 'all-add') {
            refAll.delete(f);
            refAll.add(f);
            all.add(f);
          } else {
            expect(all.delete(f)).toBe(refAll.delete(f));
          }
          for (let i = 0; i < 3; i++) {
            expect([...lists[i]!].map((x) => x.id)).toEqual([...ref[i]!].map((x) => x.id));
            expect(lists[i]!.size).toBe(ref[i]!.size);
            for (const x of folios) expect(lists[i]!.has(x)).toBe(ref[i]!.has(x));
          }
          expect([...all].map((x) => x.id)).toEqual([...refAll].map((x) => x.id));
        }
      }),
      { numRuns: 200 },
    );
  });
});
