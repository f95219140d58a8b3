/**
 * R4's two-thread core as LKMM C litmus tests (tools/memory-model), for the barrier question a
 * sequentially consistent explorer cannot answer. P0 is reclaim's lazyfree check in
 * try_to_unmap_one(): clear the PTE, smp_mb(), read ref_count. P1 is gup_fast_pte_range():
 * take a reference, smp_mb(), re-read the PTE. The write is lost when reclaim sees no extra
 * reference and GUP sees the PTE still present: the store-buffering shape, forbidden only with a
 * full barrier on both sides.
 */
export interface LitmusFile {
  name: string;
  text: string;
}

function litmus(name: string, reclaimBarrier: boolean, expected: 'Never' | 'Sometimes'): LitmusFile {
  const text = `C ${name}

(*
 * Result: ${expected}
 *
 * foliolab race R4, two-thread core: lazyfree reclaim (P0, try_to_unmap_one) vs GUP-fast (P1,
 * gup_fast_pte_range). pte = 1: the PTE maps the folio; ref = 1: no reference beyond
 * isolation and the mapping (normalised). The exists clause is the lost write: reclaim reads no
 * extra reference (discards) and GUP re-reads the PTE as still present (keeps its pin and DMAs
 * into a folio no PTE will map).${reclaimBarrier ? '' : '\n * Reclaim\'s smp_mb() between the PTE clear and the refcount read is removed.'}
 *)

{
	pte = 1;
	ref = 1;
}

P0(int *pte, int *ref)
{
	int r0;

	WRITE_ONCE(*pte, 0);
${reclaimBarrier ? '\tsmp_mb();\n' : ''}	r0 = READ_ONCE(*ref);
}

P1(int *pte, int *ref)
{
	int r1;

	WRITE_ONCE(*ref, 2);
	smp_mb();
	r1 = READ_ONCE(*pte);
}

exists (0:r0=1 /\\ 1:r1=1)
`;
  return { name: `${name}.litmus`, text };
}

export function litmusFiles(): LitmusFile[] {
  return [litmus('R4-reclaim-mb+gup-mb', true, 'Never'), litmus('R4-reclaim-nomb+gup-mb', false, 'Sometimes')];
}
