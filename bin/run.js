#!/usr/bin/env -S node --max-semi-space-size=32
// foliolab CLI entry: oclif with an explicit command registry (dist/commands/index.js).
// The young generation may grow to 32 MiB semi-spaces (V8's default stops at 16): a replay
// allocates short-lived objects per event while the parser's sort window and the model's live
// state stay reachable, so each young collection copies that live set again. Measured on the
// bench's 1.2 M-event replay: 156 → 89 young collections, GC 0.65 → 0.33 s, the run 3.6 → 3.3 s
// (median of 6 interleaved runs), peak RSS unchanged (~187 MB). `node bin/run.js` runs without
// it (the flag must be given at start-up: v8.setFlagsFromString() then has no effect).
// React (the `inspect` UI) picks its production build from NODE_ENV when it is first loaded.
process.env.NODE_ENV ??= 'production';
const { run, flush, handle } = await import('@oclif/core');
// An exception that is not oclif's own is a bug: reported as such, exit 70 (src/core/internal-error.ts).
const { isOclifError, internalErrorText, EXIT_INTERNAL } = await import('../dist/core/internal-error.js');

try {
  await run(process.argv.slice(2), import.meta.url);
  await flush();
} catch (err) {
  if (isOclifError(err)) {
    await handle(err);
  } else {
    process.stderr.write(internalErrorText(err));
    process.exitCode = EXIT_INTERNAL;
  }
}
