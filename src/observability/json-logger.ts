import type { LoggerService } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../config/config';

/** The request being handled, for every log line written while it is: its correlation id. */
export const requestContext = new AsyncLocalStorage<{ correlationId: string }>();

/** Field names whose values never reach a log line, at any depth. `keyId` (the public half of an API key) is kept. */
export const SENSITIVE_FIELD = /(authorization|cookie|password|passwd|secret|token|keypair|api[-_]?key|private[-_]?key|credential)|key$/i;

/** pino's own redaction (fast-redact): headers, and sensitive names at the top level and one level down. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  ...['authorization', 'password', 'secret', 'key', 'apiKey', 'token', 'secretKey', 'privateKey', 'keypair', 'treasuryKey'].flatMap((name) => [
    name,
    `*.${name}`,
  ]),
];

const API_KEY_TEXT = /\b(synq_[a-z0-9]{12}_)[A-Za-z0-9_-]{43}\b/g;
const BEARER_TEXT = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
/** A solana-keygen keypair (or any long list of byte values) written out: `[12,250,...]`. */
const BYTE_LIST_TEXT = /\[\s*(?:\d{1,3}\s*,\s*){31,}\d{1,3}\s*\]/g;

/** Secrets that can hide inside free text (an error message, a URL): API keys, bearer tokens, keypair bytes. */
export function scrubText(text: string): string {
  return text.replace(API_KEY_TEXT, '$1[Redacted]').replace(BEARER_TEXT, '$1[Redacted]').replace(BYTE_LIST_TEXT, '[Redacted bytes]');
}

/** A copy fit for a log line: sensitive fields censored at any depth, strings scrubbed, errors as plain objects. */
export function scrubValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth > 8) return '[Too deep]';
  seen.add(value);
  if (value instanceof Error) {
    return { type: value.name, message: scrubText(value.message), ...(value.stack ? { stack: scrubText(value.stack) } : {}) };
  }
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1, seen));
  if (value instanceof Date) return value;
  const copy: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) copy[name] = SENSITIVE_FIELD.test(name) ? '[Redacted]' : scrubValue(field, depth + 1, seen);
  return copy;
}

/**
 * The engine's structured logger: one JSON object per line (pino), with `level` as a word, an ISO `time`, and the
 * correlation id of the request being handled. Secrets are kept out three ways: pino's `redact` paths, every field
 * whose name looks sensitive censored at any depth, and API keys, bearer tokens and keypair bytes cut out of text.
 * `level`: from `--log-level` or LOG_LEVEL (src/config/config.ts checks both against the same list); info by default.
 */
export function createJsonLogger(options: { destination?: DestinationStream; level?: LogLevel } = {}): PinoLogger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'synq-settlement', pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      mixin: () => requestContext.getStore() ?? {},
      hooks: {
        logMethod(args, method) {
          const scrubbed = (args as unknown[]).map((arg) => scrubValue(arg));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

type Level = 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal';

/** Nest's LoggerService on pino: framework and engine messages as JSON lines, with their context. */
export class JsonLoggerService implements LoggerService {
  constructor(
    private readonly logger: PinoLogger,
    private readonly context?: string,
  ) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest's convention: the last string parameter is the context; for errors, a string before it is the stack. */
  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = params.filter((param) => param !== undefined);
    let context = this.context;
    if (rest.length > 0 && typeof rest[rest.length - 1] === 'string' && (level !== 'error' || rest.length > 1 || !looksLikeStack(rest[0] as string))) {
      context = rest.pop() as string;
    }
    const fields: Record<string, unknown> = context ? { context } : {};
    if (level === 'error' && typeof rest[0] === 'string') fields.stack = rest.shift();
    if (rest.length > 0) fields.details = rest;
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}

const looksLikeStack = (text: string) => /\n\s+at /.test(text);
