// Keeps client/modules.ts (the typed client's list of modules) equal to the module folders: `npm run dev` rewrites it
// at every (re)start, `npm run new-module` after scaffolding, and a test fails when the committed file is stale.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODULE_NAME } from './loadModules';
import { RESERVED_NAMES } from '../http/gatewayPaths';

const HEADER = `// Generated from the module folders (modules/<name>/index.ts) by \`npm run client-modules\`; \`npm run dev\` and
// \`npm run new-module\` keep it current, and \`npm test\` fails when it is stale. Do not edit by hand.
// The typed client's modules: their route tables' types, read straight from the module folders (a service may instead
// pass its own map to createClient<...>()).
`;

/** The text client/modules.ts should hold for the module folders under `root`/modules. */
export function clientModulesSource(root: string): string {
  const dir = join(root, 'modules');
  const names = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && MODULE_NAME.test(d.name) && !RESERVED_NAMES.has(d.name) && existsSync(join(dir, d.name, 'index.ts')))
      .map((d) => d.name)
      .sort()
    : [];
  const lines = names.map((n) => `  ${/^[a-z_][a-z0-9_]*$/.test(n) ? n : `'${n}'`}: typeof import('../modules/${n}').default;\n`);
  return `${HEADER}export type Modules = {\n${lines.join('')}};\n`;
}

/** Rewrites `root`/client/modules.ts when it differs; answers whether it did. */
export function writeClientModules(root: string): boolean {
  const file = join(root, 'client', 'modules.ts');
  if (!existsSync(join(root, 'client'))) return false;
  const text = clientModulesSource(root);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileSync(file, text);
  return true;
}
