import type { MessageInitShape } from "@bufbuild/protobuf";
import { Complexity, type RoutingHintsSchema } from "@mesh/contracts/common/v1/chat_pb";
import { z } from "@mesh/config";
import { invalidRequest } from "./errors.js";

/** The `mesh` body field both HTTP APIs accept: routing hints and grounding sources. */
export const meshHintsSchema = z
  .object({
    complexity: z.enum(["low", "medium", "high"]).optional(),
    requires_reasoning: z.boolean().optional(),
    latency_sensitive: z.boolean().optional(),
    requires_factual: z.boolean().optional(),
    sources: z.array(z.object({ id: z.string().default(""), text: z.string() })).optional(),
  })
  .optional();

/** The parsed `mesh` body field. */
export type MeshHints = z.infer<typeof meshHintsSchema>;

/** Routing hints given as headers, for clients that cannot add body fields. */
export interface HintHeaders {
  complexity?: "low" | "medium" | "high";
  requiresReasoning?: boolean;
  latencySensitive?: boolean;
}

/**
 * Reads x-mesh-complexity, x-mesh-requires-reasoning and x-mesh-latency-sensitive. A value
 * outside what each takes is the caller's error: ignored, it would route the request
 * differently from what was asked without a word.
 */
export function readHintHeaders(header: (name: string) => string | undefined): HintHeaders {
  const complexity = header("x-mesh-complexity")?.toLowerCase();
  if (complexity !== undefined && !Object.hasOwn(COMPLEXITY, complexity)) {
    throw invalidRequest(`x-mesh-complexity: "${clip(complexity)}" is not low, medium or high`);
  }
  const bool = (name: string) => {
    const value = header(name)?.toLowerCase();
    if (value === undefined) return undefined;
    if (!BOOLEANS.has(value)) {
      throw invalidRequest(`${name}: "${clip(value)}" is not true, false, 1 or 0`);
    }
    return value === "true" || value === "1";
  };
  return {
    complexity: complexity as HintHeaders["complexity"],
    requiresReasoning: bool("x-mesh-requires-reasoning"),
    latencySensitive: bool("x-mesh-latency-sensitive"),
  };
}

const BOOLEANS = new Set(["true", "false", "1", "0"]);

// A header value goes back in the message: keep it short.
function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}

const COMPLEXITY = {
  low: Complexity.LOW,
  medium: Complexity.MEDIUM,
  high: Complexity.HIGH,
} as const;

/** The routing hints of a request: body fields win over headers. */
export function routingHints(
  body: MeshHints,
  headers: HintHeaders,
): MessageInitShape<typeof RoutingHintsSchema> {
  const hints = body ?? {};
  const complexity = hints.complexity ?? headers.complexity;
  return {
    complexity: complexity ? COMPLEXITY[complexity] : Complexity.UNSPECIFIED,
    requiresReasoning: hints.requires_reasoning ?? headers.requiresReasoning ?? false,
    latencySensitive: hints.latency_sensitive ?? headers.latencySensitive ?? false,
    requiresFactual: hints.requires_factual ?? false,
    sources: hints.sources ?? [],
  };
}

/** Models that mean "let the mesh choose from the hints". */
const AUTO_MODELS = new Set(["auto", "mesh-auto"]);

/** The catalog model a request names; empty lets the mesh choose. */
export function requestedModel(model: string): string {
  return AUTO_MODELS.has(model) ? "" : model;
}
