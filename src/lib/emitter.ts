/** A typed, synchronous event emitter; a throwing listener is reported, never allowed to break the SIP flow. */
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Array<(arg: never) => void>>();

  constructor(private readonly onListenerError: (err: Error, event: string) => void = () => {}) {}

  on<K extends keyof Events>(event: K, fn: (arg: Events[K]) => void): this {
    const list = this.listeners.get(event) ?? [];
    list.push(fn as (arg: never) => void);
    this.listeners.set(event, list);
    return this;
  }

  /** Like `on`, for the next occurrence only. */
  once<K extends keyof Events>(event: K, fn: (arg: Events[K]) => void): this {
    const wrapped = (arg: Events[K]) => {
      this.off(event, wrapped);
      fn(arg);
    };
    return this.on(event, wrapped);
  }

  off<K extends keyof Events>(event: K, fn: (arg: Events[K]) => void): this {
    const list = this.listeners.get(event);
    if (list) this.listeners.set(event, list.filter((f) => f !== fn));
    return this;
  }

  /** True when the event has a listener (some defaults apply only when nobody is listening). */
  listens(event: keyof Events): boolean {
    return (this.listeners.get(event)?.length ?? 0) > 0;
  }

  protected emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        (fn as (a: Events[K]) => void)(arg);
      } catch (err) {
        this.onListenerError(err as Error, String(event));
      }
    }
  }
}
