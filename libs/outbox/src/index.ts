export {
  createUsageOutbox,
  type BatchResult,
  type OutboxLogger,
  type SubmitOutcome,
  type UsageOutbox,
  type UsageOutboxOptions,
  type UsageRecordInput,
} from "./usage-outbox.js";
