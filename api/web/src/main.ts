// TaskFlow's web app: signs in, lists and edits tasks, and keeps every
// open tab live through the notifier's stream.

import * as api from "./api";
import { ApiError } from "./api";
import { $, clear, h } from "./dom";
import { Editor, followOperation } from "./editor";
import { full, when } from "./format";
import { openHistory } from "./history";
import { describe } from "./recur";
import { isOperator, showOps, stopOps } from "./ops";
import { noFilters, TaskList, type ViewID, views } from "./list";
import { Stream, type StreamEvent } from "./stream";
import { errorToast, toast } from "./toast";
import type { Counts, Operation, Task, TaskEvent } from "./types";

let list: TaskList;
let editor: Editor;
let stream: Stream | null = null;
let countsTimer = 0;
const pendingDeletes = new Map<string, () => void>();

async function main(): Promise<void> {
  try {
    await api.loadConfig();
  } catch (err) {
    $("#boot-error").hidden = false;
    $("#boot-error").textContent = "TaskFlow's API cannot be reached: " + String((err as Error).message);
    return;
  }
  // A token from an identity provider's redirect arrives in the fragment
  // (#access_token=...), which browsers never send to servers.
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get("access_token")) {
    api.setToken(frag.get("access_token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  api.setOnUnauthorized(() => signOut("Your session has ended; sign in again."));
  if (api.token()) start();
  else showSignIn();
}

function showSignIn(message = ""): void {
  $("#app").hidden = true;
  const box = $("#signin");
  box.hidden = false;
  clear(box);
  const err = h("p", { class: "form-error", role: "alert", hidden: !message }, message);
  const fail = (e: unknown) => {
    err.hidden = false;
    err.textContent = String((e as Error).message || e);
  };
  const dev = api.config.dev_sign_in
    ? h("form", { class: "card", id: "dev-signin", onsubmit: async (e: Event) => {
        e.preventDefault();
        const user = (($("#dev-user", box) as HTMLInputElement).value || "").trim();
        try {
          api.setToken(await api.devToken(user));
          start();
        } catch (e) {
          fail(e);
        }
      } },
      h("h2", {}, "Development sign-in"),
      h("p", { class: "muted" }, "This server signs tokens with the public development secret: sign in as anyone."),
      h("label", { for: "dev-user" }, "Sign in as"),
      h("div", { class: "inline" }, h("input", { id: "dev-user", type: "text", required: true, autocomplete: "username", placeholder: "alice" }),
        h("button", { type: "submit", class: "primary" }, "Sign in")))
    : null;
  const paste = h("form", { class: "card", id: "token-signin", onsubmit: async (e: Event) => {
      e.preventDefault();
      const t = (($("#token-input", box) as HTMLTextAreaElement).value || "").trim();
      if (!t) return fail("Paste a token first.");
      api.setToken(t);
      try {
        await api.counts();
        start();
      } catch (e) {
        api.setToken(null);
        fail(e instanceof ApiError && e.status === 401 ? "That token is not accepted (expired, or not for this server)." : e);
      }
    } },
    h("h2", {}, "Sign in with a token"),
    h("p", { class: "muted" }, "Paste an access token from your identity provider (or ", h("code", {}, "taskflow token --user you"), "). It stays in this tab only."),
    h("label", { for: "token-input" }, "Access token"),
    h("textarea", { id: "token-input", rows: 3, spellcheck: false, autocomplete: "off" }),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  box.append(h("h1", {}, "TaskFlow"), err, dev, paste);
  ($(dev ? "#dev-user" : "#token-input", box) as HTMLElement).focus();
}

function signOut(message = ""): void {
  stopOps();
  stream?.stop();
  stream = null;
  api.setToken(null);
  showSignIn(message);
}

function start(): void {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#who").textContent = api.tokenUser(api.token() ?? "");
  if (location.pathname === "/ops") {
    startOps();
    return;
  }
  void isOperator().then((ok) => { $("#ops-link").hidden = !ok; });
  list ??= new TaskList({ edit: (t) => editor.open(t), history: (t) => void openHistory(t).catch(errorToast), remove, toggle });
  editor ??= new Editor((t) => {
    list.apply(t, t.id);
    refreshCounts();
  });
  renderViews();
  wire();
  void list.reload().catch(errorToast);
  refreshCounts(0);
  stream = new Stream(onEvent, (state, detail) => {
    const el = $("#conn");
    el.dataset.state = state;
    el.textContent = state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
    el.title = detail ?? "";
  });
  stream.start();
}

// startOps shows the ops view instead of the tasks (the page at /ops).
function startOps(): void {
  document.title = "Operations · TaskFlow";
  $("#views").hidden = true;
  $("#tasks-main").hidden = true;
  $("#tasks-link").hidden = false;
  $("#conn").hidden = true;
  $("#signout").onclick = () => signOut();
  const el = $("#ops");
  el.hidden = false;
  void isOperator().then((ok) => {
    if (ok) showOps(el);
    else {
      clear(el);
      el.append(h("h1", {}, "Operations"),
        h("p", { class: "form-error", role: "alert" }, "This page is for operators: your token does not carry the admin role."),
        h("p", {}, h("a", { href: "/" }, "Back to your tasks")));
    }
  });
}

let wired = false;
function wire(): void {
  if (wired) return;
  wired = true;
  $("#signout").addEventListener("click", () => signOut());
  wireQuickAdd();
  $("#details").addEventListener("click", () => editor.open(null, ($("#quick-title") as HTMLInputElement).value.trim()));
  const filters = $("#filters") as HTMLFormElement;
  filters.addEventListener("submit", (e) => e.preventDefault());
  let timer = 0;
  filters.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(applyFilters, 250);
  });
  filters.addEventListener("reset", () => window.setTimeout(applyFilters, 0));
  $("#notify").addEventListener("click", async () => {
    const r = await Notification.requestPermission();
    $("#notify").hidden = r !== "default";
    toast(r === "granted" ? "Reminders will also show as notifications." : "Notifications stay off; reminders show here.");
  });
  $("#notify").hidden = !("Notification" in window) || Notification.permission !== "default";
  document.addEventListener("keydown", (e) => {
    const target = e.target as HTMLElement;
    const drawer = $("#history") as HTMLDialogElement;
    if (e.key === "Escape" && drawer.open && !drawer.matches(":modal")) {
      drawer.close();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || target.closest("input, textarea, select, dialog")) return;
    if (e.key === "n") {
      e.preventDefault();
      $("#quick-title").focus();
    } else if (e.key === "/") {
      e.preventDefault();
      (filters.elements.namedItem("q") as HTMLInputElement).focus();
    } else if (/^[1-6]$/.test(e.key)) {
      setView(views[Number(e.key) - 1].id);
    }
  });
  // A delete still waiting for its undo is sent before the tab goes away.
  addEventListener("pagehide", () => pendingDeletes.forEach((send) => send()));
}

function applyFilters(): void {
  const f = $("#filters") as HTMLFormElement;
  const v = (n: string) => ((f.elements.namedItem(n) as HTMLInputElement | null)?.value ?? "").trim();
  list.filters = {
    ...noFilters,
    status: (v("status") || "open") as typeof noFilters.status,
    priority: v("priority"),
    tag: v("tag").replace(/^#/, "").toLowerCase(),
    dueAfter: v("due_after"),
    dueBefore: v("due_before"),
    q: v("q"),
    sort: v("sort") as typeof noFilters.sort,
    order: v("order") as typeof noFilters.order,
  };
  void list.reload().catch(errorToast);
}

// renderViews draws the view buttons once, then updates them in place
// (re-creating them would take the keyboard focus away).
function renderViews(counts?: Counts): void {
  const nav = $("#views");
  if (!nav.childElementCount) {
    nav.append(...views.map((v, i) =>
      h("button", { type: "button", class: "view", "data-view": v.id, title: "Shortcut: " + (i + 1), onclick: () => setView(v.id) },
        h("span", {}, v.label), h("span", { class: "count", "data-count": v.id }))));
  }
  for (const v of views) {
    const btn = $(`[data-view="${v.id}"]`, nav);
    const active = list.view === v.id;
    btn.classList.toggle("active", active);
    if (active) btn.setAttribute("aria-current", "page");
    else btn.removeAttribute("aria-current");
    if (counts) $(`[data-count="${v.id}"]`, nav).textContent = String(counts[v.count]);
  }
  const status = $("#status-filter") as HTMLSelectElement;
  status.disabled = list.view !== "all";
}

function setView(id: ViewID): void {
  list.view = id;
  renderViews(lastCounts);
  $("#view-title").textContent = views.find((v) => v.id === id)!.label;
  void list.reload().catch(errorToast);
}

let lastCounts: Counts | undefined;
function refreshCounts(delay = 300): void {
  window.clearTimeout(countsTimer);
  countsTimer = window.setTimeout(async () => {
    try {
      const c = await api.counts();
      lastCounts = c.counts;
      list.setDay(c.day_start, c.day_end);
      renderViews(c.counts);
    } catch {
      // the next change retries
    }
  }, delay);
}

function onEvent(ev: StreamEvent): void {
  if (ev.type === "resync") {
    void list.reload().catch(errorToast);
    refreshCounts();
    return;
  }
  let e: TaskEvent;
  try {
    e = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (pendingDeletes.has(e.task_id) && e.event_type !== "task.deleted") return;
  switch (e.event_type) {
    case "task.deleted":
      list.apply(null, e.task_id);
      break;
    case "task.reminder.triggered":
      list.apply(e.task, e.task_id);
      remind(e);
      break;
    default:
      if (e.task) list.apply(e.task, e.task_id);
  }
  refreshCounts();
}

// remind shows a reminder that fired: a toast with snooze, and a browser
// notification when the person allowed them.
function remind(e: TaskEvent): void {
  const t = e.task;
  const due = t.due_date ? " (due " + when(t.due_date) + ")" : "";
  const snooze = async () => {
    try {
      const a = await api.snooze(t.id, e.reminder!.reminder_id, "10m");
      toast("Snoozed until " + when(a.trigger_at));
    } catch (err) {
      errorToast(err);
    }
  };
  const tt = toast(h("span", {}, "Reminder: ", h("strong", {}, t.title), due), {
    kind: "reminder",
    timeoutMs: 60_000,
    actions: [{ label: "Snooze 10 min", run: snooze }, { label: "Open", run: () => editor.open(t) }],
  });
  tt.el.dataset.task = t.id;
  if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
    const n = new Notification("Reminder: " + t.title, { body: due.trim(), tag: e.event_id });
    n.onclick = () => {
      window.focus();
      editor.open(t);
    };
  }
}

async function toggle(t: Task, done: boolean): Promise<void> {
  try {
    const next = await api.complete(t.id, done);
    list.apply(next, next.id);
    refreshCounts();
  } catch (err) {
    list.apply(t, t.id);
    errorToast(err);
  }
}

// remove deletes with undo: the task leaves the list at once, and the
// delete is sent when the undo toast is gone (or the tab closes).
function remove(t: Task): void {
  const seriesLike = t.recurrence_pattern || t.parent_recurring_task_id;
  if (seriesLike) {
    void confirmSeriesDelete(t);
    return;
  }
  list.drop(t.id);
  let sent = false;
  const send = () => {
    if (sent) return;
    sent = true;
    pendingDeletes.delete(t.id);
    api.deleteTask(t.id, false, true).then(() => refreshCounts(), (err) => {
      if (!(err instanceof ApiError && err.status === 404)) {
        list.apply(t, t.id);
        errorToast(err);
      }
    });
  };
  pendingDeletes.set(t.id, send);
  toast(h("span", {}, "Deleted “", t.title, "”"), {
    timeoutMs: 5000,
    onTimeout: send,
    actions: [{ label: "Undo", run: () => { sent = true; pendingDeletes.delete(t.id); list.apply(t, t.id); } }],
  });
}

async function confirmSeriesDelete(t: Task): Promise<void> {
  const dialog = $("#confirm") as HTMLDialogElement;
  clear(dialog);
  const isSeries = !!t.recurrence_pattern;
  const seriesID = t.parent_recurring_task_id ?? t.id;
  const choose = async (scope: "task" | "series") => {
    dialog.close();
    try {
      if (scope === "series") {
        const op = (await api.deleteTask(seriesID, true)) as Operation;
        await followOperation(op, "Deleting the series");
        void list.reload();
      } else {
        await api.deleteTask(t.id);
        list.drop(t.id);
        toast("Deleted “" + t.title + "”");
      }
      refreshCounts();
    } catch (err) {
      errorToast(err);
    }
  };
  dialog.append(
    h("h2", {}, "Delete “", t.title, "”?"),
    h("p", {}, isSeries ? "This is a recurring series." : "This task is one occurrence of a recurring series."),
    h("div", { class: "choices" },
      h("button", { type: "button", class: "ghost", onclick: () => choose("task") }, isSeries ? "Stop the series, keep its tasks" : "Delete this one"),
      h("button", { type: "button", class: "danger", onclick: () => choose("series") }, isSeries ? "Delete the series and its open tasks" : "Delete the whole series"),
      h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, "Cancel")),
  );
  dialog.showModal();
}

void main();

// The quick-add box reads what is typed as it is typed (POST
// /api/v1/tasks/parse) and shows what the task will be: its title, due
// date, recurrence, reminders, priority and tags. Enter creates exactly
// that. Text in which nothing is recognised is a plain title; in Today it
// is due at the end of the working day.
function wireQuickAdd(): void {
  const input = $("#quick-title") as HTMLInputElement;
  const preview = $("#quick-preview");
  const error = $("#quick-error");
  let parsed: { text: string; result: api.Parsed } | null = null;
  let pending: AbortController | null = null;
  let timer = 0;
  const showError = (msg: string) => {
    error.hidden = false;
    error.textContent = msg;
    input.setAttribute("aria-invalid", "true");
  };
  const hideError = () => {
    error.hidden = true;
    input.removeAttribute("aria-invalid");
  };
  const render = (r: api.Parsed | null) => {
    clear(preview);
    preview.hidden = !r || r.spans.length === 0;
    if (!r || r.spans.length === 0) return;
    const chips: (HTMLElement | string)[] = [h("span", { class: "qa-title" }, r.title)];
    if (r.due_date) chips.push(h("span", { class: "chip qa-due", title: "Due" }, "Due " + when(r.due_date)));
    if (r.recurrence_pattern) chips.push(h("span", { class: "chip qa-repeat", title: r.recurrence_pattern }, "↻ " + describe(r.recurrence_pattern)));
    if (r.recurrence_end_date) chips.push(h("span", { class: "chip" }, "until " + full(r.recurrence_end_date)));
    for (const rem of r.reminders) chips.push(h("span", { class: "chip qa-reminder" }, "Reminder " + rem + " before"));
    if (r.priority !== "none") chips.push(h("span", { class: "chip prio-" + r.priority }, r.priority + " priority"));
    for (const tag of r.tags) chips.push(h("span", { class: "chip tag" }, "#" + tag));
    preview.append(h("span", { class: "visually-hidden" }, "Will create: "), ...chips);
  };
  const read = async () => {
    const text = input.value.trim();
    pending?.abort();
    if (!text) {
      parsed = null;
      render(null);
      return;
    }
    const ctl = new AbortController();
    pending = ctl;
    try {
      const r = await api.parseText(text, ctl.signal);
      if (ctl.signal.aborted) return;
      parsed = { text, result: r };
      render(r);
      if (!r.valid && r.errors.length) showError(r.errors[0].message);
      else hideError();
    } catch (err) {
      if (ctl.signal.aborted) return;
      parsed = null;
      render(null);
      if (err instanceof ApiError && err.field("text")) showError(err.field("text")!);
    }
  };
  input.addEventListener("input", () => {
    hideError();
    window.clearTimeout(timer);
    timer = window.setTimeout(read, 150);
  });
  $("#quickadd").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    window.clearTimeout(timer);
    if (!parsed || parsed.text !== text) await read();
    try {
      let t: Task;
      if (parsed && parsed.text === text && parsed.result.spans.length > 0) {
        t = await api.createFromText(text);
      } else {
        const body: { title: string; due_date?: string } = { title: text };
        // In Today, a quick task is due today (at the end of the working day).
        if (list.view === "today") {
          const d = new Date();
          d.setHours(Math.max(d.getHours() + 1, 18), 0, 0, 0);
          if (d.getDate() === new Date().getDate()) body.due_date = d.toISOString();
        }
        t = await api.createTask(body);
      }
      input.value = "";
      parsed = null;
      render(null);
      list.apply(t, t.id);
      refreshCounts();
    } catch (err) {
      if (err instanceof ApiError && (err.field("text") || err.field("title"))) {
        showError((err.field("text") || err.field("title"))!);
      } else errorToast(err);
    }
  });
}
