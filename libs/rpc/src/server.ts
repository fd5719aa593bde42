import {
  create,
  toBinary,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { Logger } from "@mesh/logging";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { HealthImplementation } from "grpc-health-check";
import { RpcError, toStatusObject } from "./errors.js";
import { grpcMethodDefinition, UndecodableRequest } from "./methods.js";
import { metadataGetter } from "./propagation.js";

/** What a handler knows about the call besides its request message. */
export interface CallContext {
  metadata: grpc.Metadata;
  /** Aborted when the caller cancels or its deadline passes. */
  signal: AbortSignal;
  /** First value of a metadata key, as text. */
  header(name: string): string | undefined;
  /** Adds a response header, sent with the first response message (or the status). */
  setHeader(name: string, value: string): void;
}

type Handler<M> = M extends { methodKind: "unary"; input: infer I; output: infer O }
  ? I extends DescMethod["input"]
    ? O extends DescMethod["output"]
      ? (req: MessageShape<I>, call: CallContext) => Promise<MessageInitShape<O>>
      : never
    : never
  : M extends { methodKind: "server_streaming"; input: infer I; output: infer O }
    ? I extends DescMethod["input"]
      ? O extends DescMethod["output"]
        ? (req: MessageShape<I>, call: CallContext) => AsyncIterable<MessageInitShape<O>>
        : never
      : never
    : never;

/** The handlers of a protobuf-es service, keyed by each method's local name. */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: Handler<S["method"][K]>;
};

/** One service and its handlers, ready to add to a server. */
export interface ServiceRegistration {
  service: DescService;
  impl: Record<string, unknown>;
}

/** Pairs a service with its handlers, checking the handlers' types. */
export function registerService<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
): ServiceRegistration {
  return { service, impl: impl as Record<string, unknown> };
}

/** A running gRPC server with health, reflection and call tracking. */
export interface GrpcServerHandle {
  readonly port: number;
  readonly health: HealthImplementation;
  /** Calls being served right now. */
  inFlight(): number;
  /** Marks every service NOT_SERVING. */
  markNotServing(): void;
  /** Stops taking calls, waits for in-flight ones up to the deadline, then cuts the rest. */
  shutdown(deadlineMs: number): Promise<void>;
}

export interface GrpcServerOptions {
  host: string;
  port: number;
  services: ServiceRegistration[];
  logger: Logger;
  /** Name for the tracer that creates server spans. */
  tracerName: string;
}

/**
 * Starts a grpc-js server for protobuf-es services. Every call gets a SERVER span joined to
 * the caller's trace (W3C headers in metadata); errors map to gRPC statuses, and unknown
 * errors are logged and sent as INTERNAL without their detail.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    "grpc.keepalive_permit_without_calls": 1,
    // Connections are recycled so clients re-resolve and find replicas added by autoscaling;
    // calls in flight get the grace period, long enough for a long stream to finish.
    "grpc.max_connection_age_ms": 5 * 60_000,
    "grpc.max_connection_age_grace_ms": 150_000,
  });
  const tracer = trace.getTracer(options.tracerName);
  let inFlight = 0;
  // Response headers a handler set, sent once before the first message or the status.
  const responseHeaders = new WeakMap<object, grpc.Metadata>();
  const flushHeaders = (call: { sendMetadata(md: grpc.Metadata): void }) => {
    const headers = responseHeaders.get(call);
    if (!headers) return;
    responseHeaders.delete(call);
    call.sendMetadata(headers);
  };

  for (const { service, impl } of options.services) {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      const handler = impl[method.localName];
      if (typeof handler !== "function") {
        throw new Error(`no handler for ${service.typeName}/${method.name}`);
      }

      definition[method.localName] = grpcMethodDefinition(service, method);
      const run = handler as (req: unknown, call: CallContext) => unknown;
      handlers[method.localName] = method.methodKind === "server_streaming"
        ? serveStream(service, method, run)
        : serveUnary(service, method, run);
    }
    server.addService(definition, handlers);
  }

  function spanFor(service: DescService, method: DescMethod, metadata: grpc.Metadata) {
    const parent = propagation.extract(context.active(), metadata, metadataGetter);
    const span = tracer.startSpan(
      `${service.typeName}/${method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": service.typeName,
          "rpc.method": method.name,
        },
      },
      parent,
    );
    return { span, ctx: trace.setSpan(parent, span) };
  }

  /**
   * The handler's view of a call. `answered()` marks the answer as sent: grpc-js emits
   * "cancelled" on every call once its stream closes, answered or not, and only a call cut
   * before its answer is a cancellation (aborting after the answer would wake every listener
   * and build an error per call for nothing).
   */
  function callContext(
    call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  ): { callCtx: CallContext; answered: () => void } {
    const abort = new AbortController();
    let done = false;
    call.on("cancelled", () => {
      if (!done) abort.abort(new RpcError(grpc.status.CANCELLED, "cancelled"));
    });
    const callCtx: CallContext = {
      metadata: call.metadata,
      signal: abort.signal,
      header: (name) => {
        const value = call.metadata.get(name)[0];
        return value === undefined ? undefined : String(value);
      },
      setHeader: (name, value) => {
        const headers = responseHeaders.get(call) ?? new grpc.Metadata();
        headers.set(name, value);
        responseHeaders.set(call, headers);
      },
    };
    return { callCtx, answered: () => void (done = true) };
  }

  function fail(span: ReturnType<typeof spanFor>["span"], err: unknown, method: string) {
    const statusObject = toStatusObject(err);
    span.setAttribute("rpc.grpc.status_code", statusObject.code ?? grpc.status.UNKNOWN);
    if (!(err instanceof RpcError)) {
      options.logger.error({ err, method }, "unhandled error in gRPC handler");
    }
    if (statusObject.code !== grpc.status.OK) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: statusObject.details ?? "" });
    }
    return statusObject;
  }

  function serveUnary(
    service: DescService,
    method: DescMethod,
    run: (req: unknown, call: CallContext) => unknown,
  ): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      inFlight++;
      const { span, ctx } = spanFor(service, method, call.metadata);
      const { callCtx, answered } = callContext(call);
      context.with(ctx, async () => {
        try {
          const result = await (run(decoded(call.request), callCtx) as Promise<object>);
          span.setAttribute("rpc.grpc.status_code", grpc.status.OK);
          flushHeaders(call);
          answered();
          callback(null, create(method.output, result as never));
        } catch (err) {
          flushHeaders(call);
          answered();
          callback(fail(span, err, method.name) as grpc.ServiceError);
        } finally {
          span.end();
          inFlight--;
        }
      });
    };
  }

  function serveStream(
    service: DescService,
    method: DescMethod,
    run: (req: unknown, call: CallContext) => unknown,
  ): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      inFlight++;
      const { span, ctx } = spanFor(service, method, call.metadata);
      const { callCtx, answered } = callContext(call);
      context.with(ctx, async () => {
        try {
          const events = run(decoded(call.request), callCtx) as AsyncIterable<object>;
          for await (const event of events) {
            if (call.cancelled) break;
            flushHeaders(call);
            await writeWithBackpressure(call, create(method.output, event as never));
          }
          span.setAttribute("rpc.grpc.status_code", grpc.status.OK);
          flushHeaders(call);
          answered();
          call.end();
        } catch (err) {
          flushHeaders(call);
          answered();
          call.emit("error", Object.assign(new Error(), fail(span, err, method.name)));
        } finally {
          span.end();
          inFlight--;
        }
      });
    };
  }

  const health = new HealthImplementation({ "": "SERVING" });
  for (const { service } of options.services) health.setStatus(service.typeName, "SERVING");
  health.addToServer(server);
  new ReflectionService(reflectionDefinition(options.services)).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${options.host}:${options.port}`,
      grpc.ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    );
  });

  const markNotServing = () => {
    health.setStatus("", "NOT_SERVING");
    for (const { service } of options.services) health.setStatus(service.typeName, "NOT_SERVING");
  };

  return {
    port,
    health,
    inFlight: () => inFlight,
    markNotServing,
    async shutdown(deadlineMs) {
      markNotServing();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          options.logger.warn({ inFlight }, "drain deadline passed; cutting remaining calls");
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

function writeWithBackpressure(call: grpc.ServerWritableStream<unknown, unknown>, msg: unknown) {
  if (call.write(msg)) return Promise.resolve();
  return new Promise<void>((resolve) => call.once("drain", () => resolve()));
}

/** Reflection wants descriptor protos of each service's file and every file it imports. */
function reflectionDefinition(services: ServiceRegistration[]) {
  const definition: Record<string, { fileDescriptorProtos: Buffer[] }> = {};
  for (const { service } of services) {
    const files: DescFile[] = [];
    collectFiles(service.file, files);
    definition[service.typeName] = {
      fileDescriptorProtos: files.map((f) =>
        Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)),
      ),
    };
  }
  return definition as unknown as ConstructorParameters<typeof ReflectionService>[0];
}

function collectFiles(file: DescFile, into: DescFile[]): void {
  if (into.includes(file)) return;
  for (const dep of file.dependencies) collectFiles(dep, into);
  into.push(file);
}

/** The request message, or the caller's error when its bytes were not one. */
function decoded(request: unknown): unknown {
  if (!(request instanceof UndecodableRequest)) return request;
  throw new RpcError(
    grpc.status.INVALID_ARGUMENT,
    `the request is not a valid ${request.typeName} message (${request.problem}); ` +
      "send it encoded from this service's proto definitions",
    "undecodable_request",
  );
}
