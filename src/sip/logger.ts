/** pino-compatible logger surface; the stack logs structured objects first, message second. */
export interface SipLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

export const silentLogger: SipLogger = { debug: noop, info: noop, warn: noop, error: noop };
