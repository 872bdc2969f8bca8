import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { ROLES_KEY } from '../auth/api-key.guard';
import { PUBLISHED_DATA_KEY } from '../auth/proven-keys';
import type { Role } from '../auth/api-keys';

/** One route of the API as its controller declares it; `roles` undefined: public (no `@Roles`). */
export interface DeclaredRoute {
  method: string;
  path: string;
  roles: Role[] | undefined;
  /** `@PublishedData`: its key may be proven from memory (src/auth/proven-keys.ts). */
  published?: boolean;
}

/**
 * Paths served outside Nest's controllers, public: Swagger UI and its document (src/engine.ts publishApiDocs) and the
 * dashboard's static files (src/dashboard/dashboard-assets.ts; the page sends a key with each API call).
 */
const PUBLIC_STATIC = [/^\/docs(\/.*)?$/, /^\/docs-(json|yaml)$/, /^\/dashboard(\/.*)?$/];

/** The roles a handler allows, read as the guard reads them (the handler's `@Roles`, else its controller's). */
export function rolesOf(handler: object, controller: object): Role[] | undefined {
  return (Reflect.getMetadata(ROLES_KEY, handler) as Role[] | undefined) ?? (Reflect.getMetadata(ROLES_KEY, controller) as Role[] | undefined);
}

/** Every route of the application's controllers, with the roles it allows: `@Roles` is the one source of truth. */
export function declaredRoutes(app: INestApplication): DeclaredRoute[] {
  const routes: DeclaredRoute[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller || typeof controller !== 'function') continue;
      const prefixes = paths(Reflect.getMetadata(PATH_METADATA, controller));
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        const own = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (method === undefined || own === undefined) continue;
        for (const prefix of prefixes)
          for (const suffix of paths(own))
            routes.push({
              method: RequestMethod[method],
              path: join(prefix, suffix),
              roles: rolesOf(handler as object, controller),
              published: Reflect.getMetadata(PUBLISHED_DATA_KEY, handler) === true,
            });
      }
    }
  }
  return routes;
}

const paths = (value: unknown): string[] => (Array.isArray(value) ? (value as string[]) : [typeof value === 'string' ? value : '']);
const join = (...parts: string[]) =>
  `/${parts
    .flatMap((part) => part.split('/'))
    .filter(Boolean)
    .join('/')}`;

/**
 * Matches requests to declared routes as Express does (case-insensitive, a trailing slash ignored, `:name` one
 * non-empty segment). What matches no declared route and no public static path is treated as needing a key.
 */
export class RouteTable {
  private readonly compiled: { method: string; pattern: RegExp; roles: Role[] | undefined; published: boolean }[];

  constructor(routes: DeclaredRoute[]) {
    this.compiled = routes.map((route) => ({ method: route.method, pattern: compile(route.path), roles: route.roles, published: route.published === true }));
  }

  /** Whether every route the request can match serves published data (`@PublishedData`): only GET and HEAD. */
  servesPublishedData(method: string, requestPath: string): boolean {
    const verb = method.toUpperCase();
    if (verb !== 'GET' && verb !== 'HEAD') return false;
    const matches = this.matching(['GET', 'HEAD'], requestPath);
    return matches.length > 0 && matches.every((route) => route.published);
  }

  private matching(methods: string[], requestPath: string) {
    const path = requestPath.length > 1 ? requestPath.replace(/\/+$/, '') : requestPath;
    return this.compiled.filter((route) => (methods.includes(route.method) || route.method === 'ALL') && route.pattern.test(path));
  }

  /**
   * Whether a request may go on without a key: a public static path, or a path every matching route of which is
   * public (when a public and a protected route could both match, the key is asked for: the guard decides later).
   */
  isPublic(method: string, requestPath: string): boolean {
    const path = requestPath.length > 1 ? requestPath.replace(/\/+$/, '') : requestPath;
    if (PUBLIC_STATIC.some((pattern) => pattern.test(path))) return true;
    const wanted = method.toUpperCase() === 'HEAD' ? ['HEAD', 'GET'] : [method.toUpperCase()];
    const matches = this.compiled.filter((route) => (wanted.includes(route.method) || route.method === 'ALL') && route.pattern.test(path));
    return matches.length > 0 && matches.every((route) => route.roles === undefined);
  }
}

function compile(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`, 'i');
}
