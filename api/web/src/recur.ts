// Recurrence presets and the RFC 5545 rules they stand for. The API takes
// any RRULE; the editor offers the common ones and a raw field.

export type Preset = "none" | "daily" | "weekdays" | "weekly" | "monthly_day" | "monthly_last" | "yearly" | "custom";

export interface Recurrence {
  preset: Preset;
  interval: number;
  days: string[]; // MO..SU, for weekly
  monthDay: number; // for monthly_day
  raw: string; // for custom
  end: "never" | "until" | "count";
  until: string; // a local date
  count: number;
}

export const weekdays = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
export const weekdayNames: Record<string, string> = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };
const shortDays: Record<string, string> = { mon: "MO", tue: "TU", wed: "WE", thu: "TH", fri: "FR", sat: "SA", sun: "SU" };

export function empty(start?: Date): Recurrence {
  const d = start ?? new Date();
  return { preset: "none", interval: 1, days: [weekdays[(d.getDay() + 6) % 7]], monthDay: d.getDate(), raw: "", end: "never", until: "", count: 10 };
}

// toRule returns the RRULE for r (without the end, which the caller adds:
// COUNT goes into the rule, an end date into recurrence_end_date).
export function toRule(r: Recurrence): string | null {
  const every = r.interval > 1 ? ";INTERVAL=" + r.interval : "";
  let rule: string;
  switch (r.preset) {
    case "none":
      return null;
    case "daily":
      rule = "FREQ=DAILY" + every;
      break;
    case "weekdays":
      rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR";
      break;
    case "weekly":
      rule = "FREQ=WEEKLY" + every + (r.days.length ? ";BYDAY=" + weekdays.filter((d) => r.days.includes(d)).join(",") : "");
      break;
    case "monthly_day":
      rule = "FREQ=MONTHLY" + every + ";BYMONTHDAY=" + r.monthDay;
      break;
    case "monthly_last":
      rule = "FREQ=MONTHLY" + every + ";BYMONTHDAY=-1";
      break;
    case "yearly":
      rule = "FREQ=YEARLY" + every;
      break;
    case "custom":
      return r.raw.trim() || null;
  }
  if (r.end === "count" && r.count > 0) rule += ";COUNT=" + r.count;
  return rule;
}

// fromPattern reads a stored pattern (shorthand or RRULE) back into the
// preset it matches, or "custom".
export function fromPattern(pattern: string | null, start?: Date): Recurrence {
  const r = empty(start);
  if (!pattern) return r;
  r.raw = pattern;
  const p = pattern.trim().replace(/^RRULE:/i, "");
  const short = /^(daily|weekly|weekdays|monthly|yearly)(?:\/(\d+))?:?(.*)$/i.exec(p);
  if (short && !p.includes("=")) {
    const [, kind, n, rest] = short;
    r.interval = n ? Number(n) : 1;
    const arg = rest.trim().toLowerCase();
    switch (kind.toLowerCase()) {
      case "daily":
        r.preset = "daily";
        return r;
      case "weekdays":
        r.preset = "weekdays";
        return r;
      case "weekly":
        r.preset = "weekly";
        if (arg) r.days = arg.split(",").map((d) => shortDays[d.trim()]).filter(Boolean);
        return r;
      case "monthly":
        if (arg === "last") r.preset = "monthly_last";
        else if (/^\d+$/.test(arg)) {
          r.preset = "monthly_day";
          r.monthDay = Number(arg);
        } else if (!arg) r.preset = "monthly_day";
        else r.preset = "custom";
        return r;
      case "yearly":
        r.preset = arg ? "custom" : "yearly";
        return r;
    }
  }
  const parts: Record<string, string> = {};
  for (const kv of p.toUpperCase().split(";")) {
    const [k, v] = kv.split("=");
    if (k && v !== undefined) parts[k.trim()] = v.trim();
  }
  const known = new Set(["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT"]);
  if (Object.keys(parts).some((k) => !known.has(k))) {
    r.preset = "custom";
    return r;
  }
  r.interval = parts.INTERVAL ? Number(parts.INTERVAL) : 1;
  if (parts.COUNT) {
    r.end = "count";
    r.count = Number(parts.COUNT);
  }
  const freq = parts.FREQ;
  if (freq === "DAILY" && !parts.BYDAY && !parts.BYMONTHDAY) r.preset = "daily";
  else if (freq === "WEEKLY" && parts.BYDAY === "MO,TU,WE,TH,FR" && r.interval === 1) r.preset = "weekdays";
  else if (freq === "WEEKLY" && !parts.BYMONTHDAY) {
    r.preset = "weekly";
    if (parts.BYDAY) r.days = parts.BYDAY.split(",");
  } else if (freq === "MONTHLY" && parts.BYMONTHDAY === "-1" && !parts.BYDAY) r.preset = "monthly_last";
  else if (freq === "MONTHLY" && /^\d+$/.test(parts.BYMONTHDAY || "") && !parts.BYDAY) {
    r.preset = "monthly_day";
    r.monthDay = Number(parts.BYMONTHDAY);
  } else if (freq === "YEARLY" && !parts.BYDAY && !parts.BYMONTHDAY) r.preset = "yearly";
  else r.preset = "custom";
  return r;
}

// describe says a pattern in words, for lists.
export function describe(pattern: string | null): string {
  if (!pattern) return "";
  const r = fromPattern(pattern);
  const n = r.interval > 1 ? r.interval + " " : "";
  switch (r.preset) {
    case "daily":
      return r.interval > 1 ? "every " + n + "days" : "daily";
    case "weekdays":
      return "every weekday";
    case "weekly":
      return (r.interval > 1 ? "every " + n + "weeks" : "weekly") + (r.days.length ? " on " + r.days.map((d) => weekdayNames[d]).join(", ") : "");
    case "monthly_day":
      return (r.interval > 1 ? "every " + n + "months" : "monthly") + " on day " + r.monthDay;
    case "monthly_last":
      return (r.interval > 1 ? "every " + n + "months" : "monthly") + " on the last day";
    case "yearly":
      return "yearly";
    default:
      return pattern;
  }
}
