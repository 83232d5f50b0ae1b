// The status page's chart: each pool's planned placeholder replicas over the next 7 days,
// drawn with uPlot (served from the package) from the service's own api/plan.
(function () {
  "use strict";
  var box = document.getElementById("chart");
  var status = document.getElementById("chart-status");
  if (!box || typeof uPlot === "undefined") return;
  var colors = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4"];

  function series(plan) {
    var pools = Object.keys(plan.pools);
    var end = Date.parse(plan.now) / 1000 + plan.hours * 3600;
    var moments = {};
    pools.forEach(function (name) {
      plan.pools[name].steps.forEach(function (step) { moments[Date.parse(step.at) / 1000] = true; });
    });
    moments[end] = true;
    var xs = Object.keys(moments).map(Number).sort(function (a, b) { return a - b; });
    var data = [xs];
    pools.forEach(function (name) {
      var steps = plan.pools[name].steps, at = 0, value = null;
      data.push(xs.map(function (x) {
        while (at < steps.length && Date.parse(steps[at].at) / 1000 <= x) { value = steps[at].replicas; at++; }
        return value;
      }));
    });
    return { pools: pools, data: data };
  }

  function draw(plan) {
    var made = series(plan);
    var stepped = uPlot.paths.stepped({ align: 1 });
    var options = {
      width: Math.max(320, box.clientWidth - 16),
      height: 300,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), plan.timezone); },
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max + 1)]; } } },
      axes: [{}, { label: "placeholder replicas" }],
      series: [{ label: "time" }].concat(made.pools.map(function (name, i) {
        return { label: name, stroke: colors[i % colors.length], width: 2, paths: stepped };
      }))
    };
    new uPlot(options, made.data, box);
    box.dataset.drawn = String(made.data[0].length);
    // In the catalog's zone, as the chart's axis and the rest of the page.
    var from = new Intl.DateTimeFormat("en-GB", {
      timeZone: plan.timezone, weekday: "short", day: "2-digit", month: "short",
      hour: "2-digit", minute: "2-digit", hour12: false
    }).format(new Date(plan.now));
    status.textContent = "Targets from " + from + " (" + plan.timezone + ") for " + plan.hours + " hours; each step is a planned change.";
  }

  fetch(box.dataset.planUrl, { credentials: "same-origin", headers: { Accept: "application/json", "X-XSRFToken": box.dataset.xsrf } })
    .then(function (response) {
      if (!response.ok) throw new Error("the plan could not be read (" + response.status + ")");
      return response.json();
    })
    .then(draw)
    .catch(function (error) { status.textContent = String(error.message || error); });
})();
