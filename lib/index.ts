// What a module imports from the gateway, by one stable name: `import { action, type Tx } from '#dbapi'`.
export { action, type Action, type ActionContext, type RouteTable } from './modules/action';
export type { Tx } from './db/Tx';
export type { Caller } from './auth/Caller';
export { ApiError, type ErrorCode } from './errors/ApiError';
export { eachRow } from './stream/eachRow';
