// restpipe dashboard: plain ES module, no build step, no third-party code.
// Every value from the database goes into the page as text (never as HTML).

const token = new URLSearchParams(location.search).get("token") ?? "";
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function api(path, params = {}, init) {
  const q = new URLSearchParams({ ...params, token });
  return fetch(`${path}?${q}`, init).then(async (res) => {
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) throw new Error(body?.error ?? `HTTP ${res.status}`);
    return body;
  });
}

const fmt = new Intl.NumberFormat("en");
const n = (x) => (x === null || x === undefined ? "–" : fmt.format(x));
const secs = (
  x,
) => (x === null || x === undefined ? "–" : `${x < 10 ? x.toFixed(2) : x.toFixed(1)} s`);
const show = (v) => v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);

let overview = null;
let dataset = null;
let selected = null;

async function loadOverview() {
  overview = await api("/api/overview");
  $("destination").textContent = overview.destination;
  const names = overview.datasets.map((d) => d.dataset);
  if (dataset === null || !names.includes(dataset)) dataset = names[0] ?? null;
  const picker = $("dataset");
  picker.replaceChildren(
    ...names.map((d) => h("option", { value: d, selected: d === dataset }, d)),
  );
  $("dataset-picker").hidden = names.length < 2;
  render();
}

function current() {
  return overview?.datasets.find((d) => d.dataset === dataset) ?? null;
}

function render() {
  const ds = current();
  drawGraph(ds);
  drawTables(ds);
  drawLoads(ds);
  drawFleet(overview?.fleet ?? null);
  if (selected && ds?.tables.some((t) => t.name === selected)) openTable(selected);
  else {
    selected = null;
    $("detail-title").textContent = ds ? "Pick a table" : "No dataset yet: run a pipeline";
    $("detail").replaceChildren();
  }
  globalThis.__restpipe = { renderedAt: performance.now() };
  document.body.dataset.rendered = "yes";
}

// ---- the worker fleet's recent runs (a PostgreSQL server that holds its queue) ----

function drawFleet(runs) {
  $("fleet-section").hidden = runs === null;
  if (runs === null) return;
  const head = h(
    "tr",
    {},
    ["pipeline", "state", "attempt", "queued", "started", "ended", "exit", "error"].map((c) =>
      h("th", {}, c)
    ),
  );
  const time = (t) => t === null ? "" : t.slice(0, 19).replace("T", " ");
  $("fleet").replaceChildren(
    head,
    ...runs.map((r) =>
      h(
        "tr",
        { "data-pipeline": r.pipeline, "data-state": r.state },
        h("td", {}, r.pipeline),
        h("td", {}, r.state),
        h("td", { class: "num" }, r.attempt),
        h("td", {}, time(r.created)),
        h("td", {}, time(r.started)),
        h("td", {}, time(r.completed)),
        h("td", { class: "num" }, r.exitCode ?? ""),
        h("td", {}, r.error ?? ""),
      )
    ),
  );
}

// ---- resource graph: layered left to right, one column per depth ----

function drawGraph(ds) {
  const box = $("graph");
  const nodes = ds?.graph ?? [];
  $("graph-note").textContent = !ds || nodes.length === 0
    ? "(no load recorded yet)"
    : ds.graphSource === "spec"
    ? "from the spec; figures of the last load"
    : "as the last load ran";
  if (nodes.length === 0) return box.replaceChildren();
  const byName = new Map(nodes.map((x) => [x.resource, x]));
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const ps = byName.get(name).parents.filter((p) => byName.has(p));
    const d = ps.length === 0 ? 0 : 1 + Math.max(...ps.map((p) => depthOf(p, seen)));
    depth.set(name, d);
    return d;
  };
  const layers = [];
  for (const x of nodes) (layers[depthOf(x.resource)] ??= []).push(x);
  const W = 200, H = 38, GX = 56, GY = 8, TOP = 24;
  const pos = new Map();
  layers.forEach((layer, i) => {
    if (i > 0) {
      // order by the mean position of the parents: fewer crossings
      const mean = (x) => {
        const ys = x.parents.filter((p) => pos.has(p)).map((p) => pos.get(p).y);
        return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
      };
      layer.sort((a, b) => mean(a) - mean(b));
    }
    layer.forEach((x, j) => pos.set(x.resource, { x: 10 + i * (W + GX), y: TOP + j * (H + GY) }));
  });
  const width = 20 + layers.length * (W + GX) - GX + 30;
  const height = TOP + 10 + Math.max(...layers.map((l) => l.length)) * (H + GY);
  const svg = h("svg:svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  for (const x of nodes) {
    const to = pos.get(x.resource);
    for (const p of x.parents) {
      const from = pos.get(p);
      if (!from) continue;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
      const mx = (x1 + x2) / 2;
      svg.append(h("svg:path", {
        class: "edge",
        "data-edge": `${p}>${x.resource}`,
        d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
      }));
    }
    if (x.recursive) {
      const x1 = to.x + W - 30, y1 = to.y;
      svg.append(h("svg:path", {
        class: "edge",
        "data-edge": `${x.resource}>${x.resource}`,
        d: `M${x1},${y1} C${x1 - 5},${y1 - 16} ${x1 + 30},${y1 - 16} ${x1 + 25},${y1 + 8}`,
      }));
    }
  }
  for (const x of nodes) {
    const p = pos.get(x.resource);
    const marks = [
      x.recursive ? "↻" : "",
      x.parents.length > 1 ? `∪${x.parents.length}` : "",
      x.loaded ? "" : "(not loaded)",
    ].filter(Boolean).join(" ");
    const figures = !x.last
      ? "not in the last load"
      : x.last.requests === 0
      ? "no request in the last load"
      : `${n(x.last.rows)} rows · ${n(x.last.requests)} req · ${secs(x.last.seconds)}`;
    const cls = ["node", x.loaded ? "" : "fetched", x.last?.requests ? "" : "idle"].join(" ")
      .trim();
    const open = x.table && current()?.tables.some((t) => t.name === x.table)
      ? () => openTable(x.table)
      : undefined;
    svg.append(h(
      "svg:g",
      {
        class: `${cls}${open ? " link" : ""}`,
        "data-resource": x.resource,
        transform: `translate(${p.x},${p.y})`,
        onclick: open,
      },
      h("svg:title", {}, `${x.resource}${x.table ? ` → table ${x.table}` : ""}`),
      h("svg:rect", { width: W, height: H, rx: 6 }),
      h("svg:text", { x: 8, y: 16, "font-weight": "600" }, `${x.resource} ${marks}`.trim()),
      h("svg:text", { x: 8, y: 31, class: "figures" }, figures),
    ));
  }
  box.replaceChildren(svg);
}

// ---- tables: the tree, then one table's columns and rows ----

function drawTables(ds) {
  const rows = (ds?.tables ?? []).map((t) =>
    h(
      "tr",
      {
        class: `table-row${t.name === selected ? " selected" : ""}`,
        "data-table": t.name,
        onclick: () => openTable(t.name),
      },
      h(
        "td",
        {},
        "\u00a0\u00a0\u00a0".repeat(ds.depth[t.name] ?? 0) + (ds.depth[t.name] ? "└ " : "") +
          t.name,
      ),
      h("td", { class: "num", "data-rows": t.rows }, n(t.rows)),
      h("td", { class: "num" }, n(t.columns)),
    )
  );
  $("tables").replaceChildren(
    h(
      "tr",
      {},
      h("th", {}, "table"),
      h("th", { class: "num" }, "rows"),
      h("th", { class: "num" }, "columns"),
    ),
    ...rows,
  );
}

let filterTimer = 0;

async function openTable(name, offset = 0) {
  selected = name;
  for (const tr of document.querySelectorAll("#tables tr.table-row")) {
    tr.classList.toggle("selected", tr.dataset.table === name);
  }
  $("detail-title").textContent = name;
  const filter = document.querySelector("#detail input[type=search]")?.value ?? "";
  let page;
  try {
    page = await api("/api/table", { dataset, table: name, offset, limit: 50, filter });
  } catch (e) {
    $("detail").replaceChildren(h("p", { class: "error" }, e.message));
    return;
  }
  if (selected !== name) return;
  const cols = h(
    "table",
    { "data-testid": "columns" },
    h("tr", {}, h("th", {}, "column"), h("th", {}, "type")),
    page.columns.map((c) =>
      h(
        "tr",
        { "data-column": c.name },
        h(
          "td",
          {},
          c.name,
          c.variant
            ? h("span", { class: "badge", title: "holds values of another type" }, "variant")
            : null,
        ),
        h("td", {}, c.type),
      )
    ),
  );
  const input = h("input", {
    type: "search",
    placeholder: "filter rows (text anywhere in the row)",
    "data-testid": "filter",
    oninput: () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => openTable(name, 0), 250);
    },
  });
  input.value = filter;
  const last = Math.min(page.offset + page.page.length, page.matching);
  const pager = h(
    "div",
    { class: "row" },
    input,
    h("button", {
      disabled: page.offset === 0,
      onclick: () => openTable(name, Math.max(0, page.offset - page.limit)),
    }, "‹ prev"),
    h("button", {
      disabled: last >= page.matching,
      onclick: () => openTable(name, page.offset + page.limit),
    }, "next ›"),
    h(
      "span",
      { class: "muted", "data-testid": "page-status" },
      page.matching === 0
        ? `no rows${filter ? " match" : ""}`
        : `rows ${n(page.offset + 1)}–${n(last)} of ${n(page.matching)}` +
          (filter ? ` matching (${n(page.rows)} in all)` : ""),
    ),
  );
  const sample = h(
    "table",
    { "data-testid": "sample" },
    h("tr", {}, page.columns.map((c) => h("th", {}, c.name))),
    page.page.map((r) =>
      h("tr", {}, r.map((v) => h("td", { class: "value", title: show(v) }, show(v))))
    ),
  );
  const focused = document.activeElement?.dataset?.testid === "filter";
  $("detail").replaceChildren(
    h("p", { class: "muted" }, `${n(page.rows)} rows, ${page.columns.length} columns`),
    h("details", { open: true }, h("summary", {}, "columns and types"), cols),
    pager,
    h("div", { class: "scroll" }, sample),
  );
  if (focused) {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }
}

// ---- load history: rows, requests and seconds per load, failures in red ----

function drawLoads(ds) {
  const loads = [...(ds?.loads ?? [])].reverse().slice(-60);
  const box = $("loads-chart");
  if (loads.length === 0) {
    box.replaceChildren(h("p", { class: "muted" }, "no loads yet"));
    $("failures").replaceChildren();
    return;
  }
  const seconds = (l) => (Date.parse(l.finishedAt) - Date.parse(l.startedAt)) / 1000;
  const series = [
    ["rows", (l) => l.rows],
    ["requests", (l) => l.requests ?? 0],
    ["seconds", seconds],
  ];
  const BW = Math.max(6, Math.min(28, Math.floor(760 / loads.length) - 4)), PH = 60, LW = 80;
  const width = Math.max(420, LW + loads.length * (BW + 4) + 10);
  const height = series.length * (PH + 22) + 24;
  const svg = h("svg:svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  series.forEach(([label, value], s) => {
    const top = 10 + s * (PH + 22);
    const max = Math.max(1, ...loads.map(value));
    svg.append(
      h("svg:text", { x: 0, y: top + 12, class: "label" }, label),
      h(
        "svg:text",
        { x: 0, y: top + 28, class: "label" },
        `max ${label === "seconds" ? secs(max) : n(max)}`,
      ),
      h("svg:line", { class: "axis", x1: LW, x2: width, y1: top + PH, y2: top + PH }),
    );
    loads.forEach((l, i) => {
      const failed = l.status !== "completed";
      const v = value(l);
      const bh = failed ? PH : Math.max(1, Math.round((v / max) * PH));
      svg.append(h(
        "svg:rect",
        {
          class: `bar${failed ? " failed" : ""}`,
          "data-load": l.loadId,
          "data-series": label,
          x: LW + i * (BW + 4),
          y: top + PH - bh,
          width: BW,
          height: bh,
        },
        h(
          "svg:title",
          {},
          failed
            ? `load ${l.loadId} failed: ${l.error ?? "no reason recorded"}`
            : `load ${l.loadId}: ${label === "seconds" ? secs(v) : n(v)} ${
              label === "seconds" ? "" : label
            }`,
        ),
      ));
    });
  });
  const first = loads[0], last = loads[loads.length - 1];
  svg.append(
    h(
      "svg:text",
      { x: LW, y: height - 4, class: "label" },
      first.startedAt.slice(0, 16).replace("T", " "),
    ),
    h(
      "svg:text",
      { x: width - 10, y: height - 4, class: "label", "text-anchor": "end" },
      last.startedAt.slice(0, 16).replace("T", " "),
    ),
  );
  box.replaceChildren(svg);
  $("failures").replaceChildren(
    ...loads.filter((l) => l.status !== "completed").reverse().map((l) =>
      h(
        "li",
        { class: "error", "data-load": l.loadId },
        `${l.startedAt.replace("T", " ").slice(0, 19)} load ${l.loadId} ${l.status}: ${
          l.error ?? ""
        }`,
      )
    ),
  );
}

// ---- read-only SQL, result as a table and as CSV ----

async function runSql() {
  const sql = $("sql").value.trim();
  if (!sql) return;
  $("run-sql").disabled = true;
  $("sql-status").textContent = "running…";
  try {
    const r = await api("/api/sql", {}, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql }),
    });
    $("sql-status").textContent = r.more
      ? `the first ${n(r.rows.length)} rows; the CSV has them all`
      : `${n(r.rows.length)} row${r.rows.length === 1 ? "" : "s"}`;
    $("sql-result").replaceChildren(h(
      "table",
      {},
      h("tr", {}, r.fields.map((f) => h("th", {}, f))),
      r.rows.map((row) =>
        h("tr", {}, row.map((v) => h("td", { class: "value", title: show(v) }, show(v))))
      ),
    ));
    const csv = $("csv");
    csv.href = `/api/sql.csv?${new URLSearchParams({ sql, token })}`;
    csv.hidden = r.fields.length === 0;
  } catch (e) {
    $("sql-status").textContent = "";
    $("csv").hidden = true;
    $("sql-result").replaceChildren(
      h("p", { class: "error", "data-testid": "sql-error" }, e.message),
    );
  } finally {
    $("run-sql").disabled = false;
  }
}

// ---- a live run: progress in place, the summary at the end ----

async function pollLive() {
  let live;
  try {
    live = await api("/api/live");
  } catch {
    return setTimeout(pollLive, 2000);
  }
  if (live === null) return;
  $("live").hidden = false;
  const p = live.progress;
  if (p) {
    const rate = p.seconds > 0 ? p.requests / p.seconds : 0;
    const limit = p.requestsPerMinute
      ? ` of ${(p.requestsPerMinute / 60).toFixed(1)}/s allowed`
      : "";
    $("live-status").textContent = `${
      live.running ? "running" : live.error ? "failed" : "finished"
    } · ${secs(p.seconds)} · ${n(p.requests)} requests (${rate.toFixed(1)}/s${limit}) · ${
      n(p.retries)
    } retries · ${n(p.throttled)} throttled (429)`;
    $("live-table").replaceChildren(
      h(
        "tr",
        {},
        ["resource", "rows", "pages", "requests", "retries", "429s"].map((x, i) =>
          h("th", { class: i ? "num" : "" }, x)
        ),
      ),
      ...p.resources.map((r) =>
        h(
          "tr",
          { "data-live": r.resource },
          h("td", {}, r.resource),
          h("td", { class: "num" }, n(r.rows)),
          h("td", { class: "num" }, n(r.pages)),
          h("td", { class: "num" }, n(r.requests)),
          h("td", { class: "num" }, n(r.retries)),
          h("td", { class: "num" }, n(r.throttled)),
        )
      ),
    );
  } else if (live.running) $("live-status").textContent = "starting…";
  $("live-table").hidden = !live.running;
  if (live.running) return setTimeout(pollLive, 500);
  if (live.error) {
    $("live-summary").replaceChildren(
      h("p", { class: "error" }, `run failed; the previous load is intact. ${live.error}`),
    );
  } else if (live.result) {
    const r = live.result;
    $("live-status").textContent = `finished · load ${r.loadId} · ${secs(r.seconds)} · ${
      n(r.requests)
    } requests · ${n(r.retries)} retries · ${n(r.throttled)} throttled (429)`;
    $("live-summary").replaceChildren(h(
      "table",
      {},
      h(
        "tr",
        {},
        ["resource", "rows written", "received", "requests", "seconds"].map((x, i) =>
          h("th", { class: i ? "num" : "" }, x)
        ),
      ),
      r.resources.map((x) =>
        h(
          "tr",
          { "data-summary": x.resource },
          h("td", {}, x.resource),
          h("td", { class: "num" }, x.loaded ? n(x.rows) : "not loaded"),
          h("td", { class: "num" }, n(x.received)),
          h("td", { class: "num" }, n(x.requests)),
          h("td", { class: "num" }, secs(x.seconds)),
        )
      ),
    ));
  }
  document.body.dataset.run = live.error ? "failed" : "finished";
  await loadOverview();
}

$("run-sql").addEventListener("click", runSql);
$("sql").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) runSql();
});
$("dataset").addEventListener("change", (e) => {
  dataset = e.target.value;
  selected = null;
  render();
});
$("sql").value =
  "select table_name, count(*) as columns\nfrom information_schema.columns\nwhere table_schema not in ('pg_catalog', 'information_schema')\ngroup by 1 order by 1";
loadOverview().catch((e) => {
  document.querySelector("main").prepend(h("p", { class: "error" }, e.message));
}).finally(pollLive);
