// Generated from the module folders (modules/<name>/index.ts) by `npm run client-modules`; `npm run dev` and
// `npm run new-module` keep it current, and `npm test` fails when it is stale. Do not edit by hand.
// The typed client's modules: their route tables' types, read straight from the module folders (a service may instead
// pass its own map to createClient<...>()).
export type Modules = {
  example: typeof import('../modules/example').default;
};
