/**
 * Observed on 6.18.44-fc-v782 running as a PVM guest: remote TLB flushes go to the hypervisor.
 *
 * The boot log says `pvm-pv: remote TLB flushes via PVM_HC_FLUSH_TLB_MULTI`. The sender still
 * traces `remote IPI send`, but the other vCPU never runs flush_tlb_func(), so no `remote
 * shootdown` (or lazy-mode exit) is traced there. Evidence:
 * traces/6.18.44-fc-v782/s6-two-threads.64k-spin.rec — 6 `remote IPI send` events while the
 * helper thread spins on the other CPU, 0 `remote shootdown`; the 6.18.44-fc-v669 capture of the
 * same workload has 48. `foliolab record` notes the boot-log line in settings.txt
 * (`tlb-remote-flush: hypercall`) and the preset is chosen from it.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'fc-pv-remote-flush@observed',
  slug: 'fc-pv-remote-flush',
  version: 'observed',
  title: 'PVM guest: remote TLB flushes by hypercall, not IPI (observed on 6.18.44-fc-v782)',
  author: 'foliolab (observation)',
  date: '2026-12-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: 'flush_tlb_multi() reaches the other CPUs through the hypervisor: nothing is traced on them.',
  functions: ['flush_tlb_multi', 'native_flush_tlb_multi'],
  hooks: {
    flush_tlb_multi_remote: () => 'hypercall',
  },
});
