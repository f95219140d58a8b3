/**
 * A chunk worker: parses the chunks of a trace file it is sent (chunked.ts, chunk-parse.ts), one
 * at a time in the order they come, and posts each one's columns and bytes (transferred).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseChunk } from './chunk-parse.js';
import type { ChunkInit, ChunkJob, ChunkResult } from './chunked.js';
import { FormatRegistry } from './format/registry.js';

const init = workerData as ChunkInit;
const port = parentPort!;
const registry = FormatRegistry.fromRecipe(init.recipe);
const stringIds = new Map<string, number>();

port.postMessage('ready');

// One chunk at a time, in the order they are sent.
let queue: Promise<void> = Promise.resolve();
port.on('message', (job: ChunkJob) => {
  queue = queue.then(async () => {
    try {
      const { r, transfer } = await parseChunk(init, registry, stringIds, job);
      port.postMessage(r, transfer);
    } catch (e) {
      port.postMessage({ k: job.k, error: (e as Error).stack ?? String(e) } satisfies ChunkResult);
    }
  });
});
