/**
 * The inspector's keys as named commands. One table binds each command to its keys and says
 * what it does: the key handler looks keys up here and the help screen lists the same rows, so
 * the two cannot drift apart.
 */

export enum Command {
  Down = 'down',
  Up = 'up',
  PageDown = 'page-down',
  PageUp = 'page-up',
  First = 'first',
  Last = 'last',
  NextDivergence = 'next-divergence',
  PrevDivergence = 'prev-divergence',
  NextFolio = 'next-folio',
  PrevFolio = 'prev-folio',
  NextGroup = 'next-group',
  PrevGroup = 'prev-group',
  NextViolation = 'next-violation',
  Search = 'search',
  Filter = 'filter',
  ToggleEvents = 'toggle-events',
  SwitchPane = 'switch-pane',
  ChooseConfigs = 'choose-configs',
  Help = 'help',
  Quit = 'quit',
  NextWitness = 'next-witness',
  PrevWitness = 'prev-witness',
  RacingPair = 'racing-pair',
}

/** The parts of a key press the bindings look at (ink's `useInput` gives these). */
export interface KeyPress {
  input: string;
  downArrow?: boolean;
  upArrow?: boolean;
  pageDown?: boolean;
  pageUp?: boolean;
  tab?: boolean;
  ctrl?: boolean;
  meta?: boolean;
}

type Special = 'downArrow' | 'upArrow' | 'pageDown' | 'pageUp' | 'tab';

export interface Binding {
  command: Command;
  /** Characters that run it. */
  chars: string[];
  /** Special keys that run it. */
  special: Special[];
  /** The keys as the help screen shows them. */
  label: string;
  help: string;
}

export const BINDINGS: Binding[] = [
  { command: Command.Down, chars: ['j'], special: ['downArrow'], label: 'j / ↓', help: 'next row (the inspector focused: scroll it down)' },
  { command: Command.Up, chars: ['k'], special: ['upArrow'], label: 'k / ↑', help: 'previous row (the inspector focused: scroll it up)' },
  { command: Command.PageDown, chars: [], special: ['pageDown'], label: 'PgDn', help: 'a page down' },
  { command: Command.PageUp, chars: [], special: ['pageUp'], label: 'PgUp', help: 'a page up' },
  { command: Command.First, chars: ['g'], special: [], label: 'g', help: 'first row' },
  { command: Command.Last, chars: ['G'], special: [], label: 'G', help: 'last row' },
  { command: Command.NextDivergence, chars: ['n'], special: [], label: 'n', help: 'next op where the configs diverge' },
  { command: Command.PrevDivergence, chars: ['N'], special: [], label: 'N', help: 'previous op where the configs diverge' },
  { command: Command.NextFolio, chars: [']'], special: [], label: ']', help: 'next folio of this op (those whose steps differ first)' },
  { command: Command.PrevFolio, chars: ['['], special: [], label: '[', help: 'previous folio of this op' },
  { command: Command.NextGroup, chars: ['}'], special: [], label: '}', help: 'next group of folios with the same steps' },
  { command: Command.PrevGroup, chars: ['{'], special: [], label: '{', help: 'previous group of folios' },
  { command: Command.NextViolation, chars: ['v'], special: [], label: 'v', help: 'next row with a violation' },
  { command: Command.Search, chars: ['/'], special: [], label: '/', help: 'search: event name, address, pfn, task or pid (Enter)' },
  { command: Command.Filter, chars: ['f'], special: [], label: 'f', help: 'filter by event name or process (empty: clear)' },
  { command: Command.ToggleEvents, chars: ['e'], special: [], label: 'e', help: 'each config\'s predicted kernel events inline' },
  { command: Command.SwitchPane, chars: [], special: ['tab'], label: 'tab', help: 'switch pane: inspector, summary, timeline' },
  { command: Command.ChooseConfigs, chars: ['c'], special: [], label: 'c', help: 'choose the two configs' },
  { command: Command.Help, chars: ['?'], special: [], label: '?', help: 'this help' },
  { command: Command.Quit, chars: ['q'], special: [], label: 'q', help: 'quit' },
];

/**
 * A race witness (`foliolab inspect witness.json`): the same keys for the same moves, and its
 * own for what a witness has instead of divergences.
 */
export const WITNESS_BINDINGS: Binding[] = [
  { command: Command.Down, chars: ['j'], special: ['downArrow'], label: 'j / ↓', help: 'next step' },
  { command: Command.Up, chars: ['k'], special: ['upArrow'], label: 'k / ↑', help: 'previous step' },
  { command: Command.PageDown, chars: [], special: ['pageDown'], label: 'PgDn', help: 'a page down' },
  { command: Command.PageUp, chars: [], special: ['pageUp'], label: 'PgUp', help: 'a page up' },
  { command: Command.First, chars: ['g'], special: [], label: 'g', help: 'first step' },
  { command: Command.Last, chars: ['G'], special: [], label: 'G', help: 'last step' },
  { command: Command.RacingPair, chars: ['r'], special: [], label: 'r', help: 'the racing pair: its first step, then its second (◆)' },
  { command: Command.NextWitness, chars: ['n'], special: [], label: 'n', help: 'next witness in the file' },
  { command: Command.PrevWitness, chars: ['N'], special: [], label: 'N', help: 'previous witness in the file' },
  { command: Command.Help, chars: ['?'], special: [], label: '?', help: 'this help' },
  { command: Command.Quit, chars: ['q'], special: [], label: 'q', help: 'quit' },
];

/** The command a key press runs, if any (the trace inspector's bindings unless others are given). */
export function commandFor(k: KeyPress, bindings: Binding[] = BINDINGS): Command | undefined {
  if (k.ctrl || k.meta) return undefined;
  for (const b of bindings) {
    if (b.special.some((s) => k[s])) return b.command;
    if (k.input && b.chars.includes(k.input)) return b.command;
  }
  return undefined;
}

/** The help screen's rows: keys and what they do. */
export const KEYS: Array<[string, string]> = BINDINGS.map((b) => [b.label, b.help]);
