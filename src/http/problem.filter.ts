import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CommandRejected, type Problem } from '../../domain/rejection';
import { KindedError, problemDocument, STATUS_BY_KIND } from '../errors';

/** Every error as `application/problem+json` (RFC 9457) with the field and reason of each problem; never a stack. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, detail, problems } = describe(error);
    if (status >= 500) this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    // Solana's JSON-RPC route (src/chain-rpc) answers in JSON-RPC whatever failed, a body it never got included.
    if ((response.req as Request | undefined)?.path === '/chain/rpc') {
      const parse = /not valid JSON/.test(detail);
      response
        .status(status >= 500 ? 200 : status)
        .json({ jsonrpc: '2.0', error: { code: parse ? -32700 : status >= 500 ? -32603 : -32600, message: parse ? 'Parse error' : detail }, id: null });
      return;
    }
    response
      .status(status)
      .type('application/problem+json')
      .json(problemDocument(status, detail, problems));
  }
}

function describe(error: unknown): { status: number; detail: string; problems: Problem[] } {
  // Refused commands (domain) and the engine's own errors (src/errors.ts) say their kind and problems.
  if (error instanceof CommandRejected || error instanceof KindedError)
    return { status: STATUS_BY_KIND[error.kind], detail: error.message, problems: error.problems };
  if (error instanceof HttpException) {
    const body = error.getResponse();
    const message = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? error.message);
    const detail = Array.isArray(message) ? message.join('; ') : String(message);
    // The router could not decode a path parameter (percent-encoding that is not UTF-8, e.g. a lone surrogate's %ED%A0%80).
    if (error.getStatus() === 400 && /^Failed to decode param/.test(detail)) return undecodablePath();
    // Nest hands body-parser's JSON syntax errors over as a bare 400 carrying JSON.parse's message.
    if (error.getStatus() === 400 && /JSON/.test(detail)) {
      return { status: 400, detail: 'the request body is not valid JSON', problems: [{ field: 'body', reason: 'the request body is not valid JSON' }] };
    }
    // An exception of ours that names its fields (415 `content-type`) says so in its body.
    const named = typeof body === 'object' && Array.isArray((body as { problems?: unknown }).problems) ? (body as { problems: Problem[] }).problems : [];
    return { status: error.getStatus(), detail, problems: named };
  }
  if ((error as Error | undefined)?.name === 'URIError' && (error as { status?: number }).status === 400) return undecodablePath();
  // body-parser's errors (malformed JSON, too large) carry a 4xx status of their own.
  const parserError = error as { status?: number; type?: string; message?: string };
  if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    const detail = parserError.type === 'entity.parse.failed' ? 'the request body is not valid JSON' : (parserError.message ?? 'bad request');
    return { status: parserError.status, detail, problems: [{ field: 'body', reason: detail }] };
  }
  return { status: 500, detail: 'the engine failed to handle this request; it is logged', problems: [] };
}

function undecodablePath(): { status: number; detail: string; problems: Problem[] } {
  const reason = 'is not percent-encoded UTF-8';
  return { status: 400, detail: `path: ${reason}`, problems: [{ field: 'path', reason }] };
}
