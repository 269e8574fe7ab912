"use strict";
// One run (live progress, then its report: counts, checks with their failing rows, the
// reconciliation, the watermark, the error) and a migration's rejects (per reason, paged rows).

(() => {
  const { h, api, number, seconds, when, badge, table, link, show, fill, problem, pages } = ferry;

  const PAGE = 25;

  function item(term, ...value) {
    return [h("dt", {}, term), h("dd", {}, ...value)];
  }

  function checks(m) {
    if (!m.checks || !m.checks.length) return h("p", {}, "No checks.");
    const rows = m.checks.map((c) => [c.name, c.type, c.severity, badge(c.status), number(c.failing), number(c.allowed),
      number(c.checked_rows), c.detail || ""]);
    const samples = m.checks.filter((c) => c.sample && c.sample.length).map((c) =>
      h("details", { className: "sample" },
        h("summary", {}, `Failing rows of “${c.name}” (${c.sample.length} of ${number(c.failing)})`),
        table("Failing rows of " + c.name, c.sample_columns, c.sample.map((row) => row.map((v) => (v === null ? "NULL" : v))))));
    return [table("Checks of " + m.name, ["Check", "Type", "Severity", "Status", "Failing", "Allowed", "Checked", "Detail"], rows), samples];
  }

  function reconciliation(r) {
    if (!r) return h("p", {}, "Not reconciled (the migration did not publish).");
    return h("dl", { className: "facts" },
      item("Status", badge(r.status)),
      item("Rows sent / in target", number(r.rows_sent) + " / " + number(r.rows_in_target)),
      item("Columns compared", number(r.columns_compared)),
      r.columns_differing && r.columns_differing.length ? item("Columns differing", r.columns_differing.join(", ")) : null,
      r.method ? item("Method", r.method.replace("_", " ")) : null,
      r.detail ? item("Detail", r.detail) : null);
  }

  function migration(m) {
    const rejects = Object.entries(m.rejects || {});
    return h("section", { className: "migration", "aria-labelledby": "m-" + m.name },
      h("h3", { id: "m-" + m.name }, m.name, " ", badge(m.status)),
      h("p", { className: "equation" }, "Read ", h("strong", {}, number(m.rows_read)), " = loaded ", h("strong", {}, number(m.rows_loaded)),
        " + rejected ", h("strong", {}, number(m.rows_rejected)), " + filtered ", h("strong", {}, number(m.rows_filtered))),
      h("dl", { className: "facts" },
        item("Source → target", m.source + " → " + m.target + " · " + m.table),
        item("Mode / publish", m.mode + " / " + m.publish + (m.publish_method ? " (" + m.publish_method + ")" : "")),
        m.publish_note ? item("Publish note", m.publish_note) : null,
        item("Duration", seconds(m.seconds) + " · " + number(Math.round(m.rows_per_second || 0)) + " rows/s"),
        m.publish === "merge" ? item("Inserted / updated / unchanged", [m.rows_inserted, m.rows_updated, m.rows_unchanged].map(number).join(" / ")) : null,
        m.cursor ? item("Watermark (" + m.cursor + ")", (m.watermark_before || "none") + " → " + (m.watermark_after || "none")) : null,
        m.rows_null_cursor ? item("Rows with a NULL cursor", number(m.rows_null_cursor)) : null,
        m.retried && m.retried.length ? item("Retried after", m.retried.join("; ")) : null,
        m.error ? item("Error", h("span", { className: "problem" }, m.error)) : null),
      rejects.length ? h("div", {}, h("h4", {}, "Rejects by reason"), h("ul", {}, rejects.map(([reason, count]) =>
        h("li", {}, link("/rejects/" + encodeURIComponent(m.name) + "?reason=" + encodeURIComponent(reason), reason), ": " + number(count))))) : null,
      h("h4", {}, "Checks"), checks(m),
      h("h4", {}, "Reconciliation"), reconciliation(m.reconciliation));
  }

  pages.run = async ({ parts, current }) => {
    const id = parts[0] || "";
    let previous = null;
    const progress = h("p", { role: "status", "aria-live": "polite", className: "progress" });
    const body = h("div", {});
    const head = h("div", {});
    show(head, progress, body);
    for (;;) {
      const answer = await api("/runs/" + encodeURIComponent(id));
      if (!current()) return;
      if (answer.status !== 200) return show(problem(answer.body.error || "The server answered " + answer.status));
      const run = answer.body;
      fill(head, h("h2", {}, "Run ", h("code", {}, run.id)),
        h("dl", { className: "facts" },
          item("Migration", link("/runs?migration=" + encodeURIComponent(run.migration), run.migration)),
          item("Status", badge(run.status)),
          item("Started", when(run.started_at)),
          item("Finished", when(run.finished_at))));
      const now = Date.now();
      const elapsed = ((run.finished_at ? new Date(run.finished_at) : now) - new Date(run.started_at)) / 1000;
      let rate = run.rows_read / Math.max(elapsed, 0.001);
      if (previous && run.status === "running") rate = (run.rows_read - previous.rows) / Math.max((now - previous.at) / 1000, 0.001);
      previous = { rows: run.rows_read, at: now };
      fill(progress, run.status === "running" ? "Running: " : "",
        h("strong", { id: "rows-read" }, number(run.rows_read)), " rows read · ",
        number(Math.round(rate)), " rows/s · ", seconds(Math.max(elapsed, 0)));
      if (run.status !== "running") {
        const report = run.report || {};
        const all = report.migrations || [];
        fill(body,
          run.error ? h("div", { className: "problem", role: "alert" }, h("strong", {}, "Error" + (run.error_kind ? " (" + run.error_kind + ")" : "") + ": "), run.error) : null,
          all.length > 1 ? table("Tables of this run", ["Table", "Status", "Read", "Loaded", "Rejected", "Seconds", "Reconciliation"],
            all.map((m) => [m.name, badge(m.status), number(m.rows_read), number(m.rows_loaded), number(m.rows_rejected),
              seconds(m.seconds), m.reconciliation ? badge(m.reconciliation.status) : "–"])) : null,
          report.schema && report.schema.length
            ? table("Schema objects", ["Table", "Object", "Status", "Detail"], report.schema.map((o) => [o.table, o.object, badge(o.status), o.detail || ""]))
            : null,
          all.map(migration));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 700));
      if (!current()) return;
    }
  };

  pages.rejects = async ({ migrations, parts, params, current }) => {
    const names = migrations.filter((m) => m.mode !== "copy").map((m) => m.name);
    const name = parts[0] || names[0];
    const pick = h("select", { id: "rejects-migration", onchange: () => { location.hash = "#/rejects/" + encodeURIComponent(pick.value); } },
      names.map((n) => h("option", { value: n, selected: n === name }, n)));
    const chooser = h("form", { className: "filters", onsubmit: (e) => e.preventDefault() }, h("label", { for: "rejects-migration" }, "Migration"), pick);
    if (!name) return show(h("h2", {}, "Rejects"), h("p", {}, "The job has no migrations."));
    const reason = params.get("reason") || "";
    const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
    const base = "/migrations/" + encodeURIComponent(name) + "/rejects";
    const query = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
    if (reason) query.set("reason", reason);
    const [summary, page] = await Promise.all([api(base), api(base + "/rows?" + query.toString())]);
    if (!current()) return;
    if (summary.status !== 200) return show(problem(summary.body.error || "The server answered " + summary.status));
    if (page.status !== 200) return show(problem(page.body.error || "The server answered " + page.status));
    const here = (extra) => "/rejects/" + encodeURIComponent(name) + "?" + new URLSearchParams(extra).toString();
    const reasons = summary.body.reasons.map((r) => [
      link(here({ reason: r.reason }), r.reason, { "aria-current": r.reason === reason ? "true" : null }),
      number(r.rows), number(r.runs), r.last_rejected_at || "–"]);
    const rows = page.body.rows.map((r) => [link("/run/" + encodeURIComponent(r.run_id), r.run_id), r.source_key === null ? "NULL" : r.source_key,
      r.reason, h("code", { className: "row" }, JSON.stringify(r.source_row)), r.rejected_at || "–"]);
    const first = page.body.total ? offset + 1 : 0;
    const last = offset + page.body.rows.length;
    const keep = reason ? { reason } : {};
    show(h("h2", {}, "Rejects of " + name), chooser,
      summary.body.stored ? null : h("p", {}, "This target keeps rejects as files (_ferry_rejects/" + name + "/); the runs' reports count them."),
      table("Rejected rows per reason (" + number(summary.body.total) + " in all)", ["Reason", "Rows", "Runs", "Last set aside"], reasons,
        { empty: "No rejected rows." }),
      reason ? h("p", {}, "Showing reason ", h("strong", {}, reason), " · ", link("/rejects/" + encodeURIComponent(name), "all reasons")) : null,
      table(`Rows ${number(first)}–${number(last)} of ${number(page.body.total)}`, ["Run", "Key", "Reason", "Source row", "Set aside"], rows,
        { empty: "No rows.", className: "rejects" }),
      h("nav", { className: "pager", "aria-label": "Pages of rejected rows" },
        offset > 0 ? link(here({ ...keep, offset: Math.max(0, offset - PAGE) }), "← Previous") : null,
        last < page.body.total ? link(here({ ...keep, offset: offset + PAGE }), "Next →") : null));
  };
})();
