import { create } from "@bufbuild/protobuf";
import { ChatParamsSchema, Role } from "@mesh/contracts/common/v1/chat_pb";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { validateChatParams } from "./validate.js";

function withMetadata(metadata: Record<string, string>) {
  return create(ChatParamsSchema, {
    messages: [{ role: Role.USER, content: [{ block: { case: "text", value: { text: "hi" } } }] }],
    metadata,
  });
}

function refusal(metadata: Record<string, string>): [number, string] {
  try {
    validateChatParams(withMetadata(metadata));
  } catch (err) {
    if (err instanceof RpcError) return [err.code, err.message];
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("metadata limits", () => {
  it("takes metadata within the providers' limits", () => {
    const sixteen = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${i}`, "v".repeat(512)]),
    );
    expect(validateChatParams(withMetadata(sixteen)).metadata).toEqual(sixteen);
    expect(validateChatParams(withMetadata({ user_id: "u".repeat(256) })).metadata.user_id)
      .toHaveLength(256);
  });

  it("refuses metadata the ledger row could not hold, naming the limit", () => {
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));

    expect(refusal(seventeen)).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "metadata: 17 entries is more than the limit of 16",
    ]);
    expect(refusal({ user_id: "u".repeat(257) })).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "metadata.user_id: at most 256 characters, without NUL",
    ]);
    expect(refusal({ note: "a\u0000b" })[1]).toBe(
      "metadata.note: at most 512 characters, without NUL",
    );
    expect(refusal({ ["k".repeat(65)]: "v" })[1]).toBe(
      "metadata: a key of 65 characters is more than the limit of 64",
    );
  });
});
