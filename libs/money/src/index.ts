import { create } from "@bufbuild/protobuf";
import {
  MoneySchema,
  TokenPricesSchema,
  type Money,
  type TokenPrices as TokenPricesMessage,
} from "@mesh/contracts/common/v1/money_pb";

export { OutputTokenEstimate } from "./output-estimate.js";

const NANOS_PER_UNIT = 1_000_000_000n;
const TOKENS_PER_MILLION = 1_000_000n;

/** Builds a USD Money from integer nano-dollars; units and nanos share the sign. */
export function usdFromNanos(totalNanos: bigint): Money {
  return create(MoneySchema, {
    currencyCode: "USD",
    units: totalNanos / NANOS_PER_UNIT,
    nanos: Number(totalNanos % NANOS_PER_UNIT),
  });
}

/** Integer nano-units of a Money (currency is the caller's concern). */
export function moneyToNanos(money: Pick<Money, "units" | "nanos"> | undefined): bigint {
  if (!money) return 0n;
  return money.units * NANOS_PER_UNIT + BigInt(money.nanos);
}

/** Dollars as a decimal string with all nine places, e.g. "0.001234000"; exact. */
export function formatUsd(totalNanos: bigint): string {
  const sign = totalNanos < 0n ? "-" : "";
  const abs = totalNanos < 0n ? -totalNanos : totalNanos;
  const fraction = (abs % NANOS_PER_UNIT).toString().padStart(9, "0");
  return `${sign}${abs / NANOS_PER_UNIT}.${fraction}`;
}

/** Parses a decimal dollar amount ("3", "0.25", "18.75") into nano-dollars, exactly. */
export function parseUsdToNanos(text: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a dollar amount with at most 9 decimals`);

  const whole = BigInt(match[1] ?? "0");
  const fraction = BigInt((match[2] ?? "").padEnd(9, "0"));
  return whole * NANOS_PER_UNIT + fraction;
}

/** Prices of one model, in nano-dollars per million tokens of each class. */
export interface TokenPrices {
  inputNanosPerMTok: bigint;
  outputNanosPerMTok: bigint;
  cacheReadNanosPerMTok: bigint;
  cacheWriteNanosPerMTok: bigint;
}

/** Token counts of one request; each class is billed once, none included in another. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/**
 * Cost of a request in nano-dollars: each token class times its price, summed, then divided
 * by a million once, rounding half up. Exact for every price the catalog can hold.
 */
export function costNanos(tokens: TokenCounts, prices: TokenPrices): bigint {
  const scaled =
    BigInt(tokens.inputTokens) * prices.inputNanosPerMTok +
    BigInt(tokens.outputTokens) * prices.outputNanosPerMTok +
    BigInt(tokens.cacheReadTokens) * prices.cacheReadNanosPerMTok +
    BigInt(tokens.cacheWriteTokens) * prices.cacheWriteNanosPerMTok;
  return (scaled + TOKENS_PER_MILLION / 2n) / TOKENS_PER_MILLION;
}

/** The wire form of a model's prices (common.v1.TokenPrices). */
export function pricesToMessage(prices: TokenPrices): TokenPricesMessage {
  return create(TokenPricesSchema, {
    inputNanosPerMtok: prices.inputNanosPerMTok,
    outputNanosPerMtok: prices.outputNanosPerMTok,
    cacheReadNanosPerMtok: prices.cacheReadNanosPerMTok,
    cacheWriteNanosPerMtok: prices.cacheWriteNanosPerMTok,
  });
}

/** A model's prices from the wire; undefined when the message did not carry them. */
export function pricesFromMessage(message: TokenPricesMessage | undefined): TokenPrices | undefined {
  if (!message) return undefined;
  return {
    inputNanosPerMTok: message.inputNanosPerMtok,
    outputNanosPerMTok: message.outputNanosPerMtok,
    cacheReadNanosPerMTok: message.cacheReadNanosPerMtok,
    cacheWriteNanosPerMTok: message.cacheWriteNanosPerMtok,
  };
}
