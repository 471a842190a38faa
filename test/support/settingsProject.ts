// For settings tests: a project folder with the given env/<environment>/.env files, and the one-line message of a
// start that loadSettings refuses.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, SettingsError } from '../../src/settings';

export function project(envFiles: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'dbapi-settings-'));
  for (const [environment, text] of Object.entries(envFiles)) {
    mkdirSync(join(root, 'env', environment), { recursive: true });
    writeFileSync(join(root, 'env', environment, '.env'), text);
  }
  return root;
}

export function failure(env: NodeJS.ProcessEnv, root = project()): string {
  try {
    loadSettings(env, root);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    return (e as Error).message;
  }
  throw new Error('expected loadSettings to fail');
}
