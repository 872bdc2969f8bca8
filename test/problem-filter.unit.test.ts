import { BadRequestException, NotFoundException, type ArgumentsHost } from '@nestjs/common';
import { CommandRejected } from '../domain/rejection';
import { ChainError } from '../src/chain/chain-gateway';
import { KindedError } from '../src/errors';
import { ProblemFilter } from '../src/http/problem.filter';
import { ProjectionNotReadyError } from '../src/projections/projection-reader';

/** What the filter answers for an error: status, content type and body. */
function answer(error: unknown): { status: number; type: string; body: unknown } {
  const sent = { status: 0, type: '', body: undefined as unknown };
  const response = {
    status(status: number) {
      sent.status = status;
      return this;
    },
    type(type: string) {
      sent.type = type;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
      return this;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  const filter = new ProblemFilter();
  (filter as unknown as { logger: { error: () => void } }).logger = { error: () => undefined };
  filter.catch(error, host);
  return sent;
}

describe('ProblemFilter maps kinds to statuses', () => {
  it.each([
    ['invalid', 422, 'Unprocessable request'],
    ['not_found', 404, 'Not found'],
    ['conflict', 409, 'Conflict'],
  ] as const)('a command rejected as %s answers %d', (kind, status, title) => {
    const problems = [{ field: 'epoch', reason: 'epoch 7 does not exist' }];
    expect(answer(new CommandRejected(kind, problems))).toEqual({
      status,
      type: 'application/problem+json',
      body: { type: 'about:blank', title, status, detail: 'epoch: epoch 7 does not exist', problems },
    });
  });

  it('a chain error is 503 naming the chain', () => {
    const error = new ChainError('the embedded chain is open in another process');
    expect(error).toBeInstanceOf(KindedError);
    expect(error.name).toBe('ChainError');
    expect(answer(error)).toEqual({
      status: 503,
      type: 'application/problem+json',
      body: {
        type: 'about:blank',
        title: 'Service unavailable',
        status: 503,
        detail: 'the embedded chain is open in another process',
        problems: [{ field: 'chain', reason: 'the embedded chain is open in another process' }],
      },
    });
  });

  it('a projection still being built is 503 naming the projection', () => {
    const detail = 'projection settlement is still being built for the first time; try again shortly';
    expect(answer(new ProjectionNotReadyError('settlement'))).toEqual({
      status: 503,
      type: 'application/problem+json',
      body: { type: 'about:blank', title: 'Service unavailable', status: 503, detail, problems: [{ field: 'projection', reason: detail }] },
    });
  });

  it('Nest and body-parser errors keep their status; anything else is 500 without details', () => {
    expect(answer(new NotFoundException('no such route')).body).toEqual({ type: 'about:blank', title: 'Not found', status: 404, detail: 'no such route' });
    expect(answer(new BadRequestException('Unexpected token } in JSON at position 3')).body).toMatchObject({
      status: 400,
      detail: 'the request body is not valid JSON',
    });
    expect(answer(Object.assign(new Error('too big'), { status: 413, type: 'entity.too.large' })).body).toMatchObject({
      status: 413,
      title: 'Payload too large',
      detail: 'too big',
    });
    expect(answer(new Error('boom'))).toEqual({
      status: 500,
      type: 'application/problem+json',
      body: { type: 'about:blank', title: 'Internal error', status: 500, detail: 'the engine failed to handle this request; it is logged' },
    });
  });
});
