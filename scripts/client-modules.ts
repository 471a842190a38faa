// `npm run client-modules`: rewrites client/modules.ts from the module folders (what `npm run dev` does at each start).
import { join } from 'node:path';
import { writeClientModules } from '../lib/modules/writeClientModules';

const changed = writeClientModules(join(__dirname, '..'));
process.stdout.write(changed ? 'client/modules.ts rewritten from modules/\n' : 'client/modules.ts is up to date\n');
