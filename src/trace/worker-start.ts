/**
 * Starting a parse worker (parallel.ts, chunked.ts): from dist/ (the compiled `.js` beside this
 * module), or from the sources (the tests) through tsx's loader.
 *
 * The worker's young generation is `semiSpaceMb` semi-spaces: what survives a scavenge there is
 * a sort window's worth of events, and little else lives in it. The process's own
 * --max-semi-space-size (bin/run.js gives the main thread 32 MiB semi-spaces) would apply to the
 * worker's isolate too, overriding resourceLimits: it is lowered while the isolate is made (the
 * main thread's heap is configured already), then put back.
 */
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The worker module exists, compiled or as source. */
export function parseWorkerExists(name: string): boolean {
  return existsSync(fileURLToPath(new URL(`./${name}.js`, import.meta.url))) || existsSync(new URL(`./${name}.ts`, import.meta.url));
}

export function startParseWorker(name: string, workerData: unknown, semiSpaceMb: number): Worker {
  const js = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const ts = new URL(`./${name}.ts`, import.meta.url);
  const main = /^--max-semi-space-size=(\d+)$/.exec(process.execArgv.find((a) => a.startsWith('--max-semi-space-size=')) ?? '')?.[1];
  setFlagsFromString(`--max-semi-space-size=${semiSpaceMb}`);
  const resourceLimits = { maxYoungGenerationSizeMb: 3 * semiSpaceMb };
  let w: Worker;
  if (existsSync(js)) w = new Worker(js, { workerData, resourceLimits });
  else {
    const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(ts.href)}); });`;
    w = new Worker(boot, { eval: true, workerData, resourceLimits });
  }
  const restore = (): void => { if (main !== undefined) setFlagsFromString(`--max-semi-space-size=${main}`); };
  w.once('online', restore);
  w.once('exit', restore);
  return w;
}
