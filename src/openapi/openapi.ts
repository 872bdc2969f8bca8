import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';

/**
 * What the OpenAPI document (`/docs-json`) says of each route beyond its path: the request body's JSON schema, the
 * success answer and the errors, each as `application/problem+json`. The schemas say what the domain's checks
 * (domain/values.ts `Checks`) accept, so that a client generated from the document sends bodies the engine takes.
 */

export type { SchemaObject };

/** The body of every error (src/http/problem.filter.ts), in the document's components as `Problem`. */
export const PROBLEM_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', example: 'about:blank' },
    title: { type: 'string', example: 'Unprocessable request' },
    status: { type: 'integer', example: 422 },
    detail: { type: 'string' },
    problems: {
      type: 'array',
      description: 'One per bad field (none for 401 and 403)',
      items: { type: 'object', required: ['field', 'reason'], properties: { field: { type: 'string' }, reason: { type: 'string' } } },
    },
  },
};

/** A Solana JSON-RPC 2.0 request (POST /chain/rpc), in the components as `JsonRpcRequest`. */
export const JSON_RPC_REQUEST_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['jsonrpc', 'method'],
  properties: {
    jsonrpc: { type: 'string', enum: ['2.0'] },
    id: { oneOf: [{ type: 'string' }, { type: 'integer' }], nullable: true },
    method: { type: 'string', example: 'getBalance' },
    params: { type: 'array', items: {} },
  },
};

/** A regular expression for the decimal numbers from 0 to `max` (no sign, no leading zeros): JSON Schema compares no big numbers. */
export function decimalsUpTo(max: bigint): string {
  const digits = max.toString();
  const shorter = digits.length > 1 ? [`[1-9][0-9]{0,${digits.length - 2}}`] : [];
  const sameLength: string[] = [];
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i]);
    const lowest = i === 0 ? 1 : 0;
    if (digit <= lowest) continue;
    const range = digit - 1 === lowest ? `${lowest}` : `[${lowest}-${digit - 1}]`;
    const rest = digits.length - i - 1;
    sameLength.push(`${digits.slice(0, i)}${range}${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  return `^(0|${[...shorter, ...sameLength, digits].join('|')})$`;
}

const U64_DECIMAL = decimalsUpTo((1n << 64n) - 1n);

/** The schemas of the values every command is made of: the same rules as domain/values.ts `Checks`. */
export const Schema = {
  id: (description?: string): SchemaObject => ({
    type: 'string',
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
    minLength: 1,
    maxLength: 64,
    example: 'id-1',
    ...(description ? { description } : {}),
  }),
  text: (maxLength = 500, description?: string): SchemaObject => ({
    type: 'string',
    minLength: 1,
    maxLength,
    example: 'a reason',
    ...(description ? { description } : {}),
  }),
  /** Base units as a decimal string, at most u64 (18446744073709551615). */
  amount: ({ allowZero = false, description }: { allowZero?: boolean; description?: string } = {}): SchemaObject => ({
    type: 'string',
    pattern: U64_DECIMAL,
    ...(allowZero ? {} : { not: { enum: ['0'] } }),
    format: 'u64',
    example: '1500000',
    description: `${description ? `${description}: ` : ''}base units as a decimal string, ${allowZero ? '0' : '1'} to 18446744073709551615`,
  }),
  /** A Solana public key: base58 of 32 bytes. */
  publicKey: (description?: string): SchemaObject => ({
    type: 'string',
    format: 'solana-public-key',
    pattern: '^[1-9A-HJ-NP-Za-km-z]{32,44}$',
    example: '11111111111111111111111111111111',
    ...(description ? { description } : {}),
  }),
  /** A Solana transaction signature: base58 of 64 bytes. */
  signature: (description?: string): SchemaObject => ({
    type: 'string',
    format: 'solana-signature',
    pattern: '^[1-9A-HJ-NP-Za-km-z]{64,88}$',
    ...(description ? { description } : {}),
  }),
  integer: (minimum: number, maximum: number, description?: string): SchemaObject => ({
    type: 'integer',
    minimum,
    maximum,
    ...(description ? { description } : {}),
  }),
  /** UTC with whole seconds. */
  instant: (description?: string): SchemaObject => ({
    type: 'string',
    format: 'date-time',
    pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$',
    example: '2026-11-24T10:00:00Z',
    ...(description ? { description } : {}),
  }),
  oneOf: (values: readonly string[], description?: string): SchemaObject => ({ type: 'string', enum: [...values], ...(description ? { description } : {}) }),
  /** A command body: these properties, the `required` ones mandatory. */
  object: (properties: Record<string, SchemaObject>, required: string[] = Object.keys(properties), description?: string): SchemaObject => ({
    type: 'object',
    properties,
    required,
    ...(description ? { description } : {}),
  }),
};

const ERROR_MEANING: Record<number, string> = {
  400: 'The body is not valid JSON, or the path is not UTF-8',
  404: 'It names something that does not exist',
  409: 'It contradicts what is recorded (an id reused with other details, a state that does not allow it)',
  413: 'The body is too large',
  415: 'The body is not sent as application/json',
  422: 'Malformed or out of range (body fields or path parameters): one problem per bad field',
  503: 'The chain or a projection cannot serve now: the request may succeed later',
};

/** Error answers as problem+json; the meaning of each status said once (docs/api.md "Errors"), `notes` per route. */
export function ApiProblems(statuses: number[], notes: Partial<Record<number, string>> = {}) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: notes[status] ?? ERROR_MEANING[status] ?? 'Error',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      }),
    ),
  );
}

export interface CommandDoc {
  summary: string;
  description?: string;
  /** The request body's schema; omitted for a route that reads no body. */
  body?: SchemaObject;
  /** The success status (Nest answers 201 to a POST unless the route says `@HttpCode`). */
  status: number;
  /** What the success answers. */
  answers: string;
  answerSchema?: SchemaObject;
  /** Error statuses beyond 400 and 422 (every route), 413 and 415 (routes with a body), 401 and 403 (`@Roles`). */
  errors?: number[];
  notes?: Partial<Record<number, string>>;
}

/** A write route's whole contract: its body, its success and its errors. */
export function ApiCommand(doc: CommandDoc) {
  const errors = [...new Set([400, 422, ...(doc.body ? [413, 415] : []), ...(doc.errors ?? [])])].sort((a, b) => a - b);
  return applyDecorators(
    ApiOperation({ summary: doc.summary, ...(doc.description ? { description: doc.description } : {}) }),
    ...(doc.body ? [ApiBody({ required: true, schema: doc.body })] : []),
    ApiResponse({
      status: doc.status,
      description: doc.answers,
      ...(doc.answerSchema ? { content: { 'application/json': { schema: doc.answerSchema } } } : {}),
    }),
    ApiProblems(errors, doc.notes),
  );
}

/** A read route: its answer and its errors. */
export function ApiRead(doc: { summary: string; answers: string; errors?: number[]; notes?: Partial<Record<number, string>> }) {
  return applyDecorators(
    ApiOperation({ summary: doc.summary }),
    ApiResponse({ status: 200, description: doc.answers }),
    ApiProblems(
      [...(doc.errors ?? [])].sort((a, b) => a - b),
      doc.notes,
    ),
  );
}

/** A route that needs a key: the bearer scheme, 401 without a valid key and 403 for the other roles (`@Roles`). */
export function ApiKeyRoles(roles: readonly string[]) {
  return applyDecorators(ApiBearerAuth('bearer'), ApiProblems([401, 403], { 401: 'No valid API key', 403: `A role other than ${roles.join(', ')}` }));
}
