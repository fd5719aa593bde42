import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DurationSchema } from "@bufbuild/protobuf/wkt";

/** An error detail as Connect and gRPC carry it: a type name and the message's bytes. */
export interface ErrorDetail {
  type: string;
  value: Uint8Array;
}

/**
 * google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }, encoded by hand because
 * the google.rpc types are not among the generated contracts.
 */
export function retryInfoDetail(retryAfterMs: number): ErrorDetail {
  const ms = Math.max(0, Math.ceil(retryAfterMs));
  const delay = create(DurationSchema, {
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: (ms % 1000) * 1_000_000,
  });
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).bytes(toBinary(DurationSchema, delay));
  return { type: "google.rpc.RetryInfo", value: writer.finish() };
}

/**
 * google.rpc.ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
 * naming the stable reason and, for limits, whose limit it was.
 */
export function errorInfoDetail(reason: string, metadata: Record<string, string>): ErrorDetail {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).string(reason.toUpperCase());
  writer.tag(2, WireType.LengthDelimited).string("gateway.mesh");
  for (const [key, value] of Object.entries(metadata)) {
    const entry = new BinaryWriter();
    entry.tag(1, WireType.LengthDelimited).string(key);
    entry.tag(2, WireType.LengthDelimited).string(value);
    writer.tag(3, WireType.LengthDelimited).bytes(entry.finish());
  }
  return { type: "google.rpc.ErrorInfo", value: writer.finish() };
}
