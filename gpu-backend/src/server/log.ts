import type { LogLevel } from './config.ts';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type Logger = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => void;

/** Structured logs: one JSON object per line on stdout (errors on stderr), for log shippers. */
export function createLogger(min: LogLevel, write: (line: string, level: string) => void = defaultWrite): Logger {
  return (level, msg, fields) => {
    if (RANK[level] < RANK[min]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }), level);
  };
}

function defaultWrite(line: string, level: string): void {
  (level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
}
