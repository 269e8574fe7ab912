"use strict";
// The migrations page (with the dependency graph and a run button) and the runs page (history,
// filters, a chart per migration).

(() => {
  const { h, api, number, seconds, when, badge, table, link, show, fill, problem, pages } = ferry;

  /** The counts of a run's first migration, from its report. */
  function counts(run) {
    const m = run.report && run.report.migrations && run.report.migrations[0];
    return m || {};
  }

  function duration(run) {
    const m = counts(run);
    if (m.seconds !== undefined) return m.seconds;
    const end = run.finished_at ? new Date(run.finished_at) : new Date();
    return (end - new Date(run.started_at)) / 1000;
  }

  async function startRun(name, message) {
    fill(message, "Starting " + name + "…");
    const answer = await api("/migrations/" + encodeURIComponent(name) + "/runs?wait=false", { method: "POST" });
    if (answer.status === 202) {
      location.hash = "#/run/" + encodeURIComponent(answer.body.run_id);
    } else if (answer.status === 409 && answer.body.running_run_id) {
      fill(message, answer.body.error + " ", link("/run/" + encodeURIComponent(answer.body.running_run_id), "Follow that run"));
    } else {
      fill(message, problem(answer.body.error || "The server answered " + answer.status));
    }
  }

  pages.migrations = async ({ migrations, current }) => {
    const runs = (await api("/runs?limit=300")).body;
    if (!current()) return;
    const last = new Map();
    for (const run of Array.isArray(runs) ? runs : []) if (!last.has(run.migration)) last.set(run.migration, run);
    const message = h("div", { role: "status", "aria-live": "polite", className: "message" });
    const rows = migrations.map((m) => {
      const run = last.get(m.name);
      const c = run ? counts(run) : {};
      return [
        h("strong", {}, m.name),
        h("span", { className: "endpoints" }, m.source, " → ", m.target, m.table ? " · " + m.table : ""),
        m.mode,
        (m.depends_on || []).join(", ") || "–",
        m.running_run_id ? h("span", {}, badge("running"), " ", link("/run/" + encodeURIComponent(m.running_run_id), "follow"))
          : run ? h("span", {}, badge(run.status), " ", link("/run/" + encodeURIComponent(run.id), when(run.started_at))) : "never run",
        run ? number(c.rows_loaded) : "–",
        run ? number(c.rows_rejected) : "–",
        run ? seconds(duration(run)) : "–",
        h("span", { className: "actions" },
          h("button", { type: "button", "aria-label": "Run " + m.name, onclick: () => startRun(m.name, message) }, "Run"),
          link("/runs?migration=" + encodeURIComponent(m.name), "Runs", { "aria-label": "Runs of " + m.name }),
          m.mode === "copy" ? null : link("/rejects/" + encodeURIComponent(m.name), "Rejects", { "aria-label": "Rejects of " + m.name })),
      ];
    });
    show(
      h("h2", {}, "Migrations"),
      h("figure", { className: "graph" }, ferryCharts.dependencies(migrations), h("figcaption", {}, "Run order: an arrow points from a migration to one that waits for it.")),
      message,
      table("The job's migrations and their last run",
        ["Migration", "Source → target", "Mode", "Depends on", "Last run", "Loaded", "Rejected", "Duration", ""], rows,
        { empty: "The job defines no migrations." }));
  };

  pages.runs = async ({ migrations, params, current }) => {
    const migration = params.get("migration") || "";
    const status = params.get("status") || "";
    const query = new URLSearchParams({ limit: "200" });
    if (migration) query.set("migration", migration);
    if (status) query.set("status", status);
    const answer = await api("/runs?" + query.toString());
    if (!current()) return;
    if (answer.status !== 200) return show(problem(answer.body.error || "The server answered " + answer.status));
    const runs = answer.body;
    const filter = () => {
      const next = new URLSearchParams();
      if (pick.value) next.set("migration", pick.value);
      if (state.value) next.set("status", state.value);
      location.hash = "#/runs" + (next.toString() ? "?" + next.toString() : "");
    };
    const pick = h("select", { id: "filter-migration", onchange: filter },
      h("option", { value: "" }, "all migrations"),
      migrations.map((m) => h("option", { value: m.name, selected: m.name === migration }, m.name)));
    const state = h("select", { id: "filter-status", onchange: filter },
      ["", "running", "succeeded", "failed", "interrupted"].map((s) => h("option", { value: s, selected: s === status }, s || "any status")));
    const chart = migration ? ferryCharts.history(runs) : null;
    const rows = runs.map((run) => {
      const c = counts(run);
      return [link("/run/" + encodeURIComponent(run.id), run.id), run.migration, badge(run.status), when(run.started_at),
        seconds(duration(run)), number(run.rows_read), number(c.rows_loaded), number(c.rows_rejected)];
    });
    show(
      h("h2", {}, migration ? "Runs of " + migration : "Runs"),
      h("form", { className: "filters", onsubmit: (e) => e.preventDefault() },
        h("label", { for: "filter-migration" }, "Migration"), pick,
        h("label", { for: "filter-status" }, "Status"), state),
      chart ? h("figure", { className: "history" }, chart, h("figcaption", {}, "Rows loaded (bars) and duration (line) per run of " + migration + ", oldest on the left.")) : null,
      table("Runs, newest first", ["Run", "Migration", "Status", "Started", "Duration", "Read", "Loaded", "Rejected"], rows,
        { empty: "No runs match." }));
    // While runs go on, the list refreshes, unless the user is working in the page.
    if (runs.some((run) => run.status === "running")) {
      setTimeout(() => current() && !document.getElementById("main").contains(document.activeElement) && ferry.route(), 2000);
    }
  };
})();
