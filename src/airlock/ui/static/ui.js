// airlock ui: small optional enhancements. Every page reads the same without them.
//  - tables with class "sortable": click a column header to sort its rows (again: reverse);
//  - an element with data-refresh="N" (endpoint pages) is refreshed every N seconds from a
//    fresh copy of the same page, while the tab is visible.
(function () {
  "use strict";

  function key(cell) {
    var text = (cell.getAttribute("data-sort") || cell.textContent || "").trim();
    var n = Number(text.replace(/,/g, "").replace(/%$/, ""));
    return text !== "" && text !== "\u2014" && !isNaN(n) ? { n: n } : { s: text.toLowerCase() };
  }

  function compare(a, b) {
    if (a.n !== undefined && b.n !== undefined) { return a.n - b.n; }
    if (a.n !== undefined) { return -1; }
    if (b.n !== undefined) { return 1; }
    return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
  }

  function sortable(root) {
    root.querySelectorAll("table.sortable").forEach(function (table) {
      var body = table.tBodies[0];
      if (!body || !table.tHead) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        th.classList.add("sort");
        th.title = "sort by this column";
        th.addEventListener("click", function () {
          var down = th.getAttribute("data-dir") !== "asc";
          th.setAttribute("data-dir", down ? "asc" : "desc");
          var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
            return r.cells.length > col;
          });
          rows.sort(function (x, y) {
            var c = compare(key(x.cells[col]), key(y.cells[col]));
            return down ? c : -c;
          });
          rows.forEach(function (r) { body.appendChild(r); });
        });
      });
    });
  }

  function live(el) {
    var seconds = Number(el.getAttribute("data-refresh"));
    if (!(seconds > 0) || !el.id) { return; }
    var busy = false;
    window.setInterval(function () {
      if (document.hidden || busy) { return; }
      busy = true;
      fetch(window.location.href, { headers: { "Accept": "text/html" },
                                    credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (text) {
          if (text === null) { el.classList.add("stale"); return; }
          var fresh = new DOMParser().parseFromString(text, "text/html").getElementById(el.id);
          if (fresh) {
            el.innerHTML = fresh.innerHTML;
            el.classList.remove("stale");
            sortable(el);
          }
        })
        .catch(function () { el.classList.add("stale"); })
        .then(function () { busy = false; });
    }, seconds * 1000);
  }

  sortable(document);
  document.querySelectorAll("[data-refresh]").forEach(live);
})();
