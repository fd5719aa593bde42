/**
 * The redaction state a request carries from CheckInput to CheckOutput: the placeholder
 * mapping, sealed with AES-256-GCM so it can travel through the gateway without being
 * readable or forgeable there. The request id and tenant are the additional authenticated
 * data, so a state only opens for the request it was made for, and it expires.
 */

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Redactor, type RedactorSnapshot } from "./pii/redactor.js";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A state older than this does not open: a request never lasts that long. */
export const STATE_TTL_MS = 15 * 60_000;

/** Which request a state belongs to. */
export interface StateBinding {
  requestId: string;
  tenant: string;
}

/**
 * The state a streamed answer carries from one chunk check to the next: the request's own
 * mapping, and the placeholders the answer has handed out so far.
 */
export interface StreamState {
  /** The request's mapping from CheckInput: the only placeholders ever restored. */
  request: Redactor | undefined;
  /** Every placeholder handed out for the answer so far, the request's own included. */
  answer: Redactor | undefined;
  /** When the state stops opening; kept when resealed, so a stream cannot extend it. */
  expiresMs: number | undefined;
}

/** Seals and opens redaction states with one key. */
export interface StateCipher {
  /** Empty when nothing was redacted, so requests without PII carry nothing. */
  seal(redactor: Redactor, binding: StateBinding, nowMs?: number): Uint8Array;
  /** The request's redactor, or undefined when the state is empty, foreign, stale or forged. */
  open(state: Uint8Array, binding: StateBinding, nowMs?: number): Redactor | undefined;
  /**
   * A stream's state: the request's own and what earlier chunks handed out; all undefined
   * when the state is empty, foreign, stale or forged.
   */
  openStream(state: Uint8Array, binding: StateBinding, nowMs?: number): StreamState;
  /** Seals a stream's state; empty when it holds no placeholder at all. */
  sealStream(
    state: { request: Redactor | undefined; answer: Redactor; expiresMs: number | undefined },
    binding: StateBinding,
    nowMs?: number,
  ): Uint8Array;
}

/**
 * Reads a 32-byte key given as 64 hex digits or as base64; throws a message that says how
 * to make one when the value is neither.
 */
export function parseStateKey(value: string): Buffer {
  const trimmed = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, "hex")
    : Buffer.from(trimmed, "base64");
  if (key.length !== 32) {
    throw new Error(
      "GUARDRAILS_STATE_KEY must be 32 bytes as 64 hex digits or base64; " +
        "make one with: openssl rand -base64 32",
    );
  }
  return key;
}

/** A cipher under the given 32-byte key, or under a random one for this process only. */
export function createStateCipher(key: Buffer = randomBytes(32)): StateCipher {
  if (key.length !== 32) throw new Error("the redaction state key must be 32 bytes");

  const sealPayload = (payload: SealedPayload, binding: StateBinding): Uint8Array => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(aad(binding));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, body, cipher.getAuthTag()]);
  };

  const openPayload = (
    state: Uint8Array,
    binding: StateBinding,
    nowMs: number,
  ): SealedPayload | undefined => {
    if (state.length === 0) return undefined;
    if (state.length < 1 + IV_BYTES + TAG_BYTES || state[0] !== VERSION) return undefined;

    const bytes = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAAD(aad(binding));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
      const payload = JSON.parse(plain) as SealedPayload;
      if (typeof payload.exp !== "number" || payload.exp < nowMs) return undefined;
      return payload;
    } catch {
      // A wrong key, another request's state or a changed byte: nothing to restore.
      return undefined;
    }
  };

  return {
    seal(redactor, binding, nowMs = Date.now()) {
      if (redactor.size === 0) return new Uint8Array(0);
      return sealPayload({ exp: nowMs + STATE_TTL_MS, ...redactor.snapshot() }, binding);
    },

    open(state, binding, nowMs = Date.now()) {
      const payload = openPayload(state, binding, nowMs);
      return payload ? Redactor.fromSnapshot(payload) : undefined;
    },

    openStream(state, binding, nowMs = Date.now()) {
      const payload = openPayload(state, binding, nowMs);
      if (!payload) return { request: undefined, answer: undefined, expiresMs: undefined };

      const request = Redactor.fromSnapshot(payload);
      const answer = payload.answer
        ? Redactor.fromSnapshot({
            entries: [...payload.entries, ...payload.answer.entries],
            counters: payload.answer.counters,
          })
        : undefined;
      return { request, answer, expiresMs: payload.exp };
    },

    sealStream({ request, answer, expiresMs }, binding, nowMs = Date.now()) {
      const own = request?.snapshot() ?? { entries: [], counters: {} };
      const mine = new Set(own.entries.map(([placeholder]) => placeholder));
      const all = answer.snapshot();
      // The request's values are sealed once; the answer part holds only what it added.
      const added = all.entries.filter(([placeholder]) => !mine.has(placeholder));
      if (own.entries.length === 0 && added.length === 0) return new Uint8Array(0);

      const payload: SealedPayload = {
        exp: expiresMs ?? nowMs + STATE_TTL_MS,
        ...own,
        answer: { entries: added, counters: all.counters },
      };
      return sealPayload(payload, binding);
    },
  };
}

interface SealedPayload extends RedactorSnapshot {
  exp: number;
  /**
   * A stream's placeholders for values the answer leaked (not the request's) and the
   * counters after them. Kept apart so that only the request's own values are restored.
   */
  answer?: RedactorSnapshot;
}

function aad(binding: StateBinding): Buffer {
  return Buffer.from(`guardrails.v1\u0000${binding.requestId}\u0000${binding.tenant}`, "utf8");
}
