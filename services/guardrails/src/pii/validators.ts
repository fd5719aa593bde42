/** Checksums and format rules that separate real identifiers from look-alike numbers. */

/** True when a string of digits passes the Luhn (mod 10) check used by payment cards. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

// Issuer prefixes: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Diners 30/36/38/39,
// Discover 6011/64/65, JCB 35 and 1800/2131, UnionPay 62, Maestro 50 and 56-69, Mir 2200-2204.
const CARD_PREFIX = /^(?:4|5[0-9]|2[2-7]|3[0-9]|6|1800|2131)/;

/** True for a plausible payment card number: issuer prefix, length and Luhn checksum. */
export function cardValid(digits: string, allowShort: boolean): boolean {
  const min = allowShort ? 12 : 13;
  if (digits.length < min || digits.length > 19) return false;
  if (!CARD_PREFIX.test(digits)) return false;
  // Runs of one digit pass Luhn now and then but are never issued.
  if (/^(\d)\1+$/.test(digits)) return false;
  return luhnValid(digits);
}

// IBAN length per country (ISO 13616 registry); other countries are checked by mod-97 alone.
const IBAN_LENGTH: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29,
  BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29,
  ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28,
  LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25,
  QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27,
  SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/** The registered IBAN length for a country, or undefined when the country is not listed. */
export function ibanLength(country: string): number | undefined {
  return IBAN_LENGTH[country];
}

/** True when a compact, upper-case IBAN passes the ISO 7064 mod-97 check. */
export function ibanValid(iban: string): boolean {
  if (iban.length < 15 || iban.length > 34) return false;
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;

  const known = IBAN_LENGTH[iban.slice(0, 2)];
  if (known !== undefined && known !== iban.length) return false;

  // Move the first four characters to the end, letters become 10..35, then mod 97 piecewise.
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

/** True for a US social security number that the SSA could have issued. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  if (area === "000" || area === "666" || area.startsWith("9")) return false;
  return group !== "00" && serial !== "0000";
}
