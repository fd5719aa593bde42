import { lookup } from "node:dns/promises";
import { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
import { createGrpcClient, type GrpcClient } from "@mesh/rpc";

/** A client of one replica of the metrics service. */
export type PeerClient = GrpcClient<typeof MetricsService>;

/** Resolves a host name to every address it has right now. */
export type Resolver = (host: string) => Promise<string[]>;

/**
 * The replicas of the metrics service, found through DNS each time they are needed: a
 * headless Kubernetes Service name resolves to every ready pod, so replicas the autoscaler
 * adds or removes are seen on the next call. The list may include this replica itself.
 */
export interface Peers {
  /** One client per address the configured names resolve to; none when none are set. */
  list(): Promise<PeerClient[]>;
  close(): void;
}

/**
 * @param spec comma-separated host:port pairs, e.g. "metrics:50051" (the headless Service)
 *   or "127.0.0.1:50055,127.0.0.1:50056"; blank for a single replica
 */
export function createPeers(spec: string, resolve: Resolver = resolveAll): Peers {
  const targets = parseSpec(spec);
  const clients = new Map<string, PeerClient>();

  async function list(): Promise<PeerClient[]> {
    const addresses = new Set<string>();
    await Promise.all(
      targets.map(async ({ host, port }) => {
        for (const ip of await resolve(host).catch(() => [])) {
          addresses.add(ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);
        }
      }),
    );

    // Replicas gone from DNS are closed so their channels do not linger.
    for (const [address, client] of clients) {
      if (!addresses.has(address)) {
        client.close();
        clients.delete(address);
      }
    }
    return [...addresses].map((address) => {
      let client = clients.get(address);
      if (!client) {
        client = createGrpcClient(MetricsService, address, "metrics");
        clients.set(address, client);
      }
      return client;
    });
  }

  return {
    list,
    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}

function parseSpec(spec: string): { host: string; port: number }[] {
  return spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((entry) => {
      const match = /^(.+):(\d{1,5})$/.exec(entry);
      if (!match) throw new Error(`peer "${entry}" must be host:port, e.g. metrics:50051`);
      return { host: (match[1] as string).replace(/^\[|\]$/g, ""), port: Number(match[2]) };
    });
}

async function resolveAll(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}
