import type { RegenerationEndEvent, RegenerationStartEvent } from '@dogpile/core';
import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { errorCode } from './error-code.js';
import { attributeNames, regenerationSpanName } from './names.js';

/**
 * The open `dogpile.regenerate` spans, one per running creator, found again at its end by region,
 * key and `background`. Regenerations of one key in one process do not overlap except one in the
 * background beside one in the foreground; should two regions share a name, the oldest open span
 * of that triple is ended first.
 */
export class RegenerationSpans {
  readonly #tracer: Tracer;
  readonly #open = new Map<string, Span[]>();

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  /** How many spans are open (started and not yet ended). */
  get size(): number {
    let n = 0;
    for (const spans of this.#open.values()) n += spans.length;
    return n;
  }

  /** Opens the span of a regeneration; its parent is the caller's active span, if any. */
  start(event: RegenerationStartEvent): void {
    const span = this.#tracer.startSpan(regenerationSpanName, {
      kind: SpanKind.INTERNAL,
      attributes: {
        [attributeNames.region]: event.region,
        [attributeNames.key]: event.key,
        [attributeNames.reason]: event.reason,
        [attributeNames.background]: event.background,
      },
    });
    const id = spanId(event);
    const spans = this.#open.get(id);
    if (spans === undefined) this.#open.set(id, [span]);
    else spans.push(span);
  }

  /** Ends the span of a regeneration; with status error when the creator threw. */
  end(event: RegenerationEndEvent): void {
    const id = spanId(event);
    const spans = this.#open.get(id);
    const span = spans?.shift();
    if (span === undefined) return; // started before instrumentDogpile() was called
    if (spans?.length === 0) this.#open.delete(id);
    if (!event.ok) {
      const error = event.error;
      const code = errorCode(error);
      if (code !== undefined) span.setAttribute(attributeNames.errorCode, code);
      if (error instanceof Error) span.recordException(error);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    span.end();
  }

  /** Ends every open span (at `stop()`), so none is left unexported. */
  endAll(): void {
    for (const spans of this.#open.values()) for (const span of spans) span.end();
    this.#open.clear();
  }
}

function spanId(event: RegenerationStartEvent): string {
  return `${event.background ? 'b' : 'f'}${event.region.length}:${event.region}${event.key}`;
}
