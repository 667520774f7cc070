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
