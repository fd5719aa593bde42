import type { Logger } from "@mesh/logging";
import { Redis } from "ioredis";

/** The shared Redis connection, or none when the gateway runs on in-process stores. */
export interface SharedStores {
  redis: Redis | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to Redis when REDIS_URL is set. Commands fail fast while Redis is down rather than
 * queueing, so a request never waits on a dead connection.
 */
export async function connectStores(
  url: string | undefined,
  logger: Logger,
): Promise<SharedStores> {
  if (!url) {
    logger.info("no REDIS_URL set; rate limits and cache use in-process stores");
    return { redis: undefined, ping: async () => undefined, close: async () => undefined };
  }

  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    connectionName: "mesh-gateway",
  });
  let downLogged = false;
  redis.on("error", (err) => {
    if (downLogged) return;
    downLogged = true;
    logger.error({ err: err.message }, "redis unreachable; cache reads miss, limits follow policy");
  });
  redis.on("ready", () => {
    if (downLogged) logger.info("redis reachable again");
    downLogged = false;
  });
  await redis.connect();

  return {
    redis,
    ping: async () => {
      await redis.ping();
    },
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
