export {
  startFakeAnthropic,
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type FakeContentBlock,
  type FakeError,
  type FakeReply,
  type FakeReset,
  type FakeStep,
  type FakeUsage,
  type RecordedRequest,
} from "./fake-anthropic.js";
export { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";
