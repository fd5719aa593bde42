import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1/Deployment";
import {
  HorizontalPodAutoscaler,
  type IHorizontalPodAutoscaler,
} from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job, type IJob } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import {
  PodDisruptionBudget,
  type IPodDisruptionBudget,
} from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap, type IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret, type ISecret } from "kubernetes-models/v1/Secret";
import { Service, type IService } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEPLOY = join(ROOT, "deploy");

/** What every service of the mesh is, as the manifests and Dockerfiles must agree. */
const SERVICES = [
  { name: "gateway", pkg: "@mesh/gateway", env: "GATEWAY" },
  { name: "orchestrator", pkg: "@mesh/orchestrator", env: "ORCHESTRATOR" },
  { name: "guardrails", pkg: "@mesh/guardrails", env: "GUARDRAILS" },
  { name: "cost-ledger", pkg: "@mesh/cost-ledger", env: "LEDGER" },
  { name: "metrics", pkg: "@mesh/metrics", env: "METRICS" },
] as const;
type MeshService = (typeof SERVICES)[number];

const HTTP_PORT = 8080;
const GRPC_PORT = 50051;
const RUN_AS_USER = 10001;
// Variables every service reads through libs/config, libs/logging and libs/telemetry.
const COMMON_ENV = [
  "SERVICE_VERSION",
  "DEPLOYMENT_ENVIRONMENT",
  "LOG_LEVEL",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "HTTP_HOST",
  "GRPC_HOST",
];

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string };
}

type ModelClass = new (data: never) => { validate(): void };

// Every kind the overlays may render; an object of any other kind fails the test.
const MODELS: Record<string, ModelClass> = {
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
};

function parseDocs(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

function hasKubectl(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const KUBECTL = hasKubectl();

/** The overlay as `kubectl kustomize` renders it. */
function render(dir: string): K8sObject[] {
  const out = execFileSync("kubectl", ["kustomize", join(DEPLOY, dir)], { encoding: "utf8" });
  return parseDocs(out, dir);
}

interface Kustomization {
  resources?: string[];
  configMapGenerator?: { name: string; literals?: string[]; files?: string[] }[];
}

/**
 * The resources a kustomization lists, as written, plus the ConfigMaps its generators would
 * make (without the hash suffix). Patches are not applied: they are partial objects.
 */
function loadAsWritten(dir: string): K8sObject[] {
  const text = readFileSync(join(dir, "kustomization.yaml"), "utf8");
  const kustomization = parse(text) as Kustomization;

  const resources = (kustomization.resources ?? []).flatMap((entry) => {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) return loadAsWritten(path);
    return parseDocs(readFileSync(path, "utf8"), path);
  });

  const generated = (kustomization.configMapGenerator ?? []).map((gen): IConfigMap => {
    const data: Record<string, string> = {};
    for (const literal of gen.literals ?? []) {
      const eq = literal.indexOf("=");
      data[literal.slice(0, eq)] = literal.slice(eq + 1);
    }
    for (const file of gen.files ?? []) {
      const [key, path] = file.includes("=") ? file.split("=") : [file, file];
      data[key as string] = readFileSync(join(dir, path as string), "utf8");
    }
    return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: gen.name }, data };
  });

  return [...resources, ...generated];
}

function validateAll(objects: K8sObject[]): string[] {
  return objects.map((obj) => {
    const key = `${obj.apiVersion}/${obj.kind}`;
    const Model = MODELS[key];
    if (!Model) throw new Error(`no schema for ${key} (${obj.metadata?.name})`);

    new Model(obj as never).validate();
    return `${obj.kind}/${obj.metadata?.name}`;
  });
}

function ofKind<T>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

function named<T extends { metadata?: { name?: string } }>(items: T[], name: string): T {
  const found = items.filter((i) => i.metadata?.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one object named ${name}, found ${found.length}`);
  }
  return found[0] as T;
}

/** A container's environment: literal values, and where the others come from. */
interface EnvEntry {
  value?: string;
  secret?: { name: string; key: string; optional: boolean };
}

function containerEnv(objects: K8sObject[], deployment: IDeployment): Map<string, EnvEntry> {
  const container = deployment.spec?.template.spec?.containers[0];
  const env = new Map<string, EnvEntry>();

  // envFrom first: explicit entries override it, as in Kubernetes.
  for (const from of container?.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (!name) throw new Error(`${deployment.metadata?.name}: only configMapRef envFrom expected`);
    const configMap = named(ofKind<IConfigMap>(objects, "ConfigMap"), name);
    for (const [key, value] of Object.entries(configMap.data ?? {})) env.set(key, { value });
  }

  for (const e of container?.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      env.set(e.name, { secret: { name: ref.name ?? "", key: ref.key, optional: !!ref.optional } });
    } else {
      env.set(e.name, { value: e.value ?? "" });
    }
  }
  return env;
}

/** A pod port given by name or number, as the container declares it. */
function portNumber(deployment: IDeployment, port: string | number | undefined): number {
  if (typeof port === "number") return port;
  const ports = deployment.spec?.template.spec?.containers[0]?.ports ?? [];
  const found = ports.find((p) => p.name === port);
  if (!found) throw new Error(`${deployment.metadata?.name}: no container port named ${port}`);
  return found.containerPort;
}

function preStopSleepSeconds(deployment: IDeployment): number {
  const command = deployment.spec?.template.spec?.containers[0]?.lifecycle?.preStop?.exec?.command;
  return command?.[0] === "sleep" ? Number(command[1]) : 0;
}

/** The facts every overlay must keep for one service. */
function expectServiceFacts(objects: K8sObject[], svc: MeshService, replicas: number): void {
  const deployment = named(ofKind<IDeployment>(objects, "Deployment"), svc.name);
  const pod = deployment.spec?.template.spec;
  const container = pod?.containers[0];
  const env = containerEnv(objects, deployment);

  expect(deployment.spec?.replicas).toBe(replicas);
  expect(pod?.containers).toHaveLength(1);
  expect(container?.name).toBe(svc.name);
  expect(container?.image?.startsWith(`ai-mesh/${svc.name}`)).toBe(true);

  expect(container?.ports?.map((p) => [p.name, p.containerPort])).toEqual([
    ["http", HTTP_PORT],
    ["grpc", GRPC_PORT],
  ]);
  expect(container?.livenessProbe?.httpGet?.path).toBe("/health");
  expect(portNumber(deployment, container?.livenessProbe?.httpGet?.port)).toBe(HTTP_PORT);
  expect(container?.readinessProbe?.httpGet?.path).toBe("/ready");
  expect(portNumber(deployment, container?.readinessProbe?.httpGet?.port)).toBe(HTTP_PORT);

  expect(container?.resources).toEqual({
    requests: { cpu: "250m", memory: "512Mi" },
    limits: { cpu: "500m", memory: "1Gi" },
  });

  expect(pod?.securityContext?.runAsNonRoot).toBe(true);
  expect(pod?.securityContext?.runAsUser).toBe(RUN_AS_USER);
  expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true);
  expect(container?.securityContext?.allowPrivilegeEscalation).toBe(false);
  expect(container?.securityContext?.capabilities?.drop).toEqual(["ALL"]);
  // A read-only root needs a writable /tmp for anything that spools.
  expect(container?.volumeMounts?.some((m) => m.mountPath === "/tmp")).toBe(true);

  expect(env.get(`${svc.env}_HTTP_PORT`)?.value).toBe(String(HTTP_PORT));
  expect(env.get(`${svc.env}_GRPC_PORT`)?.value).toBe(String(GRPC_PORT));
  expect(env.get("HTTP_HOST")?.value).toBe("0.0.0.0");
  expect(env.get("GRPC_HOST")?.value).toBe("0.0.0.0");
  for (const name of COMMON_ENV) expect(env.has(name), name).toBe(true);

  // Endpoints and DNS must drop the pod before SIGTERM stops it taking new calls.
  expect(preStopSleepSeconds(deployment)).toBeGreaterThanOrEqual(5);
  // The kubelet's SIGKILL must come after the preStop sleep and the service's own deadline.
  const deadlineMs = Number(env.get("SHUTDOWN_DEADLINE_MS")?.value);
  expect(deadlineMs).toBeGreaterThanOrEqual(10_000);
  const graceMs = (pod?.terminationGracePeriodSeconds ?? 30) * 1000;
  expect(graceMs).toBeGreaterThan(deadlineMs + preStopSleepSeconds(deployment) * 1000);

  const service = named(ofKind<IService>(objects, "Service"), svc.name);
  expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
  expect(service.spec?.ports?.map((p) => [p.name, p.port, p.targetPort])).toEqual([
    ["http", HTTP_PORT, "http"],
    ["grpc", GRPC_PORT, "grpc"],
  ]);

  const labels = deployment.spec?.template.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(deployment.spec?.selector.matchLabels ?? {})) {
    expect(labels[key]).toBe(value);
  }
  expect(pod?.serviceAccountName).toBe(svc.name);
  named(ofKind<K8sObject>(objects, "ServiceAccount"), svc.name);
}

/**
 * Each service's autoscaling: the gateway as the design sets it, the others on their own
 * bounds and targets (issue 7), since what limits them differs.
 */
const AUTOSCALING: Record<MeshService["name"], { min: number; max: number; cpu: number;
  memory?: number }> = {
  gateway: { min: 3, max: 20, cpu: 70 },
  orchestrator: { min: 3, max: 30, cpu: 60, memory: 75 },
  guardrails: { min: 3, max: 40, cpu: 60 },
  "cost-ledger": { min: 2, max: 6, cpu: 75 },
  metrics: { min: 2, max: 5, cpu: 80, memory: 80 },
};

function utilization(name: string, averageUtilization: number) {
  const target = { type: "Utilization", averageUtilization };
  return { type: "Resource", resource: { name, target } };
}

function expectAutoscaling(objects: K8sObject[], svc: MeshService): void {
  const hpa = named(ofKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler"), svc.name);
  const want = AUTOSCALING[svc.name];
  expect(hpa.spec?.scaleTargetRef).toEqual({
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: svc.name,
  });
  expect(hpa.spec?.minReplicas).toBe(want.min);
  expect(hpa.spec?.maxReplicas).toBe(want.max);
  expect(hpa.spec?.metrics).toEqual([
    utilization("cpu", want.cpu),
    ...(want.memory ? [utilization("memory", want.memory)] : []),
  ]);
  // The PDB lets one pod go at a time; with the minimum, the rest still serve.
  expect(want.min).toBeGreaterThanOrEqual(2);

  const pdb = named(ofKind<IPodDisruptionBudget>(objects, "PodDisruptionBudget"), svc.name);
  expect(pdb.spec?.selector?.matchLabels).toEqual({ "app.kubernetes.io/name": svc.name });
  expect(pdb.spec?.maxUnavailable).toBe(1);
}

/** Wiring between services, secrets and config that only some services have. */
function expectWiring(objects: K8sObject[]): void {
  const deployments = ofKind<IDeployment>(objects, "Deployment");
  const services = ofKind<IService>(objects, "Service");

  const gateway = containerEnv(objects, named(deployments, "gateway"));
  const addrs = ["ORCHESTRATOR_ADDR", "GUARDRAILS_ADDR", "LEDGER_ADDR", "METRICS_ADDR"];
  expect(addrs.map((a) => gateway.get(a)?.value)).toEqual([
    "orchestrator:50051",
    "guardrails:50051",
    "cost-ledger:50051",
    "metrics:50051",
  ]);
  for (const addr of addrs) {
    const [host, port] = (gateway.get(addr)?.value ?? "").split(":");
    const target = named(services, host ?? "");
    expect(target.spec?.ports?.find((p) => p.name === "grpc")?.port).toBe(Number(port));
  }
  expect(secretRef(gateway, "REDIS_URL")).toBe("mesh-redis/url");
  expect(secretRef(gateway, "GATEWAY_API_KEYS")).toBe("mesh-gateway-keys/api-keys");

  const orchestratorDeployment = named(deployments, "orchestrator");
  const orchestrator = containerEnv(objects, orchestratorDeployment);
  expect(secretRef(orchestrator, "ANTHROPIC_API_KEY")).toBe("mesh-provider-keys/anthropic-api-key");
  expect(orchestrator.get("ANTHROPIC_BASE_URL")?.value).toBe("https://api.anthropic.com");
  expect(orchestrator.get("ORCHESTRATOR_CATALOG")?.value).toBe("/etc/mesh/catalog/catalog.yaml");

  // The catalog path lies in a mount of the ConfigMap that holds catalog.yaml.
  const pod = orchestratorDeployment.spec?.template.spec;
  const mount = pod?.containers[0]?.volumeMounts?.find((m) => m.name === "catalog");
  expect(mount?.mountPath).toBe("/etc/mesh/catalog");
  expect(mount?.subPath).toBeUndefined();
  const volume = pod?.volumes?.find((v) => v.name === "catalog");
  const catalogMap = named(ofKind<IConfigMap>(objects, "ConfigMap"), volume?.configMap?.name ?? "");
  const catalog = parse(catalogMap.data?.["catalog.yaml"] ?? "") as CatalogFile;
  expect(catalog.models.map((m) => [m.name, m.tier])).toEqual([
    ["claude-opus-4", "top"],
    ["claude-sonnet-4", "balanced"],
    ["claude-haiku-3", "fast"],
  ]);
  // Every key the catalog names is an env var the Deployment sets.
  const keyEnvs = catalog.models.flatMap((m) => m.deployments.map((d) => d.api_key_env));
  for (const name of keyEnvs.filter((n): n is string => !!n)) {
    expect(orchestrator.has(name), name).toBe(true);
  }

  const ledger = containerEnv(objects, named(deployments, "cost-ledger"));
  expect(secretRef(ledger, "DATABASE_URL")).toBe("mesh-postgres/url");

  // The metrics replicas find each other through their own headless Service.
  const metrics = containerEnv(objects, named(deployments, "metrics"));
  const [peerHost, peerPort] = (metrics.get("METRICS_PEERS")?.value ?? "").split(":");
  const metricsService = named(services, peerHost ?? "");
  expect(metricsService.spec?.clusterIP).toBe("None");
  expect(metricsService.spec?.selector).toEqual({ "app.kubernetes.io/name": "metrics" });
  expect(metricsService.spec?.ports?.find((p) => p.name === "grpc")?.port).toBe(Number(peerPort));

  const job = named(ofKind<IJob>(objects, "Job"), "cost-ledger-migrate");
  const migrate = job.spec?.template.spec?.containers[0];
  const ledgerImage = named(deployments, "cost-ledger").spec?.template.spec?.containers[0]?.image;
  expect(migrate?.image).toBe(ledgerImage);
  expect(migrate?.command).toEqual(["node", "--import", "tsx", "src/migrate.ts"]);
  expect(migrate?.env?.find((e) => e.name === "DATABASE_URL")?.valueFrom?.secretKeyRef).toEqual({
    name: ledger.get("DATABASE_URL")?.secret?.name,
    key: "url",
  });
  expect(migrate?.securityContext?.readOnlyRootFilesystem).toBe(true);
}

/** "secret/key" of a variable set from a Secret, without the hash suffix kustomize adds. */
function secretRef(env: Map<string, EnvEntry>, name: string): string | undefined {
  const secret = env.get(name)?.secret;
  return secret && `${secret.name.replace(/-[a-z0-9]{10}$/, "")}/${secret.key}`;
}

interface CatalogFile {
  models: { name: string; tier: string; deployments: { api_key_env?: string }[] }[];
}

/** Non-optional secret references, as "secret/key". */
function requiredSecretRefs(objects: K8sObject[]): Set<string> {
  const refs = new Set<string>();
  for (const d of ofKind<IDeployment>(objects, "Deployment")) {
    for (const e of d.spec?.template.spec?.containers.flatMap((c) => c.env ?? []) ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref && !ref.optional) refs.add(`${ref.name}/${ref.key}`);
    }
  }
  return refs;
}

function decode(base64: string | undefined): string {
  return Buffer.from(base64 ?? "", "base64").toString("utf8");
}

function kindCounts(objects: K8sObject[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return counts;
}

describe("deploy/base as written", () => {
  const objects = loadAsWritten(join(DEPLOY, "base"));

  it("validates every object against the Kubernetes schemas", () => {
    expect(validateAll(objects)).toHaveLength(objects.length);
    expect(kindCounts(objects)).toEqual({
      ServiceAccount: 5,
      Service: 5,
      Deployment: 5,
      HorizontalPodAutoscaler: 5,
      PodDisruptionBudget: 5,
      Job: 1,
      NetworkPolicy: 3,
      ConfigMap: 2,
    });
  });

  it.each(SERVICES)("keeps the probes, ports, resources and hardening of $name", (svc) => {
    expectServiceFacts(objects, svc, 3);
    expectAutoscaling(objects, svc);
  });

  it("wires addresses, secrets, the catalog and the migration job", () => {
    expectWiring(objects);
  });

  it("autoscales guardrails, ledger, orchestrator and metrics each on its own terms", () => {
    const hpas = ofKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler");
    const shape = (name: string) => {
      const spec = named(hpas, name).spec;
      return JSON.stringify([spec?.minReplicas, spec?.maxReplicas, spec?.metrics, spec?.behavior]);
    };

    const shapes = SERVICES.map((svc) => shape(svc.name));
    expect(new Set(shapes).size).toBe(SERVICES.length);
    // Long streams: the orchestrator gives back at most one pod per two minutes.
    expect(named(hpas, "orchestrator").spec?.behavior?.scaleDown).toMatchObject({
      stabilizationWindowSeconds: 600,
      policies: [{ type: "Pods", value: 1, periodSeconds: 120 }],
    });
  });

  it("rejects a broken Deployment, so the validation above means something", () => {
    const broken = structuredClone(named(ofKind<IDeployment>(objects, "Deployment"), "gateway"));
    (broken.spec as unknown as Record<string, unknown>).replicas = "three";

    expect(() => new Deployment(broken).validate()).toThrow(/replicas must be integer/);
  });
});

describe("deploy/overlays as written", () => {
  it.each(["dev", "prod"])("validates every resource the %s overlay lists", (overlay) => {
    const objects = loadAsWritten(join(DEPLOY, "overlays", overlay));

    expect(validateAll(objects)).toHaveLength(objects.length);
    expect(ofKind(objects, "Deployment")).toHaveLength(overlay === "dev" ? 8 : 5);
    expect(ofKind<K8sObject>(objects, "Namespace").map((n) => n.metadata?.name)).toEqual([
      overlay === "dev" ? "ai-mesh-dev" : "ai-mesh",
    ]);
  });
});

describe.skipIf(!KUBECTL)("kubectl kustomize", () => {
  const rendered = KUBECTL
    ? { base: render("base"), dev: render("overlays/dev"), prod: render("overlays/prod") }
    : { base: [], dev: [], prod: [] };

  it.each(["base", "dev", "prod"] as const)("renders %s into valid objects", (name) => {
    const objects = rendered[name];

    expect(validateAll(objects)).toHaveLength(objects.length);
    expect(ofKind<K8sObject>(objects, "Deployment")).toHaveLength(name === "dev" ? 8 : 5);
  });

  it.each(SERVICES)("base and prod keep the design's facts for $name", (svc) => {
    for (const objects of [rendered.base, rendered.prod]) {
      expectServiceFacts(objects, svc, 3);
      expectAutoscaling(objects, svc);
      const image = named(ofKind<IDeployment>(objects, "Deployment"), svc.name).spec?.template
        .spec?.containers[0]?.image;
      expect(image).toBe(`ai-mesh/${svc.name}:0.1.0`);
    }
  });

  it.each(SERVICES)("dev runs one $name pod with no autoscaler", (svc) => {
    expectServiceFacts(rendered.dev, svc, 1);
  });

  it("wires every overlay the same way", () => {
    for (const objects of Object.values(rendered)) expectWiring(objects);
  });

  it("dev has Jaeger, Postgres and Redis in the namespace and the secrets it refers to", () => {
    const objects = rendered.dev;
    const deployments = ofKind<IDeployment>(objects, "Deployment");
    const services = ofKind<IService>(objects, "Service");

    expect(kindCounts(objects)).toMatchObject({ Namespace: 1, Secret: 3 });
    expect(ofKind(objects, "HorizontalPodAutoscaler")).toEqual([]);
    expect(ofKind(objects, "PodDisruptionBudget")).toEqual([]);
    for (const name of ["jaeger", "postgres", "redis"]) named(deployments, name);
    expect(named(services, "jaeger").spec?.ports?.find((p) => p.name === "otlp-http")?.port).toBe(
      4318,
    );
    expect(named(services, "postgres").spec?.ports?.[0]?.port).toBe(5432);
    expect(named(services, "redis").spec?.ports?.[0]?.port).toBe(6379);

    const gateway = containerEnv(objects, named(deployments, "gateway"));
    expect(gateway.get("OTEL_EXPORTER_OTLP_ENDPOINT")?.value).toBe("http://jaeger:4318");
    expect(gateway.get("DEPLOYMENT_ENVIRONMENT")?.value).toBe("development");

    // No provider key in development: the orchestrator starts on its simulator.
    const orchestrator = containerEnv(objects, named(deployments, "orchestrator"));
    expect(orchestrator.get("ANTHROPIC_API_KEY")?.secret?.optional).toBe(true);

    const secrets = ofKind<ISecret>(objects, "Secret");
    for (const ref of requiredSecretRefs(objects)) {
      const [name, key] = ref.split("/");
      const secret = named(secrets, name ?? "");
      expect(Object.keys(secret.data ?? {}), ref).toContain(key);
    }
    const ledger = containerEnv(objects, named(deployments, "cost-ledger"));
    const postgres = named(secrets, ledger.get("DATABASE_URL")?.secret?.name ?? "");
    expect(decode(postgres.data?.url)).toBe("postgres://mesh:mesh-dev@postgres:5432/ledger");
    const redis = named(secrets, gateway.get("REDIS_URL")?.secret?.name ?? "");
    expect(decode(redis.data?.url)).toBe("redis://redis:6379/0");
  });

  it("prod spreads pods, keeps every secret outside git, and exports traces", () => {
    const objects = rendered.prod;
    const deployments = ofKind<IDeployment>(objects, "Deployment");

    expect(ofKind(objects, "Secret")).toEqual([]);
    expect([...requiredSecretRefs(objects)].sort()).toEqual([
      "mesh-gateway-keys/api-keys",
      "mesh-postgres/url",
      "mesh-provider-keys/anthropic-api-key",
      "mesh-redis/url",
    ]);
    for (const o of objects.filter((o) => o.kind !== "Namespace")) {
      expect(o.metadata?.namespace, `${o.kind}/${o.metadata?.name}`).toBe("ai-mesh");
    }

    for (const svc of SERVICES) {
      const spread = named(deployments, svc.name).spec?.template.spec?.topologySpreadConstraints;
      expect(spread?.map((c) => [c.topologyKey, c.labelSelector?.matchLabels])).toEqual([
        ["topology.kubernetes.io/zone", { "app.kubernetes.io/name": svc.name }],
        ["kubernetes.io/hostname", { "app.kubernetes.io/name": svc.name }],
      ]);
    }

    const gateway = containerEnv(objects, named(deployments, "gateway"));
    expect(gateway.get("OTEL_EXPORTER_OTLP_ENDPOINT")?.value).toMatch(/^http:\/\/.+:4318$/);
    expect(gateway.get("DEPLOYMENT_ENVIRONMENT")?.value).toBe("production");
  });
});

describe("Dockerfiles", () => {
  it.each(SERVICES)("$name builds only its package and runs as the manifests expect", (svc) => {
    const dockerfile = readFileSync(join(ROOT, "services", svc.name, "Dockerfile"), "utf8");
    const pkg = JSON.parse(readFileSync(join(ROOT, "services", svc.name, "package.json"), "utf8"));

    expect(pkg.name).toBe(svc.pkg);
    expect(dockerfile).toContain(
      `pnpm install --offline --frozen-lockfile --prod --filter "${svc.pkg}..."`,
    );
    expect(dockerfile).toMatch(new RegExp(`^\\s+${svc.env}_HTTP_PORT=${HTTP_PORT}`, "m"));
    expect(dockerfile).toMatch(new RegExp(`^\\s+${svc.env}_GRPC_PORT=${GRPC_PORT}`, "m"));
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${HTTP_PORT} ${GRPC_PORT}$`, "m"));
    expect(dockerfile).toMatch(new RegExp(`^USER ${RUN_AS_USER}:${RUN_AS_USER}$`, "m"));
    expect(dockerfile).toMatch(new RegExp(`^WORKDIR /app/services/${svc.name}$`, "m"));
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toContain("+ '/health')");
    expect(dockerfile).toMatch(/^CMD \["node", "--import", "tsx", "src\/main.ts"\]$/m);
  });
});

// The env names a manifest sets must be names the service reads: a typo or a renamed variable
// would otherwise be ignored silently and the default used.
describe("env names against the services' sources", () => {
  const objects = loadAsWritten(join(DEPLOY, "base"));
  const libsText = sourceText(join(ROOT, "libs"));

  it.each(SERVICES)("$name reads every variable its Deployment sets", (svc) => {
    const srcDir = join(ROOT, "services", svc.name, "src");
    if (!existsSync(join(srcDir, "config.ts"))) {
      throw new Error(`services/${svc.name}/src/config.ts is missing; the service cannot start`);
    }
    const text = sourceText(srcDir) + libsText;
    const env = containerEnv(objects, named(ofKind<IDeployment>(objects, "Deployment"), svc.name));

    // NODE_OPTIONS is read by Node itself.
    const unread = [...env.keys()].filter((n) => n !== "NODE_OPTIONS" && !text.includes(n));
    expect(unread).toEqual([]);
  });
});

function sourceText(dir: string): string {
  const files = execFileSync("find", [dir, "-name", "*.ts", "-not", "-name", "*.test.ts"], {
    encoding: "utf8",
  })
    .split("\n")
    .filter((f) => f !== "" && !f.includes("/node_modules/"));
  return files.map((f) => readFileSync(f, "utf8")).join("\n");
}

// Start services that need no other service with exactly the env of their base Deployment
// (secrets left unset, hosts on loopback) and the Dockerfile's command, then hit the probes
// the manifests name on the ports the manifests name.
const STANDALONE: readonly string[] = ["orchestrator", "guardrails", "metrics"];

describe("services started with their manifest env", () => {
  const objects = KUBECTL ? render("base") : loadAsWritten(join(DEPLOY, "base"));
  const standalone = SERVICES.filter((s) => STANDALONE.includes(s.name));

  // A service whose main.ts is not written yet is reported as skipped, not passed.
  const cases = standalone.map((svc) => ({
    svc,
    missing: !existsSync(join(ROOT, "services", svc.name, "src", "main.ts")),
  }));
  for (const { svc, missing } of cases) {
    it.skipIf(missing)(`${svc.name} answers the probes and gRPC health on its ports`, async () => {
      await expectServesWithManifestEnv(objects, svc);
    });
  }
});

/** Starts the service as its container would and checks what the manifest promises. */
async function expectServesWithManifestEnv(
  objects: K8sObject[],
  svc: MeshService,
): Promise<void> {
  const deployment = named(ofKind<IDeployment>(objects, "Deployment"), svc.name);
  const env = containerEnv(objects, deployment);
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, TSX_DISABLE_CACHE: "1" };
  for (const [name, entry] of env) if (entry.value !== undefined) childEnv[name] = entry.value;
  childEnv.HTTP_HOST = "127.0.0.1";
  childEnv.GRPC_HOST = "127.0.0.1";

  // The catalog ConfigMap, written where the Deployment mounts it, moved under a temp dir.
  const dir = mkdtempSync(join(tmpdir(), `mesh-${svc.name}-`));
  if (childEnv.ORCHESTRATOR_CATALOG) {
    const volume = deployment.spec?.template.spec?.volumes?.find((v) => v.name === "catalog");
    const map = named(ofKind<IConfigMap>(objects, "ConfigMap"), volume?.configMap?.name ?? "");
    const path = join(dir, "catalog.yaml");
    writeFileSync(path, map.data?.["catalog.yaml"] ?? "");
    childEnv.ORCHESTRATOR_CATALOG = path;
  }

  const httpPort = Number(env.get(`${svc.env}_HTTP_PORT`)?.value);
  const grpcPort = Number(env.get(`${svc.env}_GRPC_PORT`)?.value);
  await expectPortFree(httpPort);
  await expectPortFree(grpcPort);

  const cwd = join(ROOT, "services", svc.name);
  const child = spawn("node", ["--import", "tsx", "src/main.ts"], { cwd, env: childEnv });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));

  try {
    const live = deployment.spec?.template.spec?.containers[0]?.livenessProbe?.httpGet;
    const ready = deployment.spec?.template.spec?.containers[0]?.readinessProbe?.httpGet;
    const url = `http://127.0.0.1:${httpPort}${live?.path}`;
    expect(await waitFor(url, 30_000, () => output)).toBe(200);
    expect((await fetch(`http://127.0.0.1:${httpPort}${ready?.path}`)).status).toBe(200);
    expect(await grpcHealth(grpcPort)).toBe("SERVING");

    child.kill("SIGTERM");
    const started = Date.now();
    expect(await exited).toBe(0);
    const graceMs = (deployment.spec?.template.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    expect(Date.now() - started).toBeLessThan(graceMs);
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

async function expectPortFree(port: number): Promise<void> {
  const free = await new Promise<boolean>((res) => {
    const server = createServer();
    server.once("error", () => res(false));
    server.listen(port, "127.0.0.1", () => server.close(() => res(true)));
  });
  if (!free) throw new Error(`port ${port} is in use; stop whatever listens there and rerun`);
}

async function waitFor(url: string, timeoutMs: number, log: () => string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      return (await fetch(url)).status;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms; service output:\n${log()}`);
}

/** grpc.health.v1 Check for the whole server, decoded by hand to keep the test standalone. */
async function grpcHealth(port: number): Promise<string> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const reply = await new Promise<Buffer>((res, rej) => {
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (err, value) => (err || !value ? rej(err ?? new Error("empty reply")) : res(value)),
      );
    });
    // HealthCheckResponse { status = 1 (varint) }: 0x08 then the enum value; absent means 0.
    const status = reply.length >= 2 && reply[0] === 0x08 ? (reply[1] as number) : 0;
    return ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][status] ?? String(status);
  } finally {
    client.close();
  }
}
