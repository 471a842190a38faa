// Runs one action's handler inside a transaction it is given, with the context handlers expect.
import type { Logger } from 'pino';
import type { TransactionSql } from 'postgres';
import type { Caller } from '../src/settings';
import type { LoadedAction } from './loadModules';

export interface HandlerCall {
  params: unknown;
  caller: Caller;
  tx: TransactionSql;
  log: Logger;
  requestId: string;
}

export function callHandler(action: LoadedAction, { params, caller, tx, log, requestId }: HandlerCall): Promise<unknown> | unknown {
  let child: Logger | undefined; // made only when the handler logs
  return action.handler({
    params,
    caller,
    tx: tx as never,
    get log() {
      return (child ??= log.child({ http: { request: { id: requestId } }, user: { name: caller.name }, dbapi: { action: action.id } }));
    },
  });
}
