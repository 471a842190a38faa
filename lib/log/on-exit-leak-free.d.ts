// Types for on-exit-leak-free (pino's own exit hook, which ships none): `register` calls `fn(obj, 'exit')` on the
// process's 'exit' event if `obj` is still alive (it is held weakly), `registerBeforeExit` likewise on 'beforeExit'.
declare module 'on-exit-leak-free' {
  export function register<T extends object>(obj: T, fn: (obj: T, event: 'exit') => void): void;
  export function registerBeforeExit<T extends object>(obj: T, fn: (obj: T, event: 'beforeExit') => void): void;
  export function unregister(obj: object): void;
}
