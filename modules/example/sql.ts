// The example module's SQL.
import type { Tx } from '#dbapi';

export interface User {
  name: string;
  email: string | null;
}

/**
 * Inserts or updates the user in one statement: concurrent first calls for one name serialize on the row. The query is
 * returned as it is (not awaited): a handler that returns it lets the gateway send COMMIT in the same write.
 */
export function upsertUser(tx: Tx, name: string, email: string | null): Promise<User[]> {
  return tx<User[]>`
    insert into users (name, email) values (${name}, ${email})
    on conflict (name) do update set email = excluded.email
    returning name, email`;
}
