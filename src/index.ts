/** foliolab's public API. */
export { readTrace, collectTrace, FormatRegistry, TraceEvent, traceSourceHints } from './trace/index.js';
export type { TraceParseOptions, TraceStats, LostRecord, Fields, FieldValue, SymbolicValue, FlagsValue, Layout, DecodeMethod } from './trace/index.js';
export { summariseTrace } from './trace/summary.js';
export type { TraceSummary } from './trace/summary.js';
export { DIAGNOSTICS, formatDiagnostic } from './core/diagnostics.js';
export type { Diagnostic, DiagnosticCode } from './core/diagnostics.js';
