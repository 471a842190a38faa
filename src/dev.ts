// `npm run dev`: the gateway under `tsx watch` (which restarts it when src/, lib/ or modules/ change, new module folders
// and .sql files included); each start first brings client/modules.ts up to date with the module folders.
import { writeClientModules } from '../lib/modules/writeClientModules';

try {
  if (writeClientModules(process.cwd())) process.stdout.write('dbapi dev: client/modules.ts updated from modules/\n');
} catch (e) {
  process.stderr.write(`dbapi dev: client/modules.ts not updated: ${(e as Error).message}\n`);
}
require('./main');
