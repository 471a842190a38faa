// Parses a call's params with its action's schema before any connection is taken; failures become invalid_params.
import type { LoadedAction } from './loadModules';
import { invalidParams } from './invalidParams';

export function parseParams(action: LoadedAction, body: unknown): unknown {
  const parsed = action.params.safeParse(body);
  if (!parsed.success) throw invalidParams(parsed.error);
  return parsed.data;
}
