// The API client. Every path here is an operation of the OpenAPI document
// (GET /api/v1/openapi.json); a test keeps the two in step.

import type { Alarm, AuditRecord, Counts, Operation, Problem, Task, TaskBody, Verification, WebConfig } from "./types";

export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

// ApiError is a failed call: its problem document, when the server sent one.
export class ApiError extends Error {
  constructor(public status: number, public problem: Problem | null) {
    super(problem?.detail || problem?.title || "request failed with status " + status);
  }
  // field returns the message for one field, if the problem names it.
  field(name: string): string | undefined {
    return this.problem?.errors?.find((e) => e.field === name)?.message;
  }
}

const tokenKey = "taskflow.token";

// The token lives for the tab (sessionStorage): a new tab signs in again,
// closing the tab forgets it.
export function token(): string | null {
  return sessionStorage.getItem(tokenKey);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// tokenUser reads the user id (sub) from a JWT, for display only.
export function tokenUser(t: string): string {
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)).sub || "?";
  } catch {
    return "?";
  }
}

// tokenExpired reads the token's exp: true once it has passed (or when
// the token cannot be read).
export function tokenExpired(t: string | null): boolean {
  try {
    const part = (t ?? "").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(part)).exp;
    return typeof exp !== "number" || exp * 1000 <= Date.now();
  } catch {
    return true;
  }
}

export let config: WebConfig = { notifications_url: "", audit_url: "", dev_sign_in: false };

interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  keepalive?: boolean;
  signal?: AbortSignal;
}

// onUnauthorized is called when the server refuses the token (expired).
export let onUnauthorized: () => void = () => {};
export function setOnUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

async function call<T>(method: string, url: string, opts: CallOptions = {}): Promise<{ data: T; response: Response }> {
  const headers: Record<string, string> = { "Time-Zone": zone, ...opts.headers };
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  const response = await fetch(url, { method, headers, body, keepalive: opts.keepalive, signal: opts.signal });
  if (!response.ok) {
    let problem: Problem | null = null;
    try {
      problem = await response.json();
    } catch {
      // not a problem document
    }
    if (response.status === 401 && t) onUnauthorized();
    throw new ApiError(response.status, problem);
  }
  const text = response.status === 204 ? "" : await response.text();
  return { data: (text ? JSON.parse(text) : undefined) as T, response };
}

const v1 = "/api/v1";

export async function loadConfig(): Promise<WebConfig> {
  config = (await call<WebConfig>("GET", v1 + "/config")).data;
  return config;
}

export async function devToken(user: string): Promise<string> {
  return (await call<{ token: string }>("POST", v1 + "/dev/token", { body: { user } })).data.token;
}

export interface ListParams {
  status?: "open" | "completed" | "all";
  priority?: string;
  tag?: string;
  due_before?: string;
  due_after?: string;
  q?: string;
  series?: "true" | "false";
  sort?: "created_at" | "due_date" | "priority" | "title";
  order?: "asc" | "desc";
  limit?: number;
  cursor?: string;
}

export interface TaskPage {
  items: Task[];
  next_cursor: string | null;
}

export async function listTasks(p: ListParams, signal?: AbortSignal): Promise<TaskPage> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== "") q.set(k, String(v));
  return (await call<TaskPage>("GET", v1 + "/tasks?" + q.toString(), { signal })).data;
}

export async function counts(): Promise<{ counts: Counts; day_start: string; day_end: string }> {
  return (await call<{ counts: Counts; day_start: string; day_end: string }>("GET", v1 + "/tasks/counts?timezone=" + encodeURIComponent(zone))).data;
}

export async function getTask(id: string): Promise<Task> {
  return (await call<Task>("GET", v1 + "/tasks/" + id)).data;
}

export async function createTask(body: TaskBody): Promise<Task> {
  return (await call<Task>("POST", v1 + "/tasks", { body })).data;
}

// Parsed is what POST /api/v1/tasks/parse reads from a quick-add text.
export interface Parsed {
  title: string;
  due_date: string | null;
  recurrence_pattern: string | null;
  recurrence_end_date: string | null;
  reminders: string[];
  priority: string;
  tags: string[];
  timezone: string;
  spans: { start: number; end: number; field: string; text: string }[];
  valid: boolean;
  errors: { field: string; message: string }[];
}

export async function parseText(text: string, signal?: AbortSignal): Promise<Parsed> {
  return (await call<Parsed>("POST", v1 + "/tasks/parse", { body: { text, timezone: zone }, signal })).data;
}

// createFromText creates what parseText reads from text.
export async function createFromText(text: string): Promise<Task> {
  return (await call<Task>("POST", v1 + "/tasks", { body: { text, timezone: zone } })).data;
}

export interface Preview {
  task: Task;
  occurrences: string[];
  reminders: Alarm[];
}

export async function previewTask(body: TaskBody, signal?: AbortSignal): Promise<Preview> {
  return (await call<Preview>("POST", v1 + "/tasks/preview?occurrences=5", { body, signal })).data;
}

// updateTask patches a task; with series it changes the series and its
// open instances, as an operation (202).
export async function updateTask(id: string, patch: TaskBody, series = false): Promise<Task | Operation> {
  return (await call<Task | Operation>("PATCH", v1 + "/tasks/" + id + (series ? "?scope=series" : ""), { body: patch })).data;
}

export async function complete(id: string, done: boolean): Promise<Task> {
  return (await call<Task>("POST", v1 + "/tasks/" + id + (done ? "/complete" : "/uncomplete"))).data;
}

export async function deleteTask(id: string, series = false, keepalive = false): Promise<Operation | undefined> {
  return (await call<Operation | undefined>("DELETE", v1 + "/tasks/" + id + (series ? "?scope=series" : ""), { keepalive })).data;
}

export async function reminders(id: string): Promise<Alarm[]> {
  return (await call<{ items: Alarm[] }>("GET", v1 + "/tasks/" + id + "/reminders")).data.items;
}

export async function snooze(id: string, reminderId: string, forDuration: string): Promise<Alarm> {
  return (await call<Alarm>("POST", v1 + "/tasks/" + id + "/reminders/" + reminderId + "/snooze", { body: { for: forDuration } })).data;
}

export async function occurrences(id: string, limit = 5): Promise<{ occurrence_date: string; task_id: string | null }[]> {
  return (await call<{ items: { occurrence_date: string; task_id: string | null }[] }>("GET", v1 + "/tasks/" + id + "/occurrences?limit=" + limit)).data.items;
}

export async function operation(id: string): Promise<Operation> {
  return (await call<Operation>("GET", v1 + "/operations/" + id)).data;
}

// The audit log is served by the auditor (config.audit_url).
export async function history(id: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let cursor = "";
  for (let page = 0; page < 20; page++) {
    const url = config.audit_url + v1 + "/audit/tasks/" + id + "?limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const data = (await call<{ items: AuditRecord[]; next_cursor: string | null }>("GET", url)).data;
    out.push(...data.items);
    if (!data.next_cursor) break;
    cursor = data.next_cursor;
  }
  return out;
}

export async function verify(id: string): Promise<Verification> {
  return (await call<Verification>("GET", config.audit_url + v1 + "/audit/tasks/" + id + "/verify")).data;
}

// streamURL is the notifier's stream (config.notifications_url).
export function streamURL(): string {
  return config.notifications_url + v1 + "/notifications/stream";
}

// --- The ops view (tokens with the admin role; others get 403) ---

export async function opsIndex(): Promise<{ admin: boolean; role: string }> {
  return (await call<{ admin: boolean; role: string }>("GET", v1 + "/ops")).data;
}

export async function opsGet<T>(section: "apps" | "reminders" | "operations" | "outbox"): Promise<T> {
  switch (section) {
    case "apps":
      return (await call<T>("GET", v1 + "/ops/apps")).data;
    case "reminders":
      return (await call<T>("GET", v1 + "/ops/reminders?limit=50")).data;
    case "operations":
      return (await call<T>("GET", v1 + "/ops/operations?limit=50")).data;
    case "outbox":
      return (await call<T>("GET", v1 + "/ops/outbox")).data;
  }
}

export async function opsDeadLetters<T>(): Promise<T> {
  return (await call<T>("GET", v1 + "/ops/dead-letters?status=all&limit=50")).data;
}

export async function opsDeadLetter<T>(id: number): Promise<T> {
  return (await call<T>("GET", v1 + "/ops/dead-letters/" + id)).data;
}

export async function opsReplay(id: number): Promise<void> {
  await call("POST", v1 + "/ops/dead-letters/" + id + "/replay");
}

export async function opsRetry(id: string): Promise<void> {
  await call("POST", v1 + "/ops/operations/" + id + "/retry");
}

export async function opsTerminate(id: string): Promise<void> {
  await call("POST", v1 + "/ops/operations/" + id + "/terminate");
}
