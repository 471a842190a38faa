// The replica's state that /ready reports and the server's drain and the start-up migrations change.
export interface Lifecycle {
  /** SIGTERM received: not ready, answers close their connections. */
  draining: boolean;
  /** Migrations at start are still waiting for the database: not ready. */
  migrating?: boolean;
}
