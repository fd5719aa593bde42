import {
  fromBinary,
  toBinary,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import type { MethodDefinition } from "@grpc/grpc-js";

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
    requestDeserialize: (b) => fromBinary(method.input, b),
    responseSerialize: (m) => Buffer.from(toBinary(method.output, m as never)),
    responseDeserialize: (b) => fromBinary(method.output, b),
  };
}
