#!/usr/bin/env node
// foliolab CLI entry: oclif with an explicit command registry (dist/commands/index.js).
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
