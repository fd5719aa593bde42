import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { GrpcStatus } from "@mesh/rpc";
import { gatewayError } from "./errors.js";

/** What a key may do. */
export type Scope = "inference" | "admin" | "metrics:read";

/** Every scope, in the order the admin API lists them. */
export const SCOPES: readonly Scope[] = ["inference", "admin", "metrics:read"];

/** Who a valid key belongs to and what it may do. The key itself is never kept. */
export interface KeyIdentity {
  keyId: string;
  tenant: string;
  scopes: readonly Scope[];
  /** Catalog models this key may use; empty means no restriction from the key. */
  allowedModels: readonly string[];
}

/** A key as stored: its SHA-256 digest and what it grants, never the secret. */
export interface StoredKey extends KeyIdentity {
  digest: Buffer;
  name: string;
  /** The first characters of the secret, to recognise a key in a list. */
  secretPrefix: string;
  createdAtMs: number;
  expiresAtMs?: number | undefined;
  revokedAtMs?: number | undefined;
}

/** Scopes of keys listed in GATEWAY_API_KEYS. */
const STATIC_KEY_SCOPES: readonly Scope[] = ["inference", "metrics:read"];

/**
 * SHA-256 of a presented key. Keys are random and long, so a fast hash is enough: there is
 * no dictionary to guess from, unlike passwords.
 */
export function keyDigest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** Compares two digests in time independent of where they differ. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A new key: 32 random bytes, base64url, with a prefix that says what it is. */
export function generateSecret(): string {
  return `msk_${randomBytes(32).toString("base64url")}`;
}

/** A new key id; ids are public and appear in logs, the ledger and the admin API. */
export function generateKeyId(): string {
  return `key_${randomBytes(9).toString("base64url")}`;
}

/** What the admin API shows of a secret: enough to recognise it, too little to use it. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, 10);
}

/**
 * Reads `key=tenant` pairs (comma separated) into stored keys with the inference and
 * metrics:read scopes. A key without `=tenant` belongs to the tenant "default".
 */
export function parseStaticKeys(spec: string | undefined, nowMs = Date.now()): StoredKey[] {
  const pairs = (spec ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  return pairs.map((pair) => {
    const at = pair.lastIndexOf("=");
    const key = at > 0 ? pair.slice(0, at) : pair;
    const tenant = at > 0 ? pair.slice(at + 1) : "default";
    const digest = keyDigest(key);
    return {
      keyId: `key_${digest.toString("hex").slice(0, 12)}`,
      tenant,
      scopes: STATIC_KEY_SCOPES,
      allowedModels: [],
      digest,
      name: "GATEWAY_API_KEYS",
      secretPrefix: "",
      createdAtMs: nowMs,
    };
  });
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

/** The error for a request without a usable key. */
export function unauthenticated(message: string) {
  return gatewayError(GrpcStatus.UNAUTHENTICATED, "authentication", message);
}

/** What a caller without a key is told. */
export const MISSING_KEY_MESSAGE =
  "missing API key: send it as the x-api-key header or as authorization: Bearer <key>";

/** Throws PERMISSION_DENIED unless the key has the scope. */
export function requireScope(identity: KeyIdentity, scope: Scope): void {
  if (identity.scopes.includes(scope)) return;

  throw gatewayError(
    GrpcStatus.PERMISSION_DENIED,
    "permission",
    `this API key lacks the ${scope} scope; ask an admin for a key that has it`,
  );
}
