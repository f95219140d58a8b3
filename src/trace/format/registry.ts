/**
 * The format registry: every `grammars/<release>/<system>/<event>/format` file, indexed by
 * event name, parsed and compiled on first use (so a run pays only for the events it meets).
 *
 * A trace is decoded with the formats of one preferred release (the kernel that wrote it,
 * when known); an event that release does not describe, or whose payload does not match
 * its print fmt, is tried against the same event of the other releases before falling back
 * to generic decoding — tracepoint text changes between kernels (`local mm shootdown` in
 * 6.1, `local MM shootdown` in 6.18; syscall arguments without and with `0x`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileDecoder, type CompiledDecoder } from './compile.js';
import { parseFormatFile, type EventFormat, type FormatProblem } from './format-file.js';

export interface FormatEntry {
  release: string;
  system: string;
  name: string;
  path: string;
  /** Filled on first use. */
  format?: EventFormat;
  decoder?: CompiledDecoder | null;
}

export interface FormatIssue {
  path: string;
  problem: FormatProblem;
}

export type RegistryStep = { release: string; dir: string } | { release: string; system: string; text: string; path: string };

export interface RegistryRecipe {
  steps: RegistryStep[];
  compiled: Array<[string, number]>;
  issues: number;
}

export class FormatRegistry {
  /** event name → entries, one per release that has it. */
  private readonly byName = new Map<string, FormatEntry[]>();
  readonly releases: string[] = [];
  /** Problems found in format files that were compiled so far. */
  readonly issues: FormatIssue[] = [];
  /** How this registry was built, step by step (a chunk worker builds the same one). */
  private readonly steps: RegistryStep[] = [];

  /** Load a grammars directory: either `<dir>/<release>/<system>/<event>/format` or a single release. */
  static fromDirectory(dir: string): FormatRegistry {
    const reg = new FormatRegistry();
    if (!existsSync(dir)) return reg;
    for (const release of readdirSync(dir).sort()) {
      const rdir = join(dir, release);
      if (!statSync(rdir).isDirectory()) continue;
      reg.addRelease(release, rdir);
    }
    return reg;
  }

  /** Add one release's tree: `<rdir>/<system>/<event>/format` (tracefs `events/` layout). */
  addRelease(release: string, rdir: string): void {
    this.steps.push({ release, dir: rdir });
    if (!this.releases.includes(release)) this.releases.push(release);
    for (const system of readdirSync(rdir).sort()) {
      const sdir = join(rdir, system);
      if (!statSync(sdir).isDirectory()) continue;
      for (const event of readdirSync(sdir).sort()) {
        const path = join(sdir, event, 'format');
        if (!existsSync(path)) continue;
        this.addEntry({ release, system, name: event, path });
      }
    }
  }

  /** Add one format from text (tests, or formats carried beside a trace). */
  addFormatText(release: string, system: string, text: string, path = `<${release}/${system}>`): EventFormat {
    this.steps.push({ release, system, text, path });
    const format = parseFormatFile(text, path, system, release);
    if (!this.releases.includes(release)) this.releases.push(release);
    const entry: FormatEntry = { release, system, name: format.name || path, path, format };
    this.addEntry(entry);
    return format;
  }

  /**
   * What rebuilds this registry on another thread: the steps it was built by, and the entries
   * compiled so far (their format problems are reported by the first decode table that needs
   * them, so a copy must not report them again).
   */
  recipe(): RegistryRecipe {
    const compiled: Array<[string, number]> = [];
    for (const [name, list] of this.byName) list.forEach((e, i) => { if (e.decoder !== undefined) compiled.push([name, i]); });
    return { steps: this.steps.slice(), compiled, issues: this.issues.length };
  }

  static fromRecipe(r: RegistryRecipe): FormatRegistry {
    const reg = new FormatRegistry();
    for (const s of r.steps) {
      if ('dir' in s) reg.addRelease(s.release, s.dir);
      else reg.addFormatText(s.release, s.system, s.text, s.path);
    }
    for (const [name, i] of r.compiled) {
      const e = reg.byName.get(name)?.[i];
      if (e) reg.compile(e);
    }
    return reg;
  }

  private addEntry(e: FormatEntry): void {
    const list = this.byName.get(e.name);
    if (list) list.push(e);
    else this.byName.set(e.name, [e]);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * Decoders for `name`, the preferred release first, then the others newest first.
   * Each decoder is compiled once.
   */
  decoders(name: string, preferred: string | undefined): CompiledDecoder[] {
    const out: CompiledDecoder[] = [];
    for (const e of this.entries(name, preferred)) {
      const d = this.compile(e);
      if (d) out.push(d);
    }
    return out;
  }

  /** The formats of `name` in the order decoders() tries them, none compiled yet. */
  entries(name: string, preferred: string | undefined): FormatEntry[] {
    const list = this.byName.get(name);
    if (!list) return [];
    return [...list].sort((a, b) => {
      if (a.release === preferred) return -1;
      if (b.release === preferred) return 1;
      return compareRelease(b.release, a.release);
    });
  }

  /** The parsed format of `name` (preferred release first), compiled or not. */
  format(name: string, preferred: string | undefined): EventFormat | undefined {
    const list = this.byName.get(name);
    if (!list) return undefined;
    const e = list.find((x) => x.release === preferred) ?? list[list.length - 1]!;
    this.compile(e);
    return e.format;
  }

  /** The decoder of one entry, compiled once (its format's problems join `issues` then). */
  compile(e: FormatEntry): CompiledDecoder | null {
    if (e.decoder !== undefined) return e.decoder;
    if (!e.format) {
      let text: string;
      try {
        text = readFileSync(e.path, 'utf8');
      } catch (err) {
        this.issues.push({ path: e.path, problem: { message: `cannot read: ${(err as Error).message}`, line: 0, column: 0 } });
        e.decoder = null;
        return null;
      }
      e.format = parseFormatFile(text, e.path, e.system, e.release);
    }
    for (const p of e.format.problems) this.issues.push({ path: e.path, problem: p });
    e.decoder = compileDecoder(e.format) ?? null;
    return e.decoder;
  }

  /** Guess the release from a kernel release string (`uname -r`): exact, then major.minor. */
  matchRelease(kernel: string | undefined): string | undefined {
    if (!kernel) return undefined;
    if (this.releases.includes(kernel)) return kernel;
    const mm = /^(\d+\.\d+)/.exec(kernel)?.[1];
    if (!mm) return undefined;
    return this.releases.filter((r) => r.startsWith(`${mm}.`) || r === mm).sort(compareRelease).pop();
  }
}

/** Compare `6.1.0-56-cloud-amd64` and `6.18.44-fc-v669` by their numeric parts. */
export function compareRelease(a: string, b: string): number {
  const na = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const nb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}
