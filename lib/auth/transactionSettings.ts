// Who called, as every transaction of the call sees it: `dbapi.caller`, `dbapi.claims` (JSON) and the caller's role
// (`role`: SET LOCAL ROLE), sent with BEGIN by runTransaction. Built once per caller object, not per call.
import type { Caller } from './Caller';

const built = new WeakMap<Caller, Readonly<Record<string, string>>>();

export function transactionSettings(caller: Caller): Readonly<Record<string, string>> {
  let settings = built.get(caller);
  if (!settings) {
    settings = Object.freeze({
      'dbapi.caller': caller.name,
      'dbapi.claims': JSON.stringify(caller.claims ?? {}),
      ...(caller.role ? { role: caller.role } : {}),
    });
    built.set(caller, settings);
  }
  return settings;
}
