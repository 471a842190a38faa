// The one transaction type: what handlers receive as `tx` and what module SQL helpers take (tagged templates only).
import type { TransactionSql } from 'postgres';

export type Tx = TransactionSql;
