// The typed client's module list follows the module folders: a module added by hand is listed with no hand edit,
// and a committed list that is stale fails the tests.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/startTestApp';
import { scratchDir } from './support/scratchDir';
import { clientModulesSource, writeClientModules } from '../lib/modules/writeClientModules';

test('client/modules.ts lists exactly the module folders (if not: npm run client-modules, or keep npm run dev running)', () => {
  expect(readFileSync(join(ROOT, 'client', 'modules.ts'), 'utf8')).toBe(clientModulesSource(ROOT));
});

test('a module folder added by hand is listed; a folder without index.ts is not', () => {
  const root = scratchDir('client');
  mkdirSync(join(root, 'client'));
  for (const name of ['notes', 'gadget-box', 'half-made']) mkdirSync(join(root, 'modules', name), { recursive: true });
  for (const name of ['notes', 'gadget-box']) writeFileSync(join(root, 'modules', name, 'index.ts'), 'export default {};\n');
  expect(writeClientModules(root)).toBe(true);
  const text = readFileSync(join(root, 'client', 'modules.ts'), 'utf8');
  expect(text).toMatch(/^export type Modules = \{\n  'gadget-box': typeof import\('..\/modules\/gadget-box'\).default;\n  notes: typeof import\('..\/modules\/notes'\).default;\n\};\n/m);
  expect(writeClientModules(root)).toBe(false); // unchanged: not rewritten
});
