// The modules this client knows, by name: their route tables' types, read straight from the module folders.
// `npm run new-module` adds a line here; a service may instead pass its own map to createClient<...>().
export type Modules = {
  example: typeof import('../modules/example').default;
};
