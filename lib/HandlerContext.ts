// What a handler receives ({ params, tx, caller, log }): one small object per call, its child logger made only when used.
import type { Logger } from 'pino';
import type { TransactionSql } from 'postgres';
import type { ActionContext } from './action';
import type { Caller } from '../src/settings';
import { ApiError } from './errors';

// The `tx` of an action declared `database: false`: using it is a programming error, answered as `internal`.
const NO_TRANSACTION = (() => {
  throw new ApiError('internal', { cause: new Error('this action is declared with `database: false`: it has no transaction') });
}) as unknown as TransactionSql<Record<string, never>>;

export class HandlerContext implements ActionContext<unknown> {
  #child: Logger | undefined;

  constructor(
    readonly params: unknown,
    readonly caller: Caller,
    private readonly parentLog: Logger,
    private readonly requestId: string,
    private readonly actionId: string,
    readonly tx: TransactionSql<Record<string, never>> = NO_TRANSACTION,
  ) {}

  /** A logger bound to this request's id, caller and action; a pino child costs a little, so only on first use. */
  get log(): Logger {
    return (this.#child ??= this.parentLog.child({
      http: { request: { id: this.requestId } },
      user: { name: this.caller.name },
      dbapi: { action: this.actionId },
    }));
  }
}
