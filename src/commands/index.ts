/**
 * The command registry (oclif `explicit` strategy): every command in one reviewable list, and
 * test files beside commands can never be loaded as commands.
 */
import Parse from './parse.js';
import GrammarsList from './grammars/list.js';
import GrammarsAdd from './grammars/add.js';
import Replay from './replay.js';
import Series from './series.js';
import Fidelity from './fidelity.js';
import Diff from './diff.js';
import Matrix from './matrix.js';
import RecordCommand from './record.js';
import Patch from './patch.js';
import Inspect from './inspect.js';
import PatchDiff from './patch/diff.js';
import Race from './race.js';

export const COMMANDS = {
  parse: Parse,
  grammars: GrammarsList,
  'grammars:add': GrammarsAdd,
  replay: Replay,
  series: Series,
  fidelity: Fidelity,
  diff: Diff,
  matrix: Matrix,
  record: RecordCommand,
  patch: Patch,
  inspect: Inspect,
  'patch:diff': PatchDiff,
  race: Race,
};
