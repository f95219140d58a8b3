#!/usr/bin/env node
// foliolab CLI entry: oclif with an explicit command registry (dist/commands/index.js).
// React (the `inspect` UI) picks its production build from NODE_ENV when it is first loaded.
process.env.NODE_ENV ??= 'production';
const { execute } = await import('@oclif/core');

await execute({ dir: import.meta.url });
