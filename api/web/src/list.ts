// The task list: a view (Today, Upcoming, ...) with the API's filters on
// top, loaded a page at a time as the reader scrolls (the API's cursor),
// and kept up to date by the live stream.

import * as api from "./api";
import { $, clear, h, uid } from "./dom";
import { when } from "./format";
import { describe } from "./recur";
import type { Counts, Task } from "./types";

export type ViewID = "today" | "upcoming" | "overdue" | "all" | "completed" | "series";

export const views: { id: ViewID; label: string; count: keyof Counts }[] = [
  { id: "today", label: "Today", count: "today" },
  { id: "upcoming", label: "Upcoming", count: "upcoming" },
  { id: "overdue", label: "Overdue", count: "overdue" },
  { id: "all", label: "All", count: "open" },
  { id: "completed", label: "Completed", count: "completed" },
  { id: "series", label: "Recurring", count: "series" },
];

export interface Filters {
  status: "open" | "completed" | "all";
  priority: string;
  tag: string;
  dueAfter: string; // local dates
  dueBefore: string;
  q: string;
  sort: "" | "created_at" | "due_date" | "priority" | "title";
  order: "" | "asc" | "desc";
}

export const noFilters: Filters = { status: "open", priority: "", tag: "", dueAfter: "", dueBefore: "", q: "", sort: "", order: "" };

// Actions are what a row can ask the app to do.
export interface RowActions {
  edit(t: Task): void;
  history(t: Task): void;
  remove(t: Task): void;
  toggle(t: Task, done: boolean): void;
}

export class TaskList {
  view: ViewID = "today";
  filters: Filters = { ...noFilters };
  private tasks = new Map<string, Task>();
  private order: string[] = [];
  private cursor: string | null = null;
  private loading: AbortController | null = null;
  private day = { start: new Date(), end: new Date() };
  private observer: IntersectionObserver;
  private list = $("#tasks");
  private sentinel = $("#more");
  private empty = $("#empty");

  constructor(private actions: RowActions, private onLoaded: () => void = () => {}) {
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void this.more();
    }, { rootMargin: "400px" });
    this.observer.observe(this.sentinel);
    this.setDay();
  }

  // setDay takes today's bounds from the API's counts (the client's zone).
  setDay(start?: string, end?: string): void {
    const now = new Date();
    this.day.start = start ? new Date(start) : new Date(now.getFullYear(), now.getMonth(), now.getDate());
    this.day.end = end ? new Date(end) : new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  }

  // params are the list query of the view and the filters.
  params(): api.ListParams {
    const f = this.filters;
    const p: api.ListParams = { series: "false", status: "open", limit: 50 };
    const ms1 = (d: Date) => new Date(d.getTime() - 1).toISOString();
    switch (this.view) {
      case "today":
        Object.assign(p, { due_after: ms1(this.day.start), due_before: this.day.end.toISOString(), sort: "due_date" });
        break;
      case "upcoming":
        Object.assign(p, { due_after: ms1(this.day.end), sort: "due_date" });
        break;
      case "overdue":
        Object.assign(p, { due_before: new Date().toISOString(), sort: "due_date" });
        break;
      case "all":
        p.status = f.status;
        break;
      case "completed":
        p.status = "completed";
        break;
      case "series":
        Object.assign(p, { series: "true", status: "all", sort: "title" });
        break;
    }
    if (f.priority) p.priority = f.priority;
    if (f.tag) p.tag = f.tag;
    if (f.q) p.q = f.q;
    if (f.dueAfter) p.due_after = new Date(f.dueAfter + "T00:00").toISOString();
    if (f.dueBefore) p.due_before = new Date(f.dueBefore + "T23:59:59").toISOString();
    if (f.sort) p.sort = f.sort;
    if (f.order) p.order = f.order;
    return p;
  }

  async reload(): Promise<void> {
    this.loading?.abort();
    this.tasks.clear();
    this.order = [];
    this.cursor = null;
    clear(this.list);
    this.list.setAttribute("aria-busy", "true");
    await this.fetch(undefined);
  }

  private async more(): Promise<void> {
    if (this.cursor && !this.loading) await this.fetch(this.cursor);
  }

  private async fetch(cursor: string | undefined): Promise<void> {
    const abort = new AbortController();
    this.loading = abort;
    let failed = false;
    try {
      const page = await api.listTasks({ ...this.params(), cursor }, abort.signal);
      for (const t of page.items) {
        // A live event may have put it in the list already: replace it there.
        const old = this.list.querySelector(`[data-id="${t.id}"]`);
        this.tasks.set(t.id, t);
        if (old) {
          old.replaceWith(this.row(t));
          continue;
        }
        if (!this.order.includes(t.id)) this.order.push(t.id);
        this.list.append(this.row(t));
      }
      this.cursor = page.next_cursor;
    } catch (err) {
      if ((err as Error).name !== "AbortError") {
        failed = true;
        throw err;
      }
    } finally {
      const current = this.loading === abort;
      if (current) this.loading = null;
      this.list.removeAttribute("aria-busy");
      this.empty.hidden = this.order.length > 0;
      this.sentinel.hidden = !this.cursor;
      this.onLoaded();
      // A page that failed is asked for again a little later, if the
      // sentinel is still in view then.
      if (current) {
        if (failed) setTimeout(() => this.rearm(), 2000);
        else this.rearm();
      }
    }
  }

  // rearm has the observer report the sentinel afresh. An observer reports
  // changes only: when a page arrives while the sentinel stays in view (a
  // short page, or a person holding the list at its end), nothing would
  // ask for the next one.
  private rearm(): void {
    this.observer.unobserve(this.sentinel);
    if (this.cursor) this.observer.observe(this.sentinel);
  }

  get(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  // apply takes a change from the stream (or from this tab's own calls).
  apply(t: Task | null, id: string): void {
    const present = this.tasks.has(id);
    if (!t) {
      if (present) this.drop(id);
      return;
    }
    // A task completed or reopened where it is listed stays, struck
    // through or not, until the next reload.
    if (present && this.matches({ ...t, completed: !t.completed })) {
      this.put(t);
      return;
    }
    if (this.matches(t)) this.put(t);
    else if (present) this.drop(id);
  }

  private put(t: Task): void {
    const el = this.row(t);
    const old = this.list.querySelector(`[data-id="${t.id}"]`);
    this.tasks.set(t.id, t);
    if (old) {
      old.replaceWith(el);
      return;
    }
    // A new one goes where the order puts it among those loaded.
    const i = this.order.findIndex((id) => this.before(t, this.tasks.get(id)!));
    if (i < 0) {
      if (this.cursor) {
        this.tasks.delete(t.id); // beyond what is loaded: it comes with its page
        return;
      }
      this.order.push(t.id);
      this.list.append(el);
    } else {
      const next = this.list.querySelector(`[data-id="${this.order[i]}"]`);
      this.order.splice(i, 0, t.id);
      this.list.insertBefore(el, next);
    }
    this.empty.hidden = true;
  }

  drop(id: string): void {
    this.tasks.delete(id);
    this.order = this.order.filter((x) => x !== id);
    this.list.querySelector(`[data-id="${id}"]`)?.remove();
    this.empty.hidden = this.order.length > 0;
  }

  // before reports whether a comes before b in the list's order.
  private before(a: Task, b: Task): boolean {
    const p = this.params();
    const sort = p.sort ?? "created_at";
    const desc = p.order ? p.order === "desc" : sort === "created_at" || sort === "priority";
    const rank = { none: 0, low: 1, medium: 2, high: 3 };
    let c: number;
    switch (sort) {
      case "due_date":
        if (!a.due_date || !b.due_date) c = a.due_date ? -1 : b.due_date ? 1 : 0;
        else c = a.due_date < b.due_date ? -1 : a.due_date > b.due_date ? 1 : 0;
        if (!a.due_date || !b.due_date) return c < 0; // no date last, both ways
        break;
      case "priority":
        c = rank[a.priority] - rank[b.priority];
        break;
      case "title":
        c = a.title.toLowerCase().localeCompare(b.title.toLowerCase());
        break;
      default:
        c = a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0;
    }
    if (c === 0) c = a.id < b.id ? -1 : 1;
    return desc ? c > 0 : c < 0;
  }

  // matches says whether the view and filters would list t.
  matches(t: Task): boolean {
    const p = this.params();
    if (p.series === "true" && !t.recurrence_pattern) return false;
    if (p.series === "false" && t.recurrence_pattern) return false;
    if (p.status === "open" && t.completed) return false;
    if (p.status === "completed" && !t.completed) return false;
    const due = t.due_date ? new Date(t.due_date).getTime() : null;
    if (p.due_after && (due === null || due <= new Date(p.due_after).getTime())) return false;
    if (p.due_before && (due === null || due >= new Date(p.due_before).getTime())) return false;
    if (p.priority && !p.priority.split(",").includes(t.priority)) return false;
    if (p.tag && !p.tag.split(",").every((x) => t.tags.includes(x.trim().toLowerCase()))) return false;
    if (p.q && !(t.title + " " + t.description).toLowerCase().includes(p.q.toLowerCase())) return false;
    return true;
  }

  private row(t: Task): HTMLLIElement {
    const now = Date.now();
    const due = t.due_date ? new Date(t.due_date).getTime() : null;
    const overdue = !t.completed && due !== null && due < now;
    const today = due !== null && due >= this.day.start.getTime() && due < this.day.end.getTime();
    const classes = ["task"];
    if (t.completed) classes.push("done");
    if (overdue) classes.push("overdue");
    else if (today && !t.completed) classes.push("today");
    const titleId = uid("title");
    const meta = [
      t.due_date && h("span", { class: "due" }, overdue ? "Overdue · " : "", when(t.due_date)),
      t.priority !== "none" && h("span", { class: "prio prio-" + t.priority }, t.priority),
      ...t.tags.map((tag) => h("span", { class: "tag" }, "#" + tag)),
      t.recurrence_pattern && h("span", { class: "recur", title: t.recurrence_pattern }, "↻ ", describe(t.recurrence_pattern), t.completed ? " (paused)" : ""),
      t.parent_recurring_task_id && h("span", { class: "recur" }, "↻ instance"),
      t.reminders.length > 0 && h("span", { class: "bell", title: "reminders: " + t.reminder_status },
        t.reminders.length === 1 ? "1 reminder" : t.reminders.length + " reminders", t.reminder_status === "sent" ? " (sent)" : ""),
    ];
    return h(
      "li",
      { class: classes.join(" "), "data-id": t.id, "aria-labelledby": titleId },
      h("input", {
        type: "checkbox",
        class: "check",
        "aria-label": (t.completed ? "Reopen " : "Complete ") + t.title,
        checked: t.completed,
        onchange: (e: Event) => this.actions.toggle(t, (e.target as HTMLInputElement).checked),
      }),
      h(
        "div",
        { class: "main" },
        h("button", { type: "button", class: "title", id: titleId, onclick: () => this.actions.edit(t) }, t.title),
        t.description && h("div", { class: "desc" }, t.description.length > 140 ? t.description.slice(0, 140) + "…" : t.description),
        h("div", { class: "meta" }, ...meta),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "ghost", "aria-label": "Edit " + t.title, onclick: () => this.actions.edit(t) }, "Edit"),
        h("button", { type: "button", class: "ghost", "aria-label": "History of " + t.title, onclick: () => this.actions.history(t) }, "History"),
        h("button", { type: "button", class: "ghost danger", "aria-label": "Delete " + t.title, onclick: () => this.actions.remove(t) }, "Delete"),
      ),
    );
  }
}
