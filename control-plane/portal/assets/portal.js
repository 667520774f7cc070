// arcsim portal: draws the charts (uPlot) from their data-chart JSON. Pages work without it.
(function () {
  'use strict';
  function draw(root) {
    if (typeof uPlot === 'undefined') return;
    root.querySelectorAll('.chart-canvas[data-chart]:not([data-drawn])').forEach(function (el) {
      var spec = JSON.parse(el.getAttribute('data-chart'));
      el.setAttribute('data-drawn', '1');
      var width = Math.max(280, el.clientWidth || 600);
      var opts = {
        width: width, height: 220,
        series: [{}].concat(spec.series.map(function (s) { return { label: s.label, stroke: s.color, width: 2, points: { show: true } }; })),
        axes: [{}, { label: 'Alerts' }],
        scales: { x: { time: true } },
      };
      new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
    });
  }
  document.addEventListener('DOMContentLoaded', function () { draw(document); });
  // After an htmx swap (htmx 4 and 2 name the event differently).
  ['htmx:after:settle', 'htmx:afterSettle'].forEach(function (name) {
    document.addEventListener(name, function () { draw(document); });
  });
})();
