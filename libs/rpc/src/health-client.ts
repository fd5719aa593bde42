import * as grpc from "@grpc/grpc-js";

const CHECK_PATH = "/grpc.health.v1.Health/Check";
const SERVING = 1;

/** A reusable grpc.health.v1 probe of one peer, for readiness checks. */
export interface HealthProbe {
  /** Resolves when the peer reports SERVING; rejects with the reason otherwise. */
  check(timeoutMs?: number): Promise<void>;
  close(): void;
}

/**
 * Creates a health probe over its own channel. HealthCheckRequest{service: ""} encodes to no
 * bytes and the response is one varint field, so no generated code is needed for it.
 */
export function createHealthProbe(address: string): HealthProbe {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());

  return {
    check(timeoutMs = 1_000) {
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          CHECK_PATH,
          () => Buffer.alloc(0),
          (bytes: Buffer) => bytes,
          {},
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (err, reply) => {
            if (err) return reject(new Error(`${address}: ${err.details || err.message}`));

            const status = reply && reply[0] === 0x08 ? reply[1] : 0;
            if (status === SERVING) resolve();
            else reject(new Error(`${address}: not serving (status ${status})`));
          },
        );
      });
    },
    close: () => client.close(),
  };
}
