/** The `fl: snap` markers: the address space at `fl: begin`, and what a malformed line says. */
import { describe, expect, it } from 'vitest';
import { parseMarker, parseSnapPages, parseSnapVma, SnapshotReader } from './markers.js';

const USER_END = 2 ** 47;
const m = (text: string) => parseMarker(`fl: ${text}`)!;

describe('fl: snap vma', () => {
  it('reads a VMA of /proc/self/maps', () => {
    expect(parseSnapVma(m('snap vma start=0x4c6000 end=0x4c9000 prot=rw-p kind=file off=0xc6000 name=s14'), USER_END)).toMatchObject({
      start: 0x4c6000, end: 0x4c9000, off: 0xc6000, kind: 'file', name: 's14', read: true, write: true, exec: false, shared: false, runs: [],
    });
  });

  it('keeps the vsyscall page above the user address space by name', () => {
    expect(parseSnapVma(m('snap vma start=0xffffffffff600000 end=0xffffffffff601000 prot=--xp kind=vsyscall off=0x0 name=_vsyscall_'), USER_END)).toMatchObject({ kind: 'vsyscall' });
  });

  it.each([
    ['an unknown kind', 'snap vma start=0x1000 end=0x2000 prot=rw-p kind=mystery off=0x0', /kind=mystery/],
    ['a bad prot', 'snap vma start=0x1000 end=0x2000 prot=rwz off=0x0 kind=anon', /prot=rwz/],
    ['an empty range', 'snap vma start=0x2000 end=0x2000 prot=rw-p kind=anon off=0x0', /start=0x2000/],
    ['an unaligned start', 'snap vma start=0x1001 end=0x2000 prot=rw-p kind=anon off=0x0', /start=0x1001/],
    ['a range past the address space', 'snap vma start=0x1000 end=0x900000000000 prot=rw-p kind=anon off=0x0', /beyond the address space/],
  ])('says what is wrong with %s', (_, text, why) => {
    expect(parseSnapVma(m(text), USER_END)).toMatch(why);
  });
});

describe('fl: snap pages', () => {
  it('reads runs: absent pages, anonymous, file, zero page, exclusive, swap-backed, compound', () => {
    const p = parseSnapPages(m('snap pages addr=0x10000 runs=2-,3ax@100,1fs@200,1z@300,4axh@400,4axt@404'));
    expect(typeof p).toBe('object');
    const runs = (p as Exclude<typeof p, string>).runs;
    expect(runs.map((r) => [r.addr.toString(16), r.n, r.pfn.toString(16), r.what, r.exclusive, r.swapbacked, r.compound])).toEqual([
      ['12000', 3, '100', 'anon', true, false, undefined],
      ['15000', 1, '200', 'file', false, true, undefined],
      ['16000', 1, '300', 'zero', false, false, undefined],
      ['17000', 4, '400', 'anon', true, false, 'head'],
      ['1b000', 4, '404', 'anon', true, false, 'tail'],
    ]);
  });

  it.each([
    ['no runs', 'snap pages addr=0x1000', /runs missing/],
    ['a run without a count', 'snap pages addr=0x1000 runs=ax@10', /run ax@10/],
    ['a run without attributes', 'snap pages addr=0x1000 runs=1@10', /run 1@10/],
    ['a head that is also a tail', 'snap pages addr=0x1000 runs=2aht@10', /run 2aht@10/],
    ['an unaligned address', 'snap pages addr=0x1234 runs=1-', /addr=0x1234/],
  ])('says what is wrong with %s', (_, text, why) => {
    expect(parseSnapPages(m(text))).toMatch(why);
  });
});

describe('SnapshotReader', () => {
  const lines = [
    'snap vma start=0x400000 end=0x402000 prot=r-xp kind=file off=0x0 name=w',
    'snap pages addr=0x400000 runs=2fx@10',
    'snap vma start=0x600000 end=0x610000 prot=rw-p kind=anon off=0x0 name=-',
    'snap pages addr=0x600000 runs=1ax@20,3-',
    'snap pages addr=0x604000 runs=2ax@30',
  ];

  it('collects VMAs with their pages, checked against snap-end', () => {
    const r = new SnapshotReader(USER_END);
    for (const l of lines) expect(r.add(m(l))).toBeUndefined();
    const v = r.end(m('snap-end vmas=2 pages=5'));
    expect(typeof v).not.toBe('string');
    expect((v as Exclude<typeof v, string>).map((x) => [x.kind, x.runs.length])).toEqual([['file', 1], ['anon', 2]]);
  });

  it('refuses a snap-end whose counts disagree with what was read', () => {
    const r = new SnapshotReader(USER_END);
    for (const l of lines) r.add(m(l));
    expect(r.end(m('snap-end vmas=2 pages=6'))).toMatch(/pages=6, 5 read/);
    expect(r.end(m('snap-end vmas=3 pages=5'))).toMatch(/vmas=3, 2 read/);
  });

  it('refuses pages outside their VMA, pages before any VMA, and VMAs out of order', () => {
    const r = new SnapshotReader(USER_END);
    expect(r.add(m('snap pages addr=0x600000 runs=1ax@20'))).toMatch(/before any vma/);
    r.add(m(lines[2]!));
    expect(r.add(m('snap pages addr=0x60f000 runs=2ax@20'))).toMatch(/outside the vma/);
    expect(r.add(m('snap vma start=0x400000 end=0x401000 prot=r--p kind=file off=0x0 name=w'))).toMatch(/overlaps or precedes/);
    expect(r.add(m('snap what'))).toMatch(/snap what/);
  });
});
