// The status page: shows what the tray menu shows, plus aliases and backend health. Every
// button calls a Tauri command, which runs the same action as the tray menu item.
"use strict";

const invoke = window.__TAURI__.core.invoke;
const $ = (id) => document.getElementById(id);

function say(text) {
  $("message").textContent = text;
}

function failed(error) {
  say(error && error.message ? error.message : String(error));
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

async function refreshStatus() {
  try {
    const page = await invoke("status");
    const menu = page.menu;
    $("status").textContent = menu.status;
    $("status").title = menu.status;
    $("status").dataset.look = menu.look;
    $("toggle").textContent = menu.toggle.text;
    $("toggle").disabled = !menu.toggle.enabled;
    $("reload").disabled = !menu.reload.enabled;
    $("copy").disabled = !menu.copy_base_url.enabled;
    $("base-url").textContent = menu.base_url || "–";
    $("config-path").textContent = page.config_path;
    $("errors-section").hidden = !page.config_errors;
    $("errors").textContent = page.config_errors || "";
  } catch (error) {
    failed(error);
  }
}

async function refreshAliases() {
  const body = $("aliases");
  try {
    const aliases = await invoke("aliases");
    body.replaceChildren();
    for (const alias of aliases) {
      const tr = document.createElement("tr");
      tr.append(cell(alias.name), cell(alias.targets.join(", ")), cell(alias.fallbacks.join(", ") || "–"));
      body.append(tr);
    }
    if (aliases.length === 0) {
      body.innerHTML = '<tr><td colspan="3">No aliases in the config.</td></tr>';
    }
  } catch (error) {
    body.innerHTML = '<tr><td colspan="3"></td></tr>';
    body.querySelector("td").textContent = error.message || String(error);
  }
}

async function probe() {
  const list = $("backends");
  list.innerHTML = '<li class="hint">Checking…</li>';
  try {
    const report = await invoke("backend_health");
    list.replaceChildren();
    for (const b of report.backends) {
      const li = document.createElement("li");
      li.className = b.up ? "up" : "down";
      li.textContent = `${b.provider} (${b.kind}): ${b.up ? "up" : "down"}, ${Math.round(b.latency_ms)} ms` +
        (b.error ? ` — ${b.error}` : "");
      list.append(li);
    }
  } catch (error) {
    list.innerHTML = "";
    failed(error);
  }
}

async function act(command, done) {
  try {
    const result = await invoke(command);
    say(done ? done(result) : "");
  } catch (error) {
    failed(error);
  }
  await refreshStatus();
  await refreshAliases();
}

$("toggle").addEventListener("click", () => act("proxy_toggle"));
$("reload").addEventListener("click", () => act("reload_config", (text) => text));
$("open-config").addEventListener("click", () => act("open_config_file"));
$("copy").addEventListener("click", () => act("copy_base_url", (url) => `Copied ${url}`));
$("probe").addEventListener("click", probe);

refreshStatus();
refreshAliases();
setInterval(refreshStatus, 2000);
