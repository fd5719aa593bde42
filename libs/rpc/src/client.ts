import {
  create,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from "@opentelemetry/api";
import { isServiceError, RpcError } from "./errors.js";
import { grpcMethodDefinition } from "./methods.js";
import { metadataSetter } from "./propagation.js";

/**
 * Channel settings shared by every client. Round-robin spreads calls over every address a
 * (headless) Kubernetes Service resolves to, instead of pinning one replica.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
};

/** Per-call options. */
export interface CallOptions {
  /** Time the callee has to answer, from now. */
  timeoutMs?: number;
  /** Extra metadata (x-request-id and the like). */
  headers?: Record<string, string>;
  /** Cancels the call. */
  signal?: AbortSignal;
}

type ClientMethod<M> = M extends { methodKind: "unary"; input: infer I; output: infer O }
  ? I extends DescMethod["input"]
    ? O extends DescMethod["output"]
      ? (req: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
      : never
    : never
  : M extends { methodKind: "server_streaming"; input: infer I; output: infer O }
    ? I extends DescMethod["input"]
      ? O extends DescMethod["output"]
        ? (req: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
        : never
      : never
    : never;

/** A typed grpc-js client for a protobuf-es service. */
export type GrpcClient<S extends DescService> = {
  [K in keyof S["method"]]: ClientMethod<S["method"][K]>;
} & { close(): void; readonly address: string };

/**
 * Creates a client over one grpc-js channel, built once and reused for every call. Each call
 * gets a CLIENT span and carries the active trace context in its metadata; failures arrive as
 * RpcError with the callee's status code.
 */
export function createGrpcClient<S extends DescService>(
  service: S,
  address: string,
  tracerName = "mesh-rpc-client",
): GrpcClient<S> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const tracer = trace.getTracer(tracerName);
  const methods: Record<string, unknown> = {};

  function begin(method: DescMethod, options: CallOptions | undefined) {
    const span = tracer.startSpan(`${service.typeName}/${method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": service.typeName,
        "rpc.method": method.name,
        "server.address": address,
      },
    });
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(options?.headers ?? {})) metadata.set(key, value);
    propagation.inject(trace.setSpan(context.active(), span), metadata, metadataSetter);
    const callOptions: grpc.CallOptions = {};
    if (options?.timeoutMs) callOptions.deadline = Date.now() + options.timeoutMs;
    return { span, metadata, callOptions };
  }

  for (const method of service.methods) {
    const def = grpcMethodDefinition(service, method);
    if (method.methodKind === "unary") {
      methods[method.localName] = (req: object, options?: CallOptions) => {
        const { span, metadata, callOptions } = begin(method, options);
        return new Promise((resolve, reject) => {
          const call = client.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            create(method.input, req as never),
            metadata,
            callOptions,
            (err, value) => {
              finish(span, err);
              if (err) reject(RpcError.fromServiceError(err));
              else resolve(value);
            },
          );
          options?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        });
      };
    } else if (method.methodKind === "server_streaming") {
      methods[method.localName] = (req: object, options?: CallOptions) => {
        return streamCall(method, def, req, options);
      };
    }
  }

  async function* streamCall(
    method: DescMethod,
    def: grpc.MethodDefinition<unknown, unknown>,
    req: object,
    options: CallOptions | undefined,
  ): AsyncGenerator<unknown> {
    const { span, metadata, callOptions } = begin(method, options);
    const call = client.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      create(method.input, req as never),
      metadata,
      callOptions,
    );
    const onAbort = () => call.cancel();
    options?.signal?.addEventListener("abort", onAbort, { once: true });
    let done = false;
    let failure: unknown;
    try {
      for await (const message of call) yield message;
      done = true;
    } catch (err) {
      failure = err;
      throw isServiceError(err) ? RpcError.fromServiceError(err) : err;
    } finally {
      options?.signal?.removeEventListener("abort", onAbort);
      if (!done) call.cancel();
      finish(span, failure as grpc.ServiceError | null);
    }
  }

  return Object.assign(methods, {
    address,
    close: () => client.close(),
  }) as GrpcClient<S>;
}

function finish(span: Span, err: grpc.ServiceError | null | undefined): void {
  if (err) {
    span.setAttribute("rpc.grpc.status_code", err.code ?? grpc.status.UNKNOWN);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.details ?? err.message });
  } else {
    span.setAttribute("rpc.grpc.status_code", grpc.status.OK);
  }
  span.end();
}
