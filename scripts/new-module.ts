// `npm run new-module <name> [--dir <modules folder>]`: writes a working module (route table, schema, SQL, migration, test).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { MODULE_NAME } from '../lib/modules/loadModules';
import { RESERVED_NAMES } from '../lib/http/gatewayPaths';
import { writeClientModules } from '../lib/modules/writeClientModules';

const ROOT = join(__dirname, '..');

function main(argv: string[]) {
  const args = [...argv];
  const dirAt = args.indexOf('--dir');
  const modulesDir = dirAt >= 0 ? resolve(args.splice(dirAt, 2)[1]) : join(ROOT, 'modules');
  const [name] = args;
  if (name && RESERVED_NAMES.has(name)) {
    throw new Error(`"${name}" is reserved for the gateway's own paths (${[...RESERVED_NAMES].join(', ')}): choose another name`);
  }
  if (!name || !MODULE_NAME.test(name)) {
    throw new Error('usage: npm run new-module <name>   (lower-case letters, digits, - and _, starting with a letter)');
  }
  const dir = join(modulesDir, name);
  if (existsSync(dir)) throw new Error(`${relative(process.cwd(), dir)} already exists`);
  const table = `${name.replace(/-/g, '_')}_items`;
  const files: Record<string, string> = {
    'index.ts': indexTs(name),
    'schema.ts': schemaTs(name),
    'sql.ts': sqlTs(name, table),
    [`migrations/001_${table}.sql`]: migrationSql(table),
    [`${name}.test.ts`]: testTs(name),
  };
  mkdirSync(join(dir, 'migrations'), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  if (modulesDir === join(ROOT, 'modules')) writeClientModules(ROOT);
  process.stdout.write(`created ${relative(process.cwd(), dir)}/: ${Object.keys(files).join(', ')}\n`
    + `npm run dev serves POST /${name}/put and /${name}/list at once (restart npm start); npm test runs its test\n`);
}

const indexTs = (name: string) => `// The ${name} module: its route table (action name → action).
import { action } from '#dbapi';
import { item, itemKey, items, putParams } from './schema';
import { listItems, putItem } from './sql';

export default {
  put: action({
    params: putParams,
    result: item,
    handler: ({ params, tx }) => putItem(tx, params.key, params.value ?? null),
  }),

  list: action({
    readOnly: true,
    params: itemKey.partial(),
    result: items,
    handler: ({ params, tx }) => listItems(tx, params.key),
  }),
};
`;

const schemaTs = (name: string) => `// The ${name} module's params and result schemas (zod): they validate calls and document /openapi.json.
import { z } from 'zod';

export const itemKey = z.object({ key: z.string().min(1).max(200) });
export const putParams = itemKey.extend({ value: z.string().max(10_000).optional() });
export const item = z.object({ key: z.string(), value: z.string().nullable(), updatedAt: z.string() });
export const items = z.array(item);
`;

const sqlTs = (name: string, table: string) => `// The ${name} module's SQL: plain statements in postgres.js tagged templates.
import type { Tx } from '#dbapi';

export interface Item {
  key: string;
  value: string | null;
  updatedAt: string;
}

/** Inserts or replaces the item in one statement, so concurrent first calls for one key do not conflict. */
export async function putItem(tx: Tx, key: string, value: string | null): Promise<Item> {
  const [row] = await tx<Item[]>\`
    insert into ${table} (key, value) values (\${key}, \${value})
    on conflict (key) do update set value = excluded.value, updated_at = now()
    returning key, value, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "updatedAt"\`;
  return row;
}

/** Every item, or the one with this key, in key order (at most 1000). */
export async function listItems(tx: Tx, key?: string): Promise<Item[]> {
  return tx<Item[]>\`
    select key, value, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "updatedAt"
    from ${table}
    where \${key ?? null}::text is null or key = \${key ?? null}
    order by key
    limit 1000\`;
}
`;

const migrationSql = (table: string) => `create table ${table} (
  key        text primary key,
  value      text,
  updated_at timestamptz not null default now()
);
`;

const testTs = (name: string) => `// The ${name} module over real HTTP against a real PostgreSQL.
import { startTestApp, type TestApp } from '#dbapi/testing';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

test('put stores an item and list answers it', async () => {
  const put = await app.call('/${name}/put', { key: 'a', value: 'one' });
  expect([put.status, put.body]).toEqual([200, { key: 'a', value: 'one', updatedAt: expect.any(String) }]);
  await app.call('/${name}/put', { key: 'a', value: 'two' });
  await app.call('/${name}/put', { key: 'b' });
  const list = await app.call('/${name}/list', {});
  expect(list.body.map((i: { key: string; value: string | null }) => [i.key, i.value])).toEqual([['a', 'two'], ['b', null]]);
  expect((await app.call('/${name}/list', { key: 'b' })).body.length).toBe(1);
});

test('bad params are refused before any database work', async () => {
  const res = await app.call('/${name}/put', { key: '' });
  expect([res.status, res.body.error.code]).toEqual([400, 'invalid_params']);
});
`;

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`new-module: ${(e as Error).message}\n`);
  process.exit(1);
}
