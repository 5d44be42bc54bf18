// The ops view (/ops): what operators opened the Dapr dashboard for —
// apps and their sidecars, placement and scheduler, pending reminders,
// series operations with retry and terminate, the outbox and consumer lag,
// and dead letters with inspect and replay. Shown to tokens with the admin
// role; the data is the same JSON as `taskflow ops ...`.

import * as api from "./api";
import { $, clear, h } from "./dom";
import { full, when } from "./format";
import { errorToast, toast } from "./toast";

interface ActorCount { type: string; count: number | null }
interface Sidecar {
  app_id?: string; runtime_version?: string; error?: string; placement?: string; app_protocol?: string;
  components: { name: string; type: string; version: string }[];
  subscriptions: { pubsub: string; topic: string }[];
  actors: ActorCount[];
  scheduler: string[];
}
interface Instance { instance_id: string; host: string; app_version: string; started_at: string; heartbeat_at: string; status: string; sidecar: Sidecar }
interface Apps {
  apps: { app_id: string; up: number; instances: Instance[] }[];
  control_plane: Record<"placement" | "scheduler", { reachable: boolean; detail: string }>;
}
interface Reminders {
  late: number;
  reminders: { kind: string; task_id: string; user_id: string; reminder_type?: string; due_at: string; late_seconds: number; scheduler: string }[];
}
interface Ops {
  operations: { id: string; user_id: string; kind: string; task_id: string; status: string; total: number | null; done: number; error: string | null; updated_at: string; stuck: boolean }[];
}
interface Outbox {
  pending: number; oldest_age_seconds: number; dead_letters_pending: number;
  consumers?: { group: string; state: string; members: number; lag: number; topics: Record<string, number> }[];
  consumers_error?: string;
}
interface DeadLetter {
  id: number; event_id?: string; subscriber: string; topic: string; reason: string; failed_at: string;
  replayed_at: string | null; replayed_by: string | null; message?: unknown; message_base64?: string;
}

let timer = 0;
let root: HTMLElement;

// isOperator asks the API whether this token opens the ops view.
export async function isOperator(): Promise<boolean> {
  try {
    return (await api.opsIndex()).admin;
  } catch {
    return false;
  }
}

// showOps renders the ops view into el and refreshes it every 10 s.
export function showOps(el: HTMLElement): void {
  root = el;
  void refresh();
}

export function stopOps(): void {
  window.clearTimeout(timer);
}

const seconds = (s: number): string => {
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
};

const badge = (text: string, kind: "ok" | "warn" | "bad" | "muted") => h("span", { class: "badge badge-" + kind }, text);

const short = (id: string) => h("code", { title: id }, id.slice(0, 8) + "…" + id.slice(-4));

function section(id: string, title: string, summary: Node | string, ...body: Node[]): HTMLElement {
  return h("section", { class: "ops-section card", id: "ops-" + id, "aria-labelledby": "ops-" + id + "-title" },
    h("header", { class: "ops-head" }, h("h2", { id: "ops-" + id + "-title" }, title), h("span", { class: "muted" }, summary)),
    ...body);
}

function table(head: string[], rows: (Node | null)[][], empty: string): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" }, h("table", { class: "ops-table" },
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { "data-label": head[i] }, c)))))));
}

async function refresh(): Promise<void> {
  window.clearTimeout(timer);
  const [apps, outbox, rem, ops, dls] = await Promise.allSettled([
    api.opsGet<Apps>("apps"), api.opsGet<Outbox>("outbox"), api.opsGet<Reminders>("reminders"),
    api.opsGet<Ops>("operations"), api.opsDeadLetters<{ dead_letters: DeadLetter[] }>(),
  ]);
  const failed = (r: PromiseSettledResult<unknown>, what: string) =>
    r.status === "rejected" ? h("p", { class: "form-error", role: "alert" }, what + " could not be read: " + String((r.reason as Error).message)) : null;
  clear(root);
  root.append(
    h("div", { class: "ops-bar" },
      h("h1", {}, "Operations"),
      h("span", { class: "muted", id: "ops-updated" }, "Updated " + new Date().toLocaleTimeString()),
      h("button", { type: "button", class: "ghost", onclick: () => void refresh() }, "Refresh")),
    apps.status === "fulfilled" ? appsSection(apps.value) : failed(apps, "Apps") ?? "",
    outbox.status === "fulfilled" ? outboxSection(outbox.value) : failed(outbox, "The outbox") ?? "",
    rem.status === "fulfilled" ? remindersSection(rem.value) : failed(rem, "Reminders") ?? "",
    ops.status === "fulfilled" ? operationsSection(ops.value) : failed(ops, "Operations") ?? "",
    dls.status === "fulfilled" ? deadLettersSection(dls.value.dead_letters) : failed(dls, "Dead letters") ?? "",
  );
  timer = window.setTimeout(() => void refresh(), 10_000);
}

function appsSection(v: Apps): HTMLElement {
  const cp = v.control_plane;
  const plane = (name: string, r: { reachable: boolean; detail: string }) =>
    h("span", { class: "plane", title: r.detail }, badge(r.reachable ? "reachable" : "unreachable", r.reachable ? "ok" : "bad"), " ", name);
  const cards = v.apps.map((a) => h("article", { class: "app-card" },
    h("h3", {}, a.app_id, " ", badge(a.up + " up", a.up > 0 ? "ok" : "bad")),
    a.instances.map((i) => {
      const sc = i.sidecar;
      const actors = sc.actors.filter((x) => !x.type.startsWith("dapr.internal."));
      const workflows = sc.actors.some((x) => x.type.endsWith(".workflow"));
      return h("div", { class: "instance" },
        h("div", {}, badge(i.status.replace("_", " "), i.status === "up" ? "ok" : i.status === "stale" ? "warn" : "bad"), " ",
          h("code", {}, i.instance_id), " ", h("span", { class: "muted", title: full(i.heartbeat_at) }, "seen " + seconds((Date.now() - Date.parse(i.heartbeat_at)) / 1000) + " ago")),
        sc.error ? h("p", { class: "form-error" }, sc.error) : h("dl", { class: "facts" },
          h("dt", {}, "Dapr"), h("dd", {}, sc.runtime_version || "?", sc.app_protocol ? " · app over " + sc.app_protocol : ""),
          h("dt", {}, "Components"), h("dd", {}, sc.components.length ? sc.components.map((c) => h("span", { class: "chip", title: c.type + " " + c.version }, c.name)) : "none"),
          h("dt", {}, "Subscriptions"), h("dd", {}, sc.subscriptions.length ? sc.subscriptions.map((s) => h("span", { class: "chip" }, s.topic)) : "none"),
          h("dt", {}, "Actors"), h("dd", {}, actors.length ? actors.map((x) => h("span", { class: "chip" }, x.type + (x.count !== null ? " · " + x.count + " active" : ""))) : "none",
            workflows ? h("span", { class: "chip" }, "workflow engine") : null),
          h("dt", {}, "Build"), h("dd", {}, h("code", {}, i.app_version))));
    })));
  return section("apps", "Apps and sidecars", h("span", {}, plane("placement", cp.placement), " ", plane("scheduler", cp.scheduler)),
    h("div", { class: "app-grid" }, cards));
}

function outboxSection(v: Outbox): HTMLElement {
  const lagging = v.oldest_age_seconds > 5;
  const stats = h("div", { class: "stats" },
    h("div", { class: "stat" }, h("strong", {}, String(v.pending)), h("span", {}, "events waiting in the outbox")),
    h("div", { class: "stat" }, h("strong", { class: lagging ? "warn" : "" }, seconds(v.oldest_age_seconds)), h("span", {}, "age of the oldest")),
    h("div", { class: "stat" }, h("strong", { class: v.dead_letters_pending ? "bad" : "" }, String(v.dead_letters_pending)), h("span", {}, "dead letters to look at")));
  const consumers = v.consumers
    ? table(["Consumer group", "State", "Members", "Lag"], v.consumers.map((c) => [
        h("code", {}, c.group), c.state === "Stable" ? badge(c.state, "ok") : badge(c.state || "?", c.state === "Empty" ? "muted" : "warn"),
        document.createTextNode(String(c.members)), h("span", { class: c.lag > 100 ? "warn" : "" }, String(c.lag)),
      ]), "No consumer groups on the broker.")
    : h("p", { class: "muted" }, v.consumers_error || "");
  return section("outbox", "Outbox and consumers", lagging ? "the broker is behind" : "keeping up", stats, consumers);
}

function remindersSection(v: Reminders): HTMLElement {
  const rows = v.reminders.map((r) => [
    document.createTextNode(r.kind === "series_tick" ? "series tick" : (r.reminder_type || "reminder")),
    short(r.task_id), document.createTextNode(r.user_id),
    h("span", { title: full(r.due_at) }, when(r.due_at)),
    r.late_seconds > 0 ? badge(seconds(r.late_seconds) + " late", "bad") : badge("on time", "muted"),
    badge(r.scheduler, r.scheduler === "held" ? "ok" : r.scheduler === "missing" ? "bad" : "muted"),
  ]);
  return section("reminders", "Pending reminders and series ticks", v.late ? v.late + " late" : "none late",
    table(["Kind", "Task", "User", "Due", "Lateness", "Scheduler"], rows, "Nothing is scheduled."));
}

function operationsSection(v: Ops): HTMLElement {
  const act = (label: string, fn: () => Promise<void>, done: string) => h("button", { type: "button", class: "ghost small", onclick: async () => {
    try {
      await fn();
      toast(done);
      void refresh();
    } catch (err) {
      errorToast(err);
    }
  } }, label);
  const rows = v.operations.map((o) => [
    short(o.id), document.createTextNode(o.kind),
    badge(o.status + (o.stuck ? " (stuck)" : ""), o.status === "completed" ? "ok" : o.status === "failed" || o.stuck ? "bad" : "warn"),
    document.createTextNode(o.done + "/" + (o.total ?? "?")), document.createTextNode(o.user_id),
    h("span", { title: full(o.updated_at) }, when(o.updated_at)),
    o.error ? h("span", { class: "muted" }, o.error) : null,
    o.status === "failed" ? act("Retry", () => api.opsRetry(o.id), "Operation restarted")
      : o.status === "pending" || o.status === "running" ? act("Terminate", () => api.opsTerminate(o.id), "Operation terminated") : null,
  ]);
  const failed = v.operations.filter((o) => o.status === "failed").length;
  const running = v.operations.filter((o) => o.status === "running" || o.status === "pending").length;
  return section("operations", "Series operations (workflows)", running + " running · " + failed + " failed",
    table(["Operation", "Kind", "Status", "Progress", "User", "Updated", "Error", ""], rows, "No series-wide changes yet."));
}

function deadLettersSection(list: DeadLetter[]): HTMLElement {
  const waiting = list.filter((d) => !d.replayed_at).length;
  const rows = list.map((d) => [
    document.createTextNode(String(d.id)), document.createTextNode(d.subscriber),
    h("span", { class: "reason", title: d.reason }, d.reason),
    h("span", { title: full(d.failed_at) }, when(d.failed_at)),
    d.replayed_at ? badge("replayed by " + (d.replayed_by || "?"), "muted") : badge("waiting", "warn"),
    h("span", { class: "inline" },
      h("button", { type: "button", class: "ghost small", onclick: () => void inspect(d.id) }, "Inspect"),
      d.replayed_at || !d.event_id ? null : h("button", { type: "button", class: "ghost small", onclick: async () => {
        try {
          await api.opsReplay(d.id);
          toast("Event put back on task-events");
          void refresh();
        } catch (err) {
          errorToast(err);
        }
      } }, "Replay")),
  ]);
  return section("dead-letters", "Dead letters", waiting + " waiting",
    table(["#", "Subscriber", "Reason", "Failed", "State", ""], rows, "No dead letters. Good."));
}

async function inspect(id: number): Promise<void> {
  try {
    const d = await api.opsDeadLetter<DeadLetter>(id);
    const dlg = $("#confirm") as HTMLDialogElement;
    clear(dlg);
    const body = d.message !== undefined ? JSON.stringify(d.message, null, 2) : "(not JSON; base64) " + (d.message_base64 || "");
    dlg.append(h("form", { method: "dialog", class: "inspect" },
      h("h2", {}, "Dead letter #" + d.id),
      h("p", {}, h("strong", {}, "Reason: "), d.reason),
      h("p", { class: "muted" }, d.subscriber + " on " + d.topic + " · failed " + full(d.failed_at) + (d.event_id ? " · event " + d.event_id : "")),
      h("pre", { class: "json" }, body),
      h("div", { class: "actions" }, h("button", { class: "primary" }, "Close"))));
    dlg.showModal();
  } catch (err) {
    errorToast(err);
  }
}
