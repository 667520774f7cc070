import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  /** `json` for services, `pretty` for people at a terminal. */
  format?: 'json' | 'pretty';
  level?: string;
  /** Component name added to every line. */
  component?: string;
}

/** Builds a winston logger writing to stderr, so command output on stdout stays clean. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${timestamp} ${level.padEnd(5)} ${component ? `[${component}] ` : ''}${message}${extra}`;
          }),
        );
  return winston.createLogger({
    level: options.level ?? process.env.ARCSIM_LOG_LEVEL ?? 'info',
    defaultMeta: options.component ? { component: options.component } : undefined,
    format,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'] })],
  });
}

/** A logger that discards everything; the default in tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

/** The pino level names Fastify logs at, and the winston level each one is written at. */
const PINO_TO_WINSTON = { fatal: 'error', error: 'error', warn: 'warn', info: 'info', debug: 'debug', trace: 'silly' } as const;
type PinoLevel = keyof typeof PINO_TO_WINSTON;
type LogFn = (objOrMsg: unknown, msg?: string, ...args: unknown[]) => void;
type Serializers = Record<string, (value: any) => unknown>;

/** The logger shape Fastify expects (pino's), so one winston logger serves the whole process. */
export interface PinoShapedLogger extends Record<PinoLevel | 'silent', LogFn> {
  level: string;
  child(bindings: Record<string, unknown>, options?: { serializers?: Serializers; level?: string }): PinoShapedLogger;
}

/**
 * Wraps a winston logger in pino's calling convention (`log.info(obj?, msg)`), for Fastify's
 * `loggerInstance`. Fastify hands its `req`/`res`/`err` serializers to `child`, so request objects
 * become small records here too; an Error keeps its stack.
 */
export function pinoShaped(logger: Logger, serializers: Serializers = {}): PinoShapedLogger {
  const meta = (obj: unknown): Record<string, unknown> => {
    if (obj instanceof Error) return { err: serializeError(obj) };
    if (!obj || typeof obj !== 'object') return {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = serializers[k] ? serializers[k](v) : v instanceof Error ? serializeError(v) : v;
    return out;
  };
  const write = (level: PinoLevel): LogFn => (objOrMsg, msg, ...args) => {
    if (typeof objOrMsg === 'string') return void logger.log(PINO_TO_WINSTON[level], [objOrMsg, msg, ...args].filter((x) => x !== undefined).join(' '));
    const fields = meta(objOrMsg);
    const err = fields.err as { message?: string } | undefined;
    logger.log(PINO_TO_WINSTON[level], msg ?? err?.message ?? '', fields);
  };
  return {
    get level() {
      return Object.entries(PINO_TO_WINSTON).find(([, w]) => w === logger.level)?.[0] ?? 'info';
    },
    set level(_ignored: string) {
      // Levels are the winston logger's (ARCSIM_LOG_LEVEL); Fastify's per-route levels are not used.
    },
    fatal: write('fatal'), error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug'), trace: write('trace'),
    silent: () => undefined,
    child: (bindings, options) => pinoShaped(logger.child(bindings), { ...serializers, ...options?.serializers }),
  };
}

function serializeError(err: Error): Record<string, unknown> {
  return { type: err.name, message: err.message, stack: err.stack, ...('code' in err ? { code: err.code } : {}) };
}
