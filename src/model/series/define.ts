/** A patch series version as a model unit: identity, and the hooks it replaces. */
import type { Hooks } from '../hooks.js';

export interface SeriesDef {
  /** `<slug>@<version>[-<part>]`, e.g. `batched-unmap@v4-3`. */
  id: string;
  slug: string;
  version: string;
  part?: string;
  title: string;
  author: string;
  date: string;
  /** Upstream commits, where pinned. */
  commits: string[];
  /** Release the series was merged in (`6.11`), or `not merged`. */
  mergedIn: string;
  fixes?: string;
  link?: string;
  /** A series this one patches (`slug@*-part`): without it, this one has nothing to apply to. */
  requires?: string;
  /** What it changes in the model, for `foliolab series`. */
  changes: string;
  /** Names of kernel functions the patch touches (for matching patches to series). */
  functions: string[];
  /** The series (cover letter) title, when this unit is one patch of a series. */
  seriesTitle?: string;
  /** Subjects the series' patches went out under (every part, and renamed versions). */
  subjects?: string[];
  /** Identifiers the patch introduces or is about (TTU_SYNC, folio_batch, …): matching evidence. */
  keywords?: string[];
  /**
   * Code that tells this version from the series' other modelled versions, when a mail does
   * not say its version: identifiers its diff must contain (`present`) or must not (`absent`).
   */
  codeMarks?: { present?: string[]; absent?: string[] };
  hooks: Partial<Hooks>;
}

export function defineSeries(s: SeriesDef): SeriesDef {
  return s;
}
