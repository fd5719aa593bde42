import { randomUUID } from "node:crypto";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's request id when it is safe to log and store; otherwise makes one. */
export function normaliseRequestId(given: string | undefined): string {
  if (given && REQUEST_ID.test(given)) return given;
  return `req_${randomUUID().replaceAll("-", "")}`;
}
