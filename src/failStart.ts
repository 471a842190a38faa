// Ends a start that failed: settings, module and migration errors as one clear line, anything else with its stack.
import { SettingsError } from './settings';
import { ModuleError } from '../lib/modules/loadModules';
import { MigrationError } from '../lib/db/migrate';

export function failStart(program: string) {
  return (e: unknown): never => {
    const known = e instanceof SettingsError || e instanceof ModuleError || e instanceof MigrationError;
    process.stderr.write(`${program}: ${known ? (e as Error).message : (e as Error)?.stack ?? e}\n`);
    process.exit(1);
  };
}
