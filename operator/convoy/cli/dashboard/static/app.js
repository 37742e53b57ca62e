// Convoy dashboard: lays out the views the server sends (convoy/cli/dashboard/views.py) and sends the buttons'
// actions back. Live: each page listens to its server-sent event stream, which the server feeds from Kubernetes
// watches; nothing here polls. Text is always set as text, never as HTML.
"use strict";

const token = document.querySelector('meta[name="convoy-token"]').content;
const main = document.getElementById("main");
let source = null;

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") node.style.cssText = value; // through the CSSOM: the page's CSP forbids style attributes
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const badge = (state) => h("span", { class: `badge tone-${state.tone}`, "data-state": state.name }, `${state.symbol} ${state.name}`);
const elapsed = (text, started, finished) =>
  h("span", { class: "elapsed muted", "data-started": started, "data-finished": finished }, text);

// Routing: #/ (the list), #/pipelinerun/NS/NAME, #/workflowrun/NS/NAME; the list's filters are ?namespace=&state=.
function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const [, view, namespace, name] = path.split("/").map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  params.set("view", view || "list");
  if (namespace) params.set("namespace", namespace);
  if (name) params.set("name", name);
  if (source) source.close();
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  source = new EventSource(`/api/events?${params}`);
  source.addEventListener("view", (event) => {
    live(true);
    render(JSON.parse(event.data));
  });
  source.onerror = () => live(false);
}

function live(on) {
  const node = document.getElementById("live");
  node.className = `live ${on ? "on" : "off"}`;
  node.textContent = on ? "● live" : "○ reconnecting";
}

function render(view) {
  const problem = document.getElementById("problem");
  problem.hidden = !view.problem;
  problem.textContent = view.problem ? `watch: error: ${view.problem}` : "";
  const page = { list: listPage, pipelinerun: pipelinePage, workflowrun: runPage }[view.view];
  main.replaceChildren(page ? page(view) : h("p", { class: "error", id: "error" }, view.error));
  drawEdges();
  tick();
}

// Buttons

function actionButtons(actions) {
  if (!actions || !actions.length) return null;
  return h("div", { class: "actions" }, actions.map((action) => {
    const about = action.step || action.stage;
    const label = action.verb[0].toUpperCase() + action.verb.slice(1);
    return h("button", {
      class: action.verb, "data-verb": action.verb, "data-name": action.name, "data-about": about,
      title: `kubectl convoy ${action.verb} ${action.kind}/${action.name}` + (about ? ` (${about})` : ""),
      onclick: () => act(action),
    }, label);
  }));
}

async function act(action) {
  const notice = document.getElementById("notice");
  let answer;
  try {
    const response = await fetch("/api/actions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Convoy-Token": token },
      body: JSON.stringify(action),
    });
    answer = await response.json();
  } catch (error) {
    answer = { ok: false, message: `error: the dashboard does not answer: ${error}` };
  }
  notice.hidden = false;
  notice.className = answer.ok ? "ok" : "error";
  notice.textContent = answer.message;
}

// The list

function listPage(view) {
  const select = (name, values, chosen) => h("select", { name, onchange: filter },
    h("option", { value: "" }, `every ${name}`),
    values.map((v) => h("option", { value: v, selected: v === chosen }, v)));
  const filters = h("div", { class: "filters" },
    h("h1", {}, "Runs"), h("span", { class: "muted" }, view.scope),
    select("namespace", view.namespaces, view.filter.namespace), select("state", view.states, view.filter.state));
  return h("div", { id: "list" }, filters, view.sections.map((section) => h("section", { "data-kind": section.kind },
    h("h2", {}, `${section.kind}s`),
    section.error ? h("p", { class: "error" }, section.error)
      : !section.rows.length ? h("p", { class: "muted" }, "none")
      : h("table", {},
        h("tr", {}, ["name", "namespace", "state", ...section.headers, "age"].map((x) => h("th", {}, x))),
        section.rows.map((row) => h("tr", { "data-name": row.name },
          h("td", {}, row.link ? h("a", { href: row.link }, row.name) : row.name),
          h("td", {}, row.namespace), h("td", {}, badge(row.state)),
          row.cells.map((cell) => h("td", { class: "wrap" }, cell)), h("td", { class: "muted" }, row.age)))))));
}

function filter() {
  const params = new URLSearchParams();
  for (const node of main.querySelectorAll(".filters select")) if (node.value) params.set(node.name, node.value);
  location.hash = `#/?${params}`;
}

// A PipelineRun

function pipelinePage(view) {
  const head = h("div", { class: "card", id: "pipelinerun" },
    h("h1", {}, `PipelineRun ${view.name}`), badge(view.state),
    h("div", { class: "facts" },
      h("span", {}, "namespace ", h("b", {}, view.namespace)), h("span", {}, "pipeline ", h("b", {}, view.pipeline)),
      view.stagesDone && h("span", {}, "stages ", h("b", {}, view.stagesDone)),
      view.trigger && h("span", {}, view.trigger), elapsed(view.elapsed, view.startedAt, view.finishedAt)),
    view.message && h("div", { class: "muted" }, view.message),
    actionButtons(view.actions));
  const columns = [];
  for (const stage of view.stages) (columns[stage.column] ||= []).push(stage);
  const graph = h("div", { class: "graph", id: "graph", "data-edges": JSON.stringify(view.edges) },
    Array.from(columns, (stages) => h("div", { class: "column" },
      (stages || []).sort((a, b) => a.row - b.row).map(stageBox))));
  const barriers = view.barriers.length ? h("div", { class: "card", id: "barriers" }, h("h2", { style: "margin-top:0" }, "Barriers"),
    view.barriers.map((b) => h("div", { class: "barrier", "data-barrier": b.name },
      h("b", {}, b.name), badge(b.state),
      h("span", { class: "arrived" }, `arrived: ${b.arrived.join(", ") || "nobody yet"}`),
      b.missing.length ? h("span", { class: "missing" }, `missing: ${b.missing.join(", ")}`) : null,
      b.failed.length ? h("span", { class: "failed" }, `failed: ${b.failed.join(", ")}`) : null))) : null;
  return h("div", {}, head, graph, barriers);
}

function stageBox(stage) {
  const box = h("div", {
    class: `stage tone-${stage.state.tone}`, id: `stage-${stage.name}`, "data-state": stage.state.name,
  },
  h("h3", {}, h("span", {}, stage.name), badge(stage.state)),
  h("div", { class: "what" }, stage.kind === "approval" ? "approval" : "workflow", " ",
    elapsed(stage.elapsed, stage.startedAt, stage.finishedAt)),
  stage.message && h("div", { class: "muted message" }, stage.message));
  if (stage.approval) box.append(approvalBox(stage.approval, stage.state.name === "WaitingForApproval"));
  box.append(actionButtons(stage.actions) || "");
  if (stage.runError) box.append(h("div", { class: "detail red" }, stage.runError));
  if (stage.run) box.append(runSummary(stage.run, true));
  return box;
}

function approvalBox(approval, waiting) {
  return h("div", { class: "approval" },
    h("div", { class: "approvers" }, `approvers: ${approval.approvers.join(", ") || "anyone allowed to patch the run"}`),
    h("div", { class: "approved-by" }, `approved by: ${approval.approvedBy.join(", ") || "nobody yet"}`),
    waiting ? h("div", { class: "needed" }, `still needed: ${approval.needed} approval${approval.needed === 1 ? "" : "s"}`) : null,
    approval.message && h("div", {}, `“${approval.message}”`),
    waiting && approval.deadline ? h("div", { class: "muted" }, `until ${approval.deadline}`) : null);
}

function runSummary(run, compact) {
  return h("div", { class: "run", "data-run": run.name },
    h("div", {}, h("a", { href: `#/workflowrun/${run.namespace}/${run.name}` }, run.name), " ", badge(run.state)),
    h("div", { class: "facts" },
      run.namespace && h("span", {}, "in ", h("b", {}, run.namespace)),
      run.weight !== null && run.weight !== undefined ? h("span", { class: "run-weight" }, "weight ", h("b", {}, `${run.weight}%`)) : null,
      run.podsText && h("span", {}, run.podsText), run.queue && h("span", { class: "queue" }, run.queue),
      run.progress && h("span", {}, `phases ${run.progress}`)),
    run.failure && h("div", { class: "detail red" }, `failed: ${run.failure}`),
    compact ? run.phases.map(phaseBlock) : null,
    compact ? actionButtons(run.actions) : null);
}

function phaseBlock(phase) {
  return h("div", { class: `phase tone-${phase.state.tone}`, "data-phase": phase.name },
    h("div", { class: "head" }, h("span", { class: "sym" }, phase.state.symbol), phase.name,
      phase.weight !== null && phase.weight !== undefined ? h("span", { class: "muted" }, `${phase.weight}%`) : null,
      elapsed(phase.elapsed), phase.undone ? h("span", { class: "muted" }, "rolled back") : null),
    phase.steps.map((step) => h("div", { class: `step tone-${step.state.tone}`, "data-step": step.name, "data-state": step.state.name },
      h("span", { class: "sym" }, step.state.symbol), h("span", {}, step.name, h("span", { class: "muted" }, `  ${step.kind}`)),
      elapsed(step.elapsed), step.detail ? h("div", { class: `detail ${step.tone}` }, step.detail) : null)));
}

// A WorkflowRun

function runPage(run) {
  const pods = run.pods ? h("div", { class: "pods", title: run.podsText },
    h("div", { class: "stable", style: `flex: ${run.pods.stable}` }), h("div", { class: "canary", style: `flex: ${run.pods.canary}` })) : null;
  const head = h("div", { class: "card", id: "workflowrun" },
    h("h1", {}, `WorkflowRun ${run.name}`), badge(run.state),
    h("div", { class: "facts" },
      h("span", {}, "namespace ", h("b", {}, run.namespace)), h("span", {}, `${run.type || "workflow"} `, h("b", {}, run.workflow)),
      run.progress && h("span", {}, "phases ", h("b", {}, run.progress)), run.revisions && h("span", {}, run.revisions),
      run.queue && h("span", { class: "queue" }, run.queue), elapsed(run.elapsed, run.startedAt, run.finishedAt)),
    run.weight !== null && run.weight !== undefined ? h("div", {}, h("span", { class: "weight", id: "weight" }, `${run.weight}%`), " canary weight") : null,
    pods, run.podsText && h("div", { class: "muted", id: "pods" }, run.podsText),
    run.failure && h("div", { class: "detail red" }, `failed: ${run.failure}`),
    run.message && h("div", { class: "muted" }, run.message),
    run.approvals.map((a) => h("div", { "data-approval": a.step }, approvalBox(a, true))),
    actionButtons(run.actions));
  const phases = h("div", { class: "phases" }, run.phases.map((phase) => h("div", { class: `card tone-${phase.state.tone}` }, phaseBlock(phase))));
  const rollback = run.rollback.length ? [h("h2", {}, "Rollback (reverse order)"),
    h("div", { class: "phases" }, run.rollback.map((phase) => h("div", { class: `card tone-${phase.state.tone}` }, phaseBlock(phase))))] : [];
  return h("div", {}, head, h("h2", {}, "Phases"), phases, rollback);
}

// The requires DAG's arrows, from the right of a stage to the left of the stage that requires it.

function drawEdges() {
  const graph = document.getElementById("graph");
  if (!graph) return;
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  const box = graph.getBoundingClientRect();
  for (const [from, to] of JSON.parse(graph.dataset.edges)) {
    const a = document.getElementById(`stage-${from}`), b = document.getElementById(`stage-${to}`);
    if (!a || !b) continue;
    const ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
    const x1 = ra.right - box.left, y1 = ra.top - box.top + 24, x2 = rb.left - box.left - 6, y2 = rb.top - box.top + 24;
    const path = document.createElementNS(svgNs, "path");
    const mid = (x1 + x2) / 2;
    path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2} m-7,-5 l7,5 l-7,5`);
    path.setAttribute("data-edge", `${from}->${to}`);
    svg.append(path);
  }
  graph.querySelector("svg")?.remove();
  graph.prepend(svg);
}

// Durations of what still runs go on counting between updates ('45s', '4m10s', '1h2m', '3d4h', as the plugin).

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pair = (big, bu, small, su) => (small ? `${big}${bu}${small}${su}` : `${big}${bu}`);
  if (s < 60) return `${s}s`;
  if (s < 3600) return pair(Math.floor(s / 60), "m", s % 60, "s");
  if (s < 86400) return pair(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "m");
  return pair(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}

function tick() {
  for (const node of main.querySelectorAll(".elapsed[data-started]:not([data-finished])")) {
    node.textContent = duration((Date.now() - Date.parse(node.dataset.started)) / 1000);
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("resize", drawEdges);
setInterval(tick, 1000);
route();
