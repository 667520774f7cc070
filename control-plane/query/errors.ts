import { ArcsimError, ERRORS } from '../../protocol/index.ts';
import { lineColumn, type QueryDiagnostic } from './parser.ts';
import type { SyntaxNode } from './parser.ts';

/**
 * ARCSIM_E_QUERY: a query that cannot run — a syntax error (Kusto.Language's diagnostics), an
 * operator or function arcsim does not implement (named as such), an unknown table or column, the
 * timeout. Every finding carries its line and column; the reply lists them all under `errors`.
 */
export class QueryError extends ArcsimError {
  constructor(readonly errors: QueryDiagnostic[]) {
    const first = errors[0]!;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more: ${errors.slice(1).map((e) => `${e.line}:${e.column} ${e.message}`).join('; ')})` : '';
    super('ARCSIM_E_QUERY', ERRORS.ARCSIM_E_QUERY, `${first.line}:${first.column}: ${first.message}${more}`, 'body.Query');
    this.name = 'QueryError';
  }

  override toJSON(): { code: string; message: string; path?: string; errors: QueryDiagnostic[] } {
    return { ...super.toJSON(), errors: this.errors };
  }
}

/** A finding about one node of the query. */
export function errorAt(text: string, node: Pick<SyntaxNode, 'start' | 'end'> | undefined, message: string, code = 'ARCSIM_QUERY'): QueryError {
  const start = node?.start ?? 0;
  const length = node ? Math.max(0, node.end - node.start) : 0;
  return new QueryError([{ message, code, start, length, ...lineColumn(text, start) }]);
}
