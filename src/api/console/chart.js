"use strict";
// Drawings, as SVG built node by node: the migrations' dependency graph, and rows loaded and
// duration per run over time. Each has a text alternative (role="img" with a label).

const ferryCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const node = (tag, attributes, ...children) => {
    const element = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
    for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return element;
  };

  /** Columns by depth (a migration stands right of everything it depends on). */
  function dependencies(migrations) {
    const byName = new Map(migrations.map((m) => [m.name, m]));
    const depth = new Map();
    const depthOf = (name, seen = new Set()) => {
      if (depth.has(name)) return depth.get(name);
      if (seen.has(name) || !byName.has(name)) return 0;
      seen.add(name);
      const parents = byName.get(name).depends_on || [];
      const value = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(p, seen))) : 0;
      depth.set(name, value);
      return value;
    };
    migrations.forEach((m) => depthOf(m.name));
    const columns = [];
    for (const m of migrations) (columns[depth.get(m.name)] ||= []).push(m.name);
    const [width, height, gapX, gapY] = [170, 36, 60, 16];
    const place = new Map();
    columns.forEach((names, x) => names.forEach((name, y) =>
      place.set(name, { x: 8 + x * (width + gapX), y: 8 + y * (height + gapY) })));
    const rows = Math.max(1, ...columns.map((c) => c.length));
    const total = { w: 16 + columns.length * width + (columns.length - 1) * gapX, h: 16 + rows * height + (rows - 1) * gapY };
    const edges = migrations.flatMap((m) => (m.depends_on || []).filter((d) => place.has(d)).map((d) => [d, m.name]));
    const label = edges.length
      ? "Dependencies: " + edges.map(([from, to]) => to + " runs after " + from).join("; ")
      : "No migration depends on another; they may run in any order";
    const drawing = node("svg", { viewBox: `0 0 ${total.w} ${total.h}`, role: "img", "aria-label": label, class: "graph",
      width: total.w, height: total.h },
    node("defs", {}, node("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      node("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
    for (const [from, to] of edges) {
      const a = place.get(from);
      const b = place.get(to);
      drawing.append(node("path", { class: "edge", "marker-end": "url(#arrow)",
        d: `M${a.x + width},${a.y + height / 2} C${a.x + width + gapX / 2},${a.y + height / 2} ${b.x - gapX / 2},${b.y + height / 2} ${b.x},${b.y + height / 2}` }));
    }
    for (const m of migrations) {
      const p = place.get(m.name);
      const text = m.name.length > 20 ? m.name.slice(0, 19) + "…" : m.name;
      drawing.append(node("g", { class: "node" + (m.running_run_id ? " running" : "") },
        node("title", {}, m.name + " (" + m.mode + ")"),
        node("rect", { x: p.x, y: p.y, width, height, rx: 6 }),
        node("text", { x: p.x + width / 2, y: p.y + height / 2 + 5, "text-anchor": "middle" }, text)));
    }
    return drawing;
  }

  /** Bars of rows loaded and a line of seconds, oldest run on the left. */
  function history(runs) {
    const points = runs.filter((r) => r.report && r.report.migrations && r.report.migrations[0]).slice(0, 40).reverse()
      .map((r) => ({ id: r.id, status: r.status, at: r.started_at, rows: r.report.migrations[0].rows_loaded || 0,
        seconds: r.report.migrations[0].seconds || 0 }));
    if (!points.length) return null;
    const [w, h, left, right, top, bottom] = [640, 220, 64, 56, 16, 28];
    const maxRows = Math.max(1, ...points.map((p) => p.rows));
    const maxSeconds = Math.max(0.001, ...points.map((p) => p.seconds));
    const step = (w - left - right) / points.length;
    const y = (value, max) => top + (h - top - bottom) * (1 - value / max);
    const label = "Rows loaded and seconds per run, oldest first: " +
      points.map((p) => `${p.rows} rows in ${p.seconds.toFixed(2)} s`).join("; ");
    const chart = node("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label, class: "chart" },
      node("line", { x1: left, y1: h - bottom, x2: w - right, y2: h - bottom, class: "axis" }),
      node("text", { x: left - 6, y: top + 4, "text-anchor": "end", class: "rows" }, maxRows.toLocaleString("en-US")),
      node("text", { x: left - 6, y: h - bottom, "text-anchor": "end", class: "rows" }, "0"),
      node("text", { x: w - right + 6, y: top + 4, class: "seconds" }, maxSeconds.toFixed(2) + " s"),
      node("text", { x: (left + w - right) / 2, y: h - 2, "text-anchor": "middle", class: "legend" }, "bars: rows loaded · line: seconds"));
    const bar = Math.min(step * 0.7, 36);
    const day = (text) => String(text || "").slice(0, 16).replace("T", " ");
    chart.append(node("text", { x: left, y: h - bottom + 14, class: "legend" }, day(points[0].at)));
    if (points.length > 1) {
      chart.append(node("text", { x: w - right, y: h - bottom + 14, "text-anchor": "end", class: "legend" }, day(points[points.length - 1].at)));
    }
    points.forEach((p, i) => {
      const top_ = y(p.rows, maxRows);
      chart.append(node("rect", { x: left + (i + 0.5) * step - bar / 2, y: top_, width: bar, height: h - bottom - top_,
        class: "bar " + (p.status === "succeeded" ? "ok" : "bad") },
      node("title", {}, `${p.at}: ${p.rows.toLocaleString("en-US")} rows loaded in ${p.seconds.toFixed(2)} s (${p.status})`)));
    });
    const line = points.map((p, i) => `${i ? "L" : "M"}${left + (i + 0.5) * step},${y(p.seconds, maxSeconds)}`).join(" ");
    chart.append(node("path", { d: line, class: "duration" }));
    points.forEach((p, i) => chart.append(node("circle", { cx: left + (i + 0.5) * step, cy: y(p.seconds, maxSeconds), r: 3.5, class: "duration-point" })));
    return chart;
  }

  return { dependencies, history };
})();
