// The page at /: reads /api/v1/usage (namespaces, pods and nodes) and draws it, again
// every 15 seconds (or ?refresh=SECONDS). Numbers are shown for people (cores to a few
// decimals, MiB and GiB); each cell keeps the API's exact value in data-value and its
// title. After each refresh the <html> element's data-refreshes counts it and a
// "usage-refreshed" event is sent on document ("usage-failed" when a read failed).
"use strict";

const TOP_PODS = 10;
const params = new URLSearchParams(window.location.search);
const refreshSeconds = (() => {
  const asked = Number(params.get("refresh"));
  return Number.isFinite(asked) && asked > 0 ? asked : 15;
})();

// The latest answers, drawn again when the filter or a sort changes.
let latest = null;
let refreshes = 0;

// --- numbers for people --------------------------------------------------------

function cores(value) {
  if (value === null || value === undefined) return "–";
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3;
  return value.toFixed(digits);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function bytes(value) {
  if (value === null || value === undefined) return "–";
  let unit = 0;
  while (unit + 1 < UNITS.length && Math.abs(value) >= Math.pow(1024, unit + 1)) unit++;
  const scaled = value / Math.pow(1024, unit);
  const digits = unit === 0 || scaled >= 100 ? 0 : 1;
  return scaled.toFixed(digits) + " " + UNITS[unit];
}

function percent(share) {
  return (share * 100).toFixed(0) + " %";
}

// --- reading the API ------------------------------------------------------------

async function usage(query) {
  const response = await fetch("/api/v1/usage?" + query, {
    headers: { Accept: "application/json" },
    cache: "no-store",
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const why = body && body.error ? body.error : "HTTP " + response.status;
    throw new Error(why);
  }
  return body;
}

async function refresh() {
  try {
    const [namespaces, pods, nodes] = await Promise.all([
      usage("group_by=namespace"),
      usage("group_by=pod"),
      usage("nodes=true").catch((error) => ({ error: error.message })),
    ]);
    latest = { namespaces, pods, nodes, at: new Date() };
    draw();
    refreshes++;
    document.documentElement.dataset.refreshes = String(refreshes);
    delete document.documentElement.dataset.error;
    document.dispatchEvent(new Event("usage-refreshed"));
  } catch (error) {
    const status = document.getElementById("status");
    status.textContent = "Could not read the usage: " + error.message +
      (latest ? " (showing the read of " + latest.at.toLocaleTimeString() + ")" : "");
    status.classList.add("error");
    document.documentElement.dataset.error = error.message;
    document.dispatchEvent(new Event("usage-failed"));
  } finally {
    window.setTimeout(refresh, refreshSeconds * 1000);
  }
}

// --- drawing --------------------------------------------------------------------

function cell(text, options = {}) {
  const td = document.createElement(options.header ? "th" : "td");
  if (options.header) td.scope = "row";
  td.textContent = text;
  if (options.column) td.dataset.column = options.column;
  if (options.value !== undefined) {
    const exact = options.value === null ? "" : String(options.value);
    td.dataset.value = exact;
    if (exact !== "") td.title = exact + (options.unit ? " " + options.unit : "");
  }
  if (options.number) td.className = "number";
  return td;
}

function numberCell(column, value) {
  if (column === "cpu_cores") {
    return cell(cores(value), { column, value, unit: "cores", number: true });
  }
  if (column === "memory_bytes") {
    return cell(bytes(value), { column, value, unit: "bytes", number: true });
  }
  return cell(String(value), { column, value, number: true });
}

function matchesFilter(namespace) {
  const filter = document.getElementById("filter").value.trim().toLowerCase();
  return filter === "" || namespace.toLowerCase().includes(filter);
}

// Names compare as the API sorts them (Kubernetes names are ASCII), not by locale.
function compareNames(x, y) {
  return x < y ? -1 : x > y ? 1 : 0;
}

// Orders rows by the table's chosen column; ties by name, so the order is stable.
function sorted(rows, table, nameColumn) {
  const column = table.dataset.sort;
  const direction = table.dataset.order === "ascending" ? 1 : -1;
  return rows.slice().sort((a, b) => {
    const x = a[column];
    const y = b[column];
    let order = 0;
    if (typeof x === "string" || typeof y === "string") {
      order = compareNames(String(x ?? ""), String(y ?? ""));
    } else {
      order = (x ?? -Infinity) - (y ?? -Infinity);
    }
    return order * direction || compareNames(String(a[nameColumn]), String(b[nameColumn]));
  });
}

function replaceRows(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
}

function drawTotals() {
  const namespaces = latest.namespaces;
  const sum = (key) => namespaces.reduce((total, row) => total + (row[key] ?? 0), 0);
  const set = (key, text, exact) => {
    const dd = document.querySelector('[data-total="' + key + '"]');
    dd.textContent = text;
    if (exact !== undefined) dd.title = exact;
  };
  set("namespaces", String(namespaces.length));
  set("pods", String(sum("pods")));
  set("containers", String(sum("containers")));
  set("cpu_cores", cores(sum("cpu_cores")) + " cores", "the sum of the namespaces' CPU");
  set("memory_bytes", bytes(sum("memory_bytes")), "the sum of the namespaces' memory");
  set("nodes", Array.isArray(latest.nodes) ? String(latest.nodes.length) : "–");
}

function drawNamespaces() {
  const table = document.getElementById("namespaces");
  const rows = sorted(latest.namespaces.filter((row) => matchesFilter(row.namespace)), table, "namespace")
    .map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.namespace = row.namespace;
      tr.append(
        cell(row.namespace, { header: true, column: "namespace" }),
        numberCell("pods", row.pods),
        numberCell("containers", row.containers),
        numberCell("cpu_cores", row.cpu_cores),
        numberCell("memory_bytes", row.memory_bytes),
      );
      return tr;
    });
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("No namespace matches the filter.");
    td.colSpan = 5;
    tr.append(td);
    rows.push(tr);
  }
  replaceRows(table, rows);
  markSorted(table);
}

function drawTopPods(id, column) {
  const pods = latest.pods
    .filter((row) => row[column] !== null && matchesFilter(row.namespace))
    .sort((a, b) => b[column] - a[column] ||
      compareNames(a.namespace, b.namespace) || compareNames(a.pod, b.pod))
    .slice(0, TOP_PODS)
    .map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.namespace = row.namespace;
      tr.dataset.pod = row.pod;
      tr.append(
        cell(row.namespace, { column: "namespace" }),
        cell(row.pod, { header: true, column: "pod" }),
        numberCell(column, row[column]),
      );
      return tr;
    });
  replaceRows(document.getElementById(id), pods);
}

function shareCell(column, used, allocatable) {
  const td = document.createElement("td");
  td.dataset.column = column;
  td.className = "share";
  if (used === null || used === undefined || !allocatable) {
    td.textContent = "–";
    return td;
  }
  const share = used / allocatable;
  td.dataset.value = String(share);
  const meter = document.createElement("meter");
  meter.min = 0;
  meter.max = 1;
  meter.low = 0.7;
  meter.high = 0.9;
  meter.optimum = 0;
  meter.value = Math.min(share, 1);
  meter.title = percent(share) + " of " + allocatable + " allocatable";
  const label = document.createElement("span");
  label.textContent = percent(share);
  td.append(meter, label);
  return td;
}

function drawNodes() {
  const table = document.getElementById("nodes");
  const nodes = latest.nodes;
  if (!Array.isArray(nodes)) {
    const tr = document.createElement("tr");
    const td = cell("Nodes are not read: " + nodes.error);
    td.colSpan = 5;
    tr.append(td);
    replaceRows(table, [tr]);
    return;
  }
  const resources = nodes.some((row) => "cpu_allocatable_cores" in row);
  table.classList.toggle("with-shares", resources);
  document.getElementById("nodes-note").hidden = resources || nodes.length === 0;
  const withShares = nodes.map((row) => ({
    ...row,
    cpu_share: row.cpu_allocatable_cores ? row.cpu_cores / row.cpu_allocatable_cores : null,
    memory_share: row.memory_allocatable_bytes ? row.memory_bytes / row.memory_allocatable_bytes : null,
  }));
  const rows = sorted(withShares, table, "node").map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.node = row.node;
    tr.append(
      cell(row.node, { header: true, column: "node" }),
      numberCell("cpu_cores", row.cpu_cores),
      shareCell("cpu_share", row.cpu_cores, row.cpu_allocatable_cores),
      numberCell("memory_bytes", row.memory_bytes),
      shareCell("memory_share", row.memory_bytes, row.memory_allocatable_bytes),
    );
    return tr;
  });
  replaceRows(table, rows);
  markSorted(table);
}

function drawStatus() {
  const status = document.getElementById("status");
  status.classList.remove("error");
  status.textContent = "Read at " + latest.at.toLocaleTimeString() +
    "; refreshed every " + refreshSeconds + " s.";
}

function draw() {
  if (!latest) return;
  drawStatus();
  drawTotals();
  drawNamespaces();
  drawTopPods("top-cpu", "cpu_cores");
  drawTopPods("top-memory", "memory_bytes");
  drawNodes();
}

// --- sorting --------------------------------------------------------------------

function markSorted(table) {
  for (const th of table.tHead.rows[0].cells) {
    const sortedHere = th.dataset.column === table.dataset.sort;
    if (sortedHere) th.setAttribute("aria-sort", table.dataset.order);
    else th.removeAttribute("aria-sort");
  }
}

function makeSortable(table) {
  for (const th of table.tHead.rows[0].cells) {
    const column = th.dataset.column;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      const numeric = !["namespace", "node"].includes(column);
      if (table.dataset.sort === column) {
        table.dataset.order = table.dataset.order === "ascending" ? "descending" : "ascending";
      } else {
        table.dataset.sort = column;
        table.dataset.order = numeric ? "descending" : "ascending";
      }
      draw();
    });
  }
  markSorted(table);
}

// --- start ----------------------------------------------------------------------

function start() {
  makeSortable(document.getElementById("namespaces"));
  makeSortable(document.getElementById("nodes"));
  const filter = document.getElementById("filter");
  filter.value = params.get("filter") || "";
  filter.addEventListener("input", draw);
  refresh();
}

start();
