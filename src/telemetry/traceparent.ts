/** W3C trace context for outgoing provider requests. */
import {
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  type TextMapPropagator,
  trace,
} from "@opentelemetry/api";

/**
 * `headers` plus the trace context of `span`: with a propagator, whatever it writes; without
 * one, the W3C `traceparent` (and `tracestate` when the span has one) written directly, so
 * propagation works even when the host registered no global propagator.
 */
export function traceHeaders(
  span: Span,
  propagator: TextMapPropagator | undefined,
  headers: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = headers ? { ...headers } : {};
  if (propagator) {
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), out, defaultTextMapSetter);
    return out;
  }
  const sc = span.spanContext();
  out.traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
  const state = sc.traceState?.serialize();
  if (state) out.tracestate = state;
  return out;
}
