import { BadRequestException, HttpException, NotFoundException } from '@nestjs/common';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CommandRejected } from '../domain/rejection';
import { EpochParam, IdParam, PublicKeyParam } from '../src/requests/parameters';
import { ProblemFilter } from '../src/http/problem.filter';

/**
 * Issue 16, item 3: every path parameter is checked by a shared pipe, which refuses with a 422 naming it (Nest's
 * ParseIntPipe answered 400 without `problems`; a raw id with a NUL reached PostgreSQL and answered 500).
 */

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CommandRejected);
    return { kind: (error as CommandRejected).kind, problems: (error as CommandRejected).problems };
  }
  throw new Error('not refused');
};

describe('path parameter pipes', () => {
  it.each(['abc', '1.5', '-1', '0', '01', '1e3', ' 1', '', '\u0000', '1000000001', (1n << 64n).toString()])(
    'refuses epoch %j with a 422 naming epoch',
    (value) => {
      expect(refusal(() => new EpochParam().transform(value, { type: 'param', data: 'epoch' }))).toEqual({
        kind: 'invalid',
        problems: [{ field: 'epoch', reason: 'must be a whole number from 1 to 1000000000' }],
      });
    },
  );

  it('takes epochs from 1 to 1,000,000,000 as numbers', () => {
    expect(new EpochParam().transform('1', { type: 'param', data: 'epoch' })).toBe(1);
    expect(new EpochParam().transform('1000000000', { type: 'param', data: 'epoch' })).toBe(1_000_000_000);
  });

  it.each(['s\u0000', 's\uD800', '\uDC00', 'a\nb', 'x'.repeat(65), '-a', ''])('refuses id %j with a 422 naming the parameter', (value) => {
    expect(refusal(() => new IdParam().transform(value, { type: 'param', data: 'id' }))).toEqual({
      kind: 'invalid',
      problems: [{ field: 'id', reason: expect.stringContaining('1 to 64') }],
    });
    expect(new IdParam().transform('synqer-001', { type: 'param', data: 'id' })).toBe('synqer-001');
  });

  it('refuses a wallet that is not a base58 key of 32 bytes', () => {
    expect(refusal(() => new PublicKeyParam().transform('\u0000', { type: 'param', data: 'wallet' })).problems).toEqual([
      { field: 'wallet', reason: 'must be a base58 public key of 32 bytes' },
    ]);
    expect(new PublicKeyParam().transform('11111111111111111111111111111112', { type: 'param', data: 'wallet' })).toBe('11111111111111111111111111111112');
  });
});

describe('every @Param of every controller goes through a shared pipe', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'web' ? [] : sources(full);
      return entry.name.endsWith('.ts') ? [full] : [];
    });
  const files = sources(path.join(__dirname, '..', 'src'));

  it('uses no Nest parse pipe (400 without problems) and no bare @Param', () => {
    const found: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/@Param\(([^)]*)\)/g)) {
        if (!/^'[A-Za-z]+', (IdParam|EpochParam|PublicKeyParam)$/.test(match[1])) found.push(`${path.relative(process.cwd(), file)}: @Param(${match[1]})`);
      }
      if (/Parse(Int|Float|Bool|UUID|Enum|Array)Pipe/.test(text)) found.push(`${path.relative(process.cwd(), file)}: a Nest Parse*Pipe`);
    }
    expect(found).toEqual([]);
  });
});

describe('the problem filter names the field of router and content-type errors', () => {
  const answer = (error: unknown) => {
    const sent = { status: 0, body: undefined as unknown };
    const response = {
      status(status: number) {
        sent.status = status;
        return this;
      },
      type() {
        return this;
      },
      json(body: unknown) {
        sent.body = body;
        return this;
      },
    };
    new ProblemFilter().catch(error, { switchToHttp: () => ({ getResponse: () => response }) } as never);
    return sent;
  };

  it('a path parameter that is not percent-encoded UTF-8 is a 400 naming path', () => {
    const error = Object.assign(new URIError("Failed to decode param '%ED%A0%80'"), { status: 400 });
    expect(answer(error)).toEqual({
      status: 400,
      body: expect.objectContaining({ status: 400, problems: [{ field: 'path', reason: 'is not percent-encoded UTF-8' }] }),
    });
    // As Nest hands it over.
    expect(answer(new BadRequestException("Failed to decode param '%ED%A0%80'"))).toEqual({
      status: 400,
      body: expect.objectContaining({ status: 400, problems: [{ field: 'path', reason: 'is not percent-encoded UTF-8' }] }),
    });
  });

  it('an HTTP exception that names its problems keeps them; one that does not has none', () => {
    const unsupported = new HttpException(
      { message: 'the request body must be JSON', problems: [{ field: 'content-type', reason: 'must be application/json' }] },
      415,
    );
    expect(answer(unsupported)).toEqual({
      status: 415,
      body: {
        type: 'about:blank',
        title: 'Unsupported media type',
        status: 415,
        detail: 'the request body must be JSON',
        problems: [{ field: 'content-type', reason: 'must be application/json' }],
      },
    });
    expect(answer(new NotFoundException('no such route')).body).not.toHaveProperty('problems');
  });
});
