// The logging the library needs: structured, optional, cheap when unused. pino, console
// and test spies all fit behind a two-line adapter.

export interface ClientLogger {
  debug(message: string, context?: Readonly<Record<string, unknown>>): void;
  warn(message: string, context?: Readonly<Record<string, unknown>>): void;
}

export const SILENT_LOGGER: ClientLogger = {
  debug: () => undefined,
  warn: () => undefined,
};
