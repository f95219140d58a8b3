/** Where the package's own data lives (grammars/, traces/), from src/ or dist/ alike. */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const grammarsDir = join(packageRoot, 'grammars');
