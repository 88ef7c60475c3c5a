/* Broadsheet report behaviour: tabs, switchers, sortable tables. Vanilla JS, no network.
 * Markup contract (written by lib/blocks.py):
 *   [data-tabs] > button[data-tab=NAME]        shows [data-tab-panel=NAME] in the same [data-tabgroup]
 *   select[data-switch=GROUP]                   shows [data-switch-group=GROUP][data-switch-value=VALUE]
 *   table[data-sortable]                        click a header to sort; cells may carry data-sort-value
 */
(function () {
  function showOnly(nodes, predicate) {
    nodes.forEach(function (n) { n.hidden = !predicate(n); });
  }
  document.querySelectorAll('[data-tabgroup]').forEach(function (group) {
    var buttons = group.querySelectorAll('[data-tabs] > button[data-tab]');
    var panels = group.querySelectorAll('[data-tab-panel]');
    buttons.forEach(function (b) {
      b.addEventListener('click', function () {
        buttons.forEach(function (o) { o.setAttribute('aria-selected', String(o === b)); });
        showOnly(panels, function (p) { return p.getAttribute('data-tab-panel') === b.getAttribute('data-tab'); });
        window.dispatchEvent(new Event('resize'));
      });
    });
  });
  document.querySelectorAll('select[data-switch]').forEach(function (sel) {
    var group = sel.getAttribute('data-switch');
    function apply() {
      var nodes = document.querySelectorAll('[data-switch-group="' + group + '"]');
      showOnly(nodes, function (n) {
        var v = n.getAttribute('data-switch-value');
        return v === sel.value || (sel.value === '*' && v !== null);
      });
      window.dispatchEvent(new Event('resize'));
    }
    sel.addEventListener('change', apply);
    apply();
  });
  document.querySelectorAll('table[data-sortable]').forEach(function (table) {
    var headers = table.querySelectorAll('thead th');
    headers.forEach(function (th, col) {
      th.setAttribute('tabindex', '0');
      function sort() {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        headers.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col];
          var xv = x.getAttribute('data-sort-value'), yv = y.getAttribute('data-sort-value');
          var cmp;
          if (xv !== null && yv !== null) {
            var xn = xv === '' ? -Infinity : parseFloat(xv), yn = yv === '' ? -Infinity : parseFloat(yv);
            cmp = xn < yn ? -1 : xn > yn ? 1 : 0;
          } else {
            cmp = x.textContent.trim().localeCompare(y.textContent.trim());
          }
          return asc ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') { sort(); } });
    });
  });
})();
