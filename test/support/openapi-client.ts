// ajv 6 is in the tree through eslint (not a direct dependency): JSON Schema draft-07, which OpenAPI 3.0's schemas are a subset of.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * A client generated from the OpenAPI document (`/docs-json`), as a code generator would make one: it knows only what
 * the document says. Each call names a documented operation, validates its body against the documented schema before
 * sending it, and checks the answer against the documented responses (a status the document lists; errors as
 * application/problem+json of the `Problem` schema).
 */

export type Schema = Record<string, unknown>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export interface Operation {
  operationId: string;
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
}

export interface DocumentedRoute {
  method: string;
  path: string;
  operation: Operation;
}

export const WRITE_METHODS = ['post', 'put', 'patch', 'delete'];

export function routesOf(document: OpenApiDocument): DocumentedRoute[] {
  return Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ method, path, operation })));
}

export const writeRoutes = (document: OpenApiDocument) => routesOf(document).filter((route) => WRITE_METHODS.includes(route.method));

/** The schema with every `#/components/schemas/X` reference replaced by X itself. */
export function resolved(document: OpenApiDocument, schema: unknown): Schema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const ref = (value as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
      if (!name || !document.components.schemas[name]) throw new Error(`unresolvable reference ${ref}`);
      return walk(document.components.schemas[name]);
    }
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
  };
  return walk(schema) as Schema;
}

export const bodySchemaOf = (document: OpenApiDocument, operation: Operation): Schema | undefined => {
  const schema = operation.requestBody?.content['application/json']?.schema;
  return schema === undefined ? undefined : resolved(document, schema);
};

export interface Answer {
  status: number;
  contentType: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface GeneratedClient {
  /** Validates `body` against the operation's schema: the errors (empty: valid). */
  validate(method: string, path: string, body: unknown): string[];
  call(method: string, path: string, options: { params?: Record<string, string | number>; body?: unknown; key?: string }): Promise<Answer>;
  /** "METHOD /path" of every operation called so far. */
  readonly called: Set<string>;
}

export function generateClient(document: OpenApiDocument, baseUrl: string): GeneratedClient {
  const ajv = new Ajv({ allErrors: true, unknownFormats: 'ignore', nullable: true, logger: false });
  let problemSchema: ValidateFunction | undefined;
  const problem = (body: unknown) => {
    if (!document.components?.schemas?.Problem) throw new Error('the document has no Problem schema');
    problemSchema ??= ajv.compile(resolved(document, document.components.schemas.Problem));
    return problemSchema(body);
  };
  const validators = new Map<string, ValidateFunction>();
  const operationOf = (method: string, path: string): Operation => {
    const operation = document.paths[path]?.[method.toLowerCase()];
    if (!operation) throw new Error(`${method} ${path} is not in the document`);
    return operation;
  };
  const validate = (method: string, path: string, body: unknown): string[] => {
    const operation = operationOf(method, path);
    const schema = bodySchemaOf(document, operation);
    if (!schema) return body === undefined ? [] : [`${method} ${path} documents no request body`];
    const key = `${method} ${path}`;
    if (!validators.has(key)) validators.set(key, ajv.compile(schema));
    const check = validators.get(key)!;
    if (body === undefined) return operation.requestBody?.required ? ['the body is required'] : [];
    return check(body) ? [] : (check.errors ?? []).map((error: ErrorObject) => `${error.dataPath || '(body)'} ${error.message}`);
  };
  const called = new Set<string>();
  return {
    called,
    validate,
    async call(method, path, { params = {}, body, key }) {
      const operation = operationOf(method, path);
      const invalid = validate(method, path, body);
      if (invalid.length > 0) throw new Error(`${method} ${path}: the body does not match the document: ${invalid.join('; ')}`);
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
        if (params[name] === undefined) throw new Error(`${method} ${path}: no value for {${name}}`);
        return encodeURIComponent(String(params[name]));
      });
      const response = await fetch(`${baseUrl}${url}`, {
        method: method.toUpperCase(),
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      const answer: Answer = { status: response.status, contentType: response.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : undefined };
      called.add(`${method.toUpperCase()} ${path}`);
      const documented = operation.responses[String(answer.status)];
      if (!documented) throw new Error(`${method} ${path} answered ${answer.status}, which the document does not list: ${text.slice(0, 300)}`);
      if (documented.content?.['application/problem+json']) {
        if (!answer.contentType.startsWith('application/problem+json')) throw new Error(`${method} ${path} answered ${answer.status} as ${answer.contentType}`);
        if (!problem(answer.body)) throw new Error(`${method} ${path} answered ${answer.status} with a body that is not a Problem: ${text.slice(0, 300)}`);
      }
      return answer;
    },
  };
}
