/**
 * chevrotain, loaded from the single-file build its package ships (lib/chevrotain.mjs, the
 * same code as its entry point). The entry point (lib/src/api.js) pulls in a few hundred
 * module files, lodash-es among them: importing it took ~385 ms on the development VM — on
 * every command, before any work — and the bundle ~35 ms. Falls back to the entry point if a
 * later chevrotain stops shipping the bundle.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Chevrotain = typeof import('chevrotain');

/** Which file was loaded: the bundle, or the package entry point (the slow fallback). */
export let chevrotainSource: 'bundle' | 'entry' = 'entry';

async function load(): Promise<Chevrotain> {
  const entry = createRequire(import.meta.url).resolve('chevrotain');
  const bundle = join(dirname(entry), '..', 'chevrotain.mjs');
  if (existsSync(bundle)) {
    chevrotainSource = 'bundle';
    return (await import(pathToFileURL(bundle).href)) as Chevrotain;
  }
  return import('chevrotain');
}

const chevrotain = await load();

export const { createToken, Lexer, EmbeddedActionsParser, CstParser } = chevrotain;
