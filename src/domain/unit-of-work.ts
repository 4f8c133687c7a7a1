import type { DomainEvent } from '../events/catalog.js';

/**
 * One database transaction, as services see it: repositories take it to run their queries
 * inside it, and `emit` queues an event that is written to the outbox with the change and
 * published only once the transaction has committed. Services never see the database itself.
 */
export interface Tx {
  emit(event: DomainEvent): void;
}

export interface UnitOfWork {
  /** Runs `fn` in one transaction; its emitted events are published after the commit. */
  run<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** One event on its own: durable ones through the outbox, ephemeral ones straight to the bus. */
  publish(event: DomainEvent): Promise<void>;
}
