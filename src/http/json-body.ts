import { HttpException, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { CommandRejected } from '../../domain/rejection';
import { ANY_JSON_BODY } from '../requests/any-json-body';

/**
 * Every request body is a JSON object, sent as `application/json`: another content type is a 415 naming
 * `content-type` (the JSON parser would have skipped it, and the route seen no fields at all), and an array, a string or
 * a number where an object is expected is a 422 naming `body` (rather than one problem per field it lacks). Runs after
 * the API key guard, so an unauthenticated request learns nothing about its body. A request without a body passes, and
 * so does a route marked `@AnyJsonBody()` (src/requests/any-json-body.ts).
 */
@Injectable()
export class JsonObjectBody implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    if (this.reflector.getAllAndOverride<boolean>(ANY_JSON_BODY, [context.getHandler(), context.getClass()])) return next.handle();
    const request = context.switchToHttp().getRequest<Request>();
    // null: the request has no body (no Content-Length, no Transfer-Encoding); an empty body with a length is none either.
    if (request.is('application/json') === null || request.headers['content-length'] === '0') return next.handle();
    if (request.is('application/json') === false) {
      throw new HttpException({ message: 'the request body must be JSON', problems: [{ field: 'content-type', reason: 'must be application/json' }] }, 415);
    }
    const body: unknown = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new CommandRejected('invalid', [{ field: 'body', reason: 'must be a JSON object' }]);
    }
    return next.handle();
  }
}
