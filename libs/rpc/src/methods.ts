import {
  fromBinary,
  toBinary,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import type { MethodDefinition } from "@grpc/grpc-js";

/**
 * A request whose bytes are not a valid message of its type. grpc-js answers INTERNAL when a
 * deserializer throws, which blames the server for the caller's bytes; the deserializer hands
 * this on instead, and the handler refuses it as INVALID_ARGUMENT.
 */
export class UndecodableRequest {
  constructor(
    readonly typeName: string,
    readonly problem: string,
  ) {}
}

/** Builds the grpc-js method definition for one protobuf-es method. */
export function grpcMethodDefinition(
  service: DescService,
  method: DescMethod,
): MethodDefinition<unknown, unknown> {
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream:
      method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream:
      method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (m) => Buffer.from(toBinary(method.input, m as never)),
    requestDeserialize: (b) => {
      try {
        return fromBinary(method.input, b);
      } catch (err) {
        return new UndecodableRequest(method.input.typeName, (err as Error).message);
      }
    },
    responseSerialize: (m) => Buffer.from(toBinary(method.output, m as never)),
    responseDeserialize: (b) => fromBinary(method.output, b),
  };
}
