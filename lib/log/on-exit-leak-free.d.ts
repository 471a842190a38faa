// Types for on-exit-leak-free (pino's own exit hook, which ships none): calls `fn(obj, event)` on process 'exit' and
// 'beforeExit' while `obj` is still alive; it holds `obj` weakly, so a logger that is dropped is not kept.
declare module 'on-exit-leak-free' {
  export function register<T extends object>(obj: T, fn: (obj: T, event: 'exit' | 'beforeExit') => void): void;
  export function unregister(obj: object): void;
}
