// The typed dbapi client for other services: createClient(), its error type and its types.
export { createClient, type ClientOptions, type TokenProvider } from './createClient';
export { DbapiError, type DbapiErrorCode } from './DbapiError';
export type { Client, ModuleClient, CallOptions, BatchCall, ParamsOf, ResultOf } from './types';
export type { Modules } from './modules';
