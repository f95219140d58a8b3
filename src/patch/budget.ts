/**
 * Work done by the patch reader, counted in line visits by its loops (splitting, headers, MIME,
 * the hunk walk, reviews). Every loop visits each line a bounded number of times, so the count
 * stays a small multiple of the input's line count; the fuzz harness checks that bound (a step
 * budget) instead of timing the reader.
 */
export const work = { steps: 0 };
