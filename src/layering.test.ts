/**
 * The one-direction rule (style.md §6.1): text → events → ops → model → outcomes → reports.
 * Reads every relative runtime import of the shipped code under src/ and checks it against
 * the table below. Type-only imports (`import type`) carry no dependency at run time, and
 * test files drive whole pipelines on purpose (a model test replays a real trace), so
 * neither is checked.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from './paths.js';

const ALLOWED: Record<string, string[]> = {
  core: [],
  paths: [],
  model: ['core'],
  trace: ['core', 'paths'],
  patch: ['core'],
  record: ['core', 'paths'],
  replay: ['core', 'trace', 'model'],
  catalogue: ['core', 'patch', 'model'],
  diff: ['core', 'model', 'replay', 'fidelity'],
  fidelity: ['core', 'model', 'replay'],
  report: ['core', 'model', 'diff', 'fidelity'],
  tui: ['core', 'report', 'diff', 'model'],
  // The race explorer re-tells model paths step-wise and runs the model's hooks on model state.
  race: ['core', 'model'],
  commands: ['*'],
  // Mutation fuzzing drives whole pipelines (a reader, a replay), as tests do.
  fuzz: ['*'],
  index: ['*'],
  layering: ['*'],
};

function layerOf(file: string): string {
  const rel = relative(join(packageRoot, 'src'), file);
  const first = rel.split('/')[0]!;
  return first.replace(/\.(test\.)?(tsx?|js)$/, '');
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

describe('layering', () => {
  it('every relative import follows the one-direction table', () => {
    const breaches: string[] = [];
    const src = join(packageRoot, 'src');
    for (const f of files(src)) {
      // Tests and their support files (*.case.ts) are not built into the package.
      if (/\.(test\.tsx?|case\.ts)$/.test(f)) continue;
      const from = layerOf(f);
      const allowed = ALLOWED[from];
      if (!allowed) { breaches.push(`${relative(src, f)}: layer \`${from}\` is not in the table`); continue; }
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:import|export)\s(?!type\s)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
        const target = layerOf(resolve(dirname(f), m[1]!));
        if (target === from || allowed.includes('*') || allowed.includes(target)) continue;
        breaches.push(`${relative(src, f)} imports ${m[1]} (${from} → ${target})`);
      }
    }
    expect(breaches).toEqual([]);
  });

  it('the model does no I/O and reads no clock', () => {
    const dir = join(packageRoot, 'src/model');
    let modelFiles: string[] = [];
    try { modelFiles = files(dir); } catch { /* no model yet */ }
    for (const f of modelFiles.filter((x) => !x.endsWith('.test.ts'))) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/from ['"]node:(fs|child_process|net|http)/);
      expect(text, f).not.toMatch(/Date\.now\(|performance\.now\(|Math\.random\(/);
    }
  });
});
