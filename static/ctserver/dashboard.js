// The dashboard's live figures (a WebSocket to /dashboard/live/) and its history
// charts (Chart.js, served from this server). Every string from the server is
// written with textContent, never as HTML.
"use strict";

(function () {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const stateLine = document.getElementById("live-state");
  const historyUrl = root.dataset.historyUrl;
  const HISTORY_REFRESH_MS = 5000; // at most this often after a change
  const charts = {};
  let lastHistory = 0;
  let historyTimer = null;

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function showServers(servers) {
    const body = document.getElementById("servers");
    body.replaceChildren();
    if (servers.length === 0) {
      const row = body.insertRow();
      const td = cell(row, "No server has reported yet.");
      td.colSpan = 8;
      return;
    }
    for (const server of servers) {
      const row = body.insertRow();
      const name = cell(row, server.hostname + " ");
      const id = document.createElement("span");
      id.className = "hint";
      id.textContent = server.server_id;
      name.appendChild(id);
      if (server.silent) cell(row, "silent", "error");
      else if (server.problems) cell(row, server.problems, "error");
      else cell(row, "healthy");
      cell(row, String(server.connections));
      cell(row, String(server.sessions));
      cell(row, server.lag_ms.toFixed(1));
      cell(row, server.loop_lag_ms.toFixed(1));
      cell(row, server.version);
      cell(row, server.updated_at.replace("T", " ").slice(0, 19) + " UTC");
    }
  }

  function showDownloads(downloads) {
    const body = document.getElementById("downloads");
    body.replaceChildren();
    for (const item of downloads) {
      const row = body.insertRow();
      cell(row, item.client);
      cell(row, item.version);
      cell(row, String(item.count));
    }
    if (downloads.length === 0) {
      const td = cell(body.insertRow(), "None yet.");
      td.colSpan = 3;
    }
  }

  function showFigures(figures) {
    for (const name of ["users_online", "active_sessions", "connections",
                        "connection_limit", "sessions_hosted", "downloads"]) {
      document.getElementById("figure-" + name).textContent = String(figures[name]);
    }
    document.getElementById("figure-average_lag_ms").textContent = figures.average_lag_ms.toFixed(1);
    showServers(figures.servers);
    showDownloads(figures.downloads_by_version);
    const when = new Date(figures.taken_at);
    stateLine.textContent = "Live: updated at " + when.toLocaleTimeString();
    scheduleHistory();
  }

  // -- the live figures ----------------------------------------------------------

  let retryMs = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/dashboard/live/");
    socket.onopen = function () { retryMs = 1000; };
    socket.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "figures") showFigures(message.figures);
    };
    socket.onclose = function () {
      stateLine.textContent = "Live updates interrupted; reconnecting in " +
        Math.round(retryMs / 1000) + " s (reload the page if you were signed out).";
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  // -- the history charts --------------------------------------------------------

  function chart(id, type, labels, datasets, yTitle) {
    const existing = charts[id];
    if (existing) {
      existing.data.labels = labels;
      existing.data.datasets = datasets;
      existing.update("none");
      return;
    }
    charts[id] = new Chart(document.getElementById(id), {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } },
        plugins: { legend: { display: datasets.length > 1 || id === "chart-lag" } },
      },
    });
  }

  function drawHistory(history) {
    const days = history.days.map(function (d) { return d.day.slice(5); });
    chart("chart-users", "bar", days,
      [{ label: "users", data: history.days.map(function (d) { return d.users; }) }], "users");
    chart("chart-sessions", "bar", days,
      [{ label: "sessions", data: history.days.map(function (d) { return d.sessions; }) }], "sessions");
    const peaks = history.days.map(function (d) { return d.peak_connections; });
    const limit = history.connection_limit;
    // A limit far above every peak would flatten the peaks to nothing: it is then
    // named in the legend instead of drawn.
    const drawLimit = limit <= 4 * Math.max(1, ...peaks);
    chart("chart-peak", "line", days, [
      { label: "peak connections", data: peaks },
      { label: drawLimit ? "licensed limit (" + limit + ")" : "licensed limit: " + limit + " (above the scale)",
        data: days.map(function () { return drawLimit ? limit : null; }),
        borderDash: [6, 4], pointRadius: 0 },
    ], "connections");
    const servers = {};
    const times = [];
    for (const point of history.lag) {
      const label = point.taken_at.slice(11, 16);
      if (times[times.length - 1] !== label) times.push(label);
      (servers[point.server_id] = servers[point.server_id] || {})[label] = point.lag_ms;
    }
    const lagSets = Object.keys(servers).map(function (server) {
      return { label: server, data: times.map(function (t) { return servers[server][t] ?? null; }),
               spanGaps: true };
    });
    chart("chart-lag", "line", times, lagSets, "milliseconds");
    root.dataset.historyLoaded = String(Date.now());
  }

  function loadHistory() {
    lastHistory = Date.now();
    fetch(historyUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(drawHistory)
      .catch(function (error) { stateLine.textContent = "Could not load the history: " + error.message; });
  }

  function scheduleHistory() {
    if (historyTimer !== null) return;
    const wait = Math.max(0, lastHistory + HISTORY_REFRESH_MS - Date.now());
    historyTimer = setTimeout(function () { historyTimer = null; loadHistory(); }, wait);
  }

  loadHistory();
  setInterval(loadHistory, 60000);
  connect();
})();
