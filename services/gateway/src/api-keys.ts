import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "@mesh/logging";
import { GrpcStatus } from "@mesh/rpc";
import { gatewayError } from "./errors.js";

/** Who a valid key belongs to. The key itself is never kept. */
export interface KeyIdentity {
  keyId: string;
  tenant: string;
}

/** Resolves API keys to identities. */
export interface ApiKeyStore {
  authenticate(presented: string | undefined): KeyIdentity;
}

/**
 * Builds the key store from `key=tenant` pairs. Keys are kept only as SHA-256 digests, so a
 * lookup compares digests (fixed length, no early exit on the secret). With no keys
 * configured, one development key is generated and logged once at start.
 */
export function createApiKeyStore(spec: string | undefined, logger: Logger): ApiKeyStore {
  const byDigest = new Map<string, KeyIdentity>();
  const pairs = (spec ?? "").split(",").map((p) => p.trim()).filter(Boolean);

  if (pairs.length === 0) {
    const key = `mesh-dev-${randomBytes(18).toString("base64url")}`;
    pairs.push(`${key}=dev`);
    logger.warn({ devKey: key, tenant: "dev" }, "no GATEWAY_API_KEYS set; generated this key");
  }

  for (const pair of pairs) {
    const at = pair.lastIndexOf("=");
    const key = at > 0 ? pair.slice(0, at) : pair;
    const tenant = at > 0 ? pair.slice(at + 1) : "default";
    const digest = sha256(key);
    byDigest.set(digest, { keyId: `key_${digest.slice(0, 12)}`, tenant });
  }

  return {
    authenticate(presented) {
      if (!presented) {
        throw gatewayError(
          GrpcStatus.UNAUTHENTICATED,
          "authentication",
          "missing API key: send it as the x-api-key header or as authorization: Bearer <key>",
        );
      }

      const identity = byDigest.get(sha256(presented));
      if (!identity) {
        throw gatewayError(GrpcStatus.UNAUTHENTICATED, "authentication", "invalid API key");
      }
      return identity;
    },
  };
}

/** Reads the key from `x-api-key` or `authorization: Bearer …`, whichever is present. */
export function presentedKey(
  header: (name: string) => string | undefined,
): string | undefined {
  const direct = header("x-api-key");
  if (direct) return direct.trim();

  const auth = header("authorization");
  const match = auth ? /^Bearer\s+(.+)$/i.exec(auth.trim()) : null;
  return match?.[1]?.trim();
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
