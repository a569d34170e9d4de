export type { Operations, ResumeOptions } from './create-operations.ts';
export type {
  Operation,
  OperationDefinition,
  OperationInfo,
  OperationRequest,
  RunOptions,
} from './definition.ts';
export * from './errors/index.ts';
export type { BackgroundRetryOptions, HeadersSource, OperationsOptions } from './options.ts';
export type { ResumedOperation, ResumeSummary } from './resume-summary.ts';
