"use strict";
// ferry's console: the core. Everything shown comes from the JSON endpoints and is put into
// the page as text (textContent, never HTML), so a value holding markup shows as that markup.
// The token lives in this tab's sessionStorage only: never in a URL, a cookie or localStorage.

const ferry = (() => {
  const KEY = "ferry-token";
  const main = () => document.getElementById("main");
  const pages = {};
  // Bumped on every navigation, so that a page's timers and late answers stop touching the page.
  let generation = 0;

  function build(element, attributes, children) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  /** An HTML element; strings among the children become text nodes. */
  const h = (tag, attributes, ...children) => build(document.createElement(tag), attributes, children);
  /** An SVG element. */
  const svg = (tag, attributes, ...children) =>
    build(document.createElementNS("http://www.w3.org/2000/svg", tag), attributes, children);

  const token = () => sessionStorage.getItem(KEY);

  /** A request to the API: {status, body}. A 401 forgets the token and asks for it again. */
  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method: options.method || "GET", headers, body: options.body, cache: "no-store" });
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (response.status === 401) {
      const refused = Boolean(token());
      sessionStorage.removeItem(KEY);
      signIn(refused ? "The server refused that token; check FERRY_API_TOKEN and try again." : null);
      throw new Error("unauthorized");
    }
    return { status: response.status, body };
  }

  const number = (value) => (value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US"));

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 60) return value.toFixed(value < 10 ? 2 : 1) + " s";
    return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  /** A timestamp in this browser's time zone, as `2026-12-01 15:52:46`. */
  function when(text) {
    if (!text) return "–";
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) return text;
    const two = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
      `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  }

  /** A run's status as a badge; the class comes from a fixed list, never from the data. */
  function badge(status) {
    const known = ["running", "succeeded", "failed", "skipped", "mismatched", "interrupted", "passed", "warned", "matched",
      "created", "planned", "translated", "differs", "unverified"];
    const name = known.includes(status) ? status : "other";
    return h("span", { className: "badge " + name }, status || "–");
  }

  /** A table with a caption, column heads and rows of cells (each a node or a text). */
  function table(caption, heads, rows, options = {}) {
    return h("div", { className: "scroll", tabindex: 0, role: "region", "aria-label": caption },
      h("table", { className: options.className || null },
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, heads.map((head) => h("th", { scope: "col" }, head)))),
        h("tbody", {}, rows.length
          ? rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))
          : h("tr", {}, h("td", { colspan: heads.length }, options.empty || "None.")))));
  }

  /** A link inside the console. */
  const link = (path, text, attributes = {}) => h("a", { href: "#" + path, ...attributes }, text);

  /** Replaces what `element` holds (nulls skipped, arrays flattened, strings as text). */
  function fill(element, ...children) {
    element.replaceChildren();
    return build(element, {}, children);
  }

  const show = (...children) => fill(main(), ...children);

  function problem(message) {
    return h("p", { className: "problem", role: "alert" }, message);
  }

  function signIn(message) {
    generation += 1;
    document.getElementById("nav").hidden = true;
    document.getElementById("signout").hidden = true;
    const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
    const form = h("form", { className: "signin", onsubmit: async (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = "";
      await route();
    } },
    h("h2", {}, "Sign in"),
    h("p", {}, "This server needs its API token (FERRY_API_TOKEN) to show migrations, runs and rejects. " +
      "It is kept in this browser tab only, until the tab closes."),
    message ? problem(message) : null,
    h("label", { for: "token" }, "API token"), input,
    h("button", { type: "submit" }, "Open the console"));
    show(form);
    input.focus();
  }

  async function health() {
    const element = document.getElementById("health");
    try {
      const response = await fetch("/health", { cache: "no-store" });
      const body = await response.json();
      const down = Object.entries(body.connections || {}).filter(([, c]) => !c.ok).map(([name]) => name);
      element.replaceChildren(h("span", { className: "badge " + (response.ok ? "succeeded" : "failed") },
        response.ok ? "healthy" : "unavailable"),
      " ", response.ok ? Object.keys(body.connections || {}).length + " connections answer" : "down: " + down.join(", "));
    } catch {
      element.replaceChildren(h("span", { className: "badge failed" }, "no answer"), " the server did not answer");
    }
  }

  function parseHash() {
    const [path, query] = location.hash.replace(/^#/, "").split("?");
    return { parts: (path || "/").split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "") };
  }

  /** Draws the page the address names, once the API lets us in. */
  async function route() {
    generation += 1;
    const mine = generation;
    let answer;
    try {
      answer = await api("/migrations");
    } catch {
      return;
    }
    if (mine !== generation) return;
    if (answer.status !== 200) return show(problem("The server answered " + answer.status + ": " + JSON.stringify(answer.body)));
    document.getElementById("nav").hidden = false;
    document.getElementById("signout").hidden = !token();
    const { parts, params } = parseHash();
    const page = pages[parts[0] || "migrations"] || pages.migrations;
    show(h("p", { className: "loading" }, "Loading…"));
    try {
      await page({ migrations: answer.body, parts: parts.slice(1), params, current: () => mine === generation });
    } catch (error) {
      if (mine === generation && error.message !== "unauthorized") show(problem("Could not draw the page: " + error.message));
    }
  }

  function start() {
    document.getElementById("signout").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      signIn(null);
    });
    window.addEventListener("hashchange", route);
    health();
    setInterval(health, 30000);
    route();
  }

  document.addEventListener("DOMContentLoaded", start);
  return { h, svg, api, number, seconds, when, badge, table, link, show, fill, problem, pages, route };
})();
