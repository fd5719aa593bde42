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
export {
  startOtlpReceiver,
  type AttributeValue,
  type OtlpReceiver,
  type ReceivedSpan,
} from "./otlp-receiver.js";
export {
  CONTEXT_LENGTH_ERRORS,
  startFakeOpenAI,
  type FakeOpenAI,
  type FakeOpenAIError,
  type FakeOpenAIOptions,
  type FakeOpenAIReply,
  type FakeOpenAIRequest,
  type FakeOpenAIReset,
  type FakeOpenAIStep,
  type FakeOpenAIToolCall,
  type FakeOpenAIUsage,
} from "./fake-openai.js";
