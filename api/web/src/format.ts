// Dates as a person reads them, in the browser's time zone.

const pad = (n: number) => String(n).padStart(2, "0");

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const yearFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

// when says when a time is: "Today 15:00", "Tomorrow 09:00", "Mon 3 Dec 09:00".
export function when(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  const t = timeFmt.format(d);
  if (sameDay(d, now)) return "Today " + t;
  if (sameDay(d, tomorrow)) return "Tomorrow " + t;
  if (sameDay(d, yesterday)) return "Yesterday " + t;
  if (Math.abs(d.getTime() - now.getTime()) < 180 * 86400e3) return dayFmt.format(d) + " " + t;
  return yearFmt.format(d);
}

export function full(iso: string): string {
  return fullFmt.format(new Date(iso));
}

// dateInput and timeInput are a time's local date and time for inputs.
export function dateInput(iso: string): string {
  const d = new Date(iso);
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
}

export function timeInput(iso: string): string {
  const d = new Date(iso);
  return pad(d.getHours()) + ":" + pad(d.getMinutes());
}

// fromInputs makes an RFC 3339 time from a local date and time ("" for no
// time: the end of that day is not meant, the start of it is).
export function fromInputs(date: string, time: string): string | null {
  if (!date) return null;
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = (time || "00:00").split(":").map(Number);
  const local = new Date(y, m - 1, d, hh, mm);
  return isNaN(local.getTime()) ? null : local.toISOString();
}

// endOfDay is the last second of a local date, as RFC 3339.
export function endOfDay(date: string): string | null {
  if (!date) return null;
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).toISOString();
}

// localInput and fromLocalInput convert for <input type="datetime-local">.
export function localInput(iso: string): string {
  return dateInput(iso) + "T" + timeInput(iso);
}

export function fromLocalInput(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return isNaN(d.getTime()) ? null : d.toISOString();
}

export function startOfToday(now = new Date()): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}
