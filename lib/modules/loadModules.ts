// Finds every folder under modules/, loads its route table and checks names once, at start.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Action, RouteTable } from './action';
import type { Isolation } from '../db/runTransaction';
import { RESERVED_NAMES } from '../http/gatewayPaths';
import { describeLoadError } from './describeLoadError';

/** What an action declares of its transaction; the calls pipeline turns it into the transaction's options. */
export interface TransactionNeeds {
  readOnly: boolean;
  isolation?: Isolation;
  statementTimeoutMs?: number;
  retryOnConflict: boolean;
}

export interface LoadedAction {
  /** `module/action`, or `module` for the root action. */
  id: string;
  module: string;
  name: string;
  path: string;
  params: z.ZodType;
  result?: z.ZodType;
  /** As declared: what it does, and example params (already checked against `params`). */
  description?: string;
  example?: unknown;
  /** `false`: the action declared it uses no database. */
  database: string | false;
  /** What its transaction needs (read only, isolation, statement timeout, conflict retries), as declared. */
  needs: TransactionNeeds;
  handler: Action['handler'];
}

export interface LoadedModule {
  name: string;
  dir: string;
  /** `export const description = '…'` beside the route table: the module's tag in /openapi.json. */
  description?: string;
  actions: LoadedAction[];
}

export class ModuleError extends Error {
  name = 'ModuleError';
}

export const MODULE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const ACTION_NAME = /^([a-z][a-z0-9_-]{0,62})?$/;

export function loadModules(dir: string, databases: readonly string[]): LoadedModule[] {
  if (!existsSync(dir)) return [];
  const modules: LoadedModule[] = [];
  const folders = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
  for (const name of folders) {
    const where = `modules/${name}`;
    if (!MODULE_NAME.test(name) || RESERVED_NAMES.has(name)) {
      throw new ModuleError(`${where}: module names are lower-case letters, digits, - and _, start with a letter, and are not ${[...RESERVED_NAMES].join(', ')}`);
    }
    const index = ['index.ts', 'index.js'].map((f) => join(dir, name, f)).find((f) => existsSync(f));
    if (!index) throw new ModuleError(`${where}: has no index.ts exporting its route table`);
    let exported;
    try {
      exported = require(index);
    } catch (e) {
      throw new ModuleError(`${where}: cannot be loaded: ${describeLoadError(e, join(dir, name), dirname(dir))}`);
    }
    const table: RouteTable | undefined = exported.default ?? exported.routes;
    if (!table || typeof table !== 'object') throw new ModuleError(`${where}/index.ts: must export its route table as default`);
    if (exported.description !== undefined && typeof exported.description !== 'string') throw new ModuleError(`${where}/index.ts: its exported description must be a string`);
    modules.push({ name, dir: join(dir, name), description: exported.description, actions: Object.entries(table).map(([actionName, def]) => checkAction(name, actionName, def, databases)) });
  }
  return modules;
}

function checkAction(module: string, name: string, def: Action, databases: readonly string[]): LoadedAction {
  const id = name === '' ? module : `${module}/${name}`;
  if (!ACTION_NAME.test(name)) throw new ModuleError(`modules/${module}: action "${name}" must be lower-case letters, digits, - and _, starting with a letter (or '' for the root)`);
  if (!def || typeof def.handler !== 'function') throw new ModuleError(`${id}: an action needs a handler function`);
  if (def.params !== undefined && !(def.params instanceof z.ZodType)) throw new ModuleError(`${id}: params must be a zod schema`);
  if (def.isolation !== undefined && !['read committed', 'repeatable read', 'serializable'].includes(def.isolation)) {
    throw new ModuleError(`${id}: isolation must be 'read committed', 'repeatable read' or 'serializable'`);
  }
  if (def.statementTimeoutMs !== undefined && !(Number.isInteger(def.statementTimeoutMs) && def.statementTimeoutMs >= 0)) {
    throw new ModuleError(`${id}: statementTimeoutMs must be a whole number of milliseconds (0: none)`);
  }
  const database = def.database ?? 'default';
  if (database !== false && !databases.includes(database)) {
    throw new ModuleError(`${id}: uses database "${database}", which is not configured (set DATABASE_URL_${database.toUpperCase()})`);
  }
  const params = def.params === undefined ? z.strictObject({}) : def.params instanceof z.ZodObject ? def.params.strict() : def.params;
  if (def.description !== undefined && typeof def.description !== 'string') throw new ModuleError(`${id}: description must be a string`);
  if (def.example !== undefined) {
    const checked = params.safeParse(def.example);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new ModuleError(`${id}: its example does not match its params schema (${issue.path.join('.') || '(root)'}: ${issue.message})`);
    }
  }
  return {
    id, module, name, path: `/${id}`, params, result: def.result, database, description: def.description, example: def.example,
    handler: def.handler,
    needs: { readOnly: def.readOnly === true, isolation: def.isolation, statementTimeoutMs: def.statementTimeoutMs, retryOnConflict: def.retryOnConflict === true },
  };
}
